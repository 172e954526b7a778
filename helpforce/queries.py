"""Read-only views of the store for the CLI, the demo summary and reports.

Everything here reads; nothing changes a question.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from helpforce.models import LOAD_STATES
from helpforce.store import Store


async def list_questions(
    store: Store, *, state: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    sql = (
        "SELECT q.id, q.platform, q.customer_handle, q.state, q.claimed_by, q.last_answer_by, "
        "q.created_at, q.first_answer_at, q.resolved_at, "
        "(SELECT text FROM messages m WHERE m.question_id = q.id AND m.kind = 'question' "
        " ORDER BY m.id LIMIT 1) AS text "
        "FROM questions q"
    )
    params: list[Any] = []
    if state:
        sql += " WHERE q.state = ?"
        params.append(state)
    sql += " ORDER BY q.id DESC LIMIT ?"
    params.append(limit)
    return [dict(r) for r in await store.fetchall(sql, params)]


async def show_question(store: Store, qid: int) -> dict[str, Any] | None:
    """A question with who was offered it, who claimed and answered it, and every event."""
    row = await store.fetchone("SELECT * FROM questions WHERE id = ?", (qid,))
    if row is None:
        return None
    q = dict(row)
    events = [
        {**dict(r), "data": json.loads(r["data"])}
        for r in await store.fetchall(
            "SELECT id, at, kind, actor, platform, data FROM events WHERE question_id = ? "
            "ORDER BY id",
            (qid,),
        )
    ]
    messages = [
        dict(r)
        for r in await store.fetchall(
            "SELECT m.id, m.platform, m.platform_message_id, m.conversation, m.direction, "
            "m.visibility, m.kind, m.author_id, m.staff_id, m.text, m.reply_to, m.at, "
            "o.state AS delivery FROM messages m LEFT JOIN outbox o ON o.message_row = m.id "
            "WHERE m.question_id = ? ORDER BY m.id",
            (qid,),
        )
    ]
    q.update(people(events), events=events, messages=messages)
    return q


def people(events: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Who a question was offered to (staff, and channels), who claimed it (each claim, in
    order) and who answered it (first answer first; duplicates, refused because someone
    else held it, do not count), from its events (``kind``, ``actor``, parsed ``data``) in
    order. ``questions show`` and the reports both count with this."""
    offered: list[str] = []
    channels: list[str] = []
    claimers: list[str] = []
    answerers: list[str] = []
    for e in events:
        if e["kind"] == "offered":
            offered += [s for s in e["data"].get("staff", []) if s not in offered]
            channels += [c for c in e["data"].get("channels", []) if c not in channels]
        elif e["kind"] == "claimed" and e["actor"]:
            claimers.append(e["actor"])
        elif e["kind"] == "answered" and e["actor"] and not e["data"].get("duplicate"):
            if e["actor"] not in answerers:
                answerers.append(e["actor"])
    return {"offered_to": offered, "offered_in": channels, "claimed_by_history": claimers,
            "answered_by": answerers}


async def open_claims(store: Store) -> dict[str, int]:
    """Claimed questions waiting for each staff member's answer (what max_open_claims caps)."""
    held = ",".join(f"'{s.value}'" for s in LOAD_STATES)
    rows = await store.fetchall(
        f"SELECT claimed_by, COUNT(*) FROM questions WHERE state IN ({held}) "
        "AND claimed_by IS NOT NULL GROUP BY claimed_by"
    )
    return {r[0]: r[1] for r in rows}


async def unreachable(store: Store) -> dict[tuple[str, str], str]:
    """Accounts a private message was last refused to: (platform, user id) -> why. A staff
    member here cannot be notified there (on Telegram: they never started the bot, or
    blocked it) until they write to the bot."""
    rows = await store.fetchall(
        "SELECT platform, user_id, reason FROM dm_reach WHERE reachable = 0"
    )
    return {(r[0], r[1]): r[2] or "refused" for r in rows}


async def summary(store: Store) -> dict[str, Any]:
    """Totals the demo prints at its end (and tests compare with the questions)."""
    by_state = {
        r[0]: r[1]
        for r in await store.fetchall("SELECT state, COUNT(*) FROM questions GROUP BY state")
    }
    total = sum(by_state.values())
    answered = (await store.fetchone(
        "SELECT COUNT(*) FROM questions WHERE first_answer_at IS NOT NULL"
    ) or [0])[0]
    by_staff: dict[str, dict[str, int]] = {}
    for kind, field in (("claimed", "claimed"), ("answered", "answered")):
        extra = " AND json_extract(data, '$.duplicate') IS NULL" if kind == "answered" else ""
        rows = await store.fetchall(
            f"SELECT actor, COUNT(DISTINCT question_id) FROM events WHERE kind = ?{extra} "
            "AND actor IS NOT NULL GROUP BY actor",
            (kind,),
        )
        for actor, n in rows:
            by_staff.setdefault(actor, {"claimed": 0, "answered": 0})[field] = n
    blocked = (await store.fetchone(
        "SELECT COUNT(*) FROM events WHERE kind = 'policy_verdict' "
        "AND json_extract(data, '$.action') IN ('block', 'move_to_dm', 'escalate')"
    ) or [0])[0]
    moved = (await store.fetchone(
        "SELECT COUNT(DISTINCT question_id) FROM events WHERE kind = 'moved_to_dm'"
    ) or [0])[0]
    unanswered = [
        r[0] for r in await store.fetchall(
            "SELECT id FROM questions WHERE first_answer_at IS NULL ORDER BY id"
        )
    ]
    escalated = [
        r[0] for r in await store.fetchall(
            "SELECT DISTINCT question_id FROM events WHERE kind = 'escalated' "
            "AND question_id IS NOT NULL ORDER BY question_id"
        )
    ]
    outbox = {
        r[0]: r[1]
        for r in await store.fetchall("SELECT state, COUNT(*) FROM outbox GROUP BY state")
    }
    return {
        "questions": total,
        "answered": int(answered),
        "unanswered": len(unanswered),
        "unanswered_ids": unanswered,
        "escalated_ids": escalated,
        "by_state": by_state,
        "by_staff": dict(sorted(by_staff.items())),
        "policy_blocked": int(blocked),
        "moved_to_dm": int(moved),
        "outbox": outbox,
    }
