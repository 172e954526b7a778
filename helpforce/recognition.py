"""Recognition: a staff member's own figures for the week, and a weekly summary for leads.

Pure reads of the store, counted exactly as :mod:`helpforce.report` counts (the same
:func:`helpforce.report.facts_of`), so what the bot tells a person agrees with the report
their manager reads. Meant to be wired to a staff command (``/stats``) and an optional
weekly message to leads; nothing here sends anything.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from helpforce.config import Config
from helpforce.report import Period, _event, build, facts_of, route_of, sla_outcome
from helpforce.store import Store

#: events before the week's start scanned as a margin (event times follow ids only roughly)
_MARGIN = 3600.0


def week_start(now: float, timezone: str) -> float:
    """Monday 00:00 of ``now``'s week in ``timezone``."""
    tz = ZoneInfo(timezone)
    local = dt.datetime.fromtimestamp(now, tz)
    monday = local.date() - dt.timedelta(days=local.weekday())
    return dt.datetime.combine(monday, dt.time(), tz).timestamp()


async def _first_event_id_from(store: Store, t: float) -> int:
    """The id of (about) the first event at or after ``t``: a binary search over ids, since
    the log has no index on time and ids grow with it."""
    row = await store.fetchone("SELECT MIN(id), MAX(id) FROM events")
    if row is None or row[0] is None:
        return 0
    lo, hi = int(row[0]), int(row[1]) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        found = await store.fetchone(
            "SELECT id, at FROM events WHERE id >= ? ORDER BY id LIMIT 1", (mid,))
        if found is None or float(found[1]) >= t:
            hi = mid
        else:
            lo = int(found[0]) + 1
    return lo


async def staff_stats(store: Store, staff_id: str, now: float, config: Config) -> dict[str, Any]:
    """``staff_id``'s week so far (since Monday 00:00 in their time zone): questions they
    answered; of those they answered first, how many, the median time to first response,
    and how many within their route's first-response target."""
    member = config.roster.get(staff_id)
    tz = member.timezone if member is not None else config.routing.timezone
    start = week_start(now, tz)
    first_id = await _first_event_id_from(store, start - _MARGIN)
    qids = [int(r[0]) for r in await store.fetchall(
        "SELECT DISTINCT question_id FROM events WHERE id >= ? AND kind = 'answered' "
        "AND actor = ? AND at >= ? AND at <= ? AND question_id IS NOT NULL "
        "AND json_extract(data, '$.duplicate') IS NULL ORDER BY question_id",
        (first_id, staff_id, start, now))]
    answered = len(qids)
    firsts: list[float] = []
    met = judged = 0
    claimed = 0
    if qids:
        marks = ",".join("?" * len(qids))
        rows = {int(r["id"]): dict(r) for r in await store.fetchall(
            f"SELECT * FROM questions WHERE id IN ({marks})", qids)}
        events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for e in await store.fetchall(
            "SELECT id, question_id, at, kind, actor, platform, data FROM events "
            f"WHERE question_id IN ({marks}) ORDER BY question_id, id", qids,
        ):
            events[int(e["question_id"])].append(_event(dict(e)))
        for qid in qids:
            if qid not in rows:
                continue
            f = facts_of(rows[qid], events[qid])
            claimed += staff_id in f.claimed_by_history
            fr = f.first_response_s
            if not f.answered_by or f.answered_by[0] != staff_id or fr is None:
                continue
            if f.first_answer_at is None or f.first_answer_at < start:
                continue
            firsts.append(fr)
            route = route_of(config, f)
            outcome = sla_outcome(f.first_answer_at, f.sla_start,
                                  route.first_response if route else None, now)
            if outcome in ("met", "missed"):
                judged += 1
                met += outcome == "met"
    return {
        "staff": staff_id,
        "since": start,
        "until": now,
        "timezone": tz,
        "answered": answered,
        "claimed": claimed,
        "first_responses": len(firsts),
        "median_response_s": round(statistics.median(firsts), 3) if firsts else None,
        "sla_met": met,
        "sla_judged": judged,
        "sla_met_percent": round(100.0 * met / judged, 1) if judged else None,
    }


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render_stats(stats: dict[str, Any]) -> str:
    """The reply to a staff member asking for their figures (plain text, any platform)."""
    if not stats["answered"]:
        return "No answers from you yet this week."
    parts = [f"This week you answered {stats['answered']} question"
             + ("s" if stats["answered"] != 1 else "")]
    if stats["median_response_s"] is not None:
        parts.append(f"median first response {_span(stats['median_response_s'])}")
    if stats["sla_met_percent"] is not None:
        parts.append(f"{stats['sla_met']} of {stats['sla_judged']} within target "
                     f"({stats['sla_met_percent']:.0f}%)")
    return ", ".join(parts) + ". Thank you!"


async def weekly_summary(store: Store, config: Config, now: float, top: int = 5) -> str:
    """A short text for leads about the last seven days (the report's figures)."""
    tz = config.routing.timezone
    r = await build(store, config, Period(now - 7 * 86400, now, tz), now)
    fr = r["first_response"]
    lines = [f"Last 7 days: {r['questions']} questions, "
             f"{r['questions'] - len(r['unanswered_ids'])} answered, "
             f"{len(r['escalated_ids'])} escalated."]
    if fr["p50_s"] is not None:
        lines.append(f"First response: median {_span(fr['p50_s'])}, p90 {_span(fr['p90_s'])}"
                     + (f", {fr['sla']['met_percent']:.0f}% within target"
                        if fr["sla"]["met_percent"] is not None else "") + ".")
    leaders = [(s, d) for s, d in r["staff"].items() if d["answered"]][:top]
    if leaders:
        lines.append("Most answers: " + ", ".join(f"{s} ({d['answered']})" for s, d in leaders)
                     + ".")
    if r["unanswered_ids"]:
        shown = ", ".join(f"#{i}" for i in r["unanswered_ids"][:10])
        lines.append(f"Still unanswered: {shown}"
                     + (" …" if len(r["unanswered_ids"]) > 10 else "") + ".")
    return "\n".join(lines)
