"""The SQLite store: migrations, group commit with per-step rollback, append-only events,
durability settings, read-only opening."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from helpforce.store import (
    SCHEMA_VERSION,
    DatabaseTooNew,
    Store,
    StoreClosed,
    StoreError,
    Tx,
)


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def _schema(path: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    try:
        return sorted(
            conn.execute("SELECT type, name, COALESCE(sql, '') FROM sqlite_master").fetchall()
        )
    finally:
        conn.close()


async def _insert_cursor(tx: Tx, name: str) -> str:
    await tx.execute(
        "INSERT INTO cursors (platform, name, value, updated_at) VALUES ('test', ?, 'v', 0)",
        (name,),
    )
    return name


async def _cursor_names(store: Store) -> set[str]:
    rows = await store.fetchall("SELECT name FROM cursors WHERE platform = 'test'")
    return {r[0] for r in rows}


# -- migrations -----------------------------------------------------------------------------


async def test_migrations_create_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "hf.db"
    async with Store(path) as store:
        row = await store.fetchone("PRAGMA user_version")
        assert row is not None and row[0] == SCHEMA_VERSION
        tables = {
            r[0] for r in await store.fetchall("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert {"questions", "messages", "inbound", "events", "outbox", "cursors"} <= tables
        triggers = {
            r[0]
            for r in await store.fetchall("SELECT name FROM sqlite_master WHERE type='trigger'")
        }
        assert {"events_no_update", "events_no_delete"} <= triggers
    assert _user_version(path) == SCHEMA_VERSION


async def test_reopening_a_migrated_database_is_a_no_op(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "hf.db"
    with caplog.at_level(logging.INFO, logger="helpforce.store.sqlite"):
        async with Store(path) as store:
            await store.transaction(lambda tx: _insert_cursor(tx, "kept"))
    assert any("migrated" in r.getMessage() for r in caplog.records)
    schema = _schema(path)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="helpforce.store.sqlite"):
        async with Store(path) as store:
            assert await _cursor_names(store) == {"kept"}
    assert not any("migrated" in r.getMessage() for r in caplog.records)
    assert _schema(path) == schema
    assert _user_version(path) == SCHEMA_VERSION


async def test_a_newer_database_is_refused_naming_its_path(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    store = Store(path)
    with pytest.raises(DatabaseTooNew) as info:
        await store.open()
    assert str(path) in str(info.value)
    assert str(SCHEMA_VERSION + 1) in str(info.value)
    # nothing was migrated over it
    assert _user_version(path) == SCHEMA_VERSION + 1
    assert _schema(path) == []
    # the read-only opening refuses it too
    ro = Store(path, readonly=True)
    with pytest.raises(DatabaseTooNew) as info:
        await ro.open()
    assert str(path) in str(info.value)


async def test_read_only_open_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "nothing-here.db"
    store = Store(path, readonly=True)
    with pytest.raises(StoreError) as info:
        await store.open()
    assert not isinstance(info.value, DatabaseTooNew)
    assert str(path) in str(info.value)
    assert "no database" in str(info.value)
    assert not path.exists()  # and it did not create one


async def test_read_only_open_reads_and_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    path = tmp_path / "hf.db"
    async with Store(path) as store:
        await store.transaction(lambda tx: _insert_cursor(tx, "c1"))
    ro = Store(path, readonly=True)
    await ro.open()
    try:
        assert await _cursor_names(ro) == {"c1"}
        with pytest.raises(StoreClosed):
            await ro.transaction(lambda tx: _insert_cursor(tx, "c2"))
    finally:
        await ro.close()
    old = tmp_path / "old.db"
    old.write_bytes(b"")  # an empty file: schema version 0
    with pytest.raises(StoreError, match="older"):
        await Store(old, readonly=True).open()


# -- group commit ---------------------------------------------------------------------------


async def test_concurrent_steps_share_commits_and_all_are_durable(tmp_path: Path) -> None:
    path = tmp_path / "hf.db"
    n = 64
    async with Store(path) as store:
        results = await asyncio.gather(
            *(store.transaction(lambda tx, i=i: _insert_cursor(tx, f"c{i}")) for i in range(n))
        )
        assert results == [f"c{i}" for i in range(n)]
        assert store.steps == n
        assert 1 <= store.commits < store.steps
    # durable: visible from a fresh connection after the store is closed
    conn = sqlite3.connect(path)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM cursors WHERE platform='test'")}
    finally:
        conn.close()
    assert names == {f"c{i}" for i in range(n)}


async def test_a_failing_step_is_rolled_back_alone(tmp_path: Path) -> None:
    class Boom(RuntimeError):
        pass

    async def failing(tx: Tx) -> None:
        await _insert_cursor(tx, "bad-1")
        tx.insert(
            "cursors", {"platform": "test", "name": "bad-2", "value": "v", "updated_at": 0}
        )
        await tx.fetchone("SELECT 1")  # flushes the buffered insert
        raise Boom("step failed")

    called: list[str] = []

    def step(name: str, fail: bool = False):  # type: ignore[no-untyped-def]
        async def fn(tx: Tx) -> str:
            tx.after_commit(lambda: called.append(name))
            if fail:
                await failing(tx)
            return await _insert_cursor(tx, name)

        return fn

    async with Store(tmp_path / "hf.db") as store:
        commits_before = store.commits
        outcomes = await asyncio.gather(
            store.transaction(step("before")),
            store.transaction(step("bad", fail=True)),
            store.transaction(step("after")),
            return_exceptions=True,
        )
        # they ran in one group commit, and only the failing step's caller got its exception
        assert store.commits == commits_before + 1
        assert outcomes[0] == "before" and outcomes[2] == "after"
        assert isinstance(outcomes[1], Boom)
        assert await _cursor_names(store) == {"before", "after"}
        # after_commit callbacks ran for committed steps only, after the commit
        assert sorted(called) == ["after", "before"]


async def test_after_commit_callbacks_run_only_for_committed_steps(tmp_path: Path) -> None:
    async with Store(tmp_path / "hf.db") as store:
        ran: list[str] = []

        async def ok(tx: Tx) -> None:
            await _insert_cursor(tx, "ok")
            tx.after_commit(lambda: ran.append("ok"))
            assert ran == []  # not before the commit

        async def bad(tx: Tx) -> None:
            tx.after_commit(lambda: ran.append("bad"))
            await _insert_cursor(tx, "bad")
            raise ValueError("no")

        await store.transaction(ok)
        assert ran == ["ok"]
        # a lone failing step (no neighbours): its exception, no callback, no rows
        with pytest.raises(ValueError, match="no"):
            await store.transaction(bad)
        assert ran == ["ok"]
        assert await _cursor_names(store) == {"ok"}


async def test_a_failed_lone_step_does_not_break_the_next_ones(tmp_path: Path) -> None:
    async with Store(tmp_path / "hf.db") as store:
        with pytest.raises(sqlite3.IntegrityError):
            # a constraint violation in the flush at the end of the step
            await store.transaction(lambda tx: _dup(tx))
        assert await store.transaction(lambda tx: _insert_cursor(tx, "next")) == "next"
        assert await _cursor_names(store) == {"next"}


async def _dup(tx: Tx) -> None:
    for _ in range(2):
        tx.insert("cursors", {"platform": "test", "name": "dup", "value": "v", "updated_at": 0})


async def test_a_step_reads_its_own_buffered_writes(tmp_path: Path) -> None:
    async def step(tx: Tx) -> int:
        qid = tx.new_id("questions")
        tx.insert("questions", {
            "id": qid, "platform": "local", "customer_id": "c", "conversation": "help",
            "visibility": "public", "root_message": "m1", "state": "new",
            "created_at": 1.0, "updated_at": 1.0,
        })
        row = await tx.fetchone("SELECT id FROM questions WHERE id = ?", (qid,))
        assert row is not None
        return qid

    async with Store(tmp_path / "hf.db") as store:
        first = await store.transaction(step)
        second = await store.transaction(step)
    assert second == first + 1
    # ids continue after a reopen
    async with Store(tmp_path / "hf.db") as store:
        assert await store.transaction(step) == second + 1


async def test_closed_store_refuses_steps(tmp_path: Path) -> None:
    store = Store(tmp_path / "hf.db")
    await store.open()
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreClosed):
        await store.transaction(lambda tx: _insert_cursor(tx, "late"))


# -- the event log and durability settings ----------------------------------------------------


async def _add_event(tx: Tx) -> None:
    tx.insert("events", {"question_id": None, "at": 1.0, "kind": "received", "data": "{}"})


async def test_events_are_append_only(tmp_path: Path) -> None:
    async with Store(tmp_path / "hf.db") as store:
        await store.transaction(_add_event)

        async def update(tx: Tx) -> None:
            await tx.execute("UPDATE events SET kind = 'claimed'")

        async def delete(tx: Tx) -> None:
            await tx.execute("DELETE FROM events")

        for step in (update, delete):
            with pytest.raises(sqlite3.DatabaseError, match="append-only") as info:
                await store.transaction(step)
            assert isinstance(info.value, (sqlite3.IntegrityError, sqlite3.DatabaseError))
        rows = await store.fetchall("SELECT kind FROM events")
        assert [r[0] for r in rows] == ["received"]
    # and for any other connection too (the triggers live in the schema)
    conn = sqlite3.connect(tmp_path / "hf.db")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM events")
    finally:
        conn.close()


async def test_wal_mode_and_synchronous_full(tmp_path: Path) -> None:
    async with Store(tmp_path / "hf.db") as store:
        mode = await store.fetchone("PRAGMA journal_mode")
        assert mode is not None and mode[0].lower() == "wal"

        async def pragmas(tx: Tx) -> tuple[int, int, str]:
            sync = await tx.fetchone("PRAGMA synchronous")
            fk = await tx.fetchone("PRAGMA foreign_keys")
            jm = await tx.fetchone("PRAGMA journal_mode")
            assert sync is not None and fk is not None and jm is not None
            return int(sync[0]), int(fk[0]), str(jm[0])

        sync, fk, jm = await store.transaction(pragmas)
        assert sync == 2  # FULL
        assert fk == 1
        assert jm.lower() == "wal"
        reader_sync = await store.fetchone("PRAGMA synchronous")
        assert reader_sync is not None and reader_sync[0] == 2
    # WAL is persistent in the file
    conn = sqlite3.connect(tmp_path / "hf.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    finally:
        conn.close()


async def _orphan_message(tx: Tx) -> None:
    # messages.question_id references questions: a row for a question that does not exist
    tx.insert("messages", {
        "id": tx.new_id("messages"), "question_id": 999_999, "platform": "local",
        "platform_message_id": None, "conversation": "help", "direction": "out",
        "visibility": "public", "kind": "notice", "text": "orphan", "at": 1.0,
    })


async def test_a_deferred_constraint_violation_is_rolled_back_alone(tmp_path: Path) -> None:
    async with Store(tmp_path / "hf.db") as store:
        outcomes = await asyncio.gather(
            store.transaction(lambda tx: _insert_cursor(tx, "before")),
            store.transaction(_orphan_message),
            store.transaction(lambda tx: _insert_cursor(tx, "after")),
            return_exceptions=True,
        )
        assert isinstance(outcomes[1], Exception)  # the violating step fails...
        assert outcomes[0] == "before" and outcomes[2] == "after"
        assert await _cursor_names(store) == {"before", "after"}


async def test_an_in_memory_store_is_refused_clearly() -> None:
    # the writer and the readers are separate connections: :memory: would give each its own
    with pytest.raises(StoreError, match="needs a database file"):
        async with Store(":memory:"):
            pass


async def test_migrating_an_older_database_keeps_its_rows(tmp_path: Path) -> None:
    from helpforce.store.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, statements in enumerate(MIGRATIONS[:2], 1):  # a database at version 2
        conn.execute("BEGIN")
        for statement in statements:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={number}")
        conn.execute("COMMIT")
    conn.execute(
        "INSERT INTO questions (id, platform, customer_id, conversation, visibility, "
        "root_message, state, created_at, updated_at) "
        "VALUES (1, 'local', 'c', 'help', 'public', 'u1', 'new', 1, 1)"
    )
    conn.execute(
        "INSERT INTO messages (id, question_id, platform, platform_message_id, conversation, "
        "direction, visibility, kind, text, at) "
        "VALUES (1, 1, 'local', NULL, 'help', 'out', 'public', 'offer', 'x', 1)"
    )
    conn.execute(
        "INSERT INTO outbox (id, key, platform, message_row, question_id, payload, state, "
        "due_at, created_at) VALUES (1, 'hf1', 'local', 1, 1, '{}', 'pending', 1, 1)"
    )
    conn.close()
    async with Store(path) as store:
        rows = await store.fetchall("SELECT id, key, state, message_row FROM outbox")
        assert [tuple(r) for r in rows] == [(1, "hf1", "pending", 1)]
        assert not await store.fetchall("PRAGMA foreign_key_check")
    assert _user_version(path) == SCHEMA_VERSION


async def test_the_outbox_finds_a_messages_row_by_index_not_by_scan(tmp_path: Path) -> None:
    """Editing an offer looks up the outbox row that sent it (outbox.message_row): with no
    index that is a scan of the whole outbox per edit, quadratic over a long day."""
    async with Store(tmp_path / "hf.db"):
        pass
    conn = sqlite3.connect(tmp_path / "hf.db")
    try:
        plan = " | ".join(
            str(r[3]) for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT m.platform_message_id, o.state FROM messages m "
                "LEFT JOIN outbox o ON o.message_row = m.id WHERE m.id = ?", (1,)
            )
        )
    finally:
        conn.close()
    assert "outbox_message_row" in plan, plan
    assert "SCAN o" not in plan, plan


async def test_rollback_callbacks_run_only_for_steps_rolled_back(tmp_path: Path) -> None:
    undone: list[str] = []

    def step(name: str, fail: bool = False):  # type: ignore[no-untyped-def]
        async def fn(tx: Tx) -> str:
            tx.on_rollback(lambda: undone.append(name))
            result = await _insert_cursor(tx, name)
            if fail:
                raise RuntimeError(name)
            return result

        return fn

    async with Store(tmp_path / "hf.db") as store:
        # in a group commit: only the failing step is undone
        await asyncio.gather(
            store.transaction(step("a")), store.transaction(step("b", fail=True)),
            store.transaction(step("c")), return_exceptions=True,
        )
        assert undone == ["b"]
        # a lone failing step is undone too; a committed one never
        with pytest.raises(RuntimeError):
            await store.transaction(step("d", fail=True))
        await store.transaction(step("e"))
        assert undone == ["b", "d"]
