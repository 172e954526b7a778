"""``helpforce audit verify``: check the event log's hash chain in a database.

The chain itself (what is hashed, sealed, and how a purge keeps it verifiable) is described
in :mod:`helpforce.store.chain`; this module reads a store's events in id order and feeds
them to its :class:`~helpforce.store.chain.Verifier`. It only reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from helpforce.store import Store
from helpforce.store.chain import Verdict, Verifier

_HEAD = re.compile(r"#?(\d+):([0-9a-f]{64})")

#: events read per query
CHUNK = 5000


def parse_head(text: str) -> tuple[int, str]:
    """``ID:HASH`` (as ``audit verify`` prints a chain's head) -> (id, hash); ValueError with
    what is wrong otherwise."""
    m = _HEAD.fullmatch(text.strip().lower())
    if m is None:
        raise ValueError(f"{text!r}: expected EVENT_ID:HASH, e.g. 1234:{'0' * 8}… (64 hex "
                         "digits), as `helpforce audit verify` prints the head")
    return int(m.group(1)), m.group(2)


async def head(store: Store) -> tuple[int, str] | None:
    """What the head row says the last event is (None: no row, e.g. no event yet)."""
    row = await store.fetchone("SELECT event_id, hash FROM audit_head WHERE one = 1")
    return (int(row[0]), str(row[1])) if row else None


async def verify(store: Store, expect: Iterable[tuple[int, str]] = ()) -> Verdict:
    """Verify every event of ``store``'s log, its head row, and heads recorded elsewhere."""
    verifier = Verifier()
    expected = list(expect)
    hashes: dict[int, str] = {}
    # one state of the log: a daemon appending meanwhile must not look like a deletion
    async with store.snapshot():
        last: int | None = None  # no lower bound: an event forged with id 0 or below too
        while True:
            rows = await store.fetchall(
                "SELECT id, question_id, at, kind, actor, platform, data, hash, seal, salt "
                "FROM events WHERE ? IS NULL OR id > ? ORDER BY id LIMIT ?",
                (last, last, CHUNK))
            for row in rows:
                verifier.feed(tuple(row))
            if len(rows) < CHUNK:
                break
            last = int(rows[-1][0])
        for event_id, _ in expected:
            found = await store.fetchone("SELECT hash FROM events WHERE id = ?", (event_id,))
            if found is not None:
                hashes[event_id] = str(found[0])
        recorded = await head(store)
    return verifier.finish(recorded, expected, hashes)
