"""SQLite store: WAL, numbered migrations, one writer task with group commit.

Every desk step is an async function of a :class:`Tx`. Steps are queued to the single writer
task, which runs as many as are waiting inside one ``BEGIN IMMEDIATE … COMMIT`` (group commit),
each step inside its own SAVEPOINT so a failing step is rolled back alone. A step's result is
returned to its caller only after the COMMIT, so nothing is acknowledged (a platform cursor, a
reply to staff) before it is durable.

Inserts are buffered per step and flushed with ``executemany``, referenced tables first (so
foreign keys hold whatever order a step inserted in); any read or execute flushes first, so a
step always reads its own writes. Ids of questions, messages and outbox rows are assigned
here, in Python: there is exactly one writer per database (the daemon holds a lock file), so
a counter loaded at open is authoritative and inserts need no round trip for ``lastrowid``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import aiosqlite

from helpforce.store.chain import EVENT_COLUMNS, Chain, chain_rows
from helpforce.store.migrations import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)
# aiosqlite logs every statement with its parameters at DEBUG: customer texts among them
if logging.getLogger("aiosqlite").level < logging.INFO:  # NOTSET included
    logging.getLogger("aiosqlite").setLevel(logging.INFO)

T = TypeVar("T")
Row = sqlite3.Row
#: positional (``?``) or named (``:name``) parameters
Params = Sequence[Any] | Mapping[str, Any]

#: tables whose ids the store assigns
_ID_TABLES = ("questions", "messages", "outbox")
#: flush order of buffered inserts: a table before the tables that reference it
_FLUSH_ORDER = {"questions": 0, "messages": 1, "outbox": 2}


class StoreError(Exception):
    pass


class DatabaseTooNew(StoreError):
    pass


class StoreClosed(StoreError):
    pass


async def _configure(conn: aiosqlite.Connection) -> None:
    conn.row_factory = sqlite3.Row
    await conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit that precedes acknowledging a platform cursor must survive power loss
    await conn.execute("PRAGMA synchronous=FULL")
    await conn.execute("PRAGMA foreign_keys=ON")
    await conn.execute("PRAGMA busy_timeout=5000")


async def _chain_existing(conn: aiosqlite.Connection) -> None:
    """Migration 7: hash-chain the events an older database already holds, in id order."""
    chain = Chain()
    last = 0
    while True:
        rows = list(await conn.execute_fetchall(
            "SELECT id, question_id, at, kind, actor, platform, data FROM events "
            "WHERE id > ? ORDER BY id LIMIT 5000", (last,)))
        if not rows:
            break
        await conn.executemany("UPDATE events SET hash = ?, seal = ?, salt = ? WHERE id = ?",
                               chain_rows(rows, chain))
        last = int(rows[-1][0])
    if chain.last_id:
        await conn.execute("INSERT OR REPLACE INTO audit_head (one, event_id, hash) "
                           "VALUES (1, ?, ?)", chain.head)


#: Python steps of a migration, run after its statements in the same transaction
MIGRATION_HOOKS: dict[int, Callable[[aiosqlite.Connection], Awaitable[None]]] = {
    7: _chain_existing,
}


async def migrate(conn: aiosqlite.Connection, path: str) -> int:
    """Bring the schema up to date, each migration in its own transaction."""
    async with conn.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise DatabaseTooNew(
            f"{path}: database schema version {version} is newer than this helpforce "
            f"understands ({SCHEMA_VERSION}); upgrade helpforce or use another database"
        )
    for number in range(version + 1, SCHEMA_VERSION + 1):
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number - 1]:
                await conn.execute(statement)
            hook = MIGRATION_HOOKS.get(number)
            if hook is not None:
                await hook(conn)
            await conn.execute(f"PRAGMA user_version={number}")
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        log.info("migrated %s to schema version %d", path, number)
    return SCHEMA_VERSION


def _valid_hash(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 64:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


async def _head(conn: aiosqlite.Connection, path: str, last_id: int, last_hash: object) -> Chain:
    """The chain's head at open: the last event's id and hash. Events written around the
    store (no valid hash) must not stop the desk: the chain goes on from them as ``audit
    verify`` reads them, so it reports those events and nothing after them."""
    if _valid_hash(last_hash):
        return Chain(last_id, str(last_hash))
    rows = await conn.execute_fetchall(
        "SELECT id, hash FROM events WHERE hash IS NOT NULL AND length(hash) = 64 "
        "ORDER BY id DESC LIMIT 1")
    anchor = next(iter(rows), None)
    chain = Chain(int(anchor[0]), str(anchor[1])) if anchor and _valid_hash(anchor[1]) \
        else Chain()
    for row in await conn.execute_fetchall(
        "SELECT id, question_id, at, kind, actor, platform, data, seal FROM events "
        "WHERE id > ? ORDER BY id", (chain.last_id,),
    ):
        chain.follow(tuple(row))
    log.error("%s: events after #%d have no valid hash: the audit chain is broken there "
              "(run `helpforce audit verify`)", path, int(anchor[0]) if anchor else 0)
    return chain


class Tx:
    """One desk step's view of the writer's open transaction."""

    def __init__(self, conn: aiosqlite.Connection, ids: dict[str, int],
                 chain: Chain | None = None) -> None:
        self._conn = conn
        self._ids = ids
        self._chain = chain if chain is not None else Chain()
        self._pending: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        self._callbacks: list[Callable[[], None]] = []
        self._undo: list[Callable[[], None]] = []

    def new_id(self, table: str) -> int:
        self._ids[table] += 1
        return self._ids[table]

    def insert(self, table: str, row: dict[str, Any]) -> None:
        """Buffer an insert; flushed before the next read and at the end of the step.

        An event is chained here, in the order the step inserts them: it gets the next id
        and the hash of the event before it (see :mod:`helpforce.store.chain`)."""
        if table == "events":
            self._pending.setdefault(("events", EVENT_COLUMNS), []).append(
                self._chain.append_values(row))
            return
        cols = tuple(row)
        self._pending.setdefault((table, cols), []).append(tuple(row.values()))

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        # referenced tables first, so foreign keys hold whatever order the step inserted in
        for (table, cols), rows in sorted(
            pending.items(), key=lambda item: _FLUSH_ORDER.get(item[0][0], len(_FLUSH_ORDER))
        ):
            sql = (
                f"INSERT INTO {table} ({', '.join(cols)}) "
                f"VALUES ({', '.join('?' * len(cols))})"
            )
            if len(rows) == 1:
                await self._conn.execute(sql, rows[0])
            else:
                await self._conn.executemany(sql, rows)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a write statement; returns the number of rows it changed."""
        await self.flush()
        # one call to the database thread (closing the cursor would be a second one; an
        # unclosed sqlite3 cursor holds nothing after its statement has run)
        cur = await self._conn.execute(sql, params)
        return cur.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.flush()
        await self._conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        await self.flush()
        return list(await self._conn.execute_fetchall(sql, params))

    def on_rollback(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` if this step is rolled back (alone, or with its whole group
        commit): to undo what the step changed in memory before it knew it would commit."""
        self._undo.append(callback)

    def _rolled_back(self) -> None:
        undo, self._undo = self._undo, []
        for callback in reversed(undo):
            try:
                callback()
            except Exception:
                log.exception("rollback callback failed")

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the step's transaction is durable (never if it rolls back)."""
        self._callbacks.append(callback)


@dataclass
class _Job(Generic[T]):
    fn: Callable[[Tx], Awaitable[T]]
    future: asyncio.Future[T]
    callbacks: list[Callable[[], None]] = field(default_factory=list)


class Store:
    """The SQLite store.

    ``async with Store(path) as store`` opens, migrates and starts the writer.
    """

    def __init__(self, path: str | Path, *, max_batch: int = 256, readonly: bool = False) -> None:
        self.path = str(path)
        self.max_batch = max_batch
        #: read-only: for the CLI's read commands; no writer, no migrations
        self.readonly = readonly
        self._running = False
        self._writer_conn: aiosqlite.Connection | None = None
        self._reader_conn: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[_Job[Any] | None] = asyncio.Queue()
        self._writer_task: asyncio.Task[None] | None = None
        self._ids: dict[str, int] = {}
        #: the head of the event log's hash chain (read from the last event at open)
        self._chain = Chain()
        self._closed = False
        #: figures for benchmarks and status: commits and steps committed
        self.commits = 0
        self.steps = 0

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        if self.path == ":memory:" or self.path.startswith("file::memory:"):
            # the writer and its readers are separate connections: they must share a file
            raise StoreError(f"{self.path}: the store needs a database file, not :memory:")
        if self.readonly:
            await self._open_readonly()
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await _configure(conn)
            await migrate(conn, self.path)
            for table in _ID_TABLES:
                async with conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}") as cur:
                    row = await cur.fetchone()
                self._ids[table] = int(row[0]) if row else 0
            async with conn.execute(
                "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1"
            ) as cur:
                last = await cur.fetchone()
            if last is not None:
                self._chain = await _head(conn, self.path, int(last[0]), last[1])
        except sqlite3.DatabaseError as exc:
            await conn.close()
            raise StoreError(f"{self.path}: not a helpforce database ({exc})") from None
        except BaseException:
            await conn.close()
            raise
        self._writer_conn = conn
        self._reader_conn = await aiosqlite.connect(self.path, isolation_level=None)
        await _configure(self._reader_conn)
        self._writer_task = asyncio.create_task(self._writer(), name="helpforce.store.writer")

    async def _open_readonly(self) -> None:
        if not Path(self.path).is_file():
            raise StoreError(f"{self.path}: no database here (run `helpforce run` or pass --db)")
        conn = await aiosqlite.connect(
            f"file:{Path(self.path).resolve()}?mode=ro", uri=True, isolation_level=None
        )
        conn.row_factory = sqlite3.Row
        try:
            async with conn.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
        except sqlite3.DatabaseError as exc:
            await conn.close()
            raise StoreError(f"{self.path}: not a helpforce database ({exc})") from None
        version = int(row[0]) if row else 0
        if version != SCHEMA_VERSION:
            await conn.close()
            if version > SCHEMA_VERSION:
                raise DatabaseTooNew(
                    f"{self.path}: database schema version {version} is newer than this "
                    f"helpforce understands ({SCHEMA_VERSION})"
                )
            raise StoreError(
                f"{self.path}: database schema version {version} is older than "
                f"{SCHEMA_VERSION}; start `helpforce run` once to migrate it"
            )
        self._reader_conn = conn

    @property
    def idle(self) -> bool:
        """True when no step is queued and no batch is running (read-only; the simulator
        waits for this before it moves its clock)."""
        return not self._running and self._queue.empty()

    async def close(self) -> None:
        """Finish queued steps, stop the writer, close connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._writer_task is not None:
            await self._queue.put(None)
            await self._writer_task
        for conn in (self._writer_conn, self._reader_conn):
            if conn is not None:
                await conn.close()

    async def transaction(self, fn: Callable[[Tx], Awaitable[T]]) -> T:
        """Run ``fn`` as one step of the next group commit; return its result once durable."""
        return await self.submit(fn)

    def submit(self, fn: Callable[[Tx], Awaitable[T]]) -> asyncio.Future[T]:
        """Queue ``fn`` now, without waiting: steps run in the order they were submitted, so a
        step submitted before another is committed no later than it. The future resolves once
        the step is durable."""
        if self._closed or self._writer_task is None:
            raise StoreClosed(f"{self.path}: store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(fn, future))
        return future

    async def _writer(self) -> None:
        assert self._writer_conn is not None
        conn = self._writer_conn
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch: list[_Job[Any]] = [first]
            while len(batch) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            self._running = True
            try:
                await self._run_batch(conn, [j for j in batch if not j.future.cancelled()])
            finally:
                self._running = False

    async def _run_batch(self, conn: aiosqlite.Connection, batch: list[_Job[Any]]) -> None:
        if not batch:
            return
        ids_before = dict(self._ids)
        chain_before = self._chain.mark()
        outcomes: list[tuple[bool, Any]] = []
        single = len(batch) == 1
        txs: list[Tx] = []
        try:
            await conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                tx = Tx(conn, self._ids, self._chain)
                txs.append(tx)
                step_mark = self._chain.mark()
                if not single:
                    await conn.execute("SAVEPOINT step")
                try:
                    result = await job.fn(tx)
                    await tx.flush()
                except Exception as exc:  # one failing step must not sink its neighbours
                    if single:
                        raise
                    await conn.execute("ROLLBACK TO step")
                    await conn.execute("RELEASE step")
                    # its events were rolled back: the next step's follow the one before
                    self._chain.reset(step_mark)
                    tx._rolled_back()
                    outcomes.append((False, exc))
                    continue
                if not single:
                    await conn.execute("RELEASE step")
                job.callbacks = tx._callbacks
                outcomes.append((True, result))
            await conn.execute("COMMIT")
        except Exception as exc:
            try:
                await conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self._ids.clear()
            self._ids.update(ids_before)
            self._chain.reset(chain_before)
            for tx in reversed(txs):
                tx._rolled_back()
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        self.commits += 1
        self.steps += len(batch)
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                for callback in job.callbacks:
                    try:
                        callback()
                    except Exception:
                        log.exception("after-commit callback failed")
            if job.future.done():
                continue
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)

    # -- reads (a second connection: WAL readers never block the writer) --------------------

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        """Reads inside see one state of the database, however the daemon writes meanwhile
        (one read transaction on the reader connection: for the CLI's read-only commands,
        whose store has no other user)."""
        if self._reader_conn is None:
            raise StoreClosed(f"{self.path}: store is not open")
        await self._reader_conn.execute("BEGIN")
        try:
            yield
        finally:
            await self._reader_conn.execute("COMMIT")

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        if self._reader_conn is None:
            raise StoreClosed(f"{self.path}: store is not open")
        return list(await self._reader_conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def cursor(self, platform: str, name: str = "default") -> str | None:
        row = await self.fetchone(
            "SELECT value FROM cursors WHERE platform = ? AND name = ?", (platform, name)
        )
        return str(row["value"]) if row else None


async def save_cursor(tx: Tx, platform: str, value: str, at: float, name: str = "default") -> None:
    await tx.execute(
        "INSERT INTO cursors (platform, name, value, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (platform, name) DO UPDATE SET value = excluded.value, "
        "updated_at = excluded.updated_at",
        (platform, name, value, at),
    )
