#!/usr/bin/env python
"""Replay customer questions through the real desk, store and outbox on the local platform.

    python benchmarks/bench_desk.py [--questions N] [--rate R] [--seconds S] [--json]

One run measures, in this process (phase 2 runs before phase 1, see 3.):

1. throughput: N questions from N distinct customers are posted at once into an in-memory
   LocalPlatform; the real App (store on a temp file database: WAL, synchronous=FULL as the
   store configures it; outbox delivering to the local platform) runs until every question is
   committed (its ``offered`` event fired after COMMIT) and every offer is delivered;
2. latency: a fresh App and database; questions are posted at a steady rate R for S seconds;
   per question, the time from its scheduled post to (a) the ``offered`` event (after commit)
   and (b) the staff-channel offer delivered to the platform;
3. peak RSS of the process (``ru_maxrss``), overall and per phase (phase 2 runs first so
   that its peak is a fresh daemon's);
4. a raw SQLite baseline: the rows the desk wrote per question in phase 1, inserted by plain
   sqlite3 and by aiosqlite, 100 questions' rows per transaction with ``executemany``, into a
   fresh database with the same schema and pragmas.

Figures, not pass/fail: the targets are printed beside them. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import gc
import io
import json
import logging
import math
import os
import platform as py_platform
import pstats
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

import helpforce
from helpforce.adapters.local.adapter import LocalAdapter
from helpforce.adapters.local.platform import BotMessage, LocalPlatform
from helpforce.app import App
from helpforce.clock import SystemClock
from helpforce.config import Config, load_config
from helpforce.models import Event, EventKind
from helpforce.store.migrations import MIGRATIONS

REPO = Path(__file__).resolve().parent.parent
#: the code under test: normally the editable install of this checkout
CODE_DIR = Path(helpforce.__file__).resolve().parent
try:  # the example configuration shipped with the code under test
    import helpforce.example_config as _example

    EXAMPLE_CONFIG = Path(_example.__file__).resolve().parent
except ImportError:
    EXAMPLE_CONFIG = REPO / "config"

TARGET_QPS = 2000.0
TARGET_P99_MS = 10.0
TARGET_RATE = 500.0
TARGET_RSS_MB = 150.0

#: short texts as customers write them (cycled; every question is a distinct customer)
TEXTS = (
    "My TV keeps switching itself off after about ten minutes.",
    "I was charged twice for my last order, can someone check?",
    "The washing machine shows error E21 and will not drain.",
    "Where is my parcel? The tracking page has not moved since Monday.",
    "How do I reset my router to factory settings?",
    "My new phone will not charge with the cable that came in the box.",
    "Can I change the delivery date of my fridge?",
    "The laptop I bought last week has a dead pixel in the corner.",
    "Is the extended warranty transferable if I sell the TV?",
    "My gift card says it has already been used but I never used it.",
    "The dishwasher leaves a white film on every glass.",
    "I ordered the wrong size, how do I swap it?",
    "The app logs me out every time I open it.",
    "My printer says the cartridge is empty but it is brand new.",
    "The store price is lower than what I paid online yesterday.",
    "Bluetooth headphones only play in the left ear.",
)


# -- set-up -----------------------------------------------------------------------------------


def build_config(workdir: Path, staff: int, rate_limit: str) -> tuple[Config, float]:
    """Copy the example helpforce.yaml and policies.yaml, generate a roster of ``staff``
    members (each a ``local`` account, notified on ``local``), load it. Returns the config and
    the seconds load_config took."""
    cfg_dir = workdir / "config"
    cfg_dir.mkdir()
    settings = (EXAMPLE_CONFIG / "helpforce.yaml").read_text(encoding="utf-8")
    if rate_limit == "unlimited":
        # the local platform is in memory: lift the example's 500 sends/s so the figure is
        # the desk's, not the limiter's (--rate-limit config keeps the example's limits)
        settings = settings.replace("per_second: 500", "per_second: 1000000000").replace(
            "burst: 500", "burst: 1000000000"
        )
    (cfg_dir / "helpforce.yaml").write_text(settings, encoding="utf-8")
    shutil.copy(EXAMPLE_CONFIG / "policies.yaml", cfg_dir / "policies.yaml")
    lines = ["staff:"]
    for i in range(staff):
        role = "lead" if i < 10 else "manager" if i < 12 else "agent"
        lines += [
            f"  - id: s{i:05d}",
            f"    name: Staff Member {i}",
            f"    initials: S{i % 1000:03d}",
            f"    role: {role}",
            "    skills: [billing, orders]",
            "    accounts:",
            f"      local: staff-{i:05d}",
            "    notify: [local]",
        ]
    (cfg_dir / "roster.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    t = time.perf_counter()
    config = load_config(cfg_dir, env={})
    return config, time.perf_counter() - t


def expected_sends(config: Config) -> int:
    """Outbox rows per new question: one per staff channel plus the direct notifications."""
    channels = sum(1 for p in config.enabled_platforms().values() if p.staff_channel)
    notifiable = sum(1 for s in config.roster.staff if "local" in s.accounts)
    return channels + min(config.settings.desk.notify_limit, notifiable)


def post_question(local: LocalPlatform, i: int) -> str:
    return str(local.post(f"cust{i}", "help", TEXTS[i % len(TEXTS)], handle=f"customer{i}"))


def qid_of_offer(msg: BotMessage) -> int | None:
    """``#12 · local (public) · @x: ...`` -> 12 (None for anything else, e.g. an edit)."""
    head = msg.text.split(" ", 1)[0]
    if msg.edit or not head.startswith("#") or not head[1:].isdigit():
        return None
    return int(head[1:])


def rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class PeakRss:
    """Peak RSS per phase. ``ru_maxrss`` is the process's high-water mark; between phases it
    is reset (``/proc/self/clear_refs`` 5, Linux) so each phase's own peak is seen too. The
    overall peak is the highest of all readings, i.e. what ru_maxrss would say at the end."""

    def __init__(self) -> None:
        self.overall = peak_rss_mb()
        self.can_reset = True

    def phase(self) -> float | None:
        """The peak since the last call (None if it cannot be reset), then reset it."""
        peak = peak_rss_mb()
        self.overall = max(self.overall, peak)
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            self.can_reset = False
        return peak if self.can_reset else None


def thread_cpu() -> dict[str, float]:
    """CPU seconds (user+system) of the main (event loop) thread and of all other threads
    (aiosqlite runs each connection's SQLite calls in its own thread)."""
    tick = os.sysconf("SC_CLK_TCK")
    main = other = 0.0
    pid = os.getpid()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / tick
        if int(tid) == pid:
            main += cpu
        else:
            other += cpu
    return {"main": main, "other": other}


class OtherLoad:
    """CPUs used by *other* processes over an interval (the machine's busy time from
    /proc/stat minus this process's own CPU time): on a shared 2-CPU machine, figures taken
    while something else runs are not comparable."""

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        with open("/proc/stat") as f:
            vals = [int(v) for v in f.readline().split()[1:9]]
        hz = os.sysconf("SC_CLK_TCK")
        busy = (sum(vals) - vals[3] - vals[4]) / hz  # minus idle and iowait
        own = sum(os.times()[:2])
        return busy, own, time.perf_counter()

    def cpus(self) -> float:
        busy0, own0, t0 = self._start
        busy1, own1, t1 = self._sample()
        return max(0.0, (busy1 - busy0) - (own1 - own0)) / max(1e-9, t1 - t0)


def code_version() -> str:
    """The commit and whether product files differ from it (others may be editing them)."""
    if not CODE_DIR.is_relative_to(REPO):
        return f"helpforce imported from {CODE_DIR} (not this checkout)"
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "helpforce", "adapters",
             "policies", "config"], capture_output=True, text=True, timeout=5,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    changed = [line[3:] for line in dirty if line.strip()]
    return rev + (f" + uncommitted changes in {', '.join(changed)}" if changed else " (clean)")


def deep_size_mb(*roots: Any) -> float:
    """Approximate bytes retained by plain containers and dataclass objects under ``roots``."""
    seen: set[int] = set()
    total = 0
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif hasattr(obj, "__slots__"):
            stack.extend(getattr(obj, s) for s in obj.__slots__ if hasattr(obj, s))
    return total / 2**20


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None}
    v = sorted(values)

    def at(p: float) -> float:
        return v[min(len(v) - 1, max(0, int(round(p * len(v) + 0.5)) - 1))]  # nearest rank

    return {"n": len(v), "p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": v[-1]}


# -- phase 1: throughput ---------------------------------------------------------------------


@dataclass
class Throughput:
    questions: int
    sends_per_question: int
    wall_committed_s: float | None = None
    wall_delivered_s: float | None = None
    committed: int = 0
    delivered: int = 0
    timed_out: bool = False
    commits: int = 0
    steps: int = 0
    step_kinds: dict[str, dict[str, float]] = field(default_factory=dict)
    hops: dict[str, int] = field(default_factory=dict)
    gc: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    db_rows: dict[str, int] = field(default_factory=dict)
    db_outbox_states: dict[str, int] = field(default_factory=dict)
    db_event_kinds: dict[str, int] = field(default_factory=dict)
    db_bytes: int = 0
    platform_retained_mb: float = 0.0
    profile: str | None = None


class GcPauses:
    """Garbage-collector pauses while active (gc.callbacks): they stop the event loop."""

    def __init__(self) -> None:
        self.count = 0
        self.full = 0
        self.total = 0.0
        self.longest = 0.0
        self._t = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
            return
        took = time.perf_counter() - self._t
        self.count += 1
        self.full += info.get("generation") == 2
        self.total += took
        self.longest = max(self.longest, took)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> dict[str, float]:
        return {"collections": self.count, "full_collections": self.full,
                "total_ms": 1000 * self.total, "longest_ms": 1000 * self.longest}


