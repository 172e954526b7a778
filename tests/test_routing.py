"""Routing end to end on the real desk, store, outbox and timer loop, with a manual clock:
matching, availability, fairness, waves, leases, SLAs, after-hours, takeover, offboarding."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpforce.adapters.local.platform import LocalPlatform
from helpforce.adapters.local.testing import DeskHarness
from helpforce.clock import ManualClock
from helpforce.config import Config, load_config
from helpforce.models import Account, Inbound, Visibility
from helpforce.timers import TimerLoop

ROOT = Path(__file__).resolve().parent.parent
#: Wednesday 2026-11-25 12:00 UTC
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()

STAFF: list[dict[str, Any]] = [
    {"id": "ana", "name": "Ana A", "initials": "AA", "skills": ["billing"],
     "languages": ["en", "es"], "accounts": {"local": "u-ana"}, "notify": ["local"]},
    {"id": "ben", "name": "Ben B", "initials": "BB", "skills": ["billing"],
     "languages": ["en"], "accounts": {"local": "u-ben"}, "notify": ["local"]},
    {"id": "cho", "name": "Cho C", "initials": "CC", "skills": ["tv"],
     "languages": ["en"], "accounts": {"local": "u-cho"}, "notify": ["local"]},
    # on nights only (UTC): not available at noon
    {"id": "dee", "name": "Dee D", "initials": "DD", "skills": ["billing"],
     "languages": ["en", "es"], "accounts": {"local": "u-dee"}, "notify": ["local"],
     "shifts": [{"days": "daily", "from": "22:00", "to": "6:00"}]},
    {"id": "lee", "name": "Lee L", "initials": "LL", "role": "lead",
     "languages": ["en"], "accounts": {"local": "u-lee"}, "notify": ["local"]},
]

ROUTING: dict[str, Any] = {
    "timezone": "UTC",
    "languages": {"default": "en", "detect": False},
    "channels": [{"platform": "local", "conversation": "ayuda", "language": "es"}],
    "tags": [{"tag": "billing", "keywords": ["refund", "invoice"]},
             {"tag": "tv", "keywords": ["tv"]}],
    "routes": [
        {"name": "billing", "match": {"tags": ["billing"]}, "strategy": "waves",
         "wave_size": 1, "wave_interval": "2m", "max_waves": 2, "staff_channel": False,
         "fallback": ["leads"], "first_response": "10m", "escalation_grace": "5m",
         "lease": "10m", "lease_warning": "2m"},
        {"name": "default", "strategy": "broadcast", "staff_channel": True,
         "first_response": "15m"},
    ],
}


def make_config(
    tmp_path: Path, staff: list[dict[str, Any]] | None = None,
    routing: dict[str, Any] | None = None,
) -> Config:
    cfg = tmp_path / "config"
    cfg.mkdir(parents=True, exist_ok=True)
    for name in ("helpforce.yaml", "policies.yaml"):
        shutil.copy(ROOT / "config" / name, cfg / name)
    settings = yaml.safe_load((cfg / "helpforce.yaml").read_text())
    settings["platforms"]["local"]["public_channels"] = ["help", "ayuda"]
    (cfg / "helpforce.yaml").write_text(yaml.safe_dump(settings))
    (cfg / "roster.yaml").write_text(yaml.safe_dump({"staff": staff or STAFF}))
    (cfg / "routing.yaml").write_text(yaml.safe_dump(routing or ROUTING))
    return load_config(cfg, env={})


class Run:
    def __init__(self, h: DeskHarness, clock: ManualClock) -> None:
        self.h = h
        self.clock = clock

    async def settle(self) -> None:
        """Every posted event handled, every due timer fired, every due message sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            await self.h.settle()
            timers = self.h.app.timers
            assert timers is not None
            due = await self.h.app.desk.next_due()  # type: ignore[union-attr]
            if timers.idle and (due is None or due > self.clock.now()):
                await self.h.settle()
                return
            assert loop.time() < deadline, "timers did not settle"
            await asyncio.sleep(0.005)

    async def later(self, seconds: float) -> None:
        await self.clock.advance(seconds)
        await self.settle()

    def offers_to(self) -> list[str]:
        """Staff user ids who got a direct offer, in order."""
        return [m.chat.removeprefix("dm:") for m in self.h.local.sent()
                if m.chat.startswith("dm:u-") and m.buttons
                and m.buttons[0][1].startswith("claim:")]

    def dm(self, user: str) -> list[str]:
        return [m.text for m in self.h.local.sent(f"dm:{user}")]

    async def events(self, qid: int, kind: str) -> list[dict[str, Any]]:
        rows = await self.h.store.fetchall(
            "SELECT actor, data, at FROM events WHERE question_id = ? AND kind = ? ORDER BY id",
            (qid, kind),
        )
        return [{"actor": r[0], "at": r[2], **json.loads(r[1])} for r in rows]


