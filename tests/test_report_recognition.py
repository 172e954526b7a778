"""Recognition: a staff member's own figures for the week (what a `/stats` command will
reply) and the weekly summary for leads, counted as the report counts."""

from __future__ import annotations

from pathlib import Path

from test_report import DAY, T0, fixture_db  # noqa: F401  (the hand-counted fixture)

from helpforce.config import Config
from helpforce.recognition import render_stats, staff_stats, week_start, weekly_summary
from helpforce.store import Store

NOW = T0 + 3 * DAY + 3600  # Saturday 2025-01-18 09:00 UTC; the week began Monday the 13th


async def test_staff_stats_for_the_week(fixture_db: Path, example_config: Config) -> None:  # noqa: F811
    async with Store(fixture_db, readonly=True) as store:
        jdiaz = await staff_stats(store, "jdiaz", NOW, example_config)
        lmoreno = await staff_stats(store, "lmoreno", NOW, example_config)
        achen = await staff_stats(store, "achen", NOW, example_config)
        next_week = await staff_stats(store, "jdiaz", NOW + 3 * DAY, example_config)
    assert jdiaz["since"] == week_start(NOW, "UTC") == T0 - 2 * DAY - 8 * 3600
    # #1 (5 min, billing 15m: met), #4 (20 min: missed), #6 (10 min, default 30m: met)
    assert {k: jdiaz[k] for k in ("answered", "claimed", "first_responses", "median_response_s",
                                  "sla_met", "sla_judged", "sla_met_percent")} == {
        "answered": 3, "claimed": 3, "first_responses": 3, "median_response_s": 600.0,
        "sla_met": 2, "sla_judged": 3, "sla_met_percent": 66.7}
    assert (lmoreno["answered"], lmoreno["median_response_s"], lmoreno["sla_met"]) == \
        (1, 1800.0, 1)
    assert achen["answered"] == 0  # a duplicate answer is not an answer
    assert next_week["answered"] == 0
    assert render_stats(jdiaz) == ("This week you answered 3 questions, median first "
                                   "response 10 min, 2 of 3 within target (67%). Thank you!")
    assert render_stats(next_week) == "No answers from you yet this week."


async def test_weekly_summary_for_leads(fixture_db: Path, example_config: Config) -> None:  # noqa: F811
    async with Store(fixture_db, readonly=True) as store:
        text = await weekly_summary(store, example_config, NOW)
    lines = text.splitlines()
    assert lines[0] == "Last 7 days: 6 questions, 5 answered, 1 escalated."
    assert lines[2] == "Most answers: jdiaz (3), lmoreno (1), praman (1)."
    assert lines[3] == "Still unanswered: #3."
