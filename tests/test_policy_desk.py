"""Policies at work in the desk, end to end on the local platform."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conftest import EXAMPLE_CONFIG
from helpforce.adapters.local.testing import DeskHarness
from helpforce.config import Config, load_config


def config_with(tmp_path: Path, policies: str | None = None) -> Config:
    directory = tmp_path / "config"
    shutil.copytree(EXAMPLE_CONFIG, directory, ignore=shutil.ignore_patterns("*.py", "__*"))
    if policies is not None:
        (directory / "policies.yaml").write_text(policies)
    return load_config(directory, env={})


async def claim(h: DeskHarness, customer: str, text: str, staff: str = "staff-jd") -> str:
    """A customer asks in public; ``staff`` claims; returns the 'You hold' message id."""
    h.watch("staff")
    h.watch(f"dm:{staff}")
    h.customer(customer, "help", text, handle=customer)
    offer = await h.next_message("staff", lambda m: bool(m.buttons))
    qid = offer.text.split()[0].lstrip("#")
    h.press(staff, offer, f"claim:{qid}")
    held = await h.next_message(f"dm:{staff}", lambda m: m.text.startswith("You hold"))
    return held.id


@pytest.fixture
async def desk(plain_config: Config, tmp_path: Path) -> AsyncIterator[DeskHarness]:
    async with DeskHarness(plain_config, tmp_path / "hf.db") as h:
        yield h


async def test_a_public_ask_for_an_order_number_becomes_a_move_to_dm(desk: DeskHarness) -> None:
    help_ = desk.watch("help")
    desk.watch("dm:cust1")
    held = await claim(desk, "cust1", "My parcel never arrived")
    desk.staff("staff-jd", "Sorry! What's your order number? I'll chase it.", reply_to=held)
    stopped = await desk.next_message("dm:staff-jd", lambda m: m.text.startswith("Not sent"))
    assert "privacy.ask-in-public" in stopped.text and "/send 1" in stopped.text
    assert ("Send this instead", "send:1") in stopped.buttons
    assert help_.empty()  # nothing reached the customer in public
    desk.press("staff-jd", stopped, "send:1")
    public = await desk.next_message("help")
    private = await desk.next_message("dm:cust1")
    assert "private message" in public.text and public.text.endswith("^JD")
    assert private.text == "Sorry! What's your order number? I'll chase it. ^JD"
    await desk.settle()
    q = await desk.question(1)
    assert q["state"] == "moved_to_dm"
    verdicts = [e["data"]["action"] for e in q["events"] if e["kind"] == "policy_verdict"]
    assert verdicts[0] == "move_to_dm"
    assert "moved_to_dm" in [e["kind"] for e in q["events"]]
    # the customer answers privately: it joins the question and reaches the claimer unmasked
    desk.customer("cust1", "dm:cust1", "It's order 112-7788123-4455")
    fwd = await desk.next_message("dm:staff-jd", lambda m: "wrote again" in m.text)
    assert "112-7788123-4455" in fwd.text


async def test_posting_a_customer_identifier_publicly_is_blocked_with_a_redacted_version(
    desk: DeskHarness,
) -> None:
    help_ = desk.watch("help")
    held = await claim(desk, "cust2", "Where is my parcel?")
    desk.staff("staff-jd", "Your parcel 1Z999AA10123456784 is out for delivery.", reply_to=held)
    stopped = await desk.next_message("dm:staff-jd", lambda m: m.text.startswith("Not sent"))
    assert "privacy.data-in-public" in stopped.text
    assert "1Z999AA10123456784" not in stopped.text.split("Suggested instead:")[1]
    desk.staff("staff-jd", "/send 1")
    sent = await desk.next_message("help")
    assert "1Z999AA10123456784" not in sent.text and sent.text.endswith("^JD")
    assert help_.empty()


async def test_asking_for_a_password_is_blocked_even_in_private(desk: DeskHarness) -> None:
    desk.watch("dm:cust3")
    desk.watch("dm:staff-jd")
    desk.customer("cust3", "dm:cust3", "I can't log in")
    offer = await desk.next_message("dm:staff-jd", lambda m: bool(m.buttons))
    desk.staff("staff-jd", "What's your password? I'll reset it.", reply_to=offer.id)
    stopped = await desk.next_message("dm:staff-jd", lambda m: m.text.startswith("Not sent"))
    assert "privacy.secret-ask" in stopped.text
    assert desk.watch("dm:cust3").empty()


async def test_a_lead_may_override_an_overridable_rule_and_it_is_recorded(
    desk: DeskHarness,
) -> None:
    help_ = desk.watch("help")
    desk.watch("dm:staff-pr")
    held = await claim(desk, "cust4", "Your delivery was late again!", staff="staff-me")
    desk.staff("staff-me", "We'll refund you today.", reply_to=held)
    stopped = await desk.next_message("dm:staff-me", lambda m: m.text.startswith("Not sent"))
    assert "acme.no-refund-promises" in stopped.text
    desk.staff("staff-me", "/override 1 checked the order")  # a manager: may override
    sent = await desk.next_message("help")
    assert sent.text == "We'll refund you today. ^ME"
    await desk.settle()
    q = await desk.question(1)
    override = [e for e in q["events"] if e["kind"] == "policy_override"]
    assert override and override[0]["data"]["reason"] == "checked the order"
    assert override[0]["actor"] == "mellis"
    assert help_.empty()


async def test_an_agent_cannot_override(desk: DeskHarness) -> None:
    held = await claim(desk, "cust5", "late again", staff="staff-so")
    desk.staff("staff-so", "We'll refund you today.", reply_to=held)
    await desk.next_message("dm:staff-so", lambda m: m.text.startswith("Not sent"))
    desk.staff("staff-so", "/override 1 please")
    refused = await desk.next_message("dm:staff-so")
    assert "Only leads and managers" in refused.text


async def test_a_customer_who_posts_their_own_data_is_moved_to_dm_and_staff_see_it_masked(
    desk: DeskHarness,
) -> None:
    help_ = desk.watch("help")
    dm = desk.watch("dm:cust6")
    staff = desk.watch("staff")
    desk.customer("cust6", "help", "Order never came, email me at sam.lee@example.org")
    offer = await desk.next_message("staff", lambda m: bool(m.buttons))
    assert "sam.lee@example.org" not in offer.text and "[e-mail]" in offer.text
    public = await desk.next_message("help")
    assert "private message" in public.text
    opener = await desk.next_message("dm:cust6")
    assert opener.text.startswith("Hi @")
    await desk.settle()
    q = await desk.question(1)
    assert q["dm_conversation"] == "dm:cust6"
    assert all("sam.lee@example.org" not in m["text"] for m in q["messages"])
    # the answer now goes privately
    desk.press("staff-jd", offer, "claim:1")
    held = await desk.next_message("dm:staff-jd", lambda m: m.text.startswith("You hold"))
    desk.staff("staff-jd", "We'll sort it out here.", reply_to=held.id)
    answer = await desk.next_message("dm:cust6")
    assert answer.text == "We'll sort it out here. ^JD"
    assert help_.empty() and dm.empty() and staff is not None


async def test_a_long_answer_is_split_into_a_numbered_signed_thread(tmp_path: Path) -> None:
    policies = "packs:\n  limits:\n    on_overflow: rewrite\n    limits: {local: 120}\n"
    async with DeskHarness(config_with(tmp_path, policies), tmp_path / "hf.db") as h:
        help_ = h.watch("help")
        held = await claim(h, "cust7", "How do I reset my router?")
        long = " ".join(f"Step {i}: press the button marked {i} and wait." for i in range(1, 9))
        h.staff("staff-jd", long, reply_to=held)
        first = await h.next_message("help")
        await h.settle()
        parts = [first]
        while not help_.empty():
            parts.append(help_.get_nowait())
        n = len(parts)
        assert n >= 3
        for i, part in enumerate(parts, 1):
            assert len(part.text) <= 120
            assert f"({i}/{n})" in part.text and part.text.endswith("^JD")
        assert parts[1].reply_to == parts[0].id  # a thread
        words = " ".join(p.text for p in parts)
        assert "Step 8: press the button marked 8" in words


async def test_a_refused_long_answer_is_not_sent(tmp_path: Path) -> None:
    policies = "packs:\n  limits:\n    on_overflow: block\n    limits: {local: 60}\n"
    async with DeskHarness(config_with(tmp_path, policies), tmp_path / "hf.db") as h:
        help_ = h.watch("help")
        held = await claim(h, "cust8", "question")
        h.staff("staff-jd", "This answer is far too long for the configured limit of sixty.",
                reply_to=held)
        stopped = await h.next_message("dm:staff-jd", lambda m: m.text.startswith("Not sent"))
        assert "limits.platform-length" in stopped.text
        assert help_.empty()


async def test_a_direct_public_post_is_checked_after_the_fact_and_leads_alerted(
    desk: DeskHarness,
) -> None:
    desk.watch("dm:staff-pr")
    desk.watch("dm:staff-so")
    asked = desk.customer("cust9", "help", "Where's my stuff?", handle="cust9")
    await desk.settle()
    # an agent answers directly in public from their own account, outside the bot
    desk.staff("staff-so", "What's your order number?", chat="help", reply_to=asked)
    alert = await desk.next_message("dm:staff-pr", lambda m: "breaks a guideline" in m.text)
    assert "Sam Okafor" in alert.text
    mine = await desk.next_message("dm:staff-so", lambda m: "breaks a guideline" in m.text)
    assert "#1" in mine.text
    await desk.settle()
    q = await desk.question(1)
    after = [e for e in q["events"] if e["kind"] == "policy_verdict"
             and e["data"]["after_the_fact"]]
    assert after and after[0]["data"]["action"] == "move_to_dm"


async def test_a_warning_rule_sends_and_tells_the_staff_member(tmp_path: Path) -> None:
    policies = (
        "packs: {}\nrules:\n  - id: acme.soon\n    detect: {phrases: [asap]}\n"
        "    action: warn\n    message: Avoid 'asap'; give a time.\n"
    )
    async with DeskHarness(config_with(tmp_path, policies), tmp_path / "hf.db") as h:
        h.watch("help")
        held = await claim(h, "cust10", "when?")
        h.staff("staff-jd", "We'll fix it ASAP.", reply_to=held)
        sent = await h.next_message("help")
        assert sent.text == "We'll fix it ASAP. ^JD"
        warned = await h.next_message("dm:staff-jd", lambda m: m.text.startswith("Sent"))
        assert "Avoid 'asap'" in warned.text
