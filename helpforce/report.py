"""``helpforce report``: what managers see of a period, counted from the event log.

The questions counted are those *asked* in the period (``created_at`` in ``[start, end)``),
optionally of one platform or tag; everything about them is counted from their rows and all
their events, whenever those happened, with the same rules ``helpforce questions show``
uses (:func:`helpforce.queries.people`):

* **time to first response**: ``first_answer_at - created_at``; **time to resolution**:
  ``resolved_at - created_at`` of questions resolved now (a reopened one counts from its last
  resolution). p50 / p90 are nearest-rank percentiles, as the simulator's.
* **SLA**: the targets of the question's route (``routing.yaml``: ``first_response``,
  ``resolution``; the route by name, else the one that would match it now). The clock starts
  when the question was asked, or when the desk opened if it was asked outside business
  hours (its ``acknowledged`` event). Met: responded (resolved) by the deadline; missed:
  later, or not yet and the deadline has passed; pending questions count in neither.
* **unanswered**: no first response yet; **escalated**: any ``escalated`` event.
* **per staff**: *offered* / *claimed* / *answered*: questions whose ``offered to``,
  ``claimed by`` and ``answered by`` (as ``questions show`` lists them) name the person;
  *first responses* and their *median response*: questions whose first answerer they were,
  and the time to first response of those; *leases expired*: ``lease_expired`` events naming
  them; *policy blocks*: verdicts on their texts that stopped them (``block``,
  ``move_to_dm``, ``escalate``); *overrides*: ``policy_override`` events by them;
  *duplicate answers*: answers refused because someone else held the question.
* **policy verdicts by rule**: every ``policy_verdict`` of the questions, and, without a
  platform or tag filter, the verdicts in the period that belong to no question.
* **moves to DM**: ``moved_to_dm`` events, by who moved (staff or a guideline) and how.

Times are bucketed by day in ``routing.timezone`` (by hour for periods up to two days).
Nothing here changes the database.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from helpforce.config import Config
from helpforce.config.routing import Route
from helpforce.queries import people
from helpforce.store import Store

#: policy actions that stop a text (helpforce.policy.STOPPING)
STOPPING_ACTIONS = frozenset({"block", "move_to_dm", "escalate"})
#: questions read per query
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Period:
    start: float
    end: float
    timezone: str = "UTC"

    @property
    def hourly(self) -> bool:
        return self.end - self.start <= 2 * 86400

    def bucket(self, t: float) -> str:
        """The day (or hour) ``t`` falls in, in the period's time zone."""
        local = dt.datetime.fromtimestamp(t, ZoneInfo(self.timezone))
        return local.strftime("%Y-%m-%d %H:00" if self.hourly else "%Y-%m-%d")

    def buckets(self) -> list[str]:
        """Every bucket from start to end, in order (empty ones included)."""
        tz = ZoneInfo(self.timezone)
        if self.end <= self.start:
            return []
        if self.hourly:
            first = dt.datetime.fromtimestamp(self.start, tz).replace(
                minute=0, second=0, microsecond=0).timestamp()
            hours = int((self.end - first) // 3600) + 1
            labels = (self.bucket(first + 3600 * i) for i in range(hours))
            return [b for b in dict.fromkeys(labels) if b <= self.bucket(self.end - 1e-3)]
        day = dt.datetime.fromtimestamp(self.start, tz).date()
        last = dt.datetime.fromtimestamp(self.end - 1e-3, tz).date()
        out: list[str] = []
        while day <= last and len(out) < 10_000:
            out.append(day.isoformat())
            day += dt.timedelta(days=1)
        return out


def parse_when(text: str, timezone: str, *, end: bool = False) -> float:
    """``YYYY-MM-DD`` (midnight in ``timezone``; as an end: the midnight after, so the day is
    included) or an ISO date and time (with or without an offset) -> epoch seconds."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            if end:
                day += dt.timedelta(days=1)
            return dt.datetime.combine(day, dt.time(), ZoneInfo(timezone)).timestamp()
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r}: expected a date (2026-11-27) or a date and time "
                         "(2026-11-27T09:00, optionally with an offset)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.timestamp()


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of ``values`` (sorted here)."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[k]


def spread(values: Sequence[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_s": _r(percentile(values, 50)),
            "p90_s": _r(percentile(values, 90)), "max_s": _r(max(values) if values else None)}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


@dataclass(slots=True)
class Facts:
    """One question as the report counts it."""

    id: int
    platform: str
    state: str
    tags: list[str]
    route: str | None
    created_at: float
    first_answer_at: float | None
    resolved_at: float | None
    offered_to: list[str]
    claimed_by_history: list[str]
    answered_by: list[str]
    events: list[dict[str, Any]] = field(repr=False)
    sla_start: float = 0.0
    escalated: bool = False
    moved_to_dm: bool = False

    @property
    def first_response_s(self) -> float | None:
        if self.first_answer_at is None:
            return None
        return self.first_answer_at - self.created_at

    @property
    def resolution_s(self) -> float | None:
        if self.state != "resolved" or self.resolved_at is None:
            return None
        return self.resolved_at - self.created_at


def facts_of(row: Mapping[str, Any], events: list[dict[str, Any]]) -> Facts:
    """A question's facts from its row and its events (``data`` parsed), in id order."""
    who = people(events)
    try:
        tags = [str(t) for t in json.loads(row["tags"] or "[]")]
    except (ValueError, TypeError):
        tags = []
    f = Facts(
        id=int(row["id"]), platform=str(row["platform"]), state=str(row["state"]), tags=tags,
        route=row["route"], created_at=float(row["created_at"]),
        first_answer_at=row["first_answer_at"], resolved_at=row["resolved_at"],
        offered_to=who["offered_to"], claimed_by_history=who["claimed_by_history"],
        answered_by=who["answered_by"], events=events, sla_start=float(row["created_at"]),
    )
    for e in events:
        if e["kind"] == "acknowledged" and e["data"].get("opens_at") is not None:
            f.sla_start = max(f.sla_start, float(e["data"]["opens_at"]))
        elif e["kind"] == "escalated":
            f.escalated = True
        elif e["kind"] == "moved_to_dm":
            f.moved_to_dm = True
    return f


def route_of(config: Config, f: Facts, language: str | None = None) -> Route | None:
    routing = config.routing
    for r in routing.routes:
        if r.name == f.route:
            return r
    return routing.route_for(f.platform, frozenset(f.tags), language or "")


def sla_outcome(done_at: float | None, start: float, target: float | None,
                now: float) -> str | None:
    """``met``, ``missed``, ``pending`` (not done, deadline ahead) or None (no target)."""
    if target is None:
        return None
    deadline = start + target
    if done_at is not None:
        return "met" if done_at <= deadline else "missed"
    return "missed" if now > deadline else "pending"


async def load_facts(
    store: Store, period: Period, *, platform: str | None = None, tag: str | None = None,
) -> list[Facts]:
    """The questions asked in ``period`` (of ``platform``, with ``tag``), with their events."""
    sql = "SELECT * FROM questions WHERE created_at >= ? AND created_at < ?"
    params: list[Any] = [period.start, period.end]
    if platform:
        sql += " AND platform = ?"
        params.append(platform)
    rows = await store.fetchall(sql + " ORDER BY id", params)
    if tag:
        rows = [r for r in rows if tag in json.loads(r["tags"] or "[]")]
    out: list[Facts] = []
    for i in range(0, len(rows), _CHUNK):
        chunk = rows[i:i + _CHUNK]
        ids = [int(r["id"]) for r in chunk]
        events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for e in await store.fetchall(
            "SELECT id, question_id, at, kind, actor, platform, data FROM events "
            f"WHERE question_id IN ({','.join('?' * len(ids))}) ORDER BY question_id, id", ids,
        ):
            events[int(e["question_id"])].append(_event(dict(e)))
        out += [facts_of(dict(r), events[int(r["id"])]) for r in chunk]
    return out


def _event(e: Mapping[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(e["data"] or "{}")
    except ValueError:
        data = {}
    return {"id": e["id"], "question_id": e["question_id"], "at": e["at"], "kind": e["kind"],
            "actor": e["actor"], "platform": e["platform"],
            "data": data if isinstance(data, dict) else {}}


async def loose_verdicts(store: Store, period: Period) -> list[dict[str, Any]]:
    """Policy verdicts in ``period`` that belong to no question (e.g. bot notices)."""
    return [_event(dict(e)) for e in await store.fetchall(
        "SELECT id, question_id, at, kind, actor, platform, data FROM events "
        "WHERE kind = 'policy_verdict' AND question_id IS NULL AND at >= ? AND at < ? "
        "ORDER BY id", (period.start, period.end))]


def _is_staff(actor: str | None) -> bool:
    """A staff id, not a platform account (``platform:user_id``: a customer, or someone
    not on the roster)."""
    return bool(actor) and ":" not in str(actor)


def _staff_row() -> dict[str, Any]:
    return {"offered": 0, "claimed": 0, "answered": 0, "first_responses": 0,
            "median_response_s": None, "first_response_sla_met": 0, "leases_expired": 0,
            "policy_blocks": 0, "overrides": 0, "duplicate_answers": 0}


def compute(
    facts: Sequence[Facts], config: Config, period: Period, now: float, *,
    extra_verdicts: Iterable[Mapping[str, Any]] = (), filters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report (one JSON-able dict) over ``facts``."""
    buckets = period.buckets()
    volume: dict[str, Counter[str]] = {b: Counter() for b in buckets}
    tag_volume: dict[str, Counter[str]] = {b: Counter() for b in buckets}
    platforms: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    states: Counter[str] = Counter()
    first: list[float] = []
    resolution: list[float] = []
    sla: dict[str, Counter[str]] = {"first_response": Counter(), "resolution": Counter()}
    sla_daily: dict[str, Counter[str]] = {b: Counter() for b in buckets}
    staff: dict[str, dict[str, Any]] = defaultdict(_staff_row)
    responses: dict[str, list[float]] = defaultdict(list)
    unanswered: list[int] = []
    escalated: list[int] = []
    escalation_reasons: Counter[str] = Counter()
    verdicts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    moves: Counter[str] = Counter()
    moved_questions: list[int] = []
    questions: list[dict[str, Any]] = []
    routes: dict[str, dict[str, Any]] = {}

    def verdict(e: Mapping[str, Any]) -> None:
        d = e["data"]
        key = (str(d.get("rule") or "(no rule)"), str(d.get("action") or "-"))
        verdicts[key]["count"] += 1
        if d.get("after_the_fact"):
            verdicts[key]["after_the_fact"] += 1
        if _is_staff(e["actor"]) and d.get("action") in STOPPING_ACTIONS:
            staff[e["actor"]]["policy_blocks"] += 1

    for f in facts:
        bucket = period.bucket(f.created_at)
        volume.setdefault(bucket, Counter())[f.platform] += 1
        platforms[f.platform] += 1
        states[f.state] += 1
        for t in f.tags or ["(none)"]:
            tags[t] += 1
            tag_volume.setdefault(bucket, Counter())[t] += 1
        route = route_of(config, f)
        if route is not None:
            r = routes.setdefault(route.name, {
                "questions": 0, "first_response_s": route.first_response,
                "resolution_s": route.resolution})
            r["questions"] += 1
        fr = f.first_response_s
        if fr is not None:
            first.append(fr)
        else:
            unanswered.append(f.id)
        rs = f.resolution_s
        if rs is not None:
            resolution.append(rs)
        fr_sla = sla_outcome(f.first_answer_at, f.sla_start,
                             route.first_response if route else None, now)
        rs_sla = sla_outcome(f.resolved_at if f.state == "resolved" else None, f.sla_start,
                             route.resolution if route else None, now)
        if fr_sla:
            sla["first_response"][fr_sla] += 1
            sla_daily.setdefault(bucket, Counter())[fr_sla] += 1
        if rs_sla:
            sla["resolution"][rs_sla] += 1
        if f.escalated:
            escalated.append(f.id)
        for s in f.offered_to:
            staff[s]["offered"] += 1
        for s in dict.fromkeys(f.claimed_by_history):
            staff[s]["claimed"] += 1
        for s in f.answered_by:
            staff[s]["answered"] += 1
        if f.answered_by and fr is not None:
            who = f.answered_by[0]
            staff[who]["first_responses"] += 1
            responses[who].append(fr)
            if fr_sla == "met":
                staff[who]["first_response_sla_met"] += 1
        for e in f.events:
            kind, d = e["kind"], e["data"]
            if kind == "lease_expired" and d.get("staff"):
                staff[str(d["staff"])]["leases_expired"] += 1
            elif kind == "policy_verdict":
                verdict(e)
            elif kind == "policy_override" and _is_staff(e["actor"]):
                staff[e["actor"]]["overrides"] += 1
            elif kind == "answered" and d.get("duplicate") and _is_staff(e["actor"]):
                staff[e["actor"]]["duplicate_answers"] += 1
            elif kind == "escalated":
                escalation_reasons[str(d.get("sla") or "other")] += 1
            elif kind == "moved_to_dm":
                moves["by_staff" if e["actor"] else "by_guideline"] += 1
                moves[f"via_{d.get('via') or 'dm'}"] += 1
        if f.moved_to_dm:
            moved_questions.append(f.id)
        questions.append({
            "id": f.id, "platform": f.platform, "state": f.state, "tags": f.tags,
            "route": f.route, "created_at": f.created_at,
            "first_response_s": _r(fr), "resolution_s": _r(rs),
            "first_response_sla": fr_sla, "resolution_sla": rs_sla,
            "offered_to": f.offered_to, "claimed_by": f.claimed_by_history,
            "answered_by": f.answered_by, "escalated": f.escalated,
            "moved_to_dm": f.moved_to_dm,
        })
    for loose in extra_verdicts:
        verdict(loose)
    for s, values in responses.items():
        staff[s]["median_response_s"] = _r(statistics.median(values))

    def met(c: Counter[str]) -> dict[str, Any]:
        judged = c["met"] + c["missed"]
        return {"met": c["met"], "missed": c["missed"], "pending": c["pending"],
                "met_percent": round(100.0 * c["met"] / judged, 1) if judged else None}

    return {
        "period": {"start": period.start, "end": period.end, "timezone": period.timezone,
                   "start_local": _local(period.start, period.timezone),
                   "end_local": _local(period.end, period.timezone),
                   "bucket": "hour" if period.hourly else "day"},
        "generated_at": now,
        "filters": dict(filters or {}),
        "questions": len(facts),
        "by_state": dict(sorted(states.items())),
        "by_platform": dict(sorted(platforms.items())),
        "by_tag": dict(sorted(tags.items())),
        "volume": {b: dict(sorted(c.items())) for b, c in volume.items()},
        "volume_by_tag": {b: dict(sorted(c.items())) for b, c in tag_volume.items()},
        "first_response": {**spread(first), "sla": met(sla["first_response"])},
        "resolution": {**spread(resolution), "sla": met(sla["resolution"])},
        "sla_by_bucket": {b: met(c) for b, c in sla_daily.items()},
        "routes": dict(sorted(routes.items(), key=lambda kv: -kv[1]["questions"])),
        "unanswered_ids": unanswered,
        "escalated_ids": escalated,
        "escalations": dict(sorted(escalation_reasons.items())),
        "staff": {s: staff[s] for s in sorted(staff, key=lambda s: (
            -staff[s]["answered"], -staff[s]["claimed"], s))},
        "policy_verdicts": [
            {"rule": rule, "action": action, "count": c["count"],
             "after_the_fact": c["after_the_fact"]}
            for (rule, action), c in sorted(verdicts.items(), key=lambda kv: (
                -kv[1]["count"], kv[0]))
        ],
        "moved_to_dm": {"questions": len(moved_questions), "question_ids": moved_questions,
                        **dict(sorted(moves.items()))},
        "first_response_times_s": [_r(x) for x in sorted(first)],
        "question_list": questions,
    }


def _local(t: float, tz: str) -> str:
    return dt.datetime.fromtimestamp(t, ZoneInfo(tz)).isoformat(timespec="seconds")


async def build(
    store: Store, config: Config, period: Period, now: float, *,
    platform: str | None = None, tag: str | None = None,
) -> dict[str, Any]:
    """Read and count: the report over the questions asked in ``period``."""
    facts = await load_facts(store, period, platform=platform, tag=tag)
    extra = [] if platform or tag else await loose_verdicts(store, period)
    return compute(facts, config, period, now, extra_verdicts=extra,
                   filters={"platform": platform, "tag": tag})


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"
    return f"{seconds // 86400:.0f}d{seconds % 86400 // 3600:02.0f}h"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}%"


def _ids(ids: Sequence[int], limit: int = 30) -> str:
    shown = ", ".join(f"#{i}" for i in ids[:limit])
    more = f" … and {len(ids) - limit} more (--json lists all)" if len(ids) > limit else ""
    return (shown or "none") + more


def render_text(r: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[Any]]] | str]:
    """The report for a terminal: lines, and tables as (title, headers, rows)."""
    p = r["period"]
    out: list[tuple[str, list[str], list[list[Any]]] | str] = []
    filt = ", ".join(f"{k} {v}" for k, v in r["filters"].items() if v)
    out.append(f"Questions asked {p['start_local']} – {p['end_local']} ({p['timezone']})"
               + (f", {filt}" if filt else "") + f": {r['questions']}")
    out.append("  by state: " + (", ".join(f"{k} {v}" for k, v in r["by_state"].items())
                                  or "-"))
    out.append("  by platform: " + (", ".join(f"{k} {v}" for k, v in r["by_platform"].items())
                                     or "-"))
    out.append("  by tag: " + (", ".join(f"{k} {v}" for k, v in r["by_tag"].items()) or "-"))
    rows = []
    for name, key in (("first response", "first_response"), ("resolution", "resolution")):
        d = r[key]
        rows.append([name, d["n"], _span(d["p50_s"]), _span(d["p90_s"]), _span(d["max_s"]),
                     d["sla"]["met"], d["sla"]["missed"], d["sla"]["pending"],
                     _pct(d["sla"]["met_percent"])])
    out.append(("Response times against the SLA targets",
                ["", "n", "p50", "p90", "max", "met", "missed", "pending", "met %"], rows))
    vol_platforms = sorted(r["by_platform"])
    out.append((f"Volume by {p['bucket']}", [p["bucket"], *vol_platforms, "all",
                                             "first response SLA met"],
                [[b, *[c.get(x, 0) for x in vol_platforms], sum(c.values()),
                  _pct(r["sla_by_bucket"].get(b, {}).get("met_percent"))]
                 for b, c in r["volume"].items() if sum(c.values())]))
    out.append(f"Unanswered ({len(r['unanswered_ids'])}): {_ids(r['unanswered_ids'])}")
    out.append(f"Escalated ({len(r['escalated_ids'])}): {_ids(r['escalated_ids'])}"
               + (" — " + ", ".join(f"{k} {v}" for k, v in r["escalations"].items())
                  if r["escalations"] else ""))
    out.append(("Staff", ["staff", "offered", "claimed", "answered", "first resp.",
                          "median resp.", "SLA met", "leases expired", "policy blocks",
                          "overrides", "dup. answers"],
                [[s, d["offered"], d["claimed"], d["answered"], d["first_responses"],
                  _span(d["median_response_s"]), d["first_response_sla_met"],
                  d["leases_expired"], d["policy_blocks"], d["overrides"],
                  d["duplicate_answers"]] for s, d in r["staff"].items()]))
    out.append(("Policy verdicts by rule", ["rule", "action", "count", "after the fact"],
                [[v["rule"], v["action"], v["count"], v["after_the_fact"]]
                 for v in r["policy_verdicts"]]))
    m = r["moved_to_dm"]
    how = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in m.items()
                    if k not in ("questions", "question_ids"))
    out.append(f"Moved to DM: {m['questions']} questions" + (f" ({how})" if how else ""))
    return out
