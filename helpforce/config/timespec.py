"""Times of day, days of the week and time zones as managers write them in YAML.

``from: "9:00"``, ``to: "17:30"``, ``days: mon-fri`` (or ``sat,sun``, ``daily``, a list),
``timezone: America/Chicago``. Each parses to a plain value (minutes since midnight, a set of
weekday numbers with Monday = 0, an IANA zone name) with a message that says what was expected.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    **{name: i for i, name in enumerate(_DAY_NAMES)},
    **{
        full: i
        for i, full in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
}
_TIME = re.compile(r"([01]?[0-9]|2[0-4]):([0-5][0-9])")


def _error(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(f"helpforce_{kind}", "{message}", {"message": message})


def parse_clock_time(value: Any) -> int:
    """Minutes since midnight from ``"9:00"`` or ``"17:30"``; ``"24:00"`` is the day's end."""
    if isinstance(value, str) and (m := _TIME.fullmatch(value.strip())):
        minutes = int(m.group(1)) * 60 + int(m.group(2))
        if minutes <= 24 * 60:
            return minutes
    raise _error("time", f"expected a time of day like 9:00 or 17:30, got {value!r}")


def _day(word: str, whole: Any) -> int:
    day = _DAY_ALIASES.get(word.strip().lower())
    if day is None:
        raise _error(
            "days",
            "expected days like mon-fri, sat,sun, daily or a list of mon..sun, "
            f"got {whole!r}",
        )
    return day


def parse_days(value: Any) -> frozenset[int]:
    """Weekday numbers (Monday = 0) from ``mon-fri``, ``sat,sun``, ``daily`` or a list."""
    if isinstance(value, frozenset):
        return value
    items: list[str]
    if isinstance(value, str):
        if value.strip().lower() in ("daily", "every day", "all", "*"):
            return frozenset(range(7))
        items = [p for p in value.split(",") if p.strip()]
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        items = []
    if not items:
        raise _error("days", f"expected days like mon-fri, sat,sun or daily, got {value!r}")
    days: set[int] = set()
    for item in items:
        if "-" in item:
            first, _, last = item.partition("-")
            a, b = _day(first, value), _day(last, value)
            i = a
            while True:  # wraps: fri-mon is fri, sat, sun, mon
                days.add(i)
                if i == b:
                    break
                i = (i + 1) % 7
        else:
            days.add(_day(item, value))
    return frozenset(days)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_zone(value: Any) -> str:
    """An IANA time zone name such as ``Europe/London`` or ``UTC``."""
    if isinstance(value, str) and value.strip():
        try:
            zone(value.strip())
            return value.strip()
        except (ZoneInfoNotFoundError, ValueError, OSError):
            # OSError: a directory of the zone database ("Europe") or an over-long name
            pass
    raise _error(
        "timezone",
        f"expected a time zone name like UTC, Europe/London or America/Chicago, got {value!r}",
    )


ClockTime = Annotated[int, BeforeValidator(parse_clock_time)]
Days = Annotated[frozenset[int], BeforeValidator(parse_days)]
TimeZone = Annotated[str, BeforeValidator(parse_zone)]


class TimeWindow(BaseModel):
    """``{days: mon-fri, from: "9:00", to: "17:00"}``; a window whose end is not after its
    start runs past midnight (``from: "22:00", to: "6:00"`` is a night shift that belongs to
    the day it starts on)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    days: Days = Field(default=frozenset(range(7)))
    start: ClockTime = Field(alias="from")
    end: ClockTime = Field(alias="to")

    def describe(self) -> str:
        def hm(m: int) -> str:
            return f"{m // 60:02d}:{m % 60:02d}"

        names = ",".join(_DAY_NAMES[d] for d in sorted(self.days))
        return f"{names} {hm(self.start)}-{hm(self.end)}"
