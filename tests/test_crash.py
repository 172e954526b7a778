"""kill -9 at any moment loses no question and duplicates no reply after a restart.

The test process is the world: customers and staff on a spool-backed local platform, used from
the users' side only (``post``, ``press``, ``sent()``). The daemon is a real ``helpforce run``
subprocess reading the spool, and it is SIGKILLed at seeded random moments of a replay and
restarted each time. The world is never killed; it remembers what it already did, so it acts
exactly once per offer and per claim notice, as people would. At the end the database and the
platform's record of what the bot sent must show every question stored, offered, claimed,
answered and delivered exactly once.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpforce.adapters.local.platform import BotMessage, LocalPlatform
from helpforce.config import Config, load_config

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config"

STAFF_CHANNEL = "staff"
HELP_CHANNEL = "help"
READY_LINE = "helpforce running"

_OFFER_TEXT = re.compile(r"^#(\d+) · .*?\nquestion (\d+): ", re.DOTALL)
_HOLD_TEXT = re.compile(r"^You hold #(\d+)\.")
_ANSWER_TEXT = re.compile(r"^answer for #(\d+) \^([A-Z0-9]{1,4})$")


# -- set-up ------------------------------------------------------------------------------------


@dataclass
class Deployment:
    cfg: Path
    spool: Path
    db: Path
    logs: Path
    config: Config

    @property
    def account_of(self) -> dict[str, str]:
        """roster id -> local account"""
        staff = self.config.roster.staff
        return {s.id: s.accounts["local"] for s in staff if "local" in s.accounts}

    @property
    def staff_of(self) -> dict[str, str]:
        """local account -> roster id"""
        return {acc: sid for sid, acc in self.account_of.items()}

    @property
    def initials_of(self) -> dict[str, str]:
        """roster id -> initials"""
        return {s.id: s.initials for s in self.config.roster.staff}


def make_deployment(tmp_path: Path) -> Deployment:
    """The example deployment, with the local platform on a spool directory in tmp_path."""
    cfg = tmp_path / "config"
    cfg.mkdir()
    for f in EXAMPLE_CONFIG.glob("*.yaml"):
        # routing is not what this test is about: every question takes the default route
        # (notify_limit direct offers and a staff-channel post)
        if f.name != "routing.yaml":
            shutil.copy(f, cfg / f.name)
    spool = tmp_path / "spool"
    settings = yaml.safe_load((cfg / "helpforce.yaml").read_text(encoding="utf-8"))
    settings["platforms"]["local"]["spool"] = str(spool)
    (cfg / "helpforce.yaml").write_text(yaml.safe_dump(settings, sort_keys=False),
                                        encoding="utf-8")
    # Capacity is not what this test is about: with bursts of questions and kills in between,
    # a staff member may hold many claimed-but-unanswered questions at once. Give everyone room.
    roster = yaml.safe_load((cfg / "roster.yaml").read_text(encoding="utf-8"))
    for person in roster["staff"]:
        person["max_open_claims"] = 1000
    (cfg / "roster.yaml").write_text(yaml.safe_dump(roster, sort_keys=False), encoding="utf-8")
    check = subprocess.run(
        [sys.executable, "-m", "helpforce", "check", str(cfg)],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    logs = tmp_path / "logs"
    logs.mkdir()
    return Deployment(cfg, spool, tmp_path / "helpforce.db", logs, load_config(cfg, env={}))


def wait_until(pred: Callable[[], Any], timeout: float, what: str,
               tick: Callable[[], None] | None = None, interval: float = 0.02,
               describe: Callable[[], str] | None = None) -> Any:
    """Poll ``pred`` (running ``tick`` first each time) until it is truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if tick is not None:
            tick()
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\n{describe()}" if describe is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)