class HopCounter:
    """Counts aiosqlite calls, i.e. hops from the event loop to a connection's thread and
    back, per connection (wraps aiosqlite's internal ``Connection._execute`` while active)."""

    def __init__(self) -> None:
        self.calls: dict[int, int] = {}
        self._original: Any = None

    def __enter__(self) -> HopCounter:
        original: Any = aiosqlite.Connection._execute
        self._original = original
        calls = self.calls

        async def _execute(conn: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            calls[id(conn)] = calls.get(id(conn), 0) + 1
            return await original(conn, fn, *args, **kwargs)

        setattr(aiosqlite.Connection, "_execute", _execute)  # noqa: B010
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(aiosqlite.Connection, "_execute", self._original)  # noqa: B010

    def of(self, conn: Any) -> int:
        return self.calls.get(id(conn), 0)


class StepTimer:
    """Counts and times the store steps by the function that queued them.

    It wraps ``Store.transaction`` on the one store instance (the product code is untouched):
    the time measured is from queueing the step to its result, i.e. waiting for the writer
    plus running in the group commit plus the COMMIT itself."""

    def __init__(self, store: Any) -> None:
        self.kinds: dict[str, list[float]] = {}
        inner = store.transaction

        async def transaction(fn: Callable[..., Any]) -> Any:
            name = _step_name(fn)
            t = time.perf_counter()
            try:
                return await inner(fn)
            finally:
                rec = self.kinds.setdefault(name, [0, 0.0])
                rec[0] += 1
                rec[1] += time.perf_counter() - t

        store.transaction = transaction

    def summary(self) -> dict[str, dict[str, float]]:
        return {
            k: {"steps": n, "mean_ms": 1000 * s / n if n else 0.0}
            for k, (n, s) in sorted(self.kinds.items())
        }


def _step_name(fn: Callable[..., Any]) -> str:
    inner = getattr(fn, "func", fn)  # functools.partial
    qual = getattr(inner, "__qualname__", repr(inner))
    code = getattr(inner, "__code__", None)
    if "<lambda>" in qual and code is not None:
        # the desk and the outbox queue lambdas: name them by what they call
        names = [n for n in code.co_names if not n.startswith("__")]
        return f"{qual.split('.<locals>')[0]} -> {names[0] if names else '?'}"
    return qual


#: called with the database path before the App opens it (used by benchmarks/whatif.py)
PrepareDb = Callable[[Path], None]


async def run_throughput(
    config: Config, workdir: Path, n: int, time_cap: float, profile: bool,
    prepare_db: PrepareDb | None = None,
) -> Throughput:
    per_q = expected_sends(config)
    res = Throughput(questions=n, sends_per_question=per_q)
    local = LocalPlatform()
    adapter = LocalAdapter(local, SystemClock())
    done_commit = asyncio.Event()
    done_send = asyncio.Event()
    t0 = 0.0

    def observer(event: Event) -> None:
        if event.kind is EventKind.OFFERED:
            res.committed += 1
            if res.committed == n:
                res.wall_committed_s = time.perf_counter() - t0
                done_commit.set()

    def on_sent(_platform: str, _oid: int) -> None:
        res.delivered += 1
        if res.delivered == n * per_q:
            res.wall_delivered_s = time.perf_counter() - t0
            done_send.set()

    db = workdir / "throughput.db"
    if prepare_db is not None:
        prepare_db(db)
    app = App(config, db_path=str(db), adapters={"local": adapter}, observers=[observer])
    await app.start()
    assert app.store is not None and app.outbox is not None
    store = app.store
    app.outbox.on_sent = on_sent  # a public hook the App leaves unset: fires after COMMIT
    timer = StepTimer(store)
    cpu0 = thread_cpu()
    load = OtherLoad()
    prof = cProfile.Profile() if profile else None
    with GcPauses() as pauses, HopCounter() as hops:
        if prof:
            prof.enable()
        t0 = time.perf_counter()
        for i in range(n):
            post_question(local, i)
        try:
            await asyncio.wait_for(
                asyncio.gather(done_commit.wait(), done_send.wait()), timeout=time_cap
            )
        except TimeoutError:
            res.timed_out = True
        if prof:
            prof.disable()
        cpu1 = thread_cpu()
        wall = time.perf_counter() - t0
    res.cpu = {
        "wall_s": wall,
        "main_thread_s": cpu1["main"] - cpu0["main"],
        "other_threads_s": cpu1["other"] - cpu0["other"],
        "other_processes_cpus": load.cpus(),
    }
    res.gc = pauses.summary()
    # the store's two connections (private names: this is a benchmark)
    writer, reader = getattr(store, "_writer_conn", None), getattr(store, "_reader_conn", None)
    res.hops = {"writer": hops.of(writer), "reader": hops.of(reader),
                "total": sum(hops.calls.values())}
    res.platform_retained_mb = deep_size_mb(
        local._inbound, local._sent, local._by_key, local._texts
    )
    await app.stop(drain=0 if res.timed_out else 5.0)
    res.commits, res.steps = store.commits, store.steps
    res.step_kinds = timer.summary()
    with sqlite3.connect(db) as conn:
        for table in ("questions", "messages", "inbound", "events", "outbox", "cursors"):
            res.db_rows[table] = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        res.db_outbox_states = dict(
            conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
        )
        res.db_event_kinds = dict(
            conn.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall()
        )
    res.db_bytes = sum(p.stat().st_size for p in workdir.glob("throughput.db*") if p.is_file())
    if prof:
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        res.profile = out.getvalue()
    return res


# -- phase 2: latency at a steady rate -------------------------------------------------------


@dataclass
class Latency:
    rate: float
    seconds: float
    posted: int = 0
    commit_ms: dict[str, float | None] = field(default_factory=dict)
    staff_ms: dict[str, float | None] = field(default_factory=dict)
    post_lag_ms: dict[str, float | None] = field(default_factory=dict)
    missing_commit: int = 0
    missing_staff: int = 0
    #: when posting stopped: questions posted but not yet committed / staff offer not sent
    behind_commit: int = 0
    behind_staff: int = 0
    wait_s: float = 0.0
    other_processes_cpus: float = 0.0
    gc: dict[str, float] = field(default_factory=dict)
    commits: int = 0
    steps: int = 0


async def run_latency(
    config: Config, workdir: Path, rate: float, seconds: float,
    prepare_db: PrepareDb | None = None,
) -> Latency:
    res = Latency(rate=rate, seconds=seconds)
    local = LocalPlatform()
    adapter = LocalAdapter(local, SystemClock())
    scheduled: dict[str, float] = {}  # platform message id -> scheduled post time
    mid_of: dict[int, str] = {}  # question id -> its message id
    committed: dict[int, float] = {}
    delivered: dict[int, float] = {}
    lags: list[float] = []
    all_in = asyncio.Event()

    def observer(event: Event) -> None:
        if event.kind is EventKind.RECEIVED and event.question_id is not None:
            mid_of[event.question_id] = str(event.data["message_id"])
        elif event.kind is EventKind.OFFERED and event.question_id is not None:
            committed[event.question_id] = time.perf_counter()
            maybe_done()

    def maybe_done() -> None:
        if res.posted and len(committed) >= res.posted and len(delivered) >= res.posted:
            all_in.set()

    db = workdir / "latency.db"
    if prepare_db is not None:
        prepare_db(db)
    app = App(config, db_path=str(db), adapters={"local": adapter}, observers=[observer])
    await app.start()
    assert app.store is not None
    store = app.store
    staff_chat = next(
        (p.staff_channel for name, p in config.enabled_platforms().items() if name == "local"),
        None,
    ) or "staff"
    queue = local.subscribe(staff_chat)

    def stamp(msg: BotMessage) -> None:
        # the platform hands the message to its subscribers the moment the bot's send lands;
        # stamp it there rather than when a reader task gets round to the queue
        qid = qid_of_offer(msg)
        if qid is not None:
            delivered.setdefault(qid, time.perf_counter())
            maybe_done()

    queue.put_nowait = stamp

    total = int(rate * seconds)
    load = OtherLoad()
    with GcPauses() as pauses:
        t0 = time.perf_counter()
        i = 0
        while i < total:
            now = time.perf_counter()
            due = min(total, int((now - t0) * rate) + 1)
            while i < due:
                at = t0 + i / rate
                mid = post_question(local, i)
                scheduled[mid] = at
                lags.append(time.perf_counter() - at)
                i += 1
            res.posted = i
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
    res.gc = pauses.summary()
    res.other_processes_cpus = load.cpus()
    res.behind_commit = res.posted - len(committed)
    res.behind_staff = res.posted - len(delivered)
    maybe_done()
    res.wait_s = max(10.0, seconds * 2)
    try:
        await asyncio.wait_for(all_in.wait(), timeout=res.wait_s)
    except TimeoutError:
        pass
    await app.stop()
    res.commits, res.steps = store.commits, store.steps
    commit_lat, staff_lat = [], []
    for qid, mid in mid_of.items():
        start = scheduled.get(mid)
        if start is None:
            continue
        if qid in committed:
            commit_lat.append(1000 * (committed[qid] - start))
        if qid in delivered:
            staff_lat.append(1000 * (delivered[qid] - start))
    res.missing_commit = res.posted - len(commit_lat)
    res.missing_staff = res.posted - len(staff_lat)
    # a question that never completed counts as slower than every one that did
    res.commit_ms = percentiles(commit_lat + [math.inf] * res.missing_commit)
    res.staff_ms = percentiles(staff_lat + [math.inf] * res.missing_staff)
    res.post_lag_ms = percentiles([1000 * x for x in lags])
    return res


# -- phase 4: raw SQLite baseline ------------------------------------------------------------

_FK_ORDER = ("questions", "messages", "inbound", "events", "outbox")


@dataclass
class Template:
    """The rows one new question wrote, read back from the phase-1 database."""

    rows: dict[str, list[dict[str, Any]]]

    @property
    def per_question(self) -> int:
        return sum(len(r) for r in self.rows.values())


def read_template(db: Path) -> Template:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        qid = conn.execute("SELECT id FROM questions ORDER BY id LIMIT 1 OFFSET 1").fetchone()[0]
        q = conn.execute("SELECT * FROM questions WHERE id = ?", (qid,)).fetchone()
        rows = {
            "questions": [dict(q)],
            "messages": [dict(r) for r in conn.execute(
                "SELECT * FROM messages WHERE question_id = ? ORDER BY id", (qid,))],
            "inbound": [dict(r) for r in conn.execute(
                "SELECT * FROM inbound WHERE platform = ? AND message_id = ?",
                (q["platform"], q["root_message"]))],
            "events": [dict(r) for r in conn.execute(
                "SELECT * FROM events WHERE question_id = ? ORDER BY id", (qid,))],
            "outbox": [dict(r) for r in conn.execute(
                "SELECT * FROM outbox WHERE question_id = ? ORDER BY id", (qid,))],
        }
    # as the desk inserts them: before the outbox has sent anything
    for m in rows["messages"]:
        if m["direction"] == "out":
            m["platform_message_id"] = None
    for o in rows["outbox"]:
        o.update(state="pending", sent_at=None, platform_message_id=None, attempts=0)
    return Template(rows)


@dataclass
class Batch:
    """Some questions' rows, ready for executemany, and the outbox's later updates of them."""

    inserts: list[tuple[str, list[tuple[Any, ...]]]]
    outbox_ids: list[int]
    sent: list[tuple[Any, ...]]  # (sent_at, platform message id, outbox id)
    message_ids: list[tuple[Any, ...]]  # (platform message id, messages.id)


def generate_batches(t: Template, questions: int, per_batch: int) -> list[Batch]:
    """The template's rows for ``questions`` questions, ``per_batch`` questions per batch,
    with fresh ids and unique keys; tables in foreign-key order (parents first)."""
    cols = {k: [c for c in v[0] if not (k == "events" and c == "id")] for k, v in t.rows.items()}
    sql = {
        k: f"INSERT INTO {k} ({', '.join(c)}) VALUES ({', '.join('?' * len(c))})"
        for k, c in cols.items()
    }
    batches: list[Batch] = []
    mid = oid = 0
    for start in range(0, questions, per_batch):
        out: dict[str, list[tuple[Any, ...]]] = {k: [] for k in _FK_ORDER}
        batch = Batch([], [], [], [])
        for k in range(start + 1, min(questions, start + per_batch) + 1):
            pmid = f"u{k}"
            q = dict(t.rows["questions"][0], id=k, customer_id=f"cust{k}", root_message=pmid)
            out["questions"].append(tuple(q[c] for c in cols["questions"]))
            row_ids: dict[int, int] = {}
            for m in t.rows["messages"]:
                mid += 1
                row_ids[m["id"]] = mid
                m2 = dict(m, id=mid, question_id=k)
                if m["direction"] == "in":
                    m2["platform_message_id"] = pmid
                out["messages"].append(tuple(m2[c] for c in cols["messages"]))
            for r in t.rows["inbound"]:
                out["inbound"].append(tuple(dict(r, message_id=pmid)[c] for c in cols["inbound"]))
            for e in t.rows["events"]:
                out["events"].append(tuple(dict(e, question_id=k)[c] for c in cols["events"]))
            for o in t.rows["outbox"]:
                oid += 1
                row = row_ids.get(o["message_row"])
                o2 = dict(o, id=oid, key=f"hf{oid}", question_id=k, message_row=row)
                out["outbox"].append(tuple(o2[c] for c in cols["outbox"]))
                batch.outbox_ids.append(oid)
                batch.sent.append((o["created_at"], f"b{oid}", oid))
                if row is not None:
                    batch.message_ids.append((f"b{oid}", row))
        batch.inserts = [(sql[k], out[k]) for k in _FK_ORDER if out[k]]
        batches.append(batch)
    return batches


_MARK_SENDING = "UPDATE outbox SET state = 'sending' WHERE id IN ({})"
_MARK_SENT = (
    "UPDATE outbox SET state = 'sent', sent_at = ?, platform_message_id = ?, "
    "attempts = attempts + 1 WHERE id = ?"
)
_SET_MESSAGE_ID = "UPDATE messages SET platform_message_id = ? WHERE id = ?"


def _fresh_db(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    for migration in MIGRATIONS:
        for statement in migration:
            conn.execute(statement)
    conn.close()


_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON")


def baseline_sqlite3(batches: list[Batch], path: Path, updates: bool) -> float:
    """Plain sqlite3: one transaction per batch; with ``updates``, two more per batch doing
    what the outbox does to those rows (mark sending; mark sent + message ids)."""
    _fresh_db(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for p in _PRAGMAS:
        conn.execute(p)
    start = time.perf_counter()
    for b in batches:
        conn.execute("BEGIN IMMEDIATE")
        for sql, rows in b.inserts:
            conn.executemany(sql, rows)
        conn.execute("COMMIT")
        if updates:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_MARK_SENDING.format(",".join("?" * len(b.outbox_ids))), b.outbox_ids)
            conn.execute("COMMIT")
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_MARK_SENT, b.sent)
            conn.executemany(_SET_MESSAGE_ID, b.message_ids)
            conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


async def baseline_aiosqlite(batches: list[Batch], path: Path, updates: bool) -> float:
    """As :func:`baseline_sqlite3`, through aiosqlite (each call a hop to its thread)."""
    _fresh_db(path)
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        for p in _PRAGMAS:
            await conn.execute(p)
        start = time.perf_counter()
        for b in batches:
            await conn.execute("BEGIN IMMEDIATE")
            for sql, rows in b.inserts:
                await conn.executemany(sql, rows)
            await conn.execute("COMMIT")
            if updates:
                await conn.execute("BEGIN IMMEDIATE")
                await conn.execute(
                    _MARK_SENDING.format(",".join("?" * len(b.outbox_ids))), b.outbox_ids
                )
                await conn.execute("COMMIT")
                await conn.execute("BEGIN IMMEDIATE")
                await conn.executemany(_MARK_SENT, b.sent)
                await conn.executemany(_SET_MESSAGE_ID, b.message_ids)
                await conn.execute("COMMIT")
        return time.perf_counter() - start


async def aiosqlite_round_trip_us(path: Path, calls: int = 3000) -> dict[str, float]:
    """Microseconds per awaited call: ``await conn.execute`` (one hop to the connection's
    thread and back) and ``async with conn.execute`` as helpforce's Tx.execute writes it
    (execute + cursor close: two hops)."""
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        start = time.perf_counter()
        for _ in range(calls):
            await conn.execute("SELECT 1")
        one = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(calls):
            async with conn.execute("SELECT 1") as cur:
                cur.rowcount  # noqa: B018
        two = time.perf_counter() - start
    return {"await_execute_us": 1e6 * one / calls, "async_with_execute_us": 1e6 * two / calls}


async def run_baseline(
    t: Template, workdir: Path, questions: int, per_batch: int, per_q_questions: int
) -> dict[str, Any]:
    rows = questions * t.per_question
    batches = generate_batches(t, questions, per_batch)  # built outside the timings
    out: dict[str, Any] = {
        "questions": questions, "per_commit": per_batch, "rows_per_question": t.per_question,
        "rows_by_table": {k: len(v) for k, v in t.rows.items()}, "rows": rows,
        "updates_per_question": len(t.rows["outbox"]) * 2
        + sum(1 for o in t.rows["outbox"] if o["message_row"] is not None),
    }

    def figures(seconds: float, q: int = questions) -> dict[str, float]:
        return {"seconds": seconds, "rows_per_s": q * t.per_question / seconds,
                "questions_per_s": q / seconds}

    load = OtherLoad()
    out["sqlite3"] = figures(baseline_sqlite3(batches, workdir / "raw-1.db", False))
    out["aiosqlite"] = figures(await baseline_aiosqlite(batches, workdir / "raw-2.db", False))
    out["sqlite3_with_updates"] = figures(baseline_sqlite3(batches, workdir / "raw-3.db", True))
    out["aiosqlite_with_updates"] = figures(
        await baseline_aiosqlite(batches, workdir / "raw-4.db", True)
    )
    single = generate_batches(t, per_q_questions, 1)
    out["aiosqlite_one_txn_per_question"] = figures(
        await baseline_aiosqlite(single, workdir / "raw-5.db", False), per_q_questions
    )
    out["one_txn_questions"] = per_q_questions
    out["other_processes_cpus"] = load.cpus()
    out["round_trip"] = await aiosqlite_round_trip_us(workdir / "raw-5.db")
    for p in workdir.glob("raw-*.db*"):
        p.unlink()
    return out


# -- the report ------------------------------------------------------------------------------


def fmt(v: float | None, spec: str = ".1f") -> str:
    if v is None:
        return "—"
    if math.isinf(v):
        return "timeout"
    return format(v, spec)


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else "met" if ok else "MISSED"


def report(r: dict[str, Any]) -> str:
    out: list[str] = []
    w = out.append
    m = r["machine"]
    w(f"command : {r['command']}")
    w(f"machine : {m['nproc']} CPUs ({m['cpu']}), {m['os']}, Python {m['python']}, "
      f"SQLite {m['sqlite']}, aiosqlite {m['aiosqlite']}")
    w(f"code    : {r['code']}; load average at start {r['loadavg']}")
    ro = r["roster"]
    w(f"setup   : databases in {m['db_dir']} ({m['fs']}); roster of {ro['staff']} staff "
      f"(load_config {ro['load_s']:.2f} s); notify_limit {ro['notify_limit']}; local send "
      f"limit {ro['rate_limit']}")
    w("")
    t = r["throughput"]
    w(f"1. THROUGHPUT: {t['questions']} questions from distinct customers posted at once; "
      f"{t['sends_per_question']} offers each (staff channel + notify_limit DMs)")
    if t["timed_out"]:
        w(f"   !! stopped at the {r['time_cap_s']:.0f} s cap (--time-cap): {t['committed']} of "
          f"{t['questions']} committed, {t['delivered']} of "
          f"{t['questions'] * t['sends_per_question']} offers delivered; rates below are "
          "what was done within the cap")
    w(f"   {'':52} {'questions/s':>11} {'wall s':>8} {'target':>9} {'':>6}")
    w(f"   {'durable: committed (offered event after COMMIT)':52} "
      f"{fmt(t['durable_qps'], '.0f'):>11} {fmt(t['wall_committed_s'], '.2f'):>8} "
      f"{'>= ' + format(TARGET_QPS, '.0f'):>9} {verdict(r['verdicts']['throughput']):>6}")
    w(f"   {'end-to-end: every offer delivered by the outbox':52} "
      f"{fmt(t['end_to_end_qps'], '.0f'):>11} {fmt(t['wall_delivered_s'], '.2f'):>8}")
    w(f"   group commit: store.commits {t['commits']}, store.steps {t['steps']} "
      f"({t['steps'] / max(1, t['commits']):.2f} steps per commit)")
    c = t["cpu"]
    w(f"   CPU: event-loop thread {c['main_thread_s']:.2f} s, SQLite threads (aiosqlite) "
      f"{c['other_threads_s']:.2f} s, in {c['wall_s']:.2f} s wall; other processes used "
      f"{c['other_processes_cpus']:.2f} of {m['nproc']} CPUs meanwhile")
    h = t["hops"]
    w(f"   aiosqlite calls (each a hop to a connection's thread and back): "
      f"{h['total'] / t['questions']:.1f} per question (writer {h['writer']}, reader "
      f"{h['reader']}, total {h['total']})")
    g = t["gc"]
    w(f"   GC: {g['collections']} collections ({g['full_collections']} full), "
      f"{g['total_ms']:.0f} ms in all, longest {g['longest_ms']:.1f} ms")
    w("   store steps by origin: count, mean ms from Store.transaction() to durable")
    for name, st in t["step_kinds"].items():
        w(f"     {name:56} {int(st['steps']):>7} {st['mean_ms']:9.2f} ms")
    w("   rows per question in the db: " + ", ".join(
        f"{k} {v:.2f}" for k, v in t["rows_per_question"].items()))
    w(f"   outbox states {t['db_outbox_states']}; events {t['db_event_kinds']}; "
      f"database {t['db_bytes'] / 2**20:.1f} MB")
    w("")
    lat = r["latency"]
    w(f"2. LATENCY (run before phase 1): {lat['posted']} questions at a steady "
      f"{lat['rate']:.0f}/s for {lat['seconds']:.0f} s; ms from each question's scheduled post "
      "time")
    w(f"   {'':34} {'n':>6} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'target':>11} {'':>6}")
    for name, d, target, ok in (
        ("post -> offer committed", lat["commit_ms"], f"p99 <= {TARGET_P99_MS:.0f}",
         r["verdicts"]["latency"]),
        ("post -> staff-channel offer sent", lat["staff_ms"], "", None),
        ("poster lag behind its schedule", lat["post_lag_ms"], "", None),
    ):
        w(f"   {name:34} {d['n']:>6} {fmt(d['p50'], '.2f'):>8} {fmt(d['p90'], '.2f'):>8} "
          f"{fmt(d['p99'], '.2f'):>8} {fmt(d['max'], '.2f'):>8} {target:>11} "
          f"{verdict(ok) if target else '':>6}")
    w(f"   when posting stopped: {lat['behind_commit']} questions not yet committed, "
      f"{lat['behind_staff']} staff offers not yet sent")
    if lat["missing_commit"] or lat["missing_staff"]:
        w(f"   !! still missing {lat['wait_s']:.0f} s later ('timeout' above): "
          f"{lat['missing_commit']} commits, {lat['missing_staff']} staff offers")
    g = lat["gc"]
    w(f"   GC while posting: {g['collections']} collections ({g['full_collections']} full), "
      f"longest {g['longest_ms']:.1f} ms")
    w(f"   group commit: store.commits {lat['commits']}, store.steps {lat['steps']}; other "
      f"processes used {lat['other_processes_cpus']:.2f} of {m['nproc']} CPUs while posting")
    w("")
    mem = r["memory"]
    w(f"3. MEMORY: peak RSS {mem['peak_rss_mb']:.1f} MB (ru_maxrss over set-up and phases "
      f"1-2; target <= {TARGET_RSS_MB:.0f} MB: {verdict(r['verdicts']['rss'])})")
    w(f"   whole process: Python and its libraries {mem['rss_after_imports_mb']:.1f} MB after "
      f"imports; {mem['rss_after_config_mb']:.1f} MB once the {ro['staff']}-staff config is "
      f"loaded (+{mem['rss_after_config_mb'] - mem['rss_after_imports_mb']:.1f} MB)")
    w(f"   peak in phase 1: {fmt(mem['peak_phase1_mb'])} MB, of which the in-memory "
      f"LocalPlatform (the simulated chat service, which keeps every message it saw) retained "
      f"~{mem['platform_retained_mb']:.1f} MB by the end of it")
    w(f"   peak in phase 2: {fmt(mem['peak_phase2_mb'])} MB ({lat['posted']} questions at "
      f"{lat['rate']:.0f}/s; it runs before phase 1, so this is a daemon-like process)")
    w("")
    b = r["baseline"]
    w(f"4. RAW SQLITE BASELINE: the desk's {b['rows_per_question']} inserted rows per "
      f"question ({', '.join(f'{k} {v}' for k, v in b['rows_by_table'].items())}), "
      f"{b['questions']} questions, {b['per_commit']} questions per transaction, executemany, "
      "WAL, synchronous=FULL, foreign_keys=ON, same schema")
    w(f"   {'':58} {'rows/s':>9} {'questions/s':>12} {'s':>7}")
    for key, name in (
        ("sqlite3", "sqlite3, inserts"),
        ("aiosqlite", "aiosqlite, inserts"),
        ("sqlite3_with_updates", f"sqlite3, inserts + outbox's {b['updates_per_question']} "
         "updates/question"),
        ("aiosqlite_with_updates", f"aiosqlite, inserts + outbox's {b['updates_per_question']} "
         "updates/question"),
        ("aiosqlite_one_txn_per_question",
         f"aiosqlite, inserts, 1 transaction per question ({b['one_txn_questions']})"),
    ):
        d = b[key]
        w(f"   {name:58} {d['rows_per_s']:>9.0f} {d['questions_per_s']:>12.0f} "
          f"{d['seconds']:>7.2f}")
    w("   (with updates: 3 transactions per batch as the outbox does: insert; mark 'sending'; "
      "mark 'sent' + message ids)")
    rt = b["round_trip"]
    w(f"   one aiosqlite call: {rt['await_execute_us']:.0f} µs (await conn.execute), "
      f"{rt['async_with_execute_us']:.0f} µs (async with conn.execute, as Tx.execute does: "
      "execute + cursor close)")
    w(f"   desk durable rate = {b['desk_vs_aiosqlite_pct']:.0f}% of the aiosqlite insert "
      f"baseline; other processes used {b['other_processes_cpus']:.2f} of {m['nproc']} CPUs "
      "meanwhile")
    w("")
    w(f"total run time {r['total_s']:.1f} s")
    if r.get("profile"):
        w("")
        w("cProfile of phase 1 (event-loop thread only; the SQLite threads are not seen):")
        w(r["profile"])
    return "\n".join(out)


def machine(db_dir: Path) -> dict[str, Any]:
    fs = "?"
    try:
        best = ""
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if str(db_dir.resolve()).startswith(parts[1]) and len(parts[1]) >= len(best):
                    best, fs = parts[1], f"{parts[2]} on {parts[1]}"
    except OSError:
        pass
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                       "?")
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": py_platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "aiosqlite": getattr(aiosqlite, "__version__", "?"),
        "os": f"{py_platform.system()} {py_platform.release()}",
        "db_dir": str(db_dir),
        "fs": fs,
    }


