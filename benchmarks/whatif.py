#!/usr/bin/env python
"""What-if runs of bench_desk.py: the same benchmark with suggested product changes applied
as runtime patches, to size each suggestion before anyone edits the product code.

    python benchmarks/whatif.py --patch outbox-batch [bench_desk options]

Nothing under helpforce/ is modified: the patches replace functions in this process only.
The figures are NOT the product's; bench_desk.py alone measures the product.

Patches:
  outbox-batch  Outbox._record for a successful send buffers its two UPDATEs; they run as two
                executemany calls at the end of the record step instead of 2 round trips per
                row.
  outbox-order  the outbox's pass reads due rows in the order of the index it searches
                (ORDER BY o.due_at, o.id) instead of sorting the whole backlog by id.
  one-hop       each store statement is one aiosqlite call (execute_fetchall for reads; no
                separate cursor close after a write) instead of two or three.
  gc-freeze     gc.freeze() after App.start, so full GC passes skip the startup objects.
  outbox-off    diagnostic only: the outbox never starts (the desk and store alone).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_desk  # noqa: E402

from helpforce import app as app_mod  # noqa: E402
from helpforce import outbox as outbox_mod  # noqa: E402
from helpforce.adapter import SendResult  # noqa: E402
from helpforce.models import CUSTOMER_FACING_KINDS, EventKind  # noqa: E402
from helpforce.store import sqlite as store_mod  # noqa: E402

PATCHES = ("outbox-batch", "outbox-order", "one-hop", "gc-freeze", "outbox-off")


def patch_outbox_batch() -> None:
    """Successful sends: collect (outbox, messages) updates per Tx, run them with executemany
    at the first flush after the record step (the store flushes at the end of every step)."""
    original_record = outbox_mod.Outbox._record
    original_flush = store_mod.Tx.flush

    async def record(self: Any, tx: store_mod.Tx, item: Any, result: Any) -> None:
        if not isinstance(result, SendResult):
            await original_record(self, tx, item, result)
            return
        now = self.clock.now()
        row = item.row
        oid, qid, platform = row["id"], row["question_id"], item.out.platform
        pending = tx.__dict__.setdefault("_sent_updates", ([], []))
        pending[0].append((now, result.platform_message_id, oid))
        if row["message_row"] is not None:
            pending[1].append((result.platform_message_id, row["message_row"]))
        if item.kind in CUSTOMER_FACING_KINDS:
            outbox_mod._event(tx, qid, now, EventKind.DELIVERED, platform,
                              outbox=oid, platform_message_id=result.platform_message_id)
        self.sent += 1
        if self.on_sent is not None:
            on_sent = self.on_sent
            tx.after_commit(lambda: on_sent(platform, oid))

    async def flush(self: store_mod.Tx) -> None:
        await original_flush(self)
        pending = self.__dict__.pop("_sent_updates", None)
        if pending:
            outbox_rows, message_rows = pending
            await self._conn.executemany(
                "UPDATE outbox SET state = 'sent', sent_at = ?, platform_message_id = ?, "
                "attempts = attempts + 1 WHERE id = ?", outbox_rows)
            if message_rows:
                await self._conn.executemany(
                    "UPDATE messages SET platform_message_id = ? WHERE id = ?", message_rows)

    outbox_mod.Outbox._record = record  # type: ignore[method-assign]
    store_mod.Tx.flush = flush  # type: ignore[method-assign]


def patch_outbox_order() -> None:
    """The outbox's pass reads due rows ``ORDER BY o.due_at, o.id`` instead of ``ORDER BY
    o.id``: the order of the ``outbox_due(platform, state, due_at)`` index it already
    searches, so SQLite stops after LIMIT rows instead of sorting every due row (a temp
    B-tree over the whole backlog, per pass). Done by rewriting that one statement."""
    original = store_mod.Store.fetchall
    old = "ORDER BY o.id LIMIT ?"
    new = "ORDER BY o.due_at, o.id LIMIT ?"

    async def fetchall(self: Any, sql: str, params: Any = ()) -> Any:
        if old in sql and "o.state = 'pending'" in sql:
            sql = sql.replace(old, new)
        return await original(self, sql, params)

    store_mod.Store.fetchall = fetchall  # type: ignore[method-assign]


def patch_one_hop() -> None:
    """Every store read and write statement costs one aiosqlite call instead of two or three:
    reads use ``Connection.execute_fetchall`` (execute + fetchall in one call) instead of
    ``async with execute`` + ``fetchall`` + close; ``Tx.execute`` reads the rowcount of the
    cursor ``execute`` returns and leaves it to be collected, as ``Tx.flush`` already does."""

    async def tx_execute(self: Any, sql: str, params: Any = ()) -> int:
        await self.flush()
        cur = await self._conn.execute(sql, params)
        return int(cur.rowcount)

    async def tx_fetchall(self: Any, sql: str, params: Any = ()) -> list[Any]:
        await self.flush()
        return list(await self._conn.execute_fetchall(sql, params))

    async def tx_fetchone(self: Any, sql: str, params: Any = ()) -> Any:
        rows = await tx_fetchall(self, sql, params)
        return rows[0] if rows else None

    async def store_fetchall(self: Any, sql: str, params: Any = ()) -> list[Any]:
        if self._reader_conn is None:
            raise store_mod.StoreClosed(f"{self.path}: store is not open")
        return list(await self._reader_conn.execute_fetchall(sql, params))

    store_mod.Tx.execute = tx_execute  # type: ignore[method-assign]
    store_mod.Tx.fetchall = tx_fetchall  # type: ignore[method-assign]
    store_mod.Tx.fetchone = tx_fetchone  # type: ignore[method-assign]
    store_mod.Store.fetchall = store_fetchall  # type: ignore[method-assign]


def patch_gc_freeze() -> None:
    """``gc.freeze()`` once the App has started: the objects alive then (imports, the loaded
    roster and settings) move to the permanent generation, so full collections stop
    re-walking them."""
    original = app_mod.App.start

    async def start(self: Any) -> None:
        await original(self)
        gc.collect()
        gc.freeze()

    app_mod.App.start = start  # type: ignore[method-assign]


def patch_outbox_off() -> None:
    """Diagnostic, not a suggestion: the outbox never starts, so phase 1's durable figure is
    the desk and store alone (end-to-end and staff-channel latencies then read as missing)."""

    async def start(self: Any) -> None:
        return None

    outbox_mod.Outbox.start = start  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    ap = bench_desk.build_parser()
    ap.add_argument("--patch", default="", help=f"comma-separated: {', '.join(PATCHES)}")
    args = ap.parse_args(argv)
    chosen = [p for p in args.patch.split(",") if p]
    unknown = set(chosen) - set(PATCHES)
    if unknown:
        ap.error(f"unknown patch(es): {', '.join(sorted(unknown))}")
    logging.basicConfig(level=logging.WARNING)
    # one-hop replaces the functions outbox-order and outbox-batch wrap: it goes first
    for name, apply in (
        ("one-hop", patch_one_hop),
        ("outbox-batch", patch_outbox_batch),
        ("outbox-order", patch_outbox_order),
        ("gc-freeze", patch_gc_freeze),
        ("outbox-off", patch_outbox_off),
    ):
        if name in chosen:
            apply()
    result = asyncio.run(bench_desk.main_async(args))
    result["whatif_patches"] = chosen
    if args.json:
        print(bench_desk.to_json(result))
    else:
        print(f"WHAT-IF RUN with runtime patches: {', '.join(chosen) or 'none'} "
              "(not the product's figures)")
        print(bench_desk.report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
