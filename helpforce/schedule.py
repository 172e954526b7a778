"""When staff are on shift or quiet, and when the desk opens: weekly local-time windows
evaluated at an instant.

Every function is pure (no clock, no I/O) and cheap enough to run for thousands of staff; each
answer carries the instant until which it holds, so callers evaluate again only then.

How wall-clock windows meet real time:

* a window belongs to the day it starts on: ``fri 22:00-06:00`` covers Saturday 03:00, and
  ``sun 22:00-06:00`` covers Monday 03:00 (the week wraps); ``24:00`` is the next midnight;
* windows that touch or overlap make one stretch: ``until`` is the end of the whole stretch;
* a local time that does not exist (clocks spring forward over it) means the instant the clocks
  jumped, so a window that starts or ends in the gap starts or ends when the gap ends, and one
  entirely inside the gap is empty that day;
* a local time that exists twice (clocks fall back) means its first occurrence, so a window
  ending at 01:30 on that night ends the first time it is 01:30.

Both rules map later local times to the same or later instants, so windows never turn inside
out around a change of clocks.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from helpforce.config.schema import StaffMember
from helpforce.config.timespec import TimeWindow, zone

__all__ = ["Availability", "Window", "availability", "describe_local", "next_open", "window_state"]

_DAY = 24 * 60
_WEEK = 7 * _DAY
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

#: (days, start, end) of each window: what the weekly pattern depends on
_Key = tuple[tuple[frozenset[int], int, int], ...]


@dataclass(frozen=True, slots=True)
class Window:
    """A set of windows evaluated at an instant."""

    inside: bool
    #: epoch seconds at which ``inside`` next changes (``math.inf`` if never); always after
    #: the instant evaluated, so the answer may be cached until then
    until: float


@dataclass(frozen=True, slots=True)
class Availability:
    """A staff member's shifts and quiet hours evaluated at an instant."""

    #: True when they have no shifts (always on shift) or are inside one
    on_shift: bool
    #: inside their quiet hours (no direct notifications)
    quiet: bool
    #: the earliest instant at which either value may change (``math.inf`` if never)
    until: float


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A weekly pattern as sorted, disjoint, non-touching stretches in minutes from a local
    Monday 00:00, repeated over the weeks before and after (enough to find the stretch holding
    any instant of the middle week and the next stretch after it)."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    always: bool


_NEVER = _Pattern((), (), always=False)
_ALWAYS = _Pattern((), (), always=True)


@lru_cache(maxsize=4096)
def _pattern(key: _Key) -> _Pattern:
    spans: list[tuple[int, int]] = []
    for days, start, end in key:
        length = end - start if end > start else _DAY - start + end
        for day in days:
            a = (day * _DAY + start) % _WEEK  # ``sun 24:00`` starts next Monday 00:00
            spans.append((a, a + length))
    if not spans:
        return _NEVER
    spans.sort()
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    # stretches running past Sunday midnight may swallow the first ones of the week
    while len(merged) > 1 and merged[-1][1] >= merged[0][0] + _WEEK:
        first = merged.pop(0)
        merged[-1][1] = max(merged[-1][1], first[1] + _WEEK)
    if merged[-1][1] - merged[-1][0] >= _WEEK:
        return _ALWAYS
    starts: list[int] = []
    ends: list[int] = []
    for week in (-1, 0, 1, 2):
        for a, b in merged:
            starts.append(a + week * _WEEK)
            ends.append(b + week * _WEEK)
    return _Pattern(tuple(starts), tuple(ends), always=False)


def _key(windows: Sequence[TimeWindow]) -> _Key:
    return tuple((w.days, w.start, w.end) for w in windows)


@lru_cache(maxsize=65536)
def _instant(monday: int, minutes: int, tz: ZoneInfo) -> int:
    """Epoch seconds of the local time ``minutes`` after 00:00 of the Monday with proleptic
    ordinal ``monday``: the first occurrence of a repeated time, the end of the jump for a time
    skipped by the clocks. (Cached: staff share a few zones and shift patterns.)"""
    local = datetime.fromordinal(monday) + timedelta(minutes=minutes)
    aware = local.replace(tzinfo=tz)
    first = aware.timestamp()
    second = aware.replace(fold=1).timestamp()
    if second >= first:  # an ordinary time, or the earlier of a repeated one
        return int(first)
    # skipped: the clocks jumped at some instant in (second, first]; find it to the second
    after = datetime.fromtimestamp(first, tz).utcoffset()
    lo, hi = int(second), int(first)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi


def _evaluate(pattern: _Pattern, tz: ZoneInfo, at: float) -> Window:
    if pattern.always:
        return Window(True, math.inf)
    if not pattern.starts:
        return Window(False, math.inf)
    local = datetime.fromtimestamp(at, tz)
    monday = local.toordinal() - local.weekday()
    position = (
        local.weekday() * _DAY
        + local.hour * 60
        + local.minute
        + (local.second + local.microsecond / 1e6) / 60
    )
    # The wall-clock position of ``at`` maps to ``at`` itself, or to an earlier instant in a
    # repeated hour; so no stretch ending at or before it can hold ``at`` or come after it.
    starts, ends = pattern.starts, pattern.ends
    i = bisect_right(ends, position)
    while i < len(ends):
        end = _instant(monday, ends[i], tz)
        if end > at:
            begin = _instant(monday, starts[i], tz)
            if at < begin < end:
                return Window(False, begin)
            if begin <= at:
                # stretches apart in wall-clock time may touch in real time (over skipped time)
                while i + 1 < len(ends) and _instant(monday, starts[i + 1], tz) <= end:
                    i += 1
                    end = max(end, _instant(monday, ends[i], tz))
                return Window(True, end)
            # else: a stretch wholly inside skipped time is empty that day
        i += 1
    return Window(False, math.inf)  # not reached: the pattern spans two weeks past ``at``


def window_state(windows: Sequence[TimeWindow], tz: str, at: float) -> Window:
    """Whether ``at`` (epoch seconds) falls inside any of ``windows``, read in time zone
    ``tz``, and the exact second at which that next changes.

    No windows: never inside (``Window(False, math.inf)``).
    """
    if not windows:
        return Window(False, math.inf)
    return _evaluate(_pattern(_key(windows)), zone(tz), at)


def availability(member: StaffMember, at: float) -> Availability:
    """``member``'s shifts and quiet hours at ``at``, in their own time zone."""
    until = math.inf
    on_shift = True
    if member.shifts:
        shift = window_state(member.shifts, member.timezone, at)
        on_shift, until = shift.inside, shift.until
    quiet = False
    if member.quiet_hours:
        q = window_state(member.quiet_hours, member.timezone, at)
        quiet, until = q.inside, min(until, q.until)
    return Availability(on_shift, quiet, until)


def next_open(windows: Sequence[TimeWindow], tz: str, at: float) -> float | None:
    """When ``windows`` (business hours) are next open, from ``at``: ``at`` itself when open
    now, else the start of the next window.

    None when there are no windows (always open), and also when the windows can never be open
    (no window has any day: only possible when built in code), so that callers never wait
    forever.
    """
    if not windows:
        return None
    state = window_state(windows, tz, at)
    if state.inside:
        return at
    return None if math.isinf(state.until) else state.until


def describe_local(at: float, tz: str) -> str:
    """``at`` as a customer reads it in ``tz``: ``"Mon 09:00 CST"`` (English day names
    whatever the process locale; the zone's abbreviation, or its offset where it has none)."""
    local = datetime.fromtimestamp(at, zone(tz))
    return f"{_DAY_NAMES[local.weekday()]} {local:%H:%M} {local.tzname() or ''}".rstrip()
