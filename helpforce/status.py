"""``helpforce status``: what the desk looks like now, for operators.

From the database (read-only, while the daemon runs or not): questions by state, the oldest
question nobody has claimed and its age, staff available now (on shift or ``/on``, not
``/away`` or ``/off``) and what they hold, the outbox's backlog and failures. From the
running daemon: its platforms, connected or failing and why.

The daemon (``helpforce run``) shares what only it knows through a small JSON file next to
the database, ``<db>.status.json``, rewritten every few seconds (:class:`StatusWriter`):
its pid, when it started, and each platform's state. ``status`` trusts it while the pid is
alive and the file is fresh; otherwise it says the daemon is not running and shows what the
database holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpforce.config import Config
from helpforce.models import CLAIMABLE_STATES, State
from helpforce.queries import open_claims
from helpforce.schedule import availability
from helpforce.store import Store

log = logging.getLogger(__name__)

#: seconds between rewrites of the status file by the daemon
INTERVAL = 5.0
#: a file older than this many intervals means the daemon is gone (or hung)
STALE_AFTER = 3


def status_path(db_path: str) -> Path:
    return Path(db_path + ".status.json")


class StatusWriter:
    """Keeps ``<db>.status.json`` current while the daemon runs (real time, not the injected
    clock: it reports on the process, and must not add sleepers to a simulated clock)."""

    def __init__(self, db_path: str, platforms: Callable[[], list[tuple[str, str]]],
                 interval: float = INTERVAL) -> None:
        self.path = status_path(db_path)
        self.db_path = db_path
        self.platforms = platforms
        self.interval = interval
        self.started_at = time.time()
        self._task: asyncio.Task[None] | None = None

    def snapshot(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(), "started_at": self.started_at, "written_at": time.time(),
            "interval": self.interval, "db": self.db_path,
            "platforms": [{"platform": p, "state": s} for p, s in self.platforms()],
        }

    def write(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(self.snapshot(), sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:  # status is a courtesy: never stop the daemon for it
            log.warning("%s: could not write the status file: %s", self.path, exc)

    async def _run(self) -> None:
        while True:
            self.write()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="helpforce.status")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(OSError):
            self.path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def daemon_state(db_path: str, now: float) -> dict[str, Any]:
    """What the daemon's status file says, if it is fresh and its process alive."""
    path = status_path(db_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"running": False, "why": "no status file: the daemon is not running"}
    except (OSError, ValueError) as exc:
        return {"running": False, "why": f"{path}: unreadable ({exc})"}
    age = now - float(data.get("written_at", 0))
    interval = float(data.get("interval", INTERVAL))
    pid = int(data.get("pid", 0))
    if pid <= 0 or not _alive(pid):
        return {"running": False, "why": f"the daemon (pid {pid}) is gone; it did not stop "
                                         "cleanly"}
    if age > STALE_AFTER * interval:
        return {"running": False, "pid": pid,
                "why": f"the daemon (pid {pid}) has not reported for {age:.0f}s: hung?"}
    return {"running": True, "pid": pid, "started_at": data.get("started_at"),
            "uptime_s": now - float(data.get("started_at", now)), "report_age_s": age,
            "platforms": data.get("platforms", [])}


