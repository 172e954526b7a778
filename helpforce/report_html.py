"""The report as one self-contained HTML file: inline CSS and inline SVG charts, no script,
no external URL, so it opens offline and can be mailed or archived as it is.

Charts (:mod:`helpforce.charts`): the distribution of times to first response against the
target, volume over time by platform, first-response SLA met per day (or hour), and a staff
leaderboard. Tables hold the exact figures beside them.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from helpforce import charts

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       margin: 0 auto; max-width: 1040px; padding: 24px; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.sub { color: #666; margin-bottom: 18px; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; }
.tile { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 10px 14px;
        min-width: 150px; }
.tile b { display: block; font-size: 22px; } .tile span { color: #666; font-size: 12px; }
figure { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; margin: 0;
         padding: 8px; } figure svg { width: 100%; height: auto; display: block; }
figcaption { color: #555; font-size: 12px; padding: 4px 6px 0; }
table { border-collapse: collapse; background: #fff; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #eee; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f3f3f3; }
.ids { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-word; }
.bad { color: #c0392b; } .good { color: #2e8b57; }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}%"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "none") -> str:
    if not rows:
        return f"<p class=sub>{_e(empty)}</p>" if empty else ""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _ids(ids: Sequence[int]) -> str:
    return "<p class=ids>" + (_e(", ".join(f"#{i}" for i in ids)) or "none") + "</p>"


def main_target(report: Mapping[str, Any]) -> float | None:
    """The first-response target of the route most questions took."""
    for route in report.get("routes", {}).values():
        target = route.get("first_response_s")
        return None if target is None else float(target)
    return None


def render(report: Mapping[str, Any], *, title: str = "helpforce report") -> str:
    """The HTML page (raises :class:`helpforce.charts.ChartsUnavailable` without matplotlib)."""
    charts.require()
    r = report
    p = r["period"]
    buckets = list(r["volume"])
    platforms = sorted(r["by_platform"])
    tags = sorted(r["by_tag"])
    fr, rs = r["first_response"], r["resolution"]
    answered = r["questions"] - len(r["unanswered_ids"])
    generated = dt.datetime.fromtimestamp(r["generated_at"], ZoneInfo(p["timezone"]))
    filters = ", ".join(f"{k}: {v}" for k, v in r["filters"].items() if v)
    target = main_target(r)

    tiles = [
        (r["questions"], "questions asked"),
        (f"{answered}", "answered" + (f" ({100 * answered / r['questions']:.0f}%)"
                                      if r["questions"] else "")),
        (_span(fr["p50_s"]), "first response, median"),
        (_span(fr["p90_s"]), "first response, p90"),
        (_pct(fr["sla"]["met_percent"]), "first response within target"),
        (_pct(rs["sla"]["met_percent"]), "resolved within target"),
        (len(r["unanswered_ids"]), "unanswered"),
        (len(r["escalated_ids"]), "escalated"),
    ]
    parts = [
        "<!DOCTYPE html>", "<html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width, initial-scale=1'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<div class=sub>Questions asked {_e(p['start_local'])} – {_e(p['end_local'])} "
        f"({_e(p['timezone'])}){' · ' + _e(filters) if filters else ''} · generated "
        f"{_e(generated.isoformat(timespec='minutes'))}</div>",
        "<div class=tiles>" + "".join(
            f"<div class=tile><b>{_e(v)}</b><span>{_e(label)}</span></div>"
            for v, label in tiles) + "</div>",
        "<h2>Time to first response</h2>",
        _figure(charts.response_times([x for x in r["first_response_times_s"] if x is not None],
                                      target_s=target, p50_s=fr["p50_s"], p90_s=fr["p90_s"]),
                "Questions by time to first response"
                + (f"; the red line is the main route's target ({_span(target)})"
                   if target is not None else "")),
        _table(["", "questions", "p50", "p90", "max", "met", "missed", "pending", "met %"],
               [[name, d["n"], _span(d["p50_s"]), _span(d["p90_s"]), _span(d["max_s"]),
                 d["sla"]["met"], d["sla"]["missed"], d["sla"]["pending"],
                 _pct(d["sla"]["met_percent"])]
                for name, d in (("first response", fr), ("resolution", rs))]),
        f"<h2>Volume by {_e(p['bucket'])} and platform</h2>",
        _figure(charts.volume(buckets, {pl: [r["volume"][b].get(pl, 0) for b in buckets]
                                        for pl in platforms}),
                f"Questions asked per {p['bucket']}, stacked by platform"),
        f"<h2>First response within target, per {_e(p['bucket'])}</h2>",
        _figure(charts.sla_met(buckets,
                               [r["sla_by_bucket"][b]["met"] for b in buckets],
                               [r["sla_by_bucket"][b]["missed"] for b in buckets]),
                "Share of the questions asked that " + p["bucket"] + " answered within their "
                "route's first-response target (met/judged above each bar; questions still "
                "within their target are not judged yet)"),
        "<h2>Staff</h2>",
        _figure(charts.leaderboard([(s, d["answered"], d["median_response_s"])
                                    for s, d in r["staff"].items() if d["answered"]]),
                "Questions answered, with the median time to first response of the "
                "questions each answered first"),
        _table(["staff", "offered", "claimed", "answered", "first responses",
                "median response", "within target", "leases expired", "policy blocks",
                "overrides", "duplicate answers"],
               [[s, d["offered"], d["claimed"], d["answered"], d["first_responses"],
                 _span(d["median_response_s"]), d["first_response_sla_met"],
                 d["leases_expired"], d["policy_blocks"], d["overrides"],
                 d["duplicate_answers"]] for s, d in r["staff"].items()]),
        f"<h2>Unanswered ({len(r['unanswered_ids'])})</h2>", _ids(r["unanswered_ids"]),
        f"<h2>Escalated ({len(r['escalated_ids'])})</h2>", _ids(r["escalated_ids"]),
        _table(["reason", "escalations"], list(r["escalations"].items()), empty=""),
        "<h2>Policy verdicts by rule</h2>",
        _table(["rule", "action", "verdicts", "after the fact"],
               [[v["rule"], v["action"], v["count"], v["after_the_fact"]]
                for v in r["policy_verdicts"]]),
        f"<h2>Moved to DM ({r['moved_to_dm']['questions']})</h2>",
        _table(["how", "moves"],
               [[k.replace("_", " "), v] for k, v in r["moved_to_dm"].items()
                if k not in ("questions", "question_ids")], empty=""),
        _ids(r["moved_to_dm"]["question_ids"]),
        f"<h2>By tag and {_e(p['bucket'])}</h2>",
        _table([p["bucket"], *tags, "all"],
               [[b, *[r["volume_by_tag"][b].get(t, 0) for t in tags],
                 sum(r["volume"][b].values())]
                for b in buckets if sum(r["volume"][b].values())]
               + [["all", *[r["by_tag"][t] for t in tags], r["questions"]]]),
        "</body></html>",
    ]
    return "\n".join(parts)
