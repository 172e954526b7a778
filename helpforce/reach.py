"""Who can be written to privately, and links that open a private chat.

Some platforms let a bot write privately only to people who wrote to it first (Telegram: a
user must have pressed Start). The desk remembers, per platform account, whether a private
message got through (``dm_reach``): a private message *from* someone proves it, a refusal
(:class:`~helpforce.adapter.Unreachable`) disproves it. ``helpforce roster`` shows staff the
desk cannot reach.

When a public question has to continue privately and the customer cannot be reached yet, the
public reply carries a link with an unguessable payload (``deep_links``): opening it binds the
customer's private chat to the question. The payload is 128 random bits in Telegram's
``start`` alphabet (``A-Za-z0-9_-``, at most 64 characters); and it only works for the
customer it was made for, because in a group everyone sees the link.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from helpforce.store import Tx

#: bytes of randomness in a link payload (22 characters of base64url)
PAYLOAD_BYTES = 16
PAYLOAD_MAX = 64


def new_payload() -> str:
    token = secrets.token_urlsafe(PAYLOAD_BYTES)
    assert len(token) <= PAYLOAD_MAX
    return token


class ReachCache:
    """What the store says about reachability, so that a private message from someone who
    is known to be reachable costs no write. Filled only after commits; bounded."""

    def __init__(self, limit: int = 50_000,
                 on_change: Callable[[str, str, bool], None] | None = None) -> None:
        self._known: dict[tuple[str, str], bool] = {}
        self._limit = limit
        #: told of every committed change (the router stops notifying a refusing account)
        self.on_change = on_change

    def get(self, platform: str, user_id: str) -> bool | None:
        return self._known.get((platform, user_id))

    def put(self, platform: str, user_id: str, reachable: bool) -> None:
        if len(self._known) >= self._limit:
            self._known.clear()
        changed = self._known.get((platform, user_id)) is not reachable
        self._known[(platform, user_id)] = reachable
        if changed and self.on_change is not None:
            self.on_change(platform, user_id, reachable)


async def reachable(tx: Tx, cache: ReachCache, platform: str, user_id: str) -> bool | None:
    """True: a private message reaches them; False: refused last time; None: never tried."""
    known = cache.get(platform, user_id)
    if known is not None:
        return known
    row = await tx.fetchone(
        "SELECT reachable FROM dm_reach WHERE platform = ? AND user_id = ?", (platform, user_id)
    )
    if row is None:
        return None
    value = bool(row[0])
    tx.after_commit(lambda: cache.put(platform, user_id, value))
    return value


async def mark(
    tx: Tx, cache: ReachCache, platform: str, user_id: str, ok: bool, at: float,
    reason: str | None = None,
) -> None:
    """Record that a private message reached (``ok``) or was refused (``reason``)."""
    if ok and cache.get(platform, user_id) is True:
        return
    await tx.execute(
        "INSERT INTO dm_reach (platform, user_id, reachable, reason, at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (platform, user_id) DO UPDATE SET reachable = excluded.reachable, "
        "reason = excluded.reason, at = excluded.at",
        (platform, user_id, int(ok), None if ok else reason, at),
    )
    tx.after_commit(lambda: cache.put(platform, user_id, ok))


@dataclass(frozen=True, slots=True)
class Link:
    token: str
    question_id: int
    customer_id: str
    opened_at: float | None


async def create_link(tx: Tx, question_id: int, platform: str, customer_id: str,
                      at: float) -> str:
    token = new_payload()
    await tx.execute(
        "INSERT INTO deep_links (token, question_id, platform, customer_id, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (token, question_id, platform, customer_id, at),
    )
    return token


async def find_link(tx: Tx, platform: str, token: str) -> Link | None:
    if not token or len(token) > PAYLOAD_MAX:
        return None
    row = await tx.fetchone(
        "SELECT token, question_id, customer_id, opened_at FROM deep_links "
        "WHERE token = ? AND platform = ?",
        (token, platform),
    )
    return Link(row[0], row[1], row[2], row[3]) if row else None