async def collect(store: Store, config: Config, db_path: str, now: float) -> dict[str, Any]:
    """Everything ``helpforce status`` shows, as one JSON-able dict."""
    daemon = daemon_state(db_path, now)
    states = {s.value: 0 for s in State}
    for state, n in await store.fetchall("SELECT state, COUNT(*) FROM questions GROUP BY state"):
        states[str(state)] = int(n)
    claimable = ",".join(f"'{s.value}'" for s in sorted(CLAIMABLE_STATES))
    oldest_row = await store.fetchone(
        f"SELECT id, platform, state, created_at FROM questions WHERE state IN ({claimable}) "
        "ORDER BY created_at, id LIMIT 1")
    oldest = None
    if oldest_row is not None:
        oldest = {"id": oldest_row["id"], "platform": oldest_row["platform"],
                  "state": oldest_row["state"], "created_at": oldest_row["created_at"],
                  "age_s": round(now - float(oldest_row["created_at"]), 1)}
    presence = {str(r[0]): str(r[1]) for r in await store.fetchall(
        "SELECT staff_id, status FROM presence")}
    claims = await open_claims(store)
    available: list[str] = []
    away: list[str] = []
    off_shift = 0
    for member in config.roster.staff:
        said = presence.get(member.id, "auto")
        on_shift = availability(member, now).on_shift
        if said == "on" or (said == "auto" and on_shift):
            available.append(member.id)
        elif said in ("away", "off") and on_shift:
            away.append(member.id)
        else:
            off_shift += 1
    outbox: dict[str, dict[str, int]] = {}
    for platform, state, n in await store.fetchall(
            "SELECT platform, state, COUNT(*) FROM outbox GROUP BY platform, state"):
        outbox.setdefault(str(platform), {})[str(state)] = int(n)
    waiting = await store.fetchone(
        "SELECT MIN(created_at), COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')")
    failures = [
        {"id": r["id"], "platform": r["platform"], "question_id": r["question_id"],
         "state": r["state"], "attempts": r["attempts"], "error": r["last_error"],
         "created_at": r["created_at"]}
        for r in await store.fetchall(
            "SELECT id, platform, question_id, state, attempts, last_error, created_at "
            "FROM outbox WHERE state IN ('failed', 'uncertain') ORDER BY id DESC LIMIT 5")
    ]
    retrying = await store.fetchone(
        "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND attempts > 0")
    platforms = []
    reported = {p["platform"]: p["state"] for p in daemon.get("platforms", [])}
    for name in config.enabled_platforms():
        platforms.append({"platform": name, "state": reported.get(
            name, "unknown (daemon not running)" if not daemon["running"] else "not started")})
    for name, state in reported.items():
        if name not in config.enabled_platforms():
            platforms.append({"platform": name, "state": state})
    return {
        "at": now,
        "db": db_path,
        "daemon": daemon,
        "platforms": platforms,
        "questions": states,
        "open": sum(n for s, n in states.items() if s != State.RESOLVED.value),
        "oldest_unclaimed": oldest,
        "staff": {"roster": len(config.roster.staff), "available": len(available),
                  "available_ids": available, "away_on_shift": away,
                  "off_shift": off_shift, "open_claims": claims},
        "outbox": {
            "by_platform": outbox,
            "backlog": int(waiting[1]) if waiting else 0,
            "oldest_waiting_s": (round(now - float(waiting[0]), 1)
                                 if waiting and waiting[0] is not None else None),
            "retrying": int(retrying[0]) if retrying else 0,
            "held": sum(d.get("held", 0) for d in outbox.values()),
            "failed": sum(d.get("failed", 0) for d in outbox.values()),
            "uncertain": sum(d.get("uncertain", 0) for d in outbox.values()),
            "recent_failures": failures,
        },
    }


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"
    return f"{seconds // 86400:.0f}d{seconds % 86400 // 3600:02.0f}h"


def render(s: dict[str, Any]) -> str:
    """The status for a terminal."""
    d = s["daemon"]
    lines = []
    if d["running"]:
        lines.append(f"daemon: running (pid {d['pid']}, up {_age(d['uptime_s'])}) · {s['db']}")
    else:
        lines.append(f"daemon: not running — {d['why']} · {s['db']}")
    lines.append("platforms: " + (", ".join(f"{p['platform']} {p['state']}"
                                            for p in s["platforms"]) or "-"))
    q = s["questions"]
    lines.append(f"questions: {s['open']} open — " + ", ".join(
        f"{k} {v}" for k, v in q.items() if v and k != "resolved")
        + f"; resolved {q.get('resolved', 0)}")
    o = s["oldest_unclaimed"]
    lines.append("oldest unclaimed: " + (
        f"#{o['id']} ({o['platform']}, {o['state']}) waiting {_age(o['age_s'])}"
        if o else "none"))
    st = s["staff"]
    shown = ", ".join(st["available_ids"][:12])
    more = f" … +{len(st['available_ids']) - 12}" if len(st["available_ids"]) > 12 else ""
    lines.append(f"staff available: {st['available']} of {st['roster']}"
                 + (f" ({shown}{more})" if shown else "")
                 + (f"; away on shift: {', '.join(st['away_on_shift'])}"
                    if st["away_on_shift"] else "")
                 + f"; claims held: {sum(st['open_claims'].values())}")
    ob = s["outbox"]
    per = "; ".join(f"{p} " + ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
                    for p, c in sorted(ob["by_platform"].items()))
    lines.append(f"outbox: {ob['backlog']} waiting (oldest {_age(ob['oldest_waiting_s'])}, "
                 f"{ob['retrying']} retrying), {ob['held']} held, {ob['failed']} failed, "
                 f"{ob['uncertain']} uncertain" + (f" — {per}" if per else ""))
    for f in ob["recent_failures"]:
        lines.append(f"  {f['state']} #{f['id']} {f['platform']} question "
                     f"{f['question_id'] or '-'} after {f['attempts']} attempts: "
                     f"{f['error'] or '-'}")
    return "\n".join(lines)
