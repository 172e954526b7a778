"""The report's charts, drawn with matplotlib (Agg-free: a bare ``Figure`` saved as SVG) and
returned as SVG text to inline in the HTML report.

matplotlib is an optional extra (``pip install 'helpforce[reports]'``); :func:`require`
raises :class:`ChartsUnavailable` saying so when it is missing. Text stays text in the SVG
(``svg.fonttype: none``: searchable, small, drawn by the browser's fonts), and each plotted
bar carries an id naming what it shows (``hf-volume-<platform>-<i>``, ``hf-hist-<i>``,
``hf-sla-<i>``, ``hf-leader-<staff>``), so tests and people can find the data in the file.
"""

from __future__ import annotations

import importlib
import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

INSTALL_HINT = ("the HTML report draws its charts with matplotlib, which is not installed: "
                "pip install 'helpforce[reports]' (or use --json / the text report)")

PLATFORM_COLOURS = {"x": "#14171a", "telegram": "#229ed9", "discord": "#5865f2",
                    "local": "#8e44ad"}
_OTHER_COLOURS = ("#e67e22", "#16a085", "#c0392b", "#7f8c8d", "#2c3e50", "#d35400")
MET_COLOUR = "#2e8b57"
MISSED_COLOUR = "#c0392b"
BAR_COLOUR = "#3b6fb6"


class ChartsUnavailable(RuntimeError):
    pass


def _module(name: str) -> Any:
    # imported by name: matplotlib is an optional extra, so the core type-checks without it
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ChartsUnavailable(INSTALL_HINT) from None


def require() -> None:
    """Raise :class:`ChartsUnavailable` (saying what to install) without matplotlib."""
    _module("matplotlib")


def platform_colour(platform: str, order: Sequence[str] = ()) -> str:
    if platform in PLATFORM_COLOURS:
        return PLATFORM_COLOURS[platform]
    others = [p for p in order if p not in PLATFORM_COLOURS]
    i = others.index(platform) if platform in others else len(others)
    return _OTHER_COLOURS[i % len(_OTHER_COLOURS)]


def _figure(width: float, height: float) -> Any:
    return _module("matplotlib.figure").Figure(figsize=(width, height), dpi=100,
                                               layout="constrained")


