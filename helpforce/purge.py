"""``helpforce purge --older-than 90d``: retention. Removes customers' texts and identities
from questions resolved before the cutoff; keeps the figures; the audit chain stays
verifiable.

What a purge removes, for each question resolved more than the given age ago (and not
purged before):

* ``questions``: the customer's id and handle, the private conversation and link (and the
  conversation itself when the question was asked privately: it is the customer's chat);
* ``messages`` of the question: every text (the customer's, staff answers, bot notices: they
  quote and address the customer), the customer's author id, private conversations;
* ``outbox`` rows already finished (sent, failed, dropped, uncertain): their payloads;
* ``pending`` replies and ``deep_links`` of the question; ``dm_reach`` rows of its customer
  last changed before the cutoff;
* ``events`` of the question: their *sealed* part (a customer's account as actor, a note's
  text) and its salt; their seal stays, so every hash is unchanged (see
  :mod:`helpforce.store.chain`).

Also, for anything older than the cutoff that belongs to no question: the texts of such
messages (notices to staff quote customers), finished outbox payloads, and events' sealed
parts (e.g. someone not on the roster writing in the staff channel).

What it keeps: every question's platform, state, times (asked, claimed, first answer,
resolved), staff, tags, language and route; every event's kind, time, staff, rule, verdict
and hash: the figures reports are made of. The purge itself is an event (``purged``), whose
data holds its cutoff and the questions it purged (as id ranges); ``audit verify`` accepts a
redacted event only where a later purge accounts for it.

A purge writes to the event log, which has one writer: it refuses to run while a daemon
holds the database's lock.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from helpforce.store import Store, StoreError, Tx
from helpforce.store.chain import PURGED_KIND, ranges, redact

#: the questions a purge takes: resolved before the cutoff, not purged yet
_DUE = ("SELECT id FROM questions WHERE state = 'resolved' AND resolved_at < :cutoff "
        "AND purged_at IS NULL")
#: questions purged before: what was added to them since (a customer editing an old message,
#: pressing an old button) is purged by the next purge whose cutoff it is older than
_PURGED = "SELECT id FROM questions WHERE purged_at IS NOT NULL"
#: outbox states in which a row's payload is never read again
_FINISHED = "('sent', 'failed', 'dropped', 'uncertain')"


class PurgeLocked(StoreError):
    pass


@contextmanager
def writer_lock(db_path: str) -> Iterator[None]:
    """Hold the database's writer lock (the one ``helpforce run`` holds) or refuse."""
    lock_path = Path(db_path + ".lock")
    handle = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PurgeLocked(
                f"{db_path}: a helpforce daemon is using this database; stop it first "
                "(a purge writes to the event log, which has one writer)"
            ) from None
        yield
    finally:
        handle.close()


@dataclass
class PurgeResult:
    cutoff: float
    dry_run: bool
    questions: list[int] = field(default_factory=list)
    messages: int = 0
    outbox: int = 0
    events: int = 0
    #: the purge's own event (None for a dry run or when there was nothing to purge)
    event_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["question_count"] = len(self.questions)
        return d


async def preview(store: Store, *, older_than: float, now: float) -> PurgeResult:
    """What :func:`purge` would remove, without changing anything."""
    cutoff = now - older_than
    p = {"cutoff": cutoff}
    qids = [int(r[0]) for r in await store.fetchall(_DUE + " ORDER BY id", p)]
    res = PurgeResult(cutoff, True, qids)
    res.messages = await _count(store, "SELECT COUNT(*) FROM messages WHERE "
                                f"(question_id IN ({_DUE}) OR ((question_id IS NULL OR "
                                f"question_id IN ({_PURGED})) AND at < :cutoff)) "
                                "AND text != ''", p)
    res.outbox = await _count(store, f"SELECT COUNT(*) FROM outbox WHERE state IN {_FINISHED} "
                              f"AND (question_id IN ({_DUE}) OR ((question_id IS NULL OR "
                              f"question_id IN ({_PURGED})) AND created_at < :cutoff)) "
                              "AND payload != '{}'", p)
    res.events = await _count(store, "SELECT COUNT(*) FROM events WHERE salt IS NOT NULL AND "
                              f"(question_id IN ({_DUE}) OR ((question_id IS NULL OR "
                              f"question_id IN ({_PURGED})) AND "
                              "at < :cutoff))", p)
    return res


