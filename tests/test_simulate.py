"""``helpforce simulate``: the real desk, routing, store, timers and outbox on a virtual clock.

The scenario tests run the team's scenarios in config/scenarios/ and check, on what the desk
recorded, the properties managers rely on: offers go only to available matching staff, no
question is answered twice, every question nobody claimed is escalated at its deadline, and a
roster edit takes effect mid-run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE_CONFIG
from helpforce.adapters.local.scenario import Scenario, load_scenario
from helpforce.adapters.local.simulate import (
    SimOptions,
    Simulator,
    factories,
    load_sim_config,
    simulate,
)
from helpforce.cli import main
from helpforce.clock import VirtualClock
from helpforce.config import Config, ConfigErrors
from helpforce.config.schema import StaffMember
from helpforce.schedule import availability

SCENARIOS = EXAMPLE_CONFIG / "scenarios"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_sim_config(EXAMPLE_CONFIG)


def _scenario(config: Config, path: Path) -> Scenario:
    return load_scenario(path, roster=config.roster, factories=factories())


async def _run(
    config: Config, path: Path, options: SimOptions | None = None
) -> tuple[Simulator, dict[str, Any]]:
    return await simulate(_scenario(config, path), config, options)


def _write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _t(stamp: str | None) -> float:
    assert stamp is not None
    return dt.datetime.fromisoformat(stamp).timestamp()


# -- the virtual clock ------------------------------------------------------------------------


async def test_virtual_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = VirtualClock(1000.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 30), ("a", 10), ("b", 20))]
    cancelled = asyncio.create_task(sleeper("x", 5))
    await asyncio.sleep(0)
    assert clock.next_deadline() == 1005.0
    cancelled.cancel()
    await asyncio.sleep(0)
    assert clock.next_deadline() == 1010.0  # a cancelled sleeper is forgotten
    assert clock.now() == 1000.0  # time stands still until told
    clock.advance_to(1025.0)
    await asyncio.sleep(0)
    assert woke == [("a", 1025.0), ("b", 1025.0)]
    assert clock.next_deadline() == 1030.0
    clock.advance_to(1030.0)
    await asyncio.gather(*tasks)
    assert [n for n, _ in woke] == ["a", "b", "c"]
    assert clock.next_deadline() is None
    with pytest.raises(ValueError):
        clock.advance_to(1.0)


# -- output and the basic rules of the game --------------------------------------------------

BASIC = """
start: 2026-11-27T09:00:00-06:00
staff:
  default: {claims_after: 60s, answers_after: 3m}
  sokafor: {claims_after: 20s, answers_after: 2m}
  achen: {claims_after: null}
questions:
  - {at: 0s, platform: x, customer: "@alice", text: "My new TV won't turn on"}
  - {at: 45s, platform: telegram, customer: "1001", text: "Is the store open on Sunday?"}