def _svg(fig: Any, name: str) -> str:
    buf = io.StringIO()
    # a salt per chart: ids (clip paths) are stable across runs and unique within the page
    with _module("matplotlib").rc_context({"svg.fonttype": "none", "svg.hashsalt": f"hf-{name}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None,
                                                 "Format": None, "Type": None})
    svg = buf.getvalue()
    # inline in HTML: no XML declaration or DOCTYPE (it would name an external DTD)
    svg = re.sub(r"^<\?xml[^>]*\?>\s*", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{name}" ', 1)


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _minutes(seconds: float) -> float:
    return seconds / 60.0


def _nice_step(span: float, bins: int = 20) -> float:
    raw = max(span / bins, 1e-9)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return float(m * mag)
    return float(10 * mag)


def histogram_bins(values_s: Sequence[float]) -> tuple[list[float], list[int]]:
    """Bin edges (minutes) and counts for the response-time histogram."""
    if not values_s:
        return [], []
    mins = [_minutes(v) for v in values_s]
    top = max(mins)
    step = _nice_step(top if top > 0 else 1.0)
    n = max(1, math.floor(top / step) + 1)
    edges = [i * step for i in range(n + 1)]
    counts = [0] * n
    for m in mins:
        counts[min(n - 1, int(m // step))] += 1
    return edges, counts


def response_times(values_s: Sequence[float], *, target_s: float | None = None,
                   p50_s: float | None = None, p90_s: float | None = None) -> str:
    """Histogram of times to first response (minutes), with the SLA target and p50 / p90."""
    require()
    fig = _figure(8, 3.4)
    ax = fig.add_subplot()
    _style(ax)
    edges, counts = histogram_bins(values_s)
    if counts:
        width = edges[1] - edges[0]
        bars = ax.bar(edges[:-1], counts, width=width * 0.92, align="edge", color=BAR_COLOUR)
        for i, bar in enumerate(bars):
            bar.set_gid(f"hf-hist-{i}")
        for value, label, style in ((p50_s, "p50", "--"), (p90_s, "p90", ":")):
            if value is not None:
                ax.axvline(_minutes(value), color="#333333", linestyle=style, linewidth=1,
                           label=f"{label} {_minutes(value):.1f} min")
        if target_s is not None:
            ax.axvline(_minutes(target_s), color=MISSED_COLOUR, linewidth=1.5,
                       label=f"target {_minutes(target_s):.0f} min")
        ax.legend(frameon=False, fontsize=8)
    else:
        ax.text(0.5, 0.5, "no question answered in this period", ha="center",
                va="center", transform=ax.transAxes, color="#777777")
    ax.set_xlabel("time to first response (minutes)")
    ax.set_ylabel("questions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _svg(fig, "response-times")


def volume(buckets: Sequence[str], by_platform: Mapping[str, Sequence[int]]) -> str:
    """Questions per bucket, stacked by platform."""
    require()
    fig = _figure(8, 3.4)
    ax = fig.add_subplot()
    _style(ax)
    x = list(range(len(buckets)))
    bottom = [0] * len(buckets)
    order = sorted(by_platform)
    for platform in order:
        counts = list(by_platform[platform])
        bars = ax.bar(x, counts, bottom=bottom, color=platform_colour(platform, order),
                      label=platform, width=0.8)
        for i, bar in enumerate(bars):
            bar.set_gid(f"hf-volume-{platform}-{i}")
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    _bucket_ticks(ax, buckets)
    ax.set_ylabel("questions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    if order:
        ax.legend(frameon=False, fontsize=8, ncols=min(4, len(order)))
    return _svg(fig, "volume")


def _bucket_ticks(ax: Any, buckets: Sequence[str]) -> None:
    every = max(1, math.ceil(len(buckets) / 16))
    hourly = any(len(b) > 10 for b in buckets)
    ticks = list(range(0, len(buckets), every))
    labels = [buckets[i][5:] if not hourly else buckets[i][5:16] for i in ticks]
    ax.set_xticks(ticks, labels, rotation=45, ha="right", fontsize=8)
    ax.set_xlim(-0.6, max(len(buckets), 1) - 0.4)


def sla_met(buckets: Sequence[str], met: Sequence[int], missed: Sequence[int]) -> str:
    """First-response SLA met per bucket, in percent of the questions judged, with counts."""
    require()
    fig = _figure(8, 3.0)
    ax = fig.add_subplot()
    _style(ax)
    # many narrow bars (hours of two days): the counts stand upright so they do not overlap
    upright = len(buckets) > 12
    for i, (m, n) in enumerate(zip(met, missed, strict=True)):
        judged = m + n
        if not judged:
            continue
        pct = 100.0 * m / judged
        colour = MET_COLOUR if pct >= 90 else "#d4a017" if pct >= 70 else MISSED_COLOUR
        (bar,) = ax.bar([i], [pct], color=colour, width=0.8)
        bar.set_gid(f"hf-sla-{i}")
        ax.text(i, pct + 1.5, f"{m}/{judged}", ha="center", va="bottom", fontsize=7,
                color="#333333", rotation=90 if upright else 0)
    if not any(m + n for m, n in zip(met, missed, strict=True)):
        ax.text(0.5, 0.5, "no question with a first-response target was due",
                ha="center", va="center", transform=ax.transAxes, color="#777777")
    _bucket_ticks(ax, buckets)
    ax.set_ylim(0, 130 if upright else 112)
    ax.set_yticks([0, 20, 40, 60, 80, 100])
    ax.set_ylabel("first response\nwithin target (%)")
    return _svg(fig, "sla")


def leaderboard(rows: Sequence[tuple[str, int, float | None]], limit: int = 15) -> str:
    """Staff by questions answered (top ``limit``), labelled with their median response."""
    require()
    shown = list(rows[:limit])
    fig = _figure(8, max(1.6, 0.32 * len(shown) + 0.9))
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    names = [r[0] for r in shown][::-1]
    values = [r[1] for r in shown][::-1]
    medians = [r[2] for r in shown][::-1]
    bars = ax.barh(names, values, color=BAR_COLOUR, height=0.7)
    for bar, name, value, median in zip(bars, names, values, medians, strict=True):
        bar.set_gid(f"hf-leader-{name}")
        label = f" {value}" + (f" · median {_minutes(median):.1f} min"
                               if median is not None else "")
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, label, va="center",
                fontsize=8, color="#333333")
    if not shown:
        ax.text(0.5, 0.5, "nobody answered in this period", ha="center", va="center",
                transform=ax.transAxes, color="#777777")
    ax.set_xlabel("questions answered")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlim(0, max(values, default=1) * 1.45 + 0.5)
    ax.tick_params(axis="y", labelsize=8)
    return _svg(fig, "leaderboard")
