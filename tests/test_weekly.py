"""The weekly summary for leads: sent at its time, once a week, never twice across a restart,
and off unless configured. Time is a ManualClock, moved by the test."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from waiting import until

from helpforce.adapters.local.platform import LocalPlatform
from helpforce.adapters.local.testing import DeskHarness
from helpforce.clock import ManualClock
from helpforce.config import Config
from helpforce.config.schema import WeeklySummarySettings
from helpforce.weekly import occurrence

START = 1_800_000_000.0  # Friday 15 January 2027, 02:00 in America/Chicago
LEADS = ("dm:staff-jd", "dm:staff-pr", "dm:staff-me")  # two leads and a manager


def with_summary(config: Config, day: str = "fri", at: str = "3:00") -> Config:
    weekly = WeeklySummarySettings.model_validate({"day": day, "at": at})
    desk = config.settings.desk.model_copy(update={"weekly_summary": weekly})
    return dataclasses.replace(config, settings=config.settings.model_copy(
        update={"desk": desk}))


def summaries(local: LocalPlatform) -> dict[str, int]:
    return {chat: sum(1 for m in local.sent(chat) if m.text.startswith("Last 7 days:"))
            for chat in LEADS}


def test_the_occurrence_is_this_weeks_day_and_time_in_the_desks_timezone() -> None:
    settings = WeeklySummarySettings.model_validate({"day": "mon", "at": "9:00"})
    key, at = occurrence(settings, "America/Chicago", START)
    assert key == "2027-W02"
    assert at == START - 4 * 86400 + 7 * 3600  # Monday 09:00, four days before Friday 02:00


async def test_the_leads_get_the_weekly_summary_once(example_config: Config,
                                                     tmp_path: Path) -> None:
    config = with_summary(example_config)
    clock = ManualClock(START)
    local = LocalPlatform()
    db = tmp_path / "hf.db"
    async with DeskHarness(config, db, clock=clock, local=local) as h:
        h.customer("cust1", "help", "My TV keeps switching off")
        await h.settle()
        assert summaries(local) == dict.fromkeys(LEADS, 0)  # 02:00: not yet
        await clock.advance(3601)  # past 03:00
        await until(lambda: h.app.weekly is not None and h.app.weekly.sent == 1)
        await h.settle()
        assert summaries(local) == dict.fromkeys(LEADS, 1)
        text = next(m.text for m in local.sent(LEADS[0]) if m.text.startswith("Last 7 days"))
        assert "1 questions" in text or "1 question" in text
        await clock.advance(3600)
        await h.settle()
        assert summaries(local) == dict.fromkeys(LEADS, 1)
    # a restart the same week sends nothing again
    async with DeskHarness(config, db, clock=clock, local=local) as h:
        await clock.advance(3600)
        await h.settle()
        assert summaries(local) == dict.fromkeys(LEADS, 1)
        # next Friday's
        await clock.advance(7 * 86400)
        await until(lambda: h.app.weekly is not None and h.app.weekly.sent == 1)
        await h.settle()
        assert summaries(local) == dict.fromkeys(LEADS, 2)


async def test_no_summary_unless_configured(example_config: Config, tmp_path: Path) -> None:
    clock = ManualClock(START)
    local = LocalPlatform()
    async with DeskHarness(example_config, tmp_path / "hf.db", clock=clock, local=local) as h:
        await clock.advance(8 * 86400)
        await h.settle()
    assert summaries(local) == dict.fromkeys(LEADS, 0)