@contextmanager
def read_db(db: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def db_progress(db: Path, inbox: Path) -> dict[str, int] | None:
    """What the daemon still has to do, read-only: unread inbox bytes, outbox rows by state."""
    if not db.exists():
        return None
    try:
        with read_db(db) as conn:
            row = conn.execute(
                "SELECT value FROM cursors WHERE platform = 'local' AND name = 'default'"
            ).fetchone()
            states = dict(conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
    except sqlite3.Error:
        return None
    cursor = int(row[0]) if row else 0
    return {
        "unread": inbox.stat().st_size - cursor,
        "pending": states.get("pending", 0),
        "sending": states.get("sending", 0),
    }


def settled(db: Path, inbox: Path) -> bool:
    p = db_progress(db, inbox)
    return p is not None and p["unread"] == 0 and p["pending"] == 0 and p["sending"] == 0


# -- the daemon --------------------------------------------------------------------------------


class Daemon:
    """`helpforce run` as a subprocess that can be SIGKILLed and started again."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self._stderr_path: Path | None = None

    def start(self) -> None:
        assert self.proc is None
        self.starts += 1
        self._stderr_path = self.dep.logs / f"daemon-{self.starts}.stderr"
        with self._stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "helpforce", "run", "--config", str(self.dep.cfg),
                 "--db", str(self.dep.db)],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, cwd=self.dep.logs,
            )

    def ready(self) -> bool:
        """True once this run has opened the store and started the platform."""
        assert self.proc is not None and self._stderr_path is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.stderr()}")
        return READY_LINE in self._stderr_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        assert self.proc.returncode == -signal.SIGKILL, self.proc.returncode
        self.kills += 1
        self.proc = None

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        return code

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def stderr(self) -> str:
        """All runs' stderr, for diagnosis."""
        out = []
        for n in range(1, self.starts + 1):
            path = self.dep.logs / f"daemon-{n}.stderr"
            if path.exists():
                out.append(f"--- run {n} ---\n" + path.read_text(encoding="utf-8",
                                                                 errors="replace")[-4000:])
        return "\n".join(out)


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    return make_deployment(tmp_path)


@pytest.fixture
def daemon(deployment: Deployment) -> Iterator[Daemon]:
    d = Daemon(deployment)
    try:
        yield d
    finally:
        d.cleanup()


# -- the world ---------------------------------------------------------------------------------


class SentTail:
    """New complete records of spool/sent.jsonl since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read(self) -> list[BotMessage]:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        return [BotMessage.from_json(json.loads(line)) for line in data[: end + 1].splitlines()]


@dataclass
class World:
    """Customers and staff. Never killed; acts once per thing it sees."""

    dep: Deployment
    rng: random.Random
    press_claims: bool = True
    platform: LocalPlatform = field(init=False)
    tail: SentTail = field(init=False)
    #: customer number -> platform message id of their question
    asked: dict[int, str] = field(default_factory=dict)
    #: customer number -> question id (from the staff-channel offer)
    qid_of: dict[int, int] = field(default_factory=dict)
    #: question id -> staff accounts that pressed Claim, in order
    pressed: dict[int, list[str]] = field(default_factory=dict)
    #: question id -> (staff account, platform message id of the answer they wrote)
    replied: dict[int, tuple[str, str]] = field(default_factory=dict)
    #: question id -> answers seen in the customer channel
    delivered: Counter[int] = field(default_factory=Counter)
    #: question id -> staff-channel offers seen
    offers: Counter[int] = field(default_factory=Counter)
    #: question id -> what the bot said to a staff answer it did not take as the answer
    unrecognised: dict[int, str] = field(default_factory=dict)
    records: int = 0

    def __post_init__(self) -> None:
        self.platform = LocalPlatform(self.dep.spool)
        self.tail = SentTail(self.dep.spool / "sent.jsonl")

    @property
    def inbox(self) -> Path:
        return self.dep.spool / "inbox.jsonl"

    def ask(self, i: int) -> None:
        assert i not in self.asked
        self.asked[i] = self.platform.post(
            f"cust-{i:03d}", HELP_CHANNEL, f"question {i}: my order is late",
            handle=f"customer{i}",
        )

    def tick(self) -> None:
        staff_accounts = sorted(self.dep.staff_of)
        answer_ids = {mid: qid for qid, (_, mid) in self.replied.items()}
        for m in self.tail.read():
            self.records += 1
            if m.edit:
                continue
            if m.chat == STAFF_CHANNEL and any(b[1].startswith("claim:") for b in m.buttons):
                offer = _OFFER_TEXT.match(m.text)
                assert offer is not None, m.text
                qid, i = int(offer.group(1)), int(offer.group(2))
                self.offers[qid] += 1
                self.qid_of.setdefault(i, qid)
                if self.press_claims and qid not in self.pressed:
                    racers = self.rng.sample(staff_accounts, 2)
                    self.pressed[qid] = racers
                    for account in racers:
                        self.platform.press(account, m.id, f"claim:{qid}")
            elif m.chat.startswith("dm:") and (hold := _HOLD_TEXT.match(m.text)):
                qid = int(hold.group(1))
                account = m.chat[3:]
                if qid not in self.replied:
                    mid = self.platform.post(account, m.chat, f"answer for #{qid}",
                                             reply_to=m.id)
                    self.replied[qid] = (account, mid)
                    answer_ids[mid] = qid
            elif m.chat == HELP_CHANNEL and (answer := _ANSWER_TEXT.match(m.text)):
                self.delivered[int(answer.group(1))] += 1
            elif m.reply_to in answer_ids:
                qid = answer_ids[m.reply_to]
                self.unrecognised[qid] = f"answer to #{qid} ({m.reply_to}) got {m.text!r}"

    def outstanding(self) -> int:
        """Questions asked whose answer the customer has not seen yet (and still may)."""
        return sum(1 for i in self.asked if self.delivered[self.qid_of.get(i, -1)] == 0
                   and self.qid_of.get(i) not in self.unrecognised)

    def describe(self) -> str:
        waiting = [i for i in self.asked if self.delivered[self.qid_of.get(i, -1)] == 0]
        where = []
        for i in waiting[:20]:
            qid = self.qid_of.get(i)
            step = ("no offer seen" if qid is None else "no 'You hold' seen"
                    if qid not in self.replied else "answer not delivered")
            where.append(f"customer {i} (#{qid}): {step}")
        return (f"unanswered: {where}; left to do: {db_progress(self.dep.db, self.inbox)}; "
                f"unrecognised answers: {self.unrecognised}")

    def all_answered(self) -> bool:
        return all(i in self.qid_of and self.delivered[self.qid_of[i]] > 0 for i in self.asked)


# -- the checks ----------------------------------------------------------------------------------


def check_no_question_lost(dep: Deployment, world: World) -> None:
    posted = set(world.asked.values())
    with read_db(dep.db) as conn:
        stored = [r[0] for r in conn.execute(
            "SELECT platform_message_id FROM messages WHERE direction = 'in' AND kind = 'question'"
        )]
        inbound = Counter(r[0] for r in conn.execute(
            "SELECT platform_message_id FROM messages WHERE direction = 'in'"
        ))
        questions = conn.execute(
            "SELECT id, customer_id, root_message FROM questions ORDER BY id"
        ).fetchall()
    dup = [m for m, n in Counter(stored).items() if n > 1]
    assert not dup, f"customer messages stored more than once: {dup}"
    assert set(stored) == posted, (
        f"lost: {sorted(posted - set(stored))}, unexpected: {sorted(set(stored) - posted)}"
    )
    assert all(inbound[m] == 1 for m in posted)
    assert len(questions) == len(posted), f"{len(questions)} questions for {len(posted)} asked"
    assert {q["root_message"] for q in questions} == posted
    assert len({q["customer_id"] for q in questions}) == len(posted)
    # the world saw each question's offer and mapped it to the right customer
    by_root = {q["root_message"]: q["id"] for q in questions}
    assert {i: by_root[m] for i, m in world.asked.items()} == world.qid_of


def check_outbox_clean(dep: Deployment, sent: list[BotMessage]) -> None:
    with read_db(dep.db) as conn:
        states = dict(conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
        sent_keys = {r[0] for r in conn.execute("SELECT key FROM outbox WHERE state = 'sent'")}
        errors = conn.execute(
            "SELECT id, state, last_error FROM outbox WHERE state != 'sent' LIMIT 10"
        ).fetchall()
    leftover = {s: n for s, n in states.items() if s in ("pending", "sending", "failed",
                                                          "uncertain")}
    assert not leftover, f"outbox rows left {leftover}: {[tuple(r) for r in errors]}"
    assert set(states) <= {"sent", "dropped"}, states
    # what the db records as sent is exactly what the platform got, once each
    keys = Counter(m.key for m in sent if not m.edit)
    dup = {k: n for k, n in keys.items() if n > 1}
    assert not dup, f"idempotency keys posted more than once: {dup}"
    assert {m.key for m in sent} == sent_keys


def check_escalations(dep: Deployment) -> None:
    with read_db(dep.db) as conn:
        bad = conn.execute(
            "SELECT question_id, kind, data FROM events WHERE kind IN "
            "('escalated', 'delivery_failed', 'delivery_uncertain')"
        ).fetchall()
    assert not bad, f"escalations: {[tuple(r) for r in bad]}"


# -- the tests ---------------------------------------------------------------------------------


#: customers the kill test may add when the daemon catches up before its last kill
MAX_QUESTIONS = 150


def test_kill_9_at_random_moments_loses_no_question_and_duplicates_no_reply(
    deployment: Deployment, daemon: Daemon
) -> None:
    dep = deployment
    rng = random.Random(20240611)
    n_questions = 90
    n_kills = rng.randint(5, 8)
    world = World(dep, random.Random(rng.random()))
    started = time.monotonic()

    # customers arrive in clumps over ~10 s; the schedule is seeded, the moments are real time
    arrivals: list[float] = []
    t = 0.0
    while len(arrivals) < n_questions:
        t += rng.uniform(0.15, 0.6)
        arrivals.extend([t] * min(rng.randint(1, 6), n_questions - len(arrivals)))

    kills: list[dict[str, Any]] = []
    daemon.start()
    ready_at: float | None = None
    kill_at = 0.0
    records_at_ready = 0
    next_q = 0
    while True:
        now = time.monotonic() - started
        if next_q == n_questions and len(kills) < n_kills and not world.outstanding() \
                and n_questions < MAX_QUESTIONS:
            # the daemon caught up before every kill was made (a fast or lightly loaded
            # machine): another clump of customers, so each kill still finds work in flight
            extra = min(rng.randint(3, 6), MAX_QUESTIONS - n_questions)
            arrivals.extend([now] * extra)
            n_questions += extra
        if not (next_q < n_questions or (len(kills) < n_kills and world.outstanding())):
            break
        while next_q < n_questions and arrivals[next_q] <= now:
            world.ask(next_q)
            next_q += 1
        world.tick()
        if len(kills) < n_kills:
            if ready_at is None and daemon.ready():
                ready_at = now
                kill_at = now + rng.uniform(0.05, 0.6)
                records_at_ready = world.records
            elif ready_at is not None and now >= kill_at and world.outstanding():
                # the world has reacted to everything the bot sent so far, so a question still
                # unanswered means the daemon holds unfinished work: kill -9 it now
                outstanding = world.outstanding()
                daemon.kill()
                left_to_do = db_progress(dep.db, world.inbox)
                world.tick()
                kills.append({
                    "at": round(now, 2),
                    "outstanding": outstanding,
                    "bot_records_this_run": world.records - records_at_ready,
                    "left_to_do": left_to_do,
                })
                daemon.start()
                ready_at = None
        time.sleep(0.01)

    replay_done = time.monotonic() - started
    wait_until(daemon.ready, 30, "the last daemon to start", tick=world.tick)
    # until everything is answered, or nothing is left in flight and an answer went astray
    wait_until(lambda: settled(dep.db, world.inbox)
               and (world.all_answered() or world.unrecognised), 60,
               "every question to be answered", tick=world.tick, describe=world.describe)
    assert daemon.terminate() == 0, daemon.stderr()
    world.tick()
    elapsed = time.monotonic() - started
    print(f"\n{n_questions} questions, {len(kills)} kills, replay {replay_done:.1f}s, "
          f"total {elapsed:.1f}s")
    for k in kills:
        print("  kill", k)

    sent = LocalPlatform(dep.spool).sent()
    assert world.offers == Counter({q: 1 for q in world.qid_of.values()}), world.offers
    # a staff reply to their "You hold #N" notice must be taken as the answer to #N
    assert not world.unrecognised, (
        "staff answers were not recognised as answers (the question stays unanswered):\n"
        + "\n".join(world.unrecognised.values()) + f"\nkills: {kills}\n" + daemon.stderr()
    )

    # 1. every question stored once, one question per customer
    check_no_question_lost(dep, world)

    # 2. no reply duplicated; exactly one signed answer per question reached the customer
    check_outbox_clean(dep, sent)
    with read_db(dep.db) as conn:
        questions = {r["id"]: r for r in conn.execute("SELECT * FROM questions")}
        events = conn.execute(
            "SELECT question_id, kind, actor FROM events WHERE question_id IS NOT NULL"
        ).fetchall()
    root_of = {qid: q["root_message"] for qid, q in questions.items()}
    answers: dict[int, list[BotMessage]] = defaultdict(list)
    for m in sent:
        if m.chat == HELP_CHANNEL and not m.edit:
            a = _ANSWER_TEXT.match(m.text)
            assert a is not None, f"unexpected message in {HELP_CHANNEL}: {m.text!r}"
            answers[int(a.group(1))].append(m)
    holds = Counter(int(h.group(1)) for m in sent
                    if not m.edit and (h := _HOLD_TEXT.match(m.text)))
    for qid, q in questions.items():
        assert len(answers[qid]) == 1, f"#{qid}: {len(answers[qid])} answers reached the customer"
        a = answers[qid][0]
        assert a.text == f"answer for #{qid} ^{dep.initials_of[q['claimed_by']]}", a.text
        assert a.reply_to == root_of[qid]
        assert holds[qid] == 1, f"#{qid}: {holds[qid]} 'You hold' notices"

    # 3. answered, claimed exactly once by one of the racers; the loser was told
    by_q: dict[int, Counter[tuple[str, str | None]]] = defaultdict(Counter)
    for e in events:
        by_q[e["question_id"]][(e["kind"], e["actor"])] += 1
    refusals = {(m.chat[3:], int(x.group(1))) for m in sent if m.chat.startswith("dm:")
                and (x := re.match(r"^#(\d+) is already held by ", m.text))}
    for qid, q in questions.items():
        assert q["state"] == "answered", f"#{qid} ended {q['state']}"
        assert q["first_answer_at"] is not None
        winner = q["claimed_by"]
        claimed = [a for (k, a), n in by_q[qid].items() for _ in range(n) if k == "claimed"]
        assert claimed == [winner], f"#{qid} claimed by {claimed}"
        assert q["last_answer_by"] == winner
        answered = sum(n for (k, _), n in by_q[qid].items() if k == "answered")
        assert answered == 1, f"#{qid} answered {answered} times"
        racers = [dep.staff_of[acc] for acc in world.pressed[qid]]
        assert winner in racers
        assert world.replied[qid][0] == dep.account_of[winner]
        for loser in set(racers) - {winner}:
            assert by_q[qid][("claim_refused", loser)] == 1, f"#{qid}: {loser} not refused"
            assert (dep.account_of[loser], qid) in refusals, f"#{qid}: {loser} not told"

    # 4. (checked above) nothing pending, sending, failed or uncertain; nothing escalated
    check_escalations(dep)

    # 5. the kills happened, each while work was in flight
    assert len(kills) == n_kills, kills
    in_flight = [k for k in kills if k["outstanding"] > 0 and k["bot_records_this_run"] > 0
                 and k["left_to_do"] and any(k["left_to_do"].values())]
    assert len(in_flight) >= 5, kills
    assert daemon.starts == n_kills + 1


def test_kill_9_right_after_a_burst_loses_no_question(
    deployment: Deployment, daemon: Daemon
) -> None:
    dep = deployment
    rng = random.Random(7)
    burst = 40
    notify_limit = dep.config.settings.desk.notify_limit
    world = World(dep, rng, press_claims=False)
    kills: list[dict[str, Any]] = []

    def kill(label: str) -> None:
        daemon.kill()
        left_to_do = db_progress(dep.db, world.inbox)
        kills.append({"when": label, "offers_seen": sum(world.offers.values()),
                      "left_to_do": left_to_do})
        world.tick()
        daemon.start()
        wait_until(daemon.ready, 30, "the daemon to start", tick=world.tick)

    daemon.start()
    wait_until(daemon.ready, 30, "the daemon to start", tick=world.tick)
    # a burst, then kill -9 at once: most of it not yet read, or read and not yet offered
    for i in range(burst):
        world.ask(i)
    time.sleep(rng.uniform(0.0, 0.02))
    kill("right after the first burst")
    # a second burst, killed as soon as its first offer reaches the staff channel
    for i in range(burst, 2 * burst):
        world.ask(i)
    wait_until(lambda: any(i in world.qid_of for i in range(burst, 2 * burst)), 30,
               "a first offer of the second burst", tick=world.tick, interval=0.002)
    kill("at the first offer of the second burst")

    wait_until(lambda: len(world.qid_of) == 2 * burst and settled(dep.db, world.inbox), 60,
               "every question to be offered", tick=world.tick)
    assert daemon.terminate() == 0, daemon.stderr()
    world.tick()
    print("\nkills:", kills)
    # at least one kill interrupted work: events unread, or rows not yet (known to be) sent
    assert any(k["left_to_do"] and any(k["left_to_do"].values()) for k in kills), kills

    check_no_question_lost(dep, world)
    sent = LocalPlatform(dep.spool).sent()
    check_outbox_clean(dep, sent)
    check_escalations(dep)
    staff_offers: Counter[int] = Counter()
    dm_offers: Counter[int] = Counter()
    for m in sent:
        if m.edit or not any(b[1].startswith("claim:") for b in m.buttons):
            continue
        qid = int(m.buttons[0][1].split(":")[1])
        if m.chat == STAFF_CHANNEL:
            staff_offers[qid] += 1
        elif m.chat.startswith("dm:"):
            dm_offers[qid] += 1
    qids = set(world.qid_of.values())
    assert len(qids) == 2 * burst
    assert staff_offers == Counter({q: 1 for q in qids}), staff_offers
    assert dm_offers == Counter({q: notify_limit for q in qids}), dm_offers
    with read_db(dep.db) as conn:
        states = Counter(r[0] for r in conn.execute("SELECT state FROM questions"))
        offered = Counter(r[0] for r in conn.execute(
            "SELECT question_id FROM events WHERE kind = 'offered'"))
    assert states == {"offered": 2 * burst}, states
    assert offered == Counter({q: 1 for q in qids}), offered
