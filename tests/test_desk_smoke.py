"""The whole loop on the local platform: a question in, one claim, a signed answer out."""

from __future__ import annotations

from helpforce.adapters.local.testing import DeskHarness


async def test_question_claimed_and_answered_with_signature(desk: DeskHarness) -> None:
    desk.watch("staff")
    desk.watch("dm:staff-jd")
    desk.watch("help")
    asked = desk.customer("cust1", "help", "My TV keeps switching off", handle="alice")
    offer = await desk.next_message("staff")
    assert "#1" in offer.text and ("Claim", "claim:1") in offer.buttons
    desk.press("staff-jd", offer, "claim:1")
    held = await desk.next_message("dm:staff-jd", lambda m: m.text.startswith("You hold #1"))
    desk.staff("staff-jd", "Turn off the eco timer in the power settings.", reply_to=held.id)
    answer = await desk.next_message("help")
    assert answer.text == "Turn off the eco timer in the power settings. ^JD"
    assert answer.reply_to == asked
    await desk.settle()
    q = await desk.question(1)
    assert q["state"] == "answered"
    assert q["claimed_by"] == "jdiaz"
    assert q["answered_by"] == ["jdiaz"]
    kinds = [e["kind"] for e in q["events"]]
    assert kinds[:3] == ["received", "offered", "claimed"]
    assert "answered" in kinds and "delivered" in kinds