"""


def test_cli_json_shape(tmp_path: Path) -> None:
    path = _write(tmp_path, BASIC)
    result = CliRunner().invoke(main, ["simulate", str(path), "--config", str(EXAMPLE_CONFIG),
                                       "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"questions", "summary"}
    assert len(report["questions"]) == 2
    for q in report["questions"]:
        assert {"id", "tags", "offered", "claimed_by", "claimed_at", "answered_by",
                "answered_at", "escalations", "state"} <= set(q)
        assert isinstance(q["id"], int) and isinstance(q["tags"], list)
        for offer in q["offered"]:
            assert set(offer) >= {"staff", "at"}
        for esc in q["escalations"]:
            assert set(esc) >= {"to", "at", "why"}
    first = report["questions"][0]
    assert first["platform"] == "x" and first["customer"] == "@alice"
    assert first["tags"] == ["tv"]
    assert first["at"] == "2026-11-27T09:00:00-06:00"
    # sokafor (tv) claims from the staff channel 20 s after it was posted, answers 2 m later
    assert first["claimed_by"] == "sokafor"
    assert first["claimed_at"] == "2026-11-27T09:00:20-06:00"
    assert first["answered_by"] == "sokafor"
    assert first["answered_at"] == "2026-11-27T09:02:20-06:00"
    assert first["state"] == "answered"
    s = report["summary"]
    assert s["questions"] == 2 and s["answered"] == 2 and s["unanswered"] == 0
    assert s["first_response"]["p50_s"] is not None and s["first_response"]["p90_s"] is not None
    assert s["sla"]["met_percent"] == 100.0
    # the quickest claimer takes both (the second has no tags: everyone matches)
    assert s["per_staff"] == {"sokafor": {"claimed": 2, "answered": 2}}
    assert s["unhandled_events"] == 0
    # the customer's platform got the answer, through the outbox
    assert s["deliveries"]["x"]["sent"] == 1 and s["deliveries"]["telegram"]["sent"] == 1


def test_cli_text_output_is_a_timeline_and_a_summary(tmp_path: Path) -> None:
    path = _write(tmp_path, BASIC)
    result = CliRunner().invoke(main, ["simulate", str(path), "--config", str(EXAMPLE_CONFIG)])
    assert result.exit_code == 0, result.output
    assert "09:00:20      #1  claimed by sokafor" in result.output
    assert "Summary" in result.output and "first response: p50" in result.output
    assert "won't turn on" not in result.output  # customer texts are not shown


async def test_first_claimer_wins_and_nobody_answers_twice(
    config: Config, tmp_path: Path
) -> None:
    # everyone claims at the same instant after every offer, and all of them race for it
    path = _write(tmp_path, """
start: 2026-11-27T09:00:00-06:00
staff:
  default: {claims_after: 30s, answers_after: 1m}
questions:
  - {at: 0s, platform: discord, customer: "@q", text: "My laptop fan is loud since the update",
     repeat: 8, every: 5s}
""")
    sim, report = await _run(config, path, SimOptions(racers=10, channel_claimers=10))
    refused = 0
    for q in report["questions"]:
        assert len(q["claims"]) == 1, q
        assert q["answers"] == 1, q
        assert q["answered_by"] == q["claimed_by"]
        refused += q["claims_refused"]
    assert refused > 0, "nobody raced: the test proves nothing"
    # and the customers' platform received exactly one answer per question
    answers = [m for m in sim.platforms["discord"].local.sent()]  # type: ignore[attr-defined]
    assert len(answers) == 8


async def test_staff_who_never_claim_never_do(config: Config, tmp_path: Path) -> None:
    path = _write(tmp_path, """
start: 2026-11-27T09:00:00-06:00
staff:
  default: {claims_after: 1m, answers_after: 1m}
  sokafor: {claims_after: null}
  achen: {claims_after: null}
  dsantos: {claims_after: null}
questions:
  - {at: 0s, platform: x, customer: "@t", text: "The soundbar on my tv has a delay",
     repeat: 6, every: 1m}
""")
    _, report = await _run(config, path)
    never = {"sokafor", "achen", "dsantos"}  # the tv people
    offered = {o["staff"] for q in report["questions"] for o in q["offered"]}
    assert offered & never, "they were offered tv questions"
    for q in report["questions"]:
        assert not {c["staff"] for c in q["claims"]} & never
    assert not set(report["summary"]["per_staff"]) & never


def test_scenario_yaml_error_reports_file_line_col(config: Config, tmp_path: Path) -> None:
    path = _write(tmp_path, """start: 2026-11-27T09:00:00-06:00
staff:
  jdiaz: {claims_after: soon}
  nobody: {claims_after: 1m}
questions:
  - {at: 0s, platform: myspace, customer: "@a", text: "hi"}
