"""`helpforce report`: counted from the event log the way `questions show` presents each
question. A hand-counted fixture checks every figure; a simulated day checks the report
against the questions behind it; the HTML report is one self-contained file whose charts
carry the plotted data (and render in a real headless browser where one is installed)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import statistics
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE_CONFIG
from helpforce.adapters.local.scenario import load_scenario
from helpforce.adapters.local.simulate import SimOptions, factories, load_sim_config, simulate
from helpforce.cli import main
from helpforce.config import Config
from helpforce.queries import show_question
from helpforce.report import Period, build, parse_when, percentile
from helpforce.store import Store, Tx

T0 = 1_736_928_000.0  # 2025-01-15 08:00 UTC, 02:00 in Chicago (routing.yaml's timezone)
DAY = 86400.0
SVG = "{http://www.w3.org/2000/svg}"


# -- a hand-counted fixture ------------------------------------------------------------------


def _q(qid: int, platform: str, created: float, *, tags: tuple[str, ...] = (),
       route: str = "default", state: str = "answered", first: float | None = None,
       resolved: float | None = None, claimed_by: str | None = None) -> dict[str, Any]:
    return {"id": qid, "platform": platform, "customer_id": f"c{qid}",
            "customer_handle": f"cust{qid}", "conversation": "help", "visibility": "public",
            "root_message": f"m{qid}", "state": state, "claimed_by": claimed_by,
            "first_answer_at": first, "resolved_at": resolved, "created_at": created,
            "updated_at": created, "tags": json.dumps(list(tags)), "language": "en",
            "route": route}


def _e(qid: int | None, at: float, kind: str, actor: str | None = None,
       **data: Any) -> dict[str, Any]:
    return {"question_id": qid, "at": at, "kind": kind, "actor": actor, "platform": "local",
            "data": json.dumps(data, sort_keys=True)}


QUESTIONS = [
    # 1: X, billing (15m / 24h): jdiaz claims, answers in 5 min, resolves in 1 h
    _q(1, "x", T0, tags=("billing",), route="billing", state="resolved", first=T0 + 300,
       resolved=T0 + 3600, claimed_by="jdiaz"),
    # 2: Telegram, orders (default route, 30m / 48h): sokafor's lease runs out, lmoreno takes
    # it; achen answers while lmoreno holds it (a duplicate); lmoreno is stopped by a rule,
    # moves to DM and answers at exactly 30 min; never resolved
    _q(2, "telegram", T0 + 600, tags=("orders",), first=T0 + 2400, claimed_by="lmoreno"),
    # 3: X, next day: nobody answers; escalated at its first-response deadline
    _q(3, "x", T0 + DAY, state="escalated"),
    # 4: local, billing and orders (billing route): jdiaz is stopped, praman overrides,
    # answered after 20 min (over 15m), resolved
    _q(4, "local", T0 + DAY + 3600, tags=("billing", "orders"), route="billing",
       state="resolved", first=T0 + DAY + 3600 + 1200, resolved=T0 + DAY + 3600 + 4000,
       claimed_by="jdiaz"),
    # 5: Discord, asked out of hours (the desk opens an hour later): praman answers 10 min
    # after opening, 70 min after it was asked
    _q(5, "discord", T0 + 2 * DAY, first=T0 + 2 * DAY + 4200, claimed_by="praman"),
    # 6: before the period: not counted
    _q(6, "x", T0 - 3600, state="resolved", first=T0 - 3000, resolved=T0 - 2000,
       claimed_by="jdiaz"),
]

EVENTS = [
    _e(6, T0 - 3600, "received", "x:6"),
    _e(6, T0 - 3500, "offered", staff=["jdiaz"], channels=[]),
    _e(6, T0 - 3400, "claimed", "jdiaz"),
    _e(6, T0 - 3000, "answered", "jdiaz", first=True),
    _e(6, T0 - 2900, "policy_verdict", "jdiaz", action="block", rule="tone.banned-phrase",
       rules=["tone.banned-phrase"], after_the_fact=False),
    _e(1, T0, "received", "x:1"),
    _e(1, T0, "offered", staff=["jdiaz", "praman"], channels=["x:staff"], wave=1),
    _e(1, T0 + 60, "claimed", "jdiaz"),
    _e(1, T0 + 300, "answered", "jdiaz", first=True),
    _e(1, T0 + 3600, "resolved", "jdiaz"),
    _e(None, T0 + 500, "policy_verdict", None, action="warn", rule="signature.direct",
       rules=["signature.direct"], after_the_fact=True),
    _e(2, T0 + 600, "received", "telegram:2"),
    _e(2, T0 + 600, "offered", staff=["sokafor", "lmoreno"], channels=[], wave=1),
    _e(2, T0 + 700, "claimed", "sokafor"),
    _e(2, T0 + 720, "offered", staff=["achen"], channels=[], wave=2),
    _e(2, T0 + 1900, "lease_expired", None, staff="sokafor"),
    _e(2, T0 + 2000, "claimed", "lmoreno"),
    _e(2, T0 + 2100, "answered", "achen", duplicate=True, held_by="lmoreno"),
    _e(2, T0 + 2200, "policy_verdict", "lmoreno", action="block",
       rule="privacy.ask-in-public", rules=["privacy.ask-in-public"], after_the_fact=False),
    _e(2, T0 + 2300, "moved_to_dm", "lmoreno"),
    _e(2, T0 + 2400, "answered", "lmoreno", first=True),
    _e(3, T0 + DAY, "received", "x:3"),
    _e(3, T0 + DAY + 1800, "escalated", reason="no first response within 30 min",
       sla="first_response", to=["jdiaz"]),
    _e(4, T0 + DAY + 3600, "received", "local:4"),
    _e(4, T0 + DAY + 3600, "offered", staff=["jdiaz"], channels=[], wave=1),
    _e(4, T0 + DAY + 3700, "claimed", "jdiaz"),
    _e(4, T0 + DAY + 3800, "policy_verdict", "jdiaz", action="block",
       rule="privacy.data-in-public", rules=["privacy.data-in-public"], after_the_fact=False),
    _e(4, T0 + DAY + 4700, "policy_override", "praman", rules=["privacy.data-in-public"],
       reason="customer asked", author="jdiaz"),
    _e(4, T0 + DAY + 4800, "answered", "jdiaz", first=True),
    _e(4, T0 + DAY + 7600, "resolved", "jdiaz"),
    _e(5, T0 + 2 * DAY, "received", "discord:5"),
    _e(5, T0 + 2 * DAY, "acknowledged", opens_at=T0 + 2 * DAY + 3600,
       expect_by=T0 + 2 * DAY + 5400),
    _e(5, T0 + 2 * DAY + 3900, "claimed", "praman"),
    _e(5, T0 + 2 * DAY + 4200, "answered", "praman", first=True),
]

PERIOD = Period(T0, T0 + 3 * DAY, "America/Chicago")
NOW = T0 + 3 * DAY + 3600


async def _fixture(path: Path) -> None:
    async with Store(path) as store:
        async def step(tx: Tx) -> None:
            for q in QUESTIONS:
                tx.insert("questions", q)
            for e in EVENTS:
                tx.insert("events", e)

        await store.transaction(step)


@pytest.fixture
async def fixture_db(tmp_path: Path) -> Path:
    path = tmp_path / "report.db"
    await _fixture(path)
    return path


async def _report(path: Path, config: Config, **kw: Any) -> dict[str, Any]:
    async with Store(path, readonly=True) as store:
        return await build(store, config, PERIOD, NOW, **kw)


async def test_report_matches_the_hand_counted_fixture(
    fixture_db: Path, example_config: Config,
) -> None:
    r = await _report(fixture_db, example_config)
    assert r["questions"] == 5
    assert r["by_platform"] == {"discord": 1, "local": 1, "telegram": 1, "x": 2}
    assert r["by_tag"] == {"(none)": 2, "billing": 2, "orders": 2}
    assert r["by_state"] == {"answered": 2, "escalated": 1, "resolved": 2}
    assert r["volume"] == {"2025-01-15": {"telegram": 1, "x": 1},
                           "2025-01-16": {"local": 1, "x": 1},
                           "2025-01-17": {"discord": 1}, "2025-01-18": {}}
    # first responses 300, 1200, 1800, 4200 s: nearest rank p50 = 1200, p90 = 4200
    assert r["first_response"] == {
        "n": 4, "p50_s": 1200.0, "p90_s": 4200.0, "max_s": 4200.0,
        # met: #1 (5 of 15 min), #2 (30 of 30), #5 (10 min after opening);
        # missed: #3 (never, deadline passed), #4 (20 of 15 min)
        "sla": {"met": 3, "missed": 2, "pending": 0, "met_percent": 60.0}}
    assert r["resolution"] == {
        "n": 2, "p50_s": 3600.0, "p90_s": 4000.0, "max_s": 4000.0,
        # met: #1, #4 (within 24 h); missed: #2, #3 (48 h passed); pending: #5 (47 h left)
        "sla": {"met": 2, "missed": 2, "pending": 1, "met_percent": 50.0}}
    assert r["sla_by_bucket"]["2025-01-15"] == {"met": 2, "missed": 0, "pending": 0,
                                                "met_percent": 100.0}
    assert r["sla_by_bucket"]["2025-01-16"]["met_percent"] == 0.0
    assert r["unanswered_ids"] == [3]
    assert r["escalated_ids"] == [3]
    assert r["escalations"] == {"first_response": 1}
    assert r["staff"] == {
        "jdiaz": {"offered": 2, "claimed": 2, "answered": 2, "first_responses": 2,
                  "median_response_s": 750.0, "first_response_sla_met": 1,
                  "leases_expired": 0, "policy_blocks": 1, "overrides": 0,
                  "duplicate_answers": 0},
        "lmoreno": {"offered": 1, "claimed": 1, "answered": 1, "first_responses": 1,
                    "median_response_s": 1800.0, "first_response_sla_met": 1,
                    "leases_expired": 0, "policy_blocks": 1, "overrides": 0,
                    "duplicate_answers": 0},
        "praman": {"offered": 1, "claimed": 1, "answered": 1, "first_responses": 1,
                   "median_response_s": 4200.0, "first_response_sla_met": 1,
                   "leases_expired": 0, "policy_blocks": 0, "overrides": 1,
                   "duplicate_answers": 0},
        "sokafor": {"offered": 1, "claimed": 1, "answered": 0, "first_responses": 0,
                    "median_response_s": None, "first_response_sla_met": 0,
                    "leases_expired": 1, "policy_blocks": 0, "overrides": 0,
                    "duplicate_answers": 0},
        "achen": {"offered": 1, "claimed": 0, "answered": 0, "first_responses": 0,
                  "median_response_s": None, "first_response_sla_met": 0,
                  "leases_expired": 0, "policy_blocks": 0, "overrides": 0,
                  "duplicate_answers": 1},
    }
    assert list(r["staff"]) == ["jdiaz", "lmoreno", "praman", "sokafor", "achen"]
    assert r["policy_verdicts"] == [
        {"rule": "privacy.ask-in-public", "action": "block", "count": 1, "after_the_fact": 0},
        {"rule": "privacy.data-in-public", "action": "block", "count": 1, "after_the_fact": 0},
        {"rule": "signature.direct", "action": "warn", "count": 1, "after_the_fact": 1},
    ]
    assert r["moved_to_dm"] == {"questions": 1, "question_ids": [2], "by_staff": 1,
                                "via_dm": 1}
    assert r["routes"]["billing"] == {"questions": 2, "first_response_s": 900.0,
                                      "resolution_s": 86400.0}


async def test_every_counted_question_reads_as_questions_show_shows_it(
    fixture_db: Path, example_config: Config,
) -> None:
    r = await _report(fixture_db, example_config)
    async with Store(fixture_db, readonly=True) as store:
        shown = [await show_question(store, q["id"]) for q in r["question_list"]]
    _cross_check(r, shown)


def _cross_check(r: dict[str, Any], shown: list[dict[str, Any] | None]) -> None:
    """The report's per-question and per-staff figures, recounted from `questions show`."""
    staff: dict[str, dict[str, int]] = {}
    firsts: list[float] = []
    for q, s in zip(r["question_list"], shown, strict=True):
        assert s is not None
        assert q["offered_to"] == s["offered_to"]
        assert q["claimed_by"] == s["claimed_by_history"]
        assert q["answered_by"] == s["answered_by"]
        assert q["state"] == s["state"] and q["platform"] == s["platform"]
        if s["first_answer_at"] is None:
            assert q["first_response_s"] is None and q["id"] in r["unanswered_ids"]
        else:
            assert q["first_response_s"] == pytest.approx(s["first_answer_at"] - s["created_at"],
                                                          abs=1e-3)
            firsts.append(s["first_answer_at"] - s["created_at"])
        escalated = any(e["kind"] == "escalated" for e in s["events"])
        assert escalated == (q["id"] in r["escalated_ids"])
        for who in s["offered_to"]:
            staff.setdefault(who, {}).setdefault("offered", 0)
            staff[who]["offered"] += 1
        for who in set(s["claimed_by_history"]):
            staff.setdefault(who, {}).setdefault("claimed", 0)
            staff[who]["claimed"] += 1
        for who in s["answered_by"]:
            staff.setdefault(who, {}).setdefault("answered", 0)
            staff[who]["answered"] += 1
    for who, counts in staff.items():
        for key, n in counts.items():
            assert r["staff"][who][key] == n, (who, key)
    assert r["first_response"]["n"] == len(firsts)
    assert r["first_response"]["p50_s"] == pytest.approx(percentile(firsts, 50), abs=1e-3)
    assert r["first_response"]["max_s"] == pytest.approx(max(firsts, default=0), abs=1e-3)
    assert len(r["question_list"]) == r["questions"]