@pytest.fixture
async def run(tmp_path: Path) -> Any:
    clock = ManualClock(NOON)
    async with DeskHarness(make_config(tmp_path), tmp_path / "hf.db", clock=clock) as h:
        yield Run(h, clock)


async def test_a_question_is_tagged_routed_and_offered_to_available_matching_staff(
    run: Run,
) -> None:
    run.h.customer("cust1", "help", "I want a refund for my invoice")
    await run.settle()
    q = await run.h.question(1)
    assert json.loads(q["tags"]) == ["billing"] and q["route"] == "billing"
    # wave_size 1: the first of ana/ben (billing, en); never cho (tv) or dee (off shift)
    assert run.offers_to() == ["u-ana"]
    offered = await run.events(1, "offered")
    assert offered[0]["staff"] == ["ana"] and offered[0]["wave"] == 1
    assert offered[0]["channels"] == []  # staff_channel: false on this route


async def test_waves_widen_while_unclaimed_and_stop_at_max_waves(run: Run) -> None:
    run.h.customer("cust1", "help", "refund please")
    await run.settle()
    assert run.offers_to() == ["u-ana"]
    await run.later(119)
    assert run.offers_to() == ["u-ana"]
    await run.later(1)
    assert run.offers_to() == ["u-ana", "u-ben"]
    waves = [e["wave"] for e in await run.events(1, "offered")]
    assert waves == [1, 2]
    await run.later(600)  # max_waves 2: nobody else, whatever the time
    assert run.offers_to() == ["u-ana", "u-ben"]


async def test_a_claim_stops_the_waves(run: Run) -> None:
    run.h.customer("cust1", "help", "refund please")
    await run.settle()
    run.h.staff("u-ana", "/claim 1")
    await run.settle()
    await run.later(130)
    assert run.offers_to() == ["u-ana"]


async def test_language_from_channel_and_fallback_to_leads(run: Run) -> None:
    # Spanish billing: ana speaks es; with ana away, nobody available matches -> leads
    run.h.staff("u-ana", "/away")
    await run.settle()
    run.h.customer("cust1", "ayuda", "Quiero un refund de mi invoice")
    await run.settle()
    q = await run.h.question(1)
    assert q["language"] == "es"
    offered = await run.events(1, "offered")
    assert offered[0]["staff"] == ["lee"] and offered[0]["fallback"] == "leads"
    assert run.offers_to() == ["u-lee"]


async def test_self_service_status_controls_offers(run: Run) -> None:
    run.h.staff("u-ana", "/offshift")  # the same as /off
    run.h.staff("u-dee", "/onshift")  # on nights by schedule, but says they are on now
    await run.settle()
    assert any("You are off" in t for t in run.dm("u-ana"))
    run.h.customer("cust1", "help", "refund please")
    await run.settle()
    # least loaded then longest idle: ben and dee are level, ben comes first in the roster
    assert run.offers_to() == ["u-ben"]
    run.h.customer("cust2", "help", "another refund")
    await run.settle()
    assert run.offers_to() == ["u-ben", "u-dee"]
    status = await run.h.store.fetchall("SELECT staff_id, status FROM presence ORDER BY 1")
    assert [tuple(r) for r in status] == [("ana", "off"), ("dee", "on")]


async def test_least_loaded_first(run: Run) -> None:
    run.h.customer("cust1", "help", "refund one")
    await run.settle()
    run.h.staff("u-ana", "/claim 1")  # ana now holds one unanswered claim
    await run.settle()
    run.h.customer("cust2", "help", "refund two")
    run.h.customer("cust3", "help", "refund three")
    await run.settle()
    # ana holds #1 unanswered: ben (no claim) gets #2 and, though just offered one, #3 too
    # (by longest idle alone, #3 would have gone back to ana)
    assert run.offers_to() == ["u-ana", "u-ben", "u-ben"]