""")
    with pytest.raises(ConfigErrors) as exc:
        _scenario(config, path)
    lines = str(exc.value).splitlines()
    assert f"{path}:3:25: staff.jdiaz.claims_after: expected a duration" in lines[0]
    assert f"{path}:6:24: questions[0].platform: " in lines[1]
    result = CliRunner().invoke(main, ["simulate", str(path), "--config", str(EXAMPLE_CONFIG)])
    assert result.exit_code == 1
    assert f"{path}:3:25: staff.jdiaz.claims_after" in result.output
    # staff ids are checked against the roster once the file itself is valid
    path.write_text(path.read_text().replace("soon", "1m").replace("myspace", "x"))
    with pytest.raises(ConfigErrors) as exc:
        _scenario(config, path)
    assert str(exc.value) == f"{path}:4:3: staff.nobody: no staff member 'nobody' on the roster"


def test_cli_missing_scenario_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = CliRunner().invoke(main, ["simulate", str(missing), "--config",
                                       str(EXAMPLE_CONFIG)])
    assert result.exit_code != 0
    assert f"{missing}: no such scenario file" in result.output


# -- the properties, checked on the team's scenarios ---------------------------------------------


def _statuses(scenario: Scenario) -> list[tuple[float, str, str]]:
    return sorted((scenario.start + c.at, c.staff or "", c.status or "")
                  for c in scenario.changes if c.kind == "status")


def _available(s: StaffMember, t: float, statuses: list[tuple[float, str, str]]) -> bool:
    status = "auto"
    for at, staff, st in statuses:
        if staff == s.id and at <= t:
            status = st
    if status == "on":
        return True
    if status in ("away", "off"):
        return False
    return availability(s, t).on_shift


def _matches(s: StaffMember, q: dict[str, Any], fallback: str | None) -> bool:
    tags, language = set(q["tags"]), q["language"]
    skill = not tags or bool(tags & set(s.skills))
    speaks = language in s.languages
    if fallback is None:
        return skill and speaks
    if fallback == "any_skill":
        return speaks
    if fallback == "any_language":
        return skill
    assert fallback == "leads", fallback
    return s.role.value in ("lead", "manager")


def _check_invariants(
    sim: Simulator, report: dict[str, Any], roster_at: Callable[[float], dict[str, StaffMember]]
) -> None:
    """What holds on every scenario."""
    statuses = _statuses(sim.scenario)
    routes = {r.name: r for r in sim.config.routing.routes}
    assert report["summary"]["unhandled_events"] == 0
    for q in report["questions"]:
        # offers only to staff on the roster then, available then, and matching (as the
        # recorded fallback says)
        for offer in q["offered"]:
            t = _t(offer["at"])
            s = roster_at(t).get(offer["staff"])
            assert s is not None, (q["id"], offer)
            assert _available(s, t, statuses), (q["id"], offer)
            assert _matches(s, q, offer["fallback"]), (q["id"], offer, q["tags"], q["language"])
        # nobody answers twice
        assert q["answers"] <= 1, q
        # unclaimed and unanswered at the first-response deadline: escalated right then
        target = routes[q["route"]].first_response
        if target is None:
            continue
        deadline = _t(q["at"]) + target
        claimed_in_time = any(_t(c["at"]) <= deadline for c in q["claims"])
        answered_in_time = q["answered_at"] is not None and _t(q["answered_at"]) <= deadline
        if not claimed_in_time and not answered_in_time and deadline <= _t(
                report["summary"]["end"]):
            at_deadline = [e for e in q["escalations"] if _t(e["at"]) == deadline]
            assert at_deadline, (q["id"], q["escalations"])
            assert "first response" in at_deadline[0]["why"]
            assert at_deadline[0]["to"], "escalated to nobody"


async def test_launch_day(config: Config) -> None:
    sim, report = await _run(config, SCENARIOS / "launch-day.yaml")
    roster = {s.id: s for s in config.roster.staff}
    _check_invariants(sim, report, lambda t: roster)
    s = report["summary"]
    assert s["questions"] == 410 and s["answered"] == 410
    # the manager who never claims did not; the quick lead did the most
    assert "mellis" not in s["per_staff"]
    busiest = max(s["per_staff"], key=lambda k: s["per_staff"][k]["answered"])
    assert busiest == "jdiaz"
    # the surge outgrew the roster for a while: customers waited, some past their target
    assert s["first_response"]["p90_s"] > 10 * 60
    assert 50 < s["sla"]["met_percent"] < 100
    # nobody held more than their limit of unanswered claims at any moment
    limits = {m.id: m.max_open_claims for m in config.roster.staff}
    moments = sorted(
        [(_t(c["at"]), 1, c["staff"]) for q in report["questions"] for c in q["claims"]]
        + [(_t(q["answered_at"]), -1, q["answered_by"]) for q in report["questions"]
           if q["answered_at"] and q["answered_by"] == q["claimed_by"]]
    )
    held: dict[str, int] = {}
    for _, step, who in moments:  # answers sort before claims at the same instant
        held[who] = held.get(who, 0) + step
        assert held[who] <= limits[who], who


async def test_night_shift(config: Config) -> None:
    scenario = _scenario(config, SCENARIOS / "night-shift.yaml")
    assert scenario.roster is not None
    sim, report = await simulate(scenario, config)
    roster = {s.id: s for s in scenario.roster.staff}
    _check_invariants(sim, report, lambda t: roster)
    tz = scenario.tz
    by_hour: dict[str, set[str]] = {"day": set(), "gap": set(), "night": set()}
    for q in report["questions"]:
        for o in q["offered"]:
            hour = dt.datetime.fromisoformat(o["at"]).astimezone(tz).hour
            part = "day" if 8 <= hour < 20 else "gap" if 20 <= hour < 22 else "night"
            by_hour[part].add(o["staff"])
    assert by_hour["night"] and by_hour["night"] <= {"owl1", "owl2"}
    assert by_hour["day"] and not by_hour["day"] & {"owl1", "owl2"}
    assert not by_hour["gap"], "nobody is on shift from 20:00 to 22:00"
    gap = [q for q in report["questions"]
           if 20 <= dt.datetime.fromisoformat(q["at"]).astimezone(tz).hour < 21]
    assert gap and all(q["escalations"] for q in gap)
    # nobody was there to take them until the night shift came on at 22:00 and picked them
    # from the waiting questions
    night_starts = dt.datetime(2026, 11, 27, 22, tzinfo=tz).timestamp()
    for q in gap:
        assert q["answered_by"] in ("owl1", "owl2"), q
        assert _t(q["claimed_at"]) >= night_starts
    assert report["summary"]["unanswered"] == 0


async def test_unmatched_language(config: Config) -> None:
    scenario = _scenario(config, SCENARIOS / "unmatched-language.yaml")
    sim, report = await simulate(scenario, config)
    roster = {s.id: s for s in config.roster.staff}
    _check_invariants(sim, report, lambda t: roster)
    spanish = [q for q in report["questions"] if q["customer"].startswith(("7700", "@cliente"))]
    english = [q for q in report["questions"] if q["customer"].startswith("@buyer")]
    assert spanish and english
    assert all(q["language"] == "es" for q in spanish)
    assert all(q["language"] == "en" for q in english)
    back = scenario.start + 2 * 3600  # lmoreno is back
    early = [o for q in spanish for o in q["offered"] if _t(o["at"]) < back]
    assert early and all(o["fallback"] for o in early), early
    away = {"jdiaz", "lmoreno", "dsantos"}
    assert not {o["staff"] for o in early} & away
    later = {o["staff"] for q in spanish for o in q["offered"] if _t(o["at"]) >= back}
    assert "lmoreno" in later


async def test_staff_removed_mid_day(config: Config) -> None:
    scenario = _scenario(config, SCENARIOS / "staff-removed.yaml")
    sim, report = await simulate(scenario, config)
    removed_at = scenario.start + 3600
    swapped_at = scenario.start + 2 * 3600
    first = {s.id: s for s in config.roster.staff}
    after_removal = {k: v for k, v in first.items() if k != "sokafor"}
    swap = next(c.roster for c in scenario.changes if c.kind == "roster")
    assert swap is not None
    new = {s.id: s for s in swap.staff}

    def roster_at(t: float) -> dict[str, StaffMember]:
        return first if t < removed_at else after_removal if t < swapped_at else new

    _check_invariants(sim, report, roster_at)
    questions = report["questions"]
    # sokafor held claims when removed; they went back on offer and others answered them
    held = [q for q in questions
            if any(c["staff"] == "sokafor" and _t(c["at"]) < removed_at for c in q["claims"])]
    assert held
    for q in held:
        assert q["answered_by"] not in (None, "sokafor"), q
        assert any(_t(o["at"]) >= removed_at for o in q["offered"]) or q["posted"]
    assert not any(o["staff"] == "sokafor" and _t(o["at"]) >= removed_at
                   for q in questions for o in q["offered"])
    # the new hire works once the roster file is swapped in, not before
    kkim = [c for q in questions for c in q["claims"] if c["staff"] == "kkim"]
    assert kkim and all(_t(c["at"]) >= swapped_at for c in kkim)


async def test_stand_in_keeps_x_posting_limit(config: Config, tmp_path: Path) -> None:
    # 150 answers on X within minutes: X allows 100 posts per 15 minutes (a burst of 100, then
    # one every 9 s), so the last answers wait in the outbox before they reach the customers
    path = _write(tmp_path, """
