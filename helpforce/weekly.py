"""The weekly summary for leads (``desk.weekly_summary``): once a week, at the configured day
and time in routing.yaml's timezone, every lead and manager gets the last seven days' figures
(:func:`helpforce.recognition.weekly_summary`: counted as ``helpforce report`` counts).

The week it was sent for is kept in the store (``cursors``: helpforce / weekly_summary) in
the same step that queues the messages, so a restart never sends a week twice, and a daemon
that was down at the time sends it once when it comes back within that week.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from helpforce.clock import Clock
from helpforce.config import Config
from helpforce.config.schema import WeeklySummarySettings

log = logging.getLogger(__name__)

#: with no summary configured, how often the task looks again (a live edit may switch it on)
IDLE_CHECK = 3600.0


def occurrence(settings: WeeklySummarySettings, timezone: str, now: float) -> tuple[str, float]:
    """This week's occurrence: its key (ISO year and week, ``"2026-W48"``) and its time."""
    tz = ZoneInfo(timezone)
    local = dt.datetime.fromtimestamp(now, tz)
    (day,) = settings.day
    monday = local.date() - dt.timedelta(days=local.weekday())
    date = monday + dt.timedelta(days=day)
    at = dt.datetime.combine(date, dt.time(), tz) + dt.timedelta(minutes=settings.at)
    year, week, _ = date.isocalendar()
    return f"{year}-W{week:02d}", at.timestamp()


class WeeklySummaryTask:
    """The owned task that sends the summary; ``send(text, key)`` queues it for the leads
    unless ``key`` was sent before (the desk's :meth:`~helpforce.desk.Desk.tell_leads`)."""

    def __init__(
        self, clock: Clock, config: Callable[[], Config],
        summary: Callable[[float], Awaitable[str]],
        send: Callable[[str, str], Awaitable[bool]],
    ) -> None:
        self.clock = clock
        self._config = config
        self._summary = summary
        self._send = send
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="weekly-summary")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            try:
                wait = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("weekly summary failed; trying again in an hour")
                wait = IDLE_CHECK
            await self.clock.sleep(wait)

    async def tick(self) -> float:
        """Send this week's summary if its time has come; returns the seconds to wait."""
        config = self._config()
        settings = config.settings.desk.weekly_summary
        if settings is None:
            return IDLE_CHECK
        tz = config.routing.timezone
        now = self.clock.now()
        key, at = occurrence(settings, tz, now)
        if now >= at and await self._send(await self._summary(now), key):
            self.sent += 1
            log.info("weekly summary %s sent to the leads", key)
        # time went on while the summary was worked out: plan from the clock as it is now
        now = self.clock.now()
        current, at = occurrence(settings, tz, now)
        if current != key and now >= at:
            return 0.0  # a new week's time has come meanwhile
        if now >= at:
            _, at = occurrence(settings, tz, at + 7 * 86400)
        return max(0.0, min(at - now, IDLE_CHECK))
