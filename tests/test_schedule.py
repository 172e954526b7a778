"""Shifts, quiet hours and business hours evaluated at an instant: weekday windows, night
shifts past midnight and the week's end, changes of clocks, and the exact ``until``."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from helpforce.config.schema import StaffMember
from helpforce.config.timespec import TimeWindow
from helpforce.schedule import (
    Availability,
    Window,
    availability,
    describe_local,
    next_open,
    window_state,
)

CHICAGO = "America/Chicago"  # 2026: CST -> CDT on Sun 8 Mar 02:00, back on Sun 1 Nov 02:00
LONDON = "Europe/London"  # 2026: GMT -> BST on Sun 29 Mar 01:00, back on Sun 25 Oct 02:00


def t(iso: str) -> float:
    """Epoch seconds of an ISO time with its UTC offset written out (no guessing at folds)."""
    moment = datetime.fromisoformat(iso)
    assert moment.utcoffset() is not None, iso
    return moment.timestamp()


def win(days: Any = "daily", start: str = "9:00", end: str = "17:00") -> TimeWindow:
    return TimeWindow.model_validate({"days": days, "from": start, "to": end})


def member(**fields: Any) -> StaffMember:
    base: dict[str, Any] = {"id": "jdiaz", "name": "Jordan Diaz", "initials": "JD"}
    return StaffMember.model_validate({**base, **fields}, context={"factories": {}})


def local(at: float, tz: str) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(tz)).isoformat()


def assert_exact(windows: list[TimeWindow], tz: str, at: float) -> Window:
    """The state holds until the second before ``until`` and changes at ``until``."""
    state = window_state(windows, tz, at)
    assert state.until > at
    if not math.isinf(state.until):
        assert state.until == int(state.until)
        assert window_state(windows, tz, state.until - 1).inside is state.inside
        assert window_state(windows, tz, state.until - 0.001).inside is state.inside
        assert window_state(windows, tz, state.until).inside is not state.inside
    return state


# --- weekday windows ------------------------------------------------------------------------

OFFICE = [win("mon-fri", "9:00", "17:00")]


@pytest.mark.parametrize(
    ("at", "inside", "until"),
    [
        ("2026-01-07T12:00-06:00", True, "2026-01-07T17:00-06:00"),  # Wed midday
        ("2026-01-07T09:00-06:00", True, "2026-01-07T17:00-06:00"),  # opens at 09:00 sharp
        ("2026-01-07T08:59:59-06:00", False, "2026-01-07T09:00-06:00"),
        ("2026-01-07T17:00-06:00", False, "2026-01-08T09:00-06:00"),  # closed at 17:00 sharp
        ("2026-01-07T16:59:59.5-06:00", True, "2026-01-07T17:00-06:00"),
        ("2026-01-09T17:30-06:00", False, "2026-01-12T09:00-06:00"),  # Fri evening -> Mon
        ("2026-01-10T12:00-06:00", False, "2026-01-12T09:00-06:00"),  # Saturday
        ("2026-01-11T23:59:59-06:00", False, "2026-01-12T09:00-06:00"),  # Sunday night
    ],
)
def test_weekday_window(at: str, inside: bool, until: str) -> None:
    assert assert_exact(OFFICE, CHICAGO, t(at)) == Window(inside, t(until))


def test_windows_are_read_in_their_own_time_zone() -> None:
    at = t("2026-01-07T12:00+00:00")  # 06:00 in Chicago, 21:00 in Tokyo
    assert window_state(OFFICE, "UTC", at) == Window(True, t("2026-01-07T17:00+00:00"))
    assert window_state(OFFICE, CHICAGO, at) == Window(False, t("2026-01-07T09:00-06:00"))
    assert window_state(OFFICE, "Asia/Tokyo", at) == Window(False, t("2026-01-08T09:00+09:00"))


def test_no_windows_is_never_inside() -> None:
    assert window_state([], CHICAGO, t("2026-01-07T12:00-06:00")) == Window(False, math.inf)


def test_a_window_without_days_is_never_inside() -> None:
    never = TimeWindow.model_construct(days=frozenset(), start=0, end=60)  # only in code
    assert window_state([never], "UTC", t("2026-01-07T00:30+00:00")) == Window(False, math.inf)
    assert next_open([never], "UTC", t("2026-01-07T00:30+00:00")) is None


# --- past midnight and the week's end ---------------------------------------------------------

NIGHT_FRI = [win("fri", "22:00", "6:00")]
NIGHT_SUN = [win("sun", "22:00", "6:00")]


@pytest.mark.parametrize(
    ("windows", "at", "inside", "until"),
    [
        # fri 22:00-06:00 belongs to Friday and covers Saturday's small hours
        (NIGHT_FRI, "2026-01-09T21:59:59-06:00", False, "2026-01-09T22:00-06:00"),
        (NIGHT_FRI, "2026-01-09T22:00-06:00", True, "2026-01-10T06:00-06:00"),
        (NIGHT_FRI, "2026-01-10T03:00-06:00", True, "2026-01-10T06:00-06:00"),
        (NIGHT_FRI, "2026-01-10T06:00-06:00", False, "2026-01-16T22:00-06:00"),
        # ... but not Saturday night: the window starts on Fridays only
        (NIGHT_FRI, "2026-01-10T23:00-06:00", False, "2026-01-16T22:00-06:00"),
        (NIGHT_FRI, "2026-01-08T03:00-06:00", False, "2026-01-09T22:00-06:00"),
        # sun 22:00-06:00 runs into the next week's Monday
        (NIGHT_SUN, "2026-01-11T23:30-06:00", True, "2026-01-12T06:00-06:00"),
        (NIGHT_SUN, "2026-01-12T03:00-06:00", True, "2026-01-12T06:00-06:00"),
        (NIGHT_SUN, "2026-01-12T06:00-06:00", False, "2026-01-18T22:00-06:00"),
        (NIGHT_SUN, "2026-01-12T00:00-06:00", True, "2026-01-12T06:00-06:00"),
    ],
)
def test_night_shift_past_midnight(
    windows: list[TimeWindow], at: str, inside: bool, until: str
) -> None:
    state = assert_exact(windows, CHICAGO, t(at))
    assert state == Window(inside, t(until)), (local(state.until, CHICAGO), until)


def test_end_24_00_is_midnight() -> None:
    evening = [win("mon", "18:00", "24:00")]
    assert assert_exact(evening, "UTC", t("2026-01-05T23:59:59+00:00")) == Window(
        True, t("2026-01-06T00:00+00:00")
    )
    assert window_state(evening, "UTC", t("2026-01-06T00:00+00:00")) == Window(
        False, t("2026-01-12T18:00+00:00")
    )


def test_start_24_00_is_the_next_midnight() -> None:
    # "mon 24:00-6:00": Monday's end, so the small hours of Tuesday
    late = [win("mon", "24:00", "6:00")]
    assert window_state(late, "UTC", t("2026-01-06T03:00+00:00")) == Window(
        True, t("2026-01-06T06:00+00:00")
    )
    assert window_state(late, "UTC", t("2026-01-05T03:00+00:00")) == Window(
        False, t("2026-01-06T00:00+00:00")
    )
    # and sun 24:00 wraps to the next Monday
    assert window_state([win("sun", "24:00", "1:00")], "UTC", t("2026-01-05T00:30+00:00")) == (
        Window(True, t("2026-01-05T01:00+00:00"))
    )


# --- merged stretches -----------------------------------------------------------------------


MERGES = [
    # touching: one stretch
    ([win("mon", "9:00", "12:00"), win("mon", "12:00", "17:00")], "01-05T10:00", "01-05T17:00"),
    # overlapping, in any order
    ([win("mon", "12:00", "17:00"), win("mon", "9:00", "13:00")], "01-05T10:00", "01-05T17:00"),
    # contained
    ([win("mon", "9:00", "17:00"), win("mon", "10:00", "11:00")], "01-05T10:30", "01-05T17:00"),
    # touching over midnight
    ([win("mon", "20:00", "24:00"), win("tue", "0:00", "6:00")], "01-05T21:00", "01-06T06:00"),
    # a night shift running into the next day's window
    ([win("mon-fri", "22:00", "6:00"), win("tue", "6:00", "10:00")], "01-05T23:00", "01-06T10:00"),
    # over the week's end, into Monday's shift
    ([win("sun", "22:00", "6:00"), win("mon", "6:00", "10:00")], "01-04T23:00", "01-05T10:00"),
    # a long night over the week's end, holding Monday's early window
    ([win("sun", "20:00", "10:00"), win("mon", "2:00", "4:00")], "01-05T03:00", "01-05T10:00"),
    ([win("mon", "2:00", "4:00"), win("sun", "20:00", "10:00")], "01-04T21:00", "01-05T10:00"),
    # chains over several days
    ([win("mon-wed", "0:00", "24:00")], "01-05T10:00", "01-08T00:00"),
    ([win("fri-mon", "0:00", "0:00")], "01-10T10:00", "01-13T00:00"),
]


@pytest.mark.parametrize(("windows", "at", "until"), MERGES)
def test_adjacent_and_overlapping_windows_merge(
    windows: list[TimeWindow], at: str, until: str
) -> None:
    state = assert_exact(windows, "UTC", t(f"2026-{at}+00:00"))
    assert state == Window(True, t(f"2026-{until}+00:00")), local(state.until, "UTC")


def test_a_gap_between_windows_is_kept() -> None:
    split = [win("mon", "9:00", "12:00"), win("mon", "13:00", "17:00")]
    assert assert_exact(split, "UTC", t("2026-01-05T10:00+00:00")).until == t(
        "2026-01-05T12:00+00:00"
    )
    assert assert_exact(split, "UTC", t("2026-01-05T12:30+00:00")) == Window(
        False, t("2026-01-05T13:00+00:00")
    )


@pytest.mark.parametrize(
    "windows",
    [
        [win("daily", "0:00", "24:00")],
        [win("daily", "0:00", "0:00")],  # end not after start: 24 hours
        [win("daily", "12:00", "12:00")],
        [win("mon-fri", "0:00", "24:00"), win("sat,sun", "0:00", "24:00")],
        [win("daily", "22:00", "10:00"), win("daily", "9:00", "23:00")],
    ],
)
def test_always_inside(windows: list[TimeWindow]) -> None:
    for at in ("2026-01-07T12:00-06:00", "2026-03-08T03:30-05:00", "2026-11-01T01:30-06:00"):
        assert window_state(windows, CHICAGO, t(at)) == Window(True, math.inf)


# --- changes of clocks ----------------------------------------------------------------------


SAT_NIGHT = [win("sat", "22:00", "6:00")]
SKIPPED_START = [win("sun", "2:30", "4:00")]
AROUND_2AM = [win("sun", "0:00", "2:00"), win("sun", "3:00", "5:00")]
ONE_TO_HALF_PAST = [win("sun", "1:00", "1:30")]
HALF_PAST_ONE_TO_3 = [win("sun", "1:30", "3:00")]

CLOCK_CHANGES = [
    # Chicago springs forward: the office opens at 09:00 CDT, an hour earlier in UTC
    (CHICAGO, OFFICE, "2026-03-06T18:00-06:00", False, "2026-03-09T09:00-05:00"),
    # a night shift over the jump lasts 7 real hours
    (CHICAGO, SAT_NIGHT, "2026-03-08T01:59:59-06:00", True, "2026-03-08T06:00-05:00"),
    (CHICAGO, SAT_NIGHT, "2026-03-08T03:00-05:00", True, "2026-03-08T06:00-05:00"),
    # a window starting in the skipped hour starts when the clocks have jumped
    (CHICAGO, SKIPPED_START, "2026-03-08T01:59:59-06:00", False, "2026-03-08T03:00-05:00"),
    (CHICAGO, SKIPPED_START, "2026-03-08T03:00-05:00", True, "2026-03-08T04:00-05:00"),
    # ... one ending in it ends then
    (
        CHICAGO,
        [win("sat", "23:00", "2:30")],
        "2026-03-08T01:30-06:00",
        True,
        "2026-03-08T03:00-05:00",
    ),
    # ... and one wholly inside it does not happen that day
    (
        CHICAGO,
        [win("sun", "2:00", "2:30")],
        "2026-03-08T01:00-06:00",
        False,
        "2026-03-15T02:00-05:00",
    ),
    # windows either side of the skipped hour touch that night only
    (CHICAGO, AROUND_2AM, "2026-03-08T01:00-06:00", True, "2026-03-08T05:00-05:00"),
    (CHICAGO, AROUND_2AM, "2026-03-15T01:00-05:00", True, "2026-03-15T02:00-05:00"),
    # Chicago falls back: a night shift over it lasts 9 real hours, through both 01:30s
    (CHICAGO, SAT_NIGHT, "2026-11-01T01:30-05:00", True, "2026-11-01T06:00-06:00"),
    (CHICAGO, SAT_NIGHT, "2026-11-01T01:30-06:00", True, "2026-11-01T06:00-06:00"),
    # a time that happens twice means its first occurrence
    (CHICAGO, ONE_TO_HALF_PAST, "2026-11-01T01:15-05:00", True, "2026-11-01T01:30-05:00"),
    (CHICAGO, ONE_TO_HALF_PAST, "2026-11-01T01:15-06:00", False, "2026-11-08T01:00-06:00"),
    (
        CHICAGO,
        [win("sat", "23:00", "1:30")],
        "2026-11-01T01:45-05:00",
        False,
        "2026-11-07T23:00-06:00",
    ),
    # started at the first 01:30, so the second 01:15 (wall clock before it) is inside
    (CHICAGO, HALF_PAST_ONE_TO_3, "2026-11-01T01:15-06:00", True, "2026-11-01T03:00-06:00"),
    (CHICAGO, HALF_PAST_ONE_TO_3, "2026-11-01T01:15-05:00", False, "2026-11-01T01:30-05:00"),
    # London springs forward at 01:00 GMT: Monday's 09:00 is 08:00 UTC
    (LONDON, OFFICE, "2026-03-27T18:00+00:00", False, "2026-03-30T09:00+01:00"),
    (LONDON, SAT_NIGHT, "2026-03-29T00:59:59+00:00", True, "2026-03-29T06:00+01:00"),
    (LONDON, ONE_TO_HALF_PAST, "2026-03-29T00:30+00:00", False, "2026-04-05T01:00+01:00"),
    (LONDON, HALF_PAST_ONE_TO_3, "2026-03-29T00:30+00:00", False, "2026-03-29T02:00+01:00"),
    # London falls back at 02:00 BST
    (LONDON, SAT_NIGHT, "2026-10-25T01:30+00:00", True, "2026-10-25T06:00+00:00"),
    (
        LONDON,
        [win("sun", "1:00", "2:00")],
        "2026-10-25T01:30+01:00",
        True,
        "2026-10-25T02:00+00:00",
    ),
    (LONDON, OFFICE, "2026-10-23T17:00+01:00", False, "2026-10-26T09:00+00:00"),
]


@pytest.mark.parametrize(("tz", "windows", "at", "inside", "until"), CLOCK_CHANGES)
def test_changes_of_clocks(
    tz: str, windows: list[TimeWindow], at: str, inside: bool, until: str
) -> None:
    state = assert_exact(windows, tz, t(at))
    assert state == Window(inside, t(until)), (local(state.until, tz), until)


def test_real_lengths_of_night_shifts_over_changes_of_clocks() -> None:
    night = [win("sat", "22:00", "6:00")]
    spring = window_state(night, CHICAGO, t("2026-03-07T22:00-06:00"))
    autumn = window_state(night, CHICAGO, t("2026-10-31T22:00-05:00"))
    assert spring.until - t("2026-03-07T22:00-06:00") == 7 * 3600
    assert autumn.until - t("2026-10-31T22:00-05:00") == 9 * 3600


def test_a_whole_skipped_day_neither_crashes_nor_loops() -> None:
    # Samoa skipped Friday 30 December 2011 when it crossed the date line
    fridays = [win("fri", "9:00", "17:00")]
    state = assert_exact(fridays, "Pacific/Apia", t("2011-12-29T18:00-10:00"))
    assert state == Window(False, t("2012-01-06T09:00+14:00"))


def walk(windows: list[TimeWindow], tz: str, start: float, stop: float) -> list[tuple[str, bool]]:
    """Every change from ``start`` to ``stop`` found by jumping from ``until`` to ``until``."""
    changes = []
    at = start
    while True:
        state = assert_exact(windows, tz, at)
        if state.until > stop:
            return changes
        at = state.until
        changes.append((local(at, tz), not state.inside))


def test_walking_from_until_to_until_across_a_change_of_clocks() -> None:
    windows = [win("mon-fri", "9:00", "17:00"), *SAT_NIGHT, win("sun", "1:30", "2:30")]
    changes = walk(windows, CHICAGO, t("2026-03-06T12:00-06:00"), t("2026-03-09T12:00-05:00"))
    assert changes == [
        ("2026-03-06T17:00:00-06:00", False),
        ("2026-03-07T22:00:00-06:00", True),
        # sat 22:00-6:00 and sun 1:30-2:30 (which ends when the clocks jump) overlap
        ("2026-03-08T06:00:00-05:00", False),
        ("2026-03-09T09:00:00-05:00", True),
    ]
    changes = walk(windows, CHICAGO, t("2026-10-30T12:00-05:00"), t("2026-11-02T12:00-06:00"))
    assert changes == [
        ("2026-10-30T17:00:00-05:00", False),
        ("2026-10-31T22:00:00-05:00", True),
        ("2026-11-01T06:00:00-06:00", False),
        ("2026-11-02T09:00:00-06:00", True),
    ]
    # without the night shift, sun 1:30-2:30 on the night clocks fall back: 01:30 CDT to
    # 02:30 CST, two real hours
    changes = walk(
        [win("sun", "1:30", "2:30")],
        CHICAGO,
        t("2026-10-31T12:00-05:00"),
        t("2026-11-02T12:00-06:00"),
    )
    assert changes == [("2026-11-01T01:30:00-05:00", True), ("2026-11-01T02:30:00-06:00", False)]


@pytest.mark.parametrize("tz", [CHICAGO, LONDON, "Australia/Lord_Howe", "UTC"])
def test_until_is_exact_through_a_year(tz: str) -> None:
    windows = [
        win("mon-fri", "8:30", "12:00"),
        win("mon-thu", "13:00", "17:45"),
        win("fri", "22:00", "2:15"),
        win("sun", "1:15", "3:00"),
    ]
    start = t("2026-01-01T00:00+00:00")
    at, hops = start, 0
    while at < start + 366 * 86400:
        at = assert_exact(windows, tz, at).until
        hops += 1
    # 5 + 4 + 1 + 1 openings a week, each opening and closing (some merge near clock changes)
    assert 52 * 22 - 8 <= hops <= 53 * 22


# --- availability ----------------------------------------------------------------------------


def test_no_shifts_is_always_on_shift() -> None:
    expected = Availability(True, False, math.inf)
    assert availability(member(), t("2026-01-07T03:00+00:00")) == expected


def test_shifts_in_the_members_time_zone() -> None:
    m = member(timezone="Asia/Tokyo", shifts=[{"days": "mon-fri", "from": "9:00", "to": "18:00"}])
    assert availability(m, t("2026-01-07T10:00+09:00")) == Availability(
        True, False, t("2026-01-07T18:00+09:00")
    )
    assert availability(m, t("2026-01-07T10:00+00:00")) == Availability(
        False, False, t("2026-01-08T09:00+09:00")
    )


def test_quiet_hours() -> None:
    m = member(timezone=LONDON, quiet_hours=[{"from": "22:00", "to": "7:00"}])
    assert availability(m, t("2026-01-07T23:00+00:00")) == Availability(
        True, True, t("2026-01-08T07:00+00:00")
    )
    assert availability(m, t("2026-01-08T07:00+00:00")) == Availability(
        True, False, t("2026-01-08T22:00+00:00")
    )
    # in summer, 22:00 BST
    assert availability(m, t("2026-07-08T20:00+00:00")).until == t("2026-07-08T22:00+01:00")


def test_until_is_the_earliest_change_of_either() -> None:
    m = member(
        timezone=CHICAGO,
        shifts=[{"days": "mon-fri", "from": "9:00", "to": "17:00"}],
        quiet_hours=[{"days": "mon-fri", "from": "12:00", "to": "13:00"}],
    )
    assert availability(m, t("2026-01-07T10:00-06:00")) == Availability(
        True, False, t("2026-01-07T12:00-06:00")
    )
    assert availability(m, t("2026-01-07T12:10-06:00")) == Availability(
        True, True, t("2026-01-07T13:00-06:00")
    )
    assert availability(m, t("2026-01-07T13:00-06:00")) == Availability(
        True, False, t("2026-01-07T17:00-06:00")
    )
    assert availability(m, t("2026-01-09T18:00-06:00")) == Availability(
        False, False, t("2026-01-12T09:00-06:00")
    )


def test_thousands_of_staff_are_quick() -> None:
    zones = [CHICAGO, LONDON, "Asia/Tokyo", "UTC", "Australia/Sydney"]
    staff = [
        member(
            id=f"s{i}",
            timezone=zones[i % 5],
            shifts=[{"days": "mon-fri", "from": f"{6 + i % 8}:00", "to": f"{14 + i % 8}:30"}],
            quiet_hours=[{"from": "22:00", "to": "7:00"}],
        )
        for i in range(5000)
    ]
    at = t("2026-03-08T01:00-06:00")
    began = time.perf_counter()
    for _ in range(2):
        for s in staff:
            availability(s, at)
    # about 0.1 s here; generous for slow machines
    assert time.perf_counter() - began < 5.0


# --- next_open and describe_local ----------------------------------------------------------


def test_next_open_from_friday_evening_is_monday_morning() -> None:
    friday = t("2026-01-09T18:30-06:00")
    opens = next_open(OFFICE, CHICAGO, friday)
    assert opens == t("2026-01-12T09:00-06:00")
    assert opens is not None and describe_local(opens, CHICAGO) == "Mon 09:00 CST"


def test_next_open_when_open_is_now_and_without_hours_is_none() -> None:
    now = t("2026-01-07T12:00-06:00")
    assert next_open(OFFICE, CHICAGO, now) == now
    assert next_open([], CHICAGO, now) is None
    assert next_open(OFFICE, CHICAGO, t("2026-01-07T17:00-06:00")) == t("2026-01-08T09:00-06:00")
    # over the spring change, Monday 09:00 is in CDT
    assert next_open(OFFICE, CHICAGO, t("2026-03-06T18:00-06:00")) == t("2026-03-09T09:00-05:00")


@pytest.mark.parametrize(
    ("at", "tz", "text"),
    [
        ("2026-01-12T09:00-06:00", CHICAGO, "Mon 09:00 CST"),
        ("2026-07-13T09:00-05:00", CHICAGO, "Mon 09:00 CDT"),
        ("2026-01-17T17:45+00:00", LONDON, "Sat 17:45 GMT"),
        ("2026-07-19T08:05+01:00", LONDON, "Sun 08:05 BST"),
        ("2026-01-14T23:59+00:00", "UTC", "Wed 23:59 UTC"),
        ("2026-01-15T10:00-03:00", "America/Sao_Paulo", "Thu 10:00 -03"),
    ],
)
def test_describe_local(at: str, tz: str, text: str) -> None:
    assert describe_local(t(at), tz) == text


def test_results_are_frozen() -> None:
    state = window_state(OFFICE, "UTC", t("2026-01-07T12:00+00:00"))
    with pytest.raises(AttributeError):
        state.inside = False  # type: ignore[misc]
    assert timedelta(seconds=state.until - t("2026-01-07T12:00+00:00")) == timedelta(hours=5)