start: 2026-11-27T09:00:00-06:00
staff:
  default: {claims_after: 5s, answers_after: 30s}
questions:
  - {at: 0s, platform: x, customer: "@fan", text: "When does the store open?", repeat: 150,
     every: 1s}
""")
    _, report = await _run(config, path)
    waits = sorted(_t(q["delivered_at"]) - _t(q["answered_at"]) for q in report["questions"])
    assert len(waits) == 150
    assert waits[0] == 0 and waits[99] < 60  # the burst goes out as answered
    assert waits[-1] > 5 * 60  # ...the rest at X's pace
    assert report["summary"]["deliveries"]["x"]["longest_wait_s"] == pytest.approx(waits[-1])
    delivered = sorted(_t(q["delivered_at"]) for q in report["questions"])
    assert delivered[-1] - delivered[-2] == pytest.approx(9.0, abs=0.01)


def test_roster_file_of_an_event_is_checked_where_it_is(config: Config, tmp_path: Path) -> None:
    _write(tmp_path, "staff:\n  - {id: Bad Id, name: X, initials: XY}\n", "other.yaml")
    path = _write(tmp_path, """
start: 2026-11-27T09:00:00-06:00
questions:
  - {at: 0s, platform: x, customer: "@a", text: "hi"}
events:
  - {at: 1h, roster: other.yaml}