async def test_filters_by_platform_and_tag(fixture_db: Path, example_config: Config) -> None:
    x = await _report(fixture_db, example_config, platform="x")
    assert [q["id"] for q in x["question_list"]] == [1, 3]
    assert x["filters"] == {"platform": "x", "tag": None}
    # loose verdicts belong to no platform: only in the unfiltered report
    assert [v["rule"] for v in x["policy_verdicts"]] == []
    orders = await _report(fixture_db, example_config, tag="orders")
    assert [q["id"] for q in orders["question_list"]] == [2, 4]
    assert orders["staff"]["jdiaz"]["answered"] == 1


def test_hourly_buckets_for_short_periods_and_dates_in_the_zone() -> None:
    p = Period(T0, T0 + 3 * 3600, "America/Chicago")
    assert p.buckets() == ["2025-01-15 02:00", "2025-01-15 03:00", "2025-01-15 04:00"]
    assert parse_when("2025-01-15", "America/Chicago") == T0 - 2 * 3600
    assert parse_when("2025-01-15", "America/Chicago", end=True) == T0 + 22 * 3600
    assert parse_when("2025-01-15T08:00:00+00:00", "America/Chicago") == T0
    with pytest.raises(ValueError, match="expected a date"):
        parse_when("15/01/2027", "UTC")