async def test_lease_warns_then_releases_and_reoffers(run: Run) -> None:
    run.h.customer("cust1", "help", "refund please")
    await run.settle()
    run.h.staff("u-ana", "/claim 1")
    await run.settle()
    await run.later(8 * 60 - 1)
    assert not any("runs out" in t for t in run.dm("u-ana"))
    await run.later(1)
    assert any("#1: your claim runs out in 2 min" in t for t in run.dm("u-ana"))
    await run.later(2 * 60)
    q = await run.h.question(1)
    assert q["claimed_by"] is None and q["state"] == "offered"
    assert [e["staff"] for e in await run.events(1, "lease_expired")] == ["ana"]
    assert any("ran out unanswered" in t for t in run.dm("u-ana"))
    # offered again, not to the one whose lease ran out
    assert run.offers_to()[-1] == "u-ben"


async def test_answering_ends_the_lease(run: Run) -> None:
    run.h.customer("cust1", "help", "refund please")
    await run.settle()
    run.h.staff("u-ana", "/answer 1 Refund is on its way")
    await run.settle()
    await run.later(3600)
    q = await run.h.question(1)
    assert q["claimed_by"] == "ana" and q["state"] == "answered"
    assert await run.events(1, "lease_expired") == []
    assert await run.events(1, "escalated") == []


async def test_unclaimed_question_escalates_to_leads_at_its_deadline(run: Run) -> None:
    run.h.customer("cust1", "help", "refund please")
    await run.settle()
    await run.later(10 * 60 - 1)
    assert await run.events(1, "escalated") == []
    await run.later(1)
    escalated = await run.events(1, "escalated")
    assert len(escalated) == 1 and escalated[0]["to"] == ["lee"]
    assert escalated[0]["sla"] == "first_response"
    assert escalated[0]["at"] == NOON + 600
    assert (await run.h.question(1))["state"] == "escalated"
    assert any("#1 · local · @cust1 needs a lead: no first response within 10 min" in t
               for t in run.dm("u-lee"))
    # still claimable: the lead takes it
    run.h.staff("u-lee", "/claim 1")
    await run.settle()
    assert (await run.h.question(1))["claimed_by"] == "lee"


async def test_claimed_unanswered_warns_the_claimer_then_leads(tmp_path: Path) -> None:
    routing = json.loads(json.dumps(ROUTING))
    routing["routes"][0]["lease"] = "1h"
    clock = ManualClock(NOON)
    async with DeskHarness(make_config(tmp_path, routing=routing), tmp_path / "hf.db",
                           clock=clock) as h:
        run = Run(h, clock)
        h.customer("cust1", "help", "refund please")
        await run.settle()
        h.staff("u-ana", "/claim 1")
        await run.settle()
        await run.later(600)
        warned = await run.events(1, "warned")
        assert [w["to"] for w in warned] == [["ana"]]
        assert await run.events(1, "escalated") == []
        await run.later(300)
        escalated = await run.events(1, "escalated")
        assert len(escalated) == 1 and escalated[0]["to"] == ["lee"]
        q = await h.question(1)
        assert q["claimed_by"] == "ana" and q["state"] == "claimed"  # still held


async def test_broadcast_posts_once_with_the_audience(run: Run) -> None:
    run.h.customer("cust1", "help", "my tv is broken")
    await run.settle()
    offered = await run.events(1, "offered")
    assert offered[0]["channels"] == ["local:staff"] and offered[0]["staff"] == []
    # tv matches cho only (dee is off shift)
    assert offered[0]["audience"] == 1
    assert len(run.h.local.sent("staff")) == 1
    assert run.offers_to() == []


