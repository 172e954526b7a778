"""`helpforce status`: the desk now, from the database and the running daemon's status file."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE_CONFIG
from helpforce.adapters.local.testing import DeskHarness
from helpforce.cli import main
from helpforce.clock import ManualClock
from helpforce.config import Config
from helpforce.status import StatusWriter, collect, daemon_state, render, status_path
from helpforce.store import Tx


async def _busy_desk(config: Config, path: Path) -> dict[str, Any]:
    """Two questions (one claimed by jdiaz, one waiting 10 minutes), sokafor away, a failed
    send; returns what `status` collects at that moment."""
    clock = ManualClock()
    async with DeskHarness(config, path, clock=clock) as h:
        h.customer("cust1", "help", "My TV keeps switching off", handle="alice")
        await h.settle()
        await clock.advance(60)
        h.customer("cust2", "help", "Where is my parcel?", handle="bob")
        await h.settle()
        h.staff("staff-jd", "/claim 1")
        h.staff("staff-so", "/away")
        await h.settle()

        async def failed(tx: Tx) -> None:
            tx.insert("outbox", {"id": tx.new_id("outbox"), "key": "hf-x", "platform": "local",
                                 "question_id": 2, "payload": "{}", "state": "failed",
                                 "attempts": 8, "due_at": clock.now(),
                                 "created_at": clock.now(), "last_error": "chat not found"})

        await h.store.transaction(failed)
        await clock.advance(600)
        return await collect(h.store, config, str(path), clock.now())


async def test_status_shows_questions_staff_and_outbox(
    example_config: Config, tmp_path: Path,
) -> None:
    s = await _busy_desk(example_config, tmp_path / "hf.db")
    assert s["daemon"]["running"] is False
    assert "not running" in s["daemon"]["why"]
    assert {p["platform"]: p["state"] for p in s["platforms"]} == {
        "local": "unknown (daemon not running)"}
    assert s["questions"]["claimed"] == 1 and s["questions"]["offered"] == 1
    assert s["open"] == 2
    assert s["oldest_unclaimed"]["id"] == 2
    assert s["oldest_unclaimed"]["age_s"] == 600.0
    roster = len(example_config.roster.staff)
    assert s["staff"]["roster"] == roster
    assert s["staff"]["available"] == roster - 1  # nobody has shifts; sokafor said /away
    assert s["staff"]["away_on_shift"] == ["sokafor"]
    assert s["staff"]["open_claims"] == {"jdiaz": 1}
    assert s["outbox"]["failed"] == 1 and s["outbox"]["backlog"] == 0
    assert s["outbox"]["recent_failures"][0]["error"] == "chat not found"
    text = render(s)
    assert "oldest unclaimed: #2 (local, offered) waiting 10m00s" in text
    assert f"staff available: {roster - 1} of {roster}" in text
    assert "away on shift: sokafor" in text
    assert "failed #" in text and "chat not found" in text


async def test_a_running_daemon_reports_its_platforms(tmp_path: Path) -> None:
    db = str(tmp_path / "hf.db")
    writer = StatusWriter(db, lambda: [("local", "connected"),
                                       ("telegram", "failing: InvalidToken: rejected")])
    writer.write()
    now = time.time()
    state = daemon_state(db, now)
    assert state["running"] is True
    assert state["platforms"][1] == {"platform": "telegram",
                                     "state": "failing: InvalidToken: rejected"}
    # a daemon that stopped reporting is not running
    assert daemon_state(db, now + 60)["running"] is False
    assert "has not reported" in daemon_state(db, now + 60)["why"]
    await writer.stop()
    assert not status_path(db).exists()


def test_a_daemon_that_died_is_not_running(tmp_path: Path) -> None:
    db = str(tmp_path / "hf.db")
    gone = subprocess.Popen(["true"])
    gone.wait()
    status_path(db).write_text(json.dumps({"pid": gone.pid, "written_at": time.time(),
                                           "interval": 5, "platforms": []}))
    state = daemon_state(db, time.time())
    assert state["running"] is False and "gone" in state["why"]


def test_status_command_once_and_watching(example_config: Config, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "hf.db"
    asyncio.run(_busy_desk(example_config, path))
    runner = CliRunner()
    base = ["status", "--db", str(path), "--config", str(EXAMPLE_CONFIG)]
    once = runner.invoke(main, base)
    assert once.exit_code == 0, once.output
    assert once.output.startswith("daemon: not running")
    as_json = runner.invoke(main, [*base, "--json"])
    assert json.loads(as_json.output)["questions"]["claimed"] == 1
    refreshed: list[float] = []

    async def interrupted(seconds: float) -> None:
        refreshed.append(seconds)
        if len(refreshed) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(asyncio, "sleep", interrupted)
    watching = runner.invoke(main, [*base, "--watch", "--interval", "0.5"])
    assert watching.exit_code == 0, watching.output
    assert refreshed == [0.5, 0.5]
    assert watching.output.count("helpforce status ·") == 2
    missing = runner.invoke(main, ["status", "--db", str(tmp_path / "none.db"),
                                   "--config", str(EXAMPLE_CONFIG)])
    assert missing.exit_code == 1 and "no database here" in missing.output