async def main_async(
    args: argparse.Namespace, prepare_db: PrepareDb | None = None
) -> dict[str, Any]:
    started = time.perf_counter()
    rss_imports = rss_now_mb()
    with tempfile.TemporaryDirectory(prefix="hf-bench-", dir=args.dir) as tmp:
        workdir = Path(tmp)
        config, load_s = build_config(workdir, args.staff, args.rate_limit)
        rss_config = rss_now_mb()
        peaks = PeakRss()
        peaks.phase()
        result: dict[str, Any] = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "code": code_version(),
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "machine": machine(workdir),
            "time_cap_s": args.time_cap,
            "roster": {
                "staff": len(config.roster.staff), "load_s": load_s,
                "notify_limit": config.settings.desk.notify_limit,
                "rate_limit": "lifted (in-memory platform)" if args.rate_limit == "unlimited"
                else "as in config/helpforce.yaml",
            },
        }
        # the latency phase runs first, in a process that has only loaded the config, so its
        # peak RSS is that of a daemon at a steady 500 questions/s (phase 1's allocations are
        # not given back to the OS and would raise any later reading)
        lat = await run_latency(config, workdir, args.rate, args.seconds, prepare_db)
        peak2 = peaks.phase()
        result["latency"] = dataclasses.asdict(lat)
        n = args.questions
        tp = await run_throughput(config, workdir, n, args.time_cap, args.profile, prepare_db)
        peak1 = peaks.phase()
        durable = n / tp.wall_committed_s if tp.wall_committed_s else None
        e2e = n / tp.wall_delivered_s if tp.wall_delivered_s else None
        # capped: what was done within the cap
        if durable is None and tp.cpu["wall_s"]:
            durable = tp.committed / tp.cpu["wall_s"]
        if e2e is None and tp.cpu["wall_s"]:
            e2e = tp.delivered / tp.sends_per_question / tp.cpu["wall_s"]
        per_q = {k: tp.db_rows[k] / max(1, tp.db_rows["questions"])
                 for k in ("questions", "messages", "inbound", "events", "outbox")}
        result["throughput"] = {
            "questions": n, "sends_per_question": tp.sends_per_question,
            "durable_qps": durable, "end_to_end_qps": e2e,
            "wall_committed_s": tp.wall_committed_s, "wall_delivered_s": tp.wall_delivered_s,
            "committed": tp.committed, "delivered": tp.delivered, "timed_out": tp.timed_out,
            "commits": tp.commits, "steps": tp.steps, "step_kinds": tp.step_kinds,
            "hops": tp.hops, "gc": tp.gc,
            "cpu": tp.cpu, "db_rows": tp.db_rows, "rows_per_question": per_q,
            "db_outbox_states": tp.db_outbox_states, "db_event_kinds": tp.db_event_kinds,
            "db_bytes": tp.db_bytes,
        }
        result["memory"] = {
            "peak_rss_mb": peaks.overall, "peak_phase1_mb": peak1, "peak_phase2_mb": peak2,
            "rss_after_imports_mb": rss_imports,
            "rss_after_config_mb": rss_config, "platform_retained_mb": tp.platform_retained_mb,
        }
        template = read_template(workdir / "throughput.db")
        bq = args.baseline_questions or min(n, 5000)
        base = await run_baseline(template, workdir, bq, 100, min(bq, 1000))
        base["desk_vs_aiosqlite_pct"] = (
            100 * (durable or 0) / base["aiosqlite"]["questions_per_s"]
        )
        result["baseline"] = base
        p99 = lat.commit_ms.get("p99")
        result["verdicts"] = {
            "throughput": durable is not None and durable >= TARGET_QPS,
            "latency": p99 is not None and p99 <= TARGET_P99_MS,
            "rss": result["memory"]["peak_rss_mb"] <= TARGET_RSS_MB,
        }
        if tp.profile:
            result["profile"] = tp.profile
    result["total_s"] = time.perf_counter() - started
    return result