async def test_after_hours_customers_are_told_when_to_expect_an_answer(tmp_path: Path) -> None:
    routing = json.loads(json.dumps(ROUTING))
    routing["business_hours"] = [{"days": "mon-fri", "from": "9:00", "to": "17:00"}]
    evening = NOON + 8 * 3600  # Wednesday 20:00 UTC
    clock = ManualClock(evening)
    async with DeskHarness(make_config(tmp_path, routing=routing), tmp_path / "hf.db",
                           clock=clock) as h:
        run = Run(h, clock)
        h.customer("cust1", "help", "refund please")
        await run.settle()
        ack = [m.text for m in h.local.sent("help")]
        assert len(ack) == 1 and "back at Thu 09:00" in ack[0]
        assert "by about Thu 09:10" in ack[0]
        acked = await run.events(1, "acknowledged")
        opens = datetime(2026, 11, 26, 9, 0, tzinfo=UTC).timestamp()
        assert acked[0]["opens_at"] == opens
        due = await h.store.fetchone(
            "SELECT due_at FROM timers WHERE question_id = 1 AND kind = 'first_response'")
        assert due is not None and due[0] == opens + 600
    # during business hours: no acknowledgement
    clock2 = ManualClock(NOON)
    async with DeskHarness(make_config(tmp_path, routing=routing), tmp_path / "hf2.db",
                           clock=clock2) as h:
        h.customer("cust1", "help", "refund please")
        await Run(h, clock2).settle()
        assert h.local.sent("help") == []


async def test_a_lead_takes_over_and_an_agent_cannot(run: Run) -> None:
    run.h.customer("cust1", "help", "refund please")
    await run.settle()
    run.h.staff("u-ana", "/claim 1")
    run.h.staff("u-ben", "/takeover 1")
    await run.settle()
    assert (await run.h.question(1))["claimed_by"] == "ana"
    assert any("Only leads and managers can take over" in t for t in run.dm("u-ben"))
    run.h.staff("u-lee", "/takeover 1")
    await run.settle()
    assert (await run.h.question(1))["claimed_by"] == "lee"
    taken = await run.events(1, "taken_over")
    assert taken == [{"actor": "lee", "at": NOON, "from_staff": "ana"}]
    assert any("taken over by Lee L" in t for t in run.dm("u-ana"))
    # ana can no longer answer it
    run.h.staff("u-ana", "/answer 1 Here you go")
    await run.settle()
    assert run.h.local.sent("help") == []