async def _count(store: Store, sql: str, params: dict[str, Any]) -> int:
    row = await store.fetchone(sql, params)
    return int(row[0]) if row else 0


async def purge(store: Store, *, older_than: float, now: float) -> PurgeResult:
    """Purge in one transaction of ``store`` (a writer store: the event is chained)."""
    if older_than <= 0:
        raise ValueError("--older-than must be longer than 0s")
    cutoff = now - older_than

    async def step(tx: Tx) -> PurgeResult:
        p = {"cutoff": cutoff}
        res = PurgeResult(cutoff, False)
        res.questions = [int(r[0]) for r in await tx.fetchall(_DUE + " ORDER BY id", p)]
        customers = [(r[0], r[1]) for r in await tx.fetchall(
            f"SELECT DISTINCT platform, customer_id FROM questions WHERE id IN ({_DUE})", p)]
        sealed = await tx.fetchall(
            "SELECT id, actor, data FROM events WHERE salt IS NOT NULL AND "
            f"(question_id IN ({_DUE}) OR ((question_id IS NULL OR "
            f"question_id IN ({_PURGED})) AND at < :cutoff))", p)
        redacted = []
        for event_id, actor, data in sealed:
            public_actor, public_data = redact(actor, data)
            redacted.append((public_actor, public_data, event_id))
        if redacted:
            await tx.executemany(
                "UPDATE events SET actor = ?, data = ?, salt = NULL WHERE id = ?", redacted)
        res.events = len(redacted)
        res.messages = await tx.execute(
            "UPDATE messages SET text = '', "
            "author_id = CASE WHEN staff_id IS NULL THEN NULL ELSE author_id END, "
            "conversation = CASE WHEN visibility = 'private' THEN '' ELSE conversation END "
            f"WHERE question_id IN ({_DUE}) OR (question_id IN ({_PURGED}) AND at < :cutoff "
            "AND text != '')", p)
        res.messages += await tx.execute(
            "UPDATE messages SET text = '' WHERE question_id IS NULL AND at < :cutoff "
            "AND text != ''", p)
        res.outbox = await tx.execute(
            f"UPDATE outbox SET payload = '{{}}' WHERE state IN {_FINISHED} AND "
            f"(question_id IN ({_DUE}) OR ((question_id IS NULL OR "
            f"question_id IN ({_PURGED})) AND created_at < :cutoff)) AND payload != '{{}}'", p)
        for table in ("pending", "deep_links"):
            await tx.execute(f"DELETE FROM {table} WHERE question_id IN ({_DUE})", p)
        if customers:
            await tx.executemany(
                "DELETE FROM dm_reach WHERE platform = ? AND user_id = ? AND at < ?",
                [(platform, user, cutoff) for platform, user in customers])
        await tx.execute(
            "UPDATE questions SET customer_id = '', customer_handle = '', "
            "dm_conversation = NULL, dm_link = NULL, "
            "conversation = CASE WHEN visibility = 'private' THEN '' ELSE conversation END, "
            f"purged_at = :now WHERE id IN ({_DUE})", {**p, "now": now})
        if res.questions or res.events or res.messages or res.outbox:
            tx.insert("events", {
                "question_id": None, "at": now, "kind": PURGED_KIND, "actor": None,
                "platform": None,
                "data": json.dumps({
                    "older_than_s": older_than, "cutoff": cutoff,
                    "questions": ranges(res.questions), "events": res.events,
                    "messages": res.messages, "outbox": res.outbox,
                }, sort_keys=True),
            })
            row = await tx.fetchone("SELECT MAX(id) FROM events")
            res.event_id = int(row[0]) if row and row[0] is not None else None
        return res

    return await store.transaction(step)