def to_json(result: dict[str, Any]) -> str:
    """One JSON object; a latency that timed out (infinite) becomes null."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(result), indent=2, sort_keys=True)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--questions", type=int, default=20_000,
                    help="questions for the throughput phase (default 20000)")
    ap.add_argument("--rate", type=float, default=TARGET_RATE,
                    help="questions/s for the latency phase (default 500)")
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="duration of the latency phase (default 5)")
    ap.add_argument("--staff", type=int, default=3000, help="roster size (default 3000)")
    ap.add_argument("--baseline-questions", type=int, default=0,
                    help="questions for the raw SQLite baseline (default: --questions, at "
                    "most 5000; 1 transaction per question: at most 1000)")
    ap.add_argument("--rate-limit", choices=("unlimited", "config"), default="unlimited",
                    help="local platform send limit: lifted (default) or the example config's")
    ap.add_argument("--time-cap", type=float, default=40.0,
                    help="stop phase 1 after this many seconds and report what was done "
                    "(default 40)")
    ap.add_argument("--dir", default=None,
                    help="directory for the temporary databases (default: the system temp dir)")
    ap.add_argument("--profile", action="store_true",
                    help="run phase 1 under cProfile and print the top functions")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(main_async(args))
    if args.json:
        print(to_json(result))
    else:
        print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