async def test_timers_survive_a_restart(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = ManualClock(NOON)
    local = LocalPlatform()
    async with DeskHarness(config, tmp_path / "hf.db", clock=clock, local=local) as h:
        h.customer("cust1", "help", "refund please")
        await Run(h, clock).settle()
    clock2 = ManualClock(NOON + 3600)  # the daemon was down past the deadline
    async with DeskHarness(config, tmp_path / "hf.db", clock=clock2, local=local) as h:
        run = Run(h, clock2)
        await run.settle()
        escalated = await run.events(1, "escalated")
        assert len(escalated) == 1 and escalated[0]["sla"] == "first_response"


async def test_roster_edit_offboards_at_once(run: Run, tmp_path: Path) -> None:
    run.h.customer("cust1", "help", "refund please")
    await run.settle()
    run.h.staff("u-ana", "/claim 1")
    await run.settle()
    desk = run.h.app.desk
    assert desk is not None
    without_ana = [s for s in STAFF if s["id"] != "ana"]
    new = make_config(tmp_path / "v2", staff=without_ana)
    change = await desk.apply_config(new)
    assert change["staff_removed"] == ["ana"] and change["files_hash"] == new.files_hash
    await run.settle()
    q = await run.h.question(1)
    assert q["claimed_by"] is None and q["state"] == "offered"
    released = await run.events(1, "released")
    assert released[-1]["reason"] == "removed from the roster"
    changed = await run.h.store.fetchall("SELECT data FROM events WHERE kind = 'config_changed'")
    assert json.loads(changed[0][0])["staff_removed"] == ["ana"]
    assert run.offers_to()[-1] == "u-ben"
    # ana is a stranger now: her command is a customer's message, not a claim
    run.h.staff("u-ana", "/claim 1", chat="help")
    await run.settle()
    assert (await run.h.question(1))["claimed_by"] is None


def test_routing_errors_point_at_the_line(tmp_path: Path) -> None:
    from helpforce.config import ConfigErrors

    routing = json.loads(json.dumps(ROUTING))
    routing["routes"][0]["strategy"] = "shout"
    with pytest.raises(ConfigErrors) as err:
        make_config(tmp_path, routing=routing)
    text = str(err.value)
    assert "routing.yaml:21:" in text and "routes[0].strategy" in text
    routing = json.loads(json.dumps(ROUTING))
    routing["routes"][0]["lease_warning"] = "20m"
    with pytest.raises(ConfigErrors) as err:
        make_config(tmp_path, routing=routing)
    assert "routes[0].lease_warning: must be shorter than lease" in str(err.value)
    routing = json.loads(json.dumps(ROUTING))
    routing["routes"][0]["match"]["platforms"] = ["myspace"]
    with pytest.raises(ConfigErrors) as err:
        make_config(tmp_path, routing=routing)
    assert "unknown platform 'myspace'" in str(err.value)


def test_plain_config_fixture_has_the_default_route(plain_config: Config) -> None:
    assert [r.name for r in plain_config.routing.routes] == ["default"]
    assert dataclasses.is_dataclass(plain_config)


async def test_live_roster_edit_and_a_bad_edit_through_the_file_watcher(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    clock = ManualClock(NOON)
    async with DeskHarness(config, tmp_path / "hf.db", clock=clock, watch=True) as h:
        run = Run(h, clock)
        seen: dict[str, asyncio.Event] = {
            "config_changed": asyncio.Event(), "config_rejected": asyncio.Event()
        }
        h.app.desk.observers.append(  # type: ignore[union-attr]
            lambda e: seen[e.kind.value].set() if e.kind.value in seen else None
        )
        h.customer("cust1", "help", "refund please")
        await run.settle()
        h.staff("u-ana", "/claim 1")
        await run.settle()
        roster = config.config_dir / "roster.yaml"
        # a bad edit: reported with its position, nothing changes
        roster.write_text(roster.read_text().replace("id: ben", "id: Ben Bee!"))
        await asyncio.wait_for(seen["config_rejected"].wait(), 10)
        rejected = await h.store.fetchall(
            "SELECT data FROM events WHERE kind = 'config_rejected'")
        errors = json.loads(rejected[0][0])["errors"]
        assert any(f"{roster}:" in e and "staff[1].id" in e for e in errors), errors
        assert (await h.question(1))["claimed_by"] == "ana"
        # a good edit: ana leaves, her claim is offered again at once
        staff = [s for s in STAFF if s["id"] != "ana"]
        roster.write_text(yaml.safe_dump({"staff": staff}))
        await asyncio.wait_for(seen["config_changed"].wait(), 10)
        await run.settle()
        q = await h.question(1)
        assert q["claimed_by"] is None and q["state"] == "offered"
        changed = await h.store.fetchall("SELECT data FROM events WHERE kind = 'config_changed'")
        assert len(changed) == 1
        data = json.loads(changed[0][0])
        assert data["staff_removed"] == ["ana"] and data["files_hash"] != config.files_hash


# -- regressions found in review -------------------------------------------------------


async def test_a_status_set_in_the_same_commit_as_a_reload_is_kept(tmp_path: Path) -> None:
    clock = ManualClock(NOON)
    async with DeskHarness(make_config(tmp_path), tmp_path / "hf.db", clock=clock) as h:
        run = Run(h, clock)
        desk = h.app.desk
        await run.settle()
        # staff edit only (ben renamed) -> a new config object, new Router in the step
        staff = [dict(s) for s in STAFF]
        staff[1]["name"] = "Ben Bee"
        new = make_config(tmp_path / "v2", staff=staff)
        off = Inbound("local", "x-off-1", Account("local", "u-ana", "ana"), "dm:u-ana",
                      Visibility.PRIVATE, text="/off")
        # both submitted in the same loop tick -> same writer batch, status step first
        await asyncio.gather(desk.ingest("local", [off], None), desk.apply_config(new))
        await run.settle()
        row = await h.store.fetchone("SELECT status FROM presence WHERE staff_id='ana'")
        assert row[0] == "off"                           # the store says off
        h.customer("cust1", "help", "refund please")
        await run.settle()
        offered = await run.events(1, "offered")
        assert desk.router.status.get("ana") == "off", "in-memory status lost"
        assert offered[0]["staff"] != ["ana"], "ana said /off but is offered"


async def stop_ana_reply(run: Run) -> None:
    run.h.customer("cust1", "help", "Your delivery was late, I want a refund")
    await run.settle()
    run.h.staff("u-ana", "/answer 1 We'll refund you today.")   # implicit claim, stopped
    await run.settle()
    assert any(t.startswith("Not sent") for t in run.dm("u-ana"))
    assert (await run.h.question(1))["state"] == "claimed"


async def test_override_after_the_author_lost_the_claim_is_refused_cleanly(run: Run) -> None:
    await stop_ana_reply(run)
    await run.later(600)                                  # lease (10m) runs out
    assert (await run.h.question(1))["state"] in ("offered", "escalated")
    run.h.staff("u-lee", "/override 1 checked")
    await run.settle()
    failed = await run.h.store.fetchall(
        "SELECT data FROM events WHERE kind='escalated' AND data LIKE '%could not be handled%'")
    assert not failed, "the /override step raised (TransitionError) and was dropped"


async def test_override_never_sends_a_second_answer(run: Run) -> None:
    await stop_ana_reply(run)
    run.h.staff("u-ana", "/release 1")
    await run.settle()
    run.h.staff("u-ben", "/answer 1 Sorry about that, looking into it.")
    await run.settle()
    run.h.staff("u-lee", "/override 1 checked")
    await run.settle()
    answers = [m.text for m in run.h.local.sent("help")]
    assert len(answers) == 1, "two staff answers reached the customer"


async def test_a_reopened_question_escalates_when_nobody_responds(run: Run) -> None:
    run.h.customer("cust1", "help", "my tv is broken")       # default route: broadcast, 15m SLA
    await run.settle()
    run.h.staff("u-cho", "/answer 1 Try unplugging it for a minute.")
    await run.settle()
    run.h.staff("u-cho", "/resolve 1")
    await run.settle()
    run.h.customer("cust1", "help", "it is still broken")     # reopens: back to cho, leased
    await run.settle()
    q = await run.h.question(1)
    assert q["state"] == "claimed" and q["claimed_by"] == "cho"
    await run.later(15 * 60)                                  # cho's lease (15m default) ends
    q = await run.h.question(1)
    assert q["state"] == "offered" and q["claimed_by"] is None
    await run.later(7 * 24 * 3600)                            # a week, nobody claims
    esc = await run.events(1, "escalated")
    assert esc, "reopened question sat unanswered for a week with no escalation"
    assert esc[0]["reason"].startswith("no response to a follow-up within 15 min")


async def test_after_hours_no_quiet_lead_is_paged_and_it_is_offered_at_opening(
    tmp_path: Path,
) -> None:
    routing = copy.deepcopy(ROUTING)
    routing["business_hours"] = [{"days": "mon-fri", "from": "9:00", "to": "17:00"}]
    staff = copy.deepcopy([s for s in STAFF if s["id"] != "dee"])
    for s in staff:
        s["shifts"] = [{"days": "mon-fri", "from": "9:00", "to": "17:00"}]
    staff[-1]["quiet_hours"] = [{"days": "daily", "from": "22:00", "to": "7:00"}]   # lee
    night = NOON + 11 * 3600            # Wednesday 23:00 UTC
    clock = ManualClock(night)
    async with DeskHarness(make_config(tmp_path, staff=staff, routing=routing),
                           tmp_path / "hf.db", clock=clock) as h:
        run = Run(h, clock)
        h.customer("cust1", "help", "refund please")
        await run.settle()
        await run.later(3 * 60)         # 23:03: wave 2 fires (nobody on shift)
        await run.later(10 * 3600 - 3 * 60)  # Thursday 09:00: everyone on shift
        await run.later(9 * 60)         # 09:09, before the 10m SLA
        assert run.dm("u-lee") == [], "lead paged at 23:00 during quiet hours"
        assert run.offers_to(), "nobody offered the question when the desk opened"
        offered = await run.events(1, "offered")
        assert offered and offered[0]["at"] == NOON + 21 * 3600  # Thursday 09:00


async def test_a_channel_post_nobody_available_can_see_escalates(tmp_path: Path) -> None:
    routing = copy.deepcopy(ROUTING)
    del routing["routes"][1]["first_response"]        # default route, no SLA (the default)
    clock = ManualClock(NOON)
    async with DeskHarness(make_config(tmp_path, routing=routing), tmp_path / "hf.db",
                           clock=clock) as h:
        run = Run(h, clock)
        for u in ("u-ana", "u-ben", "u-cho", "u-dee", "u-lee"):
            h.staff(u, "/off")
        await run.settle()
        h.customer("cust1", "help", "my tv is broken")
        await run.settle()
        await run.later(7 * 24 * 3600)
        assert await run.events(1, "escalated"), "nobody available, nobody told, ever"


async def test_an_escalation_nobody_can_receive_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = tmp_path / "config"
    cfg.mkdir()
    shutil.copy(ROOT / "config" / "policies.yaml", cfg / "policies.yaml")
    s = yaml.safe_load((ROOT / "config" / "helpforce.yaml").read_text())
    s["platforms"]["local"]["public_channels"] = ["help", "ayuda"]
    s["platforms"]["local"]["staff_channel"] = None
    (cfg / "helpforce.yaml").write_text(yaml.safe_dump(s))
    no_leads = [x for x in STAFF if x["id"] != "lee"]
    (cfg / "roster.yaml").write_text(yaml.safe_dump({"staff": no_leads}))
    (cfg / "routing.yaml").write_text(yaml.safe_dump(ROUTING))
    config = load_config(cfg, env={})
    clock = ManualClock(NOON)
    caplog.set_level(logging.WARNING)
    async with DeskHarness(config, tmp_path / "hf.db", clock=clock) as h:
        run = Run(h, clock)
        h.customer("cust1", "help", "refund please")
        await run.settle()
        await run.later(600)                      # first_response: unclaimed -> escalate
        esc = await run.events(1, "escalated")
        assert esc and esc[0]["to"] == [] and esc[0]["channels"] == []
        assert (await h.question(1))["state"] == "escalated"
        assert any("escalat" in r.getMessage() for r in caplog.records), \
            "escalated to nobody: no notice, no log"


async def spin(n: int = 50) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_the_timer_loop_keeps_a_wake_that_comes_while_it_reads() -> None:
    clock = ManualClock(1000.0)
    timers = {"c": 1010.0}
    fired: list[float] = []
    tl: TimerLoop

    async def next_due():
        snapshot = min(timers.values()) if timers else None   # the SELECT's snapshot
        if 1010.0 in fired and "b" not in timers and 1060.0 not in fired:
            # a step commits a timer while this read is in flight; its after-commit
            # callback wakes the loop (as Desk.on_timer does)
            timers["b"] = 1060.0
            tl.wake(1060.0)
        await asyncio.sleep(0)
        return snapshot

    async def fire_due(now):
        due = [k for k, v in timers.items() if v <= now]
        for k in due:
            fired.append(timers.pop(k))
        return len(due)

    tl = TimerLoop(clock, next_due, fire_due)
    await tl.start()
    await spin()
    assert tl._known_due == 1010.0
    await clock.advance(10)          # 1010: c fires; the re-read races with b being set
    await spin()
    await clock.advance(60)          # 1070: b (due 1060) should fire
    await spin()
    await tl.stop()
    assert 1060.0 in fired, "timer b slept through (next look in 24h)"



async def test_escalations_take_turns_among_leads(tmp_path: Path) -> None:
    staff = [*STAFF, {"id": "lia", "name": "Lia L", "initials": "LI", "role": "lead",
                      "languages": ["en"], "accounts": {"local": "u-lia"}, "notify": ["local"]}]
    routing = copy.deepcopy(ROUTING)
    routing["routes"][0]["escalate_to"] = 1
    clock = ManualClock(NOON)
    async with DeskHarness(make_config(tmp_path, staff=staff, routing=routing),
                           tmp_path / "hf.db", clock=clock) as h:
        run = Run(h, clock)
        h.customer("cust1", "help", "refund please")
        h.customer("cust2", "help", "refund too")
        await run.settle()
        await run.later(600)
        to = [(await run.events(q, "escalated"))[0]["to"] for q in (1, 2)]
        assert sorted(to) == [["lee"], ["lia"]]


def test_an_account_that_refuses_private_messages_is_passed_over_for_the_next() -> None:
    from helpforce.adapter import Capabilities
    from helpforce.config.schema import StaffMember
    from helpforce.routing import notify_target

    s = StaffMember.model_validate({
        "id": "jdiaz", "name": "Jordan Diaz", "initials": "JD",
        "accounts": {"telegram": "3001", "discord": "200000000000000101"},
        "notify": ["telegram", "discord"],
    })
    caps = {"telegram": Capabilities(dms=True), "discord": Capabilities(dms=True)}
    assert notify_target(s, caps).platform == "telegram"  # type: ignore[union-attr]
    moved = notify_target(s, caps, {("telegram", "3001")})
    assert moved is not None and moved.platform == "discord"
    assert notify_target(s, caps, {("telegram", "3001"),
                                   ("discord", "200000000000000101")}) is None


def test_offers_undone_by_a_rollback_leave_fairness_as_it_was(example_config: Config) -> None:
    from helpforce.adapter import Capabilities
    from helpforce.routing import Router

    caps = {"local": Capabilities(dms=True)}
    router = Router(example_config.roster, caps, {s.id: "on" for s in example_config.roster.staff})
    now = 1_800_000_000.0
    everyone = len(router.pick(now, (), "en", 100, {}).targets)

    def ids(n: int) -> list[str]:
        return [t.staff.id for t in router.pick(now, (), "en", n, {}).targets]

    offered_a = ids(3)
    router.offered(offered_a, now)  # committed
    offered_b = ids(3)
    assert not set(offered_a) & set(offered_b)
    before = {sid: router.last_offered.get(sid) for sid in offered_b}
    router.offered(offered_b, now + 60)
    router.unoffered(before)  # the step that offered B was rolled back
    # B were never offered anything: everyone but A comes before A again
    assert set(ids(everyone - 3)) == set(ids(everyone)) - set(offered_a)
    assert set(offered_b) <= set(ids(everyone - 3))
    assert all(sid not in router.last_offered for sid in offered_b)


# -- found by a review: a roster edit across a restart, a follow-up after a release, a claim of
# -- a resolved question

async def test_staff_removed_while_the_daemon_was_down_are_offboarded_at_start(
    tmp_path: Path,
) -> None:
    clock = ManualClock(NOON)
    local = LocalPlatform()
    async with DeskHarness(make_config(tmp_path), tmp_path / "hf.db", clock=clock,
                           local=local) as h:
        h.customer("cust1", "help", "my tv is broken")
        await Run(h, clock).settle()
        h.staff("u-cho", "/claim 1")
        await Run(h, clock).settle()
        assert (await h.question(1))["claimed_by"] == "cho"
    # cho leaves the roster while the daemon is stopped: no live edit will say so
    config = make_config(tmp_path / "v2", staff=[s for s in STAFF if s["id"] != "cho"])
    async with DeskHarness(config, tmp_path / "hf.db", clock=clock, local=local) as h:
        run = Run(h, clock)
        await run.settle()
        q = await h.question(1)
        # offered again (here to the leads: nobody else on that route is on shift)
        assert q["state"] in ("offered", "escalated") and q["claimed_by"] is None
        released = await run.events(1, "released")
        assert [e["reason"] for e in released] == ["removed from the roster"]


async def test_a_follow_up_on_a_question_released_after_its_answer_gets_a_deadline(
    run: Run,
) -> None:
    run.h.customer("cust1", "help", "refund please")  # billing: a first response in 10 min
    await run.settle()
    run.h.staff("u-ana", "/answer 1 Refund is on its way")
    await run.settle()
    run.h.staff("u-ana", "/release 1")
    await run.settle()
    await run.later(3600)  # the waves are over; nobody claims it
    before = len(await run.events(1, "escalated"))
    run.h.customer("cust1", "help", "it did not arrive, I am still waiting")
    await run.settle()
    await run.later(3600)
    assert len(await run.events(1, "escalated")) > before


async def test_claiming_a_resolved_question_says_it_is_resolved_to_its_last_holder(
    run: Run,
) -> None:
    run.h.customer("cust1", "help", "refund please")
    await run.settle()
    run.h.staff("u-ana", "/answer 1 done")
    await run.settle()
    run.h.staff("u-ana", "/resolve 1")
    await run.settle()
    run.h.staff("u-ana", "/claim 1")
    await run.settle()
    assert run.dm("u-ana")[-1] == "#1 is already resolved."