""")
    with pytest.raises(ConfigErrors) as exc:
        _scenario(config, path)
    assert str(exc.value).startswith(f"{tmp_path / 'other.yaml'}:2:10: staff[0].id: expected")


async def test_a_telegram_group_question_moved_to_private_is_opened_and_answered(
    config: Config, tmp_path: Path
) -> None:
    # a customer posts their own e-mail address in a Telegram group: the desk answers in the
    # group with a start link and holds the private messages; the simulated customer opens
    # the link half a minute later, and the held messages and the answer reach them
    path = _write(tmp_path, """
start: 2026-11-27T09:00:00-06:00
staff:
  default: {claims_after: 1m, answers_after: 2m}
questions:
  - {at: 0s, platform: telegram, customer: "4242", private: false,
     text: "My order never came, write to me at sam.lee@example.org"}
""")
    sim, report = await _run(config, path)
    (q,) = report["questions"]
    assert q["answered_by"] and q["state"] in ("answered", "resolved", "moved_to_dm")
    telegram = report["summary"]["deliveries"]["telegram"]
    assert telegram["held"] == 0 and telegram["failed"] == 0
    sent = sim.platforms["telegram"].local.sent()  # type: ignore[attr-defined]
    private = [m for m in sent if m.chat == "dm:4242"]
    assert any(m.text.startswith("Hi @4242") for m in private)  # the opener, released
    assert any(m.text.startswith("Thanks for asking!") for m in private)  # the answer