# -- the command -------------------------------------------------------------------------------


def test_report_command_text_json_and_errors(fixture_db: Path) -> None:
    runner = CliRunner()
    base = ["report", "--db", str(fixture_db), "--config", str(EXAMPLE_CONFIG),
            "--from", "2025-01-15T08:00:00+00:00", "--to", "2025-01-18T08:00:00+00:00"]
    text = runner.invoke(main, base)
    assert text.exit_code == 0, text.output
    assert "Questions asked 2025-01-15T02:00:00-06:00" in text.output
    assert ": 5" in text.output.splitlines()[0]
    assert "Unanswered (1): #3" in text.output
    assert re.search(r"first response\s+4\s+20m00s\s+1h10m\s+1h10m\s+3\s+2\s+0\s+60.0%",
                     text.output), text.output
    as_json = runner.invoke(main, [*base, "--json", "--platform", "x"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["questions"] == 2
    both = runner.invoke(main, ["report", "--db", str(fixture_db), "--since", "7d",
                                "--from", "2025-01-01"])
    assert both.exit_code == 2 and "not both" in both.output
    bad = runner.invoke(main, ["report", "--db", str(fixture_db), "--from", "yesterday"])
    assert bad.exit_code == 2 and "expected a date" in bad.output
    backwards = runner.invoke(main, ["report", "--db", str(fixture_db), "--from", "2025-02-01",
                                     "--to", "2025-01-01"])
    assert backwards.exit_code == 2 and "ends before it starts" in backwards.output
    missing = runner.invoke(main, ["report", "--db", str(fixture_db.parent / "none.db")])
    assert missing.exit_code == 1 and "no database here" in missing.output


# -- a simulated day -------------------------------------------------------------------------

SCENARIO = """
start: 2026-11-27T09:00:00-06:00
until: 6h
staff:
  default: {claims_after: 90s, answers_after: 4m, resolves_after: 20m}
  sokafor: {claims_after: 20s, answers_after: 2m}
  tgirard: {claims_after: null}
questions:
  - {at: 0s, platform: x, customer: "@alice", text: "My new TV won't turn on", repeat: 6,
     every: 25m}
  - {at: 5m, platform: telegram, customer: "1001", text: "I was charged twice, refund?",
     repeat: 5, every: 40m}
  - {at: 12m, platform: discord, customer: "2002", text: "Where is my order? tracking is stuck",
     repeat: 4, every: 50m}
"""


@pytest.fixture(scope="module")
def simulated_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    import asyncio

    tmp = tmp_path_factory.mktemp("sim")
    scenario_path = tmp / "day.yaml"
    scenario_path.write_text(SCENARIO)
    config = load_sim_config(EXAMPLE_CONFIG)
    scenario = load_scenario(scenario_path, roster=config.roster, factories=factories())
    db = tmp / "day.db"
    _, sim_report = asyncio.run(simulate(scenario, config, SimOptions(db=str(db), timeline=0)))
    yield db, sim_report


async def test_a_simulated_day_reads_true_against_its_questions(
    simulated_day: tuple[Path, Any], example_config: Config,
) -> None:
    db, sim = simulated_day
    start = dt.datetime.fromisoformat("2026-11-27T09:00:00-06:00").timestamp()
    period = Period(start, start + DAY, example_config.routing.timezone)
    async with Store(db, readonly=True) as store:
        r = await build(store, example_config, period, start + 2 * DAY)
        shown = [await show_question(store, q["id"]) for q in r["question_list"]]
    assert r["questions"] == 15 == sim["summary"]["questions"]
    assert r["by_platform"] == {"discord": 4, "telegram": 5, "x": 6}
    _cross_check(r, shown)
    # the simulator's own account of the day agrees
    by_id = {q["id"]: q for q in sim["questions"]}
    for q in r["question_list"]:
        mine = by_id[q["id"]]
        assert (q["answered_by"][0] if q["answered_by"] else None) == mine["answered_by"]
        if mine["first_response_s"] is not None:
            assert q["first_response_s"] == pytest.approx(mine["first_response_s"], abs=1e-3)
    assert len(r["unanswered_ids"]) == sim["summary"]["unanswered"]
    assert r["first_response"]["p50_s"] == pytest.approx(
        sim["summary"]["first_response"]["p50_s"], abs=1e-3)
    # staff counts sum to the questions they cover
    answered = sum(1 for q in r["question_list"] if q["answered_by"])
    assert sum(s["first_responses"] for s in r["staff"].values()) == answered
    assert r["staff"]["tgirard"]["claimed"] == 0 if "tgirard" in r["staff"] else True
    medians = [s["median_response_s"] for s in r["staff"].values() if s["first_responses"]]
    assert all(m is not None and m > 0 for m in medians)


# -- the HTML report -----------------------------------------------------------------------------


def _svgs(page: str) -> dict[str, ET.Element]:
    out = {}
    for m in re.finditer(r"<svg .*?</svg>", page, flags=re.S):
        root = ET.fromstring(m.group(0))
        out[root.attrib["aria-label"]] = root
    return out


def _bars(svg: ET.Element, prefix: str) -> dict[str, float]:
    """The height (in SVG units) of every bar whose id starts with ``prefix``."""
    out = {}
    for g in svg.iter(f"{SVG}g"):
        gid = g.attrib.get("id", "")
        if not gid.startswith(prefix):
            continue
        path = g.find(f"{SVG}path")
        assert path is not None, gid
        nums = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", path.attrib["d"])]
        ys = nums[1::2]
        xs = nums[0::2]
        out[gid] = (max(ys) - min(ys)) if prefix != "hf-leader-" else (max(xs) - min(xs))
    return out


def _proportional(heights: dict[str, float], values: dict[str, float]) -> None:
    assert set(heights) == set(values), (sorted(heights), sorted(values))
    scale = [heights[k] / values[k] for k in values if values[k]]
    assert scale, "nothing plotted"
    for k, v in values.items():
        assert heights[k] == pytest.approx(v * statistics.median(scale), rel=0.02, abs=0.05), k


async def test_html_report_is_self_contained_and_its_charts_hold_the_data(
    simulated_day: tuple[Path, Any], example_config: Config,
) -> None:
    pytest.importorskip("matplotlib")
    from helpforce.charts import histogram_bins
    from helpforce.report_html import render

    db, _ = simulated_day
    start = dt.datetime.fromisoformat("2026-11-27T09:00:00-06:00").timestamp()
    period = Period(start - 3600, start + DAY, example_config.routing.timezone)
    async with Store(db, readonly=True) as store:
        r = await build(store, example_config, period, start + 2 * DAY)
    page = render(r)
    # self-contained: no script, nothing fetched; the only URLs are XML namespace names
    assert "<script" not in page and "<img" not in page and "<link" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    # references stay inside the page (SVG's <use xlink:href="#id">)
    refs = re.findall(r"\b(?:src|href)=\"([^\"]*)\"", page)
    assert refs and all(ref.startswith("#") for ref in refs), set(refs)
    assert "src=" not in page
    charts = _svgs(page)
    assert set(charts) == {"response-times", "volume", "sla", "leaderboard"}
    # volume: one bar per platform and hour, as high as its count
    buckets = list(r["volume"])
    _proportional(_bars(charts["volume"], "hf-volume-"), {
        f"hf-volume-{p}-{i}": r["volume"][b].get(p, 0)
        for p in r["by_platform"] for i, b in enumerate(buckets)})
    # response times: the histogram of the report's own first-response times
    _, counts = histogram_bins(r["first_response_times_s"])
    assert sum(counts) == r["first_response"]["n"] > 0
    _proportional(_bars(charts["response-times"], "hf-hist-"),
                  {f"hf-hist-{i}": c for i, c in enumerate(counts)})
    # SLA met per hour, in percent, for the hours that had judged questions
    sla = {f"hf-sla-{i}": r["sla_by_bucket"][b]["met_percent"]
           for i, b in enumerate(buckets) if r["sla_by_bucket"][b]["met_percent"] is not None}
    _proportional(_bars(charts["sla"], "hf-sla-"), sla)
    texts = {t.text for t in charts["sla"].iter(f"{SVG}text")}
    for b in buckets:
        d = r["sla_by_bucket"][b]
        if d["met"] + d["missed"]:
            assert f"{d['met']}/{d['met'] + d['missed']}" in texts
    # the leaderboard: staff by questions answered
    answered = {f"hf-leader-{s}": d["answered"] for s, d in r["staff"].items() if d["answered"]}
    _proportional(_bars(charts["leaderboard"], "hf-leader-"), answered)
    # and the tables carry the same figures
    assert f"<td>{r['first_response']['n']}</td>" in page


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_html_report_renders_its_charts_in_a_headless_browser(
    fixture_db: Path, example_config: Config, tmp_path: Path,
) -> None:
    import asyncio

    pytest.importorskip("matplotlib")
    pil = pytest.importorskip("PIL.Image")
    browser = _chromium()
    if browser is None:
        pytest.skip("no headless browser (chromium) installed")
    from helpforce.charts import PLATFORM_COLOURS
    from helpforce.report_html import render

    page = tmp_path / "report.html"
    page.write_text(render(asyncio.run(_report(fixture_db, example_config))), encoding="utf-8")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
         "--window-size=1100,2600", f"--screenshot={shot}", page.as_uri()],
        check=True, capture_output=True, timeout=60,
    )
    image = pil.open(shot).convert("RGB")
    colours = {c for _, c in image.getcolors(maxcolors=1 << 24)}

    def near(hex_colour: str) -> bool:
        want = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        return any(sum(abs(a - b) for a, b in zip(c, want, strict=True)) < 12 for c in colours)

    # the volume chart's bars in each platform's colour were drawn
    for platform in ("telegram", "discord"):
        assert near(PLATFORM_COLOURS[platform]), platform
