"""The desk end to end, through the real App on the in-memory local platform.

Staff (config/roster.yaml): staff-jd is Jordan Diaz (jdiaz, lead, ^JD), staff-pr is Priya
Raman (praman, lead, ^PR), staff-me Morgan Ellis (mellis, manager), then agents staff-so,
staff-lm, staff-tg, staff-ac, staff-mb, ...
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from helpforce.adapters.local.platform import BotMessage, LocalPlatform
from helpforce.adapters.local.testing import DeskHarness
from helpforce.clock import ManualClock
from helpforce.commands import HELP
from helpforce.config import Config

STAFF_ACCOUNTS = {
    "jdiaz": "staff-jd", "praman": "staff-pr", "mellis": "staff-me", "sokafor": "staff-so",
    "lmoreno": "staff-lm", "tgirard": "staff-tg", "achen": "staff-ac", "mbell": "staff-mb",
}


async def settle(desk: DeskHarness, timeout: float = 20.0) -> None:
    await desk.settle(timeout=timeout)


async def next_message(desk: DeskHarness, chat: str, timeout: float = 20.0) -> BotMessage:
    return await desk.next_message(chat, timeout=timeout)


def variant(config: Config, *, staff_channel: str | None | bool = True, **desk: Any) -> Config:
    """``config`` with some desk settings (and the local staff channel) changed."""
    settings = config.settings
    update: dict[str, Any] = {}
    if desk:
        update["desk"] = settings.desk.model_copy(update=desk)
    if staff_channel is not True:
        local = settings.platforms["local"].model_copy(update={"staff_channel": staff_channel})
        update["platforms"] = {**settings.platforms, "local": local}
    return dataclasses.replace(config, settings=settings.model_copy(update=update))


def kinds(q: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in q["events"]]


def events_of(q: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in q["events"] if e["kind"] == kind]


def texts(desk: DeskHarness, chat: str) -> list[str]:
    return [m.text for m in desk.local.sent(chat)]


async def count(desk: DeskHarness, sql: str, params: tuple[Any, ...] = ()) -> int:
    row = await desk.store.fetchone(sql, params)
    assert row is not None
    return int(row[0])


async def ask(desk: DeskHarness, user: str = "cust1", text: str = "My TV keeps switching off",
              *, chat: str = "help", handle: str = "alice") -> str:
    mid = desk.customer(user, chat, text, handle=handle)
    await settle(desk)
    return mid


async def claim(desk: DeskHarness, account: str, qid: int = 1) -> BotMessage:
    """``account`` claims with a command; returns the "You hold #N" notification."""
    desk.staff(account, f"/claim {qid}")
    await settle(desk)
    held = [m for m in desk.local.sent(f"dm:{account}") if m.text.startswith(f"You hold #{qid}")]
    assert held, texts(desk, f"dm:{account}")
    return held[-1]


# -- ingest ---------------------------------------------------------------------------------


async def test_the_same_platform_event_twice_is_handled_once(desk: DeskHarness) -> None:
    record = {"id": "evt-1", "kind": "message", "user": "cust1", "handle": "alice",
              "chat": "help", "text": "Where is my parcel?"}
    desk.local.post_raw(record)
    desk.local.post_raw(record)  # in the same batch
    await settle(desk)
    desk.local.post_raw(record)  # and redelivered later, in a batch of its own
    await settle(desk)
    assert await count(desk, "SELECT COUNT(*) FROM questions") == 1
    assert await count(
        desk, "SELECT COUNT(*) FROM messages WHERE platform_message_id = 'evt-1'"
    ) == 1
    assert await count(desk, "SELECT COUNT(*) FROM inbound WHERE message_id = 'evt-1'") == 1
    q = await desk.question(1)
    assert kinds(q).count("received") == 1
    assert "followup" not in kinds(q)
    assert len(texts(desk, "staff")) == 1  # offered once


async def test_malformed_events_are_skipped_and_later_ones_still_work(
    desk: DeskHarness,
) -> None:
    desk.local.post_raw({"kind": "message", "chat": "help", "text": "no user"})
    desk.local.post_raw({"kind": "message", "user": "cust9", "chat": "help", "text": ["x"]})
    desk.local.post_raw({"kind": "sticker", "user": "cust9", "chat": "help", "text": "?"})
    desk.local.post_raw({"kind": "message", "user": "cust9", "text": "no chat"})
    desk.local.post_raw({"id": 17, "kind": "message", "user": "cust9", "chat": "help",
                         "text": "numeric id"})
    await settle(desk)
    assert desk.adapter.skipped == 5
    assert await count(desk, "SELECT COUNT(*) FROM questions") == 0
    await ask(desk, "cust1", "A good question after the bad ones")
    q = await desk.question(1)
    assert q["state"] == "offered"
    assert texts(desk, "staff") and "A good question" in texts(desk, "staff")[0]


async def test_an_event_the_desk_cannot_handle_does_not_sink_its_batch(
    desk: DeskHarness,
) -> None:
    await ask(desk, "cust1")
    offer = desk.local.sent("staff")[0]
    # well-formed for the adapter, but its button data is not text: the desk's handling
    # raises; it is recorded and the rest of the batch goes through
    desk.local.post_raw({"kind": "action", "user": "staff-pr", "chat": "staff",
                         "reply_to": offer.id, "data": {"claim": 1}})
    desk.customer("cust2", "help", "Second question", handle="bob")
    desk.press("staff-jd", offer, "claim:1")
    await settle(desk)
    assert (await desk.question(1))["claimed_by"] == "jdiaz"
    assert (await desk.question(2))["state"] == "offered"
    failures = await desk.store.fetchall(
        "SELECT data FROM events WHERE question_id IS NULL AND kind = 'escalated'"
    )
    assert len(failures) == 1
    assert "could not be handled" in json.loads(failures[0][0])["reason"]
    # and the desk still works afterwards
    await claim(desk, "staff-pr", 2)


async def test_non_json_lines_are_skipped_in_spool_mode(
    plain_config: Config, tmp_path: Path
) -> None:
    local = LocalPlatform(tmp_path / "spool", poll_interval=0.005)
    async with DeskHarness(plain_config, tmp_path / "hf.db", local=local) as h:
        inbox = tmp_path / "spool" / "inbox.jsonl"
        with inbox.open("a", encoding="utf-8") as f:
            f.write("this is not json\n")
            f.write("[1, 2, 3]\n")
            f.write('{"id": "x1", "kind": "message", "chat": "help"}\n')
        h.customer("cust1", "help", "Is this thing on?", handle="alice")
        offer = await next_message(h, "staff")
        assert "Is this thing on?" in offer.text
        await settle(h)
        assert h.adapter.skipped == 3
        q = await h.question(1)
        assert q["customer_id"] == "cust1" and q["state"] == "offered"


# -- claims and identity ----------------------------------------------------------------------


async def test_a_burst_of_claims_has_exactly_one_winner(desk: DeskHarness) -> None:
    await ask(desk)
    offer = desk.local.sent("staff")[0]
    for account in STAFF_ACCOUNTS.values():
        desk.press(account, offer, "claim:1")
    await settle(desk)
    q = await desk.question(1)
    claimed = events_of(q, "claimed")
    assert len(claimed) == 1
    winner = claimed[0]["actor"]
    assert q["claimed_by"] == winner and q["state"] == "claimed"
    refused = events_of(q, "claim_refused")
    assert sorted(e["actor"] for e in refused) == sorted(set(STAFF_ACCOUNTS) - {winner})
    assert all(e["data"]["held_by"] == winner for e in refused)
    assert winner == "jdiaz"  # the first press in the burst
    for staff_id, account in STAFF_ACCOUNTS.items():
        dm = texts(desk, f"dm:{account}")
        if staff_id == winner:
            assert any(t.startswith("You hold #1") for t in dm)
            assert not any("already held" in t for t in dm)
        else:
            assert "#1 is already held by Jordan Diaz (^JD)." in dm
            assert not any(t.startswith("You hold #1") for t in dm)


async def test_claims_from_separate_batches_also_have_one_winner(desk: DeskHarness) -> None:
    await ask(desk)
    await claim(desk, "staff-pr")
    desk.staff("staff-jd", "/claim 1")
    await settle(desk)
    assert "#1 is already held by Priya Raman (^PR)." in texts(desk, "dm:staff-jd")
    q = await desk.question(1)
    assert q["claimed_by"] == "praman"
    assert [e["actor"] for e in events_of(q, "claimed")] == ["praman"]
    assert [e["actor"] for e in events_of(q, "claim_refused")] == ["jdiaz"]


async def test_a_customer_typing_claim_asks_a_question_of_their_own(desk: DeskHarness) -> None:
    await ask(desk, "cust1")
    await ask(desk, "cust2", "/claim 1", handle="mallory")
    q1 = await desk.question(1)
    assert q1["state"] == "offered" and q1["claimed_by"] is None
    assert "claimed" not in kinds(q1)
    q2 = await desk.question(2)
    assert q2["customer_id"] == "cust2"
    assert [m["text"] for m in q2["messages"] if m["direction"] == "in"] == ["/claim 1"]
    # nothing was said back to them as if they were staff
    assert texts(desk, "dm:cust2") == []
    assert not any(HELP in t for t in texts(desk, "help"))


async def test_a_customer_pressing_claim_gets_a_polite_refusal(desk: DeskHarness) -> None:
    await ask(desk, "cust1")
    offer = desk.local.sent("staff")[0]
    desk.press("cust2", offer, "claim:1")
    await settle(desk)
    q = await desk.question(1)
    assert q["state"] == "offered" and q["claimed_by"] is None
    assert "claimed" not in kinds(q)
    ignored = events_of(q, "ignored")
    assert ignored and ignored[0]["actor"] == "local:cust2"
    assert texts(desk, "dm:cust2") == [
        "Sorry, that button is for our support staff. Write to us here and we'll help you."
    ]
    # the staff-channel offer still carries its Claim button
    current = desk.local.bot_message(offer.id)
    assert current is not None and ("Claim", "claim:1") in current.buttons


@pytest.mark.parametrize(
    ("user", "handle"), [("cust-x", "staff-jd"), ("cust-y", "jdiaz"), ("jdiaz", "staff-jd")]
)
async def test_staff_are_recognised_by_user_id_never_by_handle(
    desk: DeskHarness, user: str, handle: str
) -> None:
    await ask(desk, "cust1")
    offer = desk.local.sent("staff")[0]
    desk.local.post(user, f"dm:{user}", "/claim 1", handle=handle)
    desk.local.press(user, offer.id, "claim:1", handle=handle)
    await settle(desk)
    q1 = await desk.question(1)
    assert q1["state"] == "offered" and q1["claimed_by"] is None
    assert "claimed" not in kinds(q1)
    # the /claim text became their own (private) question
    q2 = await desk.question(2)
    assert q2["customer_id"] == user and q2["visibility"] == "private"
    assert "Sorry, that button is for our support staff" in " ".join(
        texts(desk, f"dm:{user}")
    )


# -- commands -----------------------------------------------------------------------------------


async def test_claim_and_release_reoffers_the_question(desk: DeskHarness) -> None:
    await ask(desk)
    await claim(desk, "staff-jd")
    assert (await desk.question(1))["state"] == "claimed"
    offers_before = len(desk.local.sent("staff"))
    desk.staff("staff-jd", "/release 1")
    await settle(desk)
    q = await desk.question(1)
    assert q["state"] == "offered" and q["claimed_by"] is None
    assert "released" in kinds(q)
    assert kinds(q).count("offered") == 2
    staff_channel = desk.local.sent("staff")
    fresh = [m for m in staff_channel[offers_before:] if not m.edit]
    assert len(fresh) == 1 and ("Claim", "claim:1") in fresh[0].buttons
    assert "Released #1; it is offered again." in texts(desk, "dm:staff-jd")
    # someone else can claim it now
    await claim(desk, "staff-pr")
    assert (await desk.question(1))["claimed_by"] == "praman"


async def test_release_of_a_question_one_does_not_hold_is_refused(desk: DeskHarness) -> None:
    await ask(desk)
    await claim(desk, "staff-jd")
    desk.staff("staff-pr", "/release 1")
    await settle(desk)
    assert "You do not hold #1." in texts(desk, "dm:staff-pr")
    q = await desk.question(1)
    assert q["claimed_by"] == "jdiaz" and "released" not in kinds(q)


async def test_answer_is_signed_and_replies_to_the_latest_customer_message(
    desk: DeskHarness,
) -> None:
    await ask(desk)
    await claim(desk, "staff-jd")
    later = desk.customer("cust1", "help", "It also beeps", handle="alice")
    await settle(desk)
    desk.staff("staff-jd", "/answer 1 Turn off the eco timer.")
    await settle(desk)
    answers = desk.local.sent("help")
    assert [m.text for m in answers] == ["Turn off the eco timer. ^JD"]
    assert answers[0].reply_to == later
    q = await desk.question(1)
    assert q["state"] == "answered" and q["last_answer_by"] == "jdiaz"
    assert q["first_answer_at"] is not None
    answered = events_of(q, "answered")
    assert len(answered) == 1 and answered[0]["actor"] == "jdiaz"


async def test_a_private_question_is_answered_privately(desk: DeskHarness) -> None:
    await ask(desk, "cust1", "Private question", chat="dm:cust1")
    desk.staff("staff-pr", "/answer 1 Here you go")
    await settle(desk)
    assert texts(desk, "dm:cust1") == ["Here you go ^PR"]
    assert texts(desk, "help") == []


async def test_answering_a_question_held_by_someone_else_is_refused(desk: DeskHarness) -> None:
    await ask(desk)
    await claim(desk, "staff-jd")
    desk.staff("staff-pr", "/answer 1 My competing answer")
    # replying with plain text to one's own offer notification is an answer too
    dm_offer = next(m for m in desk.local.sent("dm:staff-pr") if m.text.startswith("#1 "))
    desk.staff("staff-pr", "Another competing answer", reply_to=dm_offer.id)
    await settle(desk)
    assert texts(desk, "help") == []
    assert texts(desk, "dm:staff-pr").count("#1 is already held by Jordan Diaz (^JD).") == 2
    q = await desk.question(1)
    assert q["claimed_by"] == "jdiaz" and q["state"] == "claimed"
    assert "answered" not in kinds(q)
    assert [e["actor"] for e in events_of(q, "claim_refused")] == ["praman", "praman"]


async def test_answering_an_unclaimed_question_claims_it(desk: DeskHarness) -> None:
    await ask(desk)
    dm_offer = next(m for m in desk.local.sent("dm:staff-pr") if m.text.startswith("#1 "))
    desk.staff("staff-pr", "Try unplugging it for a minute.", reply_to=dm_offer.id)
    await settle(desk)
    assert texts(desk, "help") == ["Try unplugging it for a minute. ^PR"]
    q = await desk.question(1)
    assert q["claimed_by"] == "praman" and q["state"] == "answered"
    assert [e["actor"] for e in events_of(q, "claimed")] == ["praman"]
    assert kinds(q).index("claimed") < kinds(q).index("answered")


async def test_dm_moves_the_conversation_private(desk: DeskHarness) -> None:
    asked = await ask(desk)
    await claim(desk, "staff-jd")
    desk.staff("staff-jd", "/dm 1 Could you tell me your order number?")
    await settle(desk)
    public = desk.local.sent("help")
    assert len(public) == 1
    assert public[0].text == (
        "@alice we've sent you a private message so we can help with your details. ^JD"
    )
    assert public[0].reply_to == asked
    assert texts(desk, "dm:cust1") == ["Could you tell me your order number? ^JD"]
    q = await desk.question(1)
    assert q["state"] == "moved_to_dm"
    assert "moved_to_dm" in kinds(q)
    # the customer's private reply joins the same question and reaches the claimer
    desk.customer("cust1", "dm:cust1", "It is 12345", handle="alice")
    await settle(desk)
    assert await count(desk, "SELECT COUNT(*) FROM questions") == 1
    q = await desk.question(1)
    assert q["dm_conversation"] == "dm:cust1"
    assert "followup" in kinds(q)
    assert "#1 · @alice wrote again:\nIt is 12345" in texts(desk, "dm:staff-jd")
    # and the next answer stays private
    desk.staff("staff-jd", "/answer 1 Found it, a replacement is on its way.")
    await settle(desk)
    assert texts(desk, "dm:cust1")[-1] == "Found it, a replacement is on its way. ^JD"
    assert len(desk.local.sent("help")) == 1


async def test_a_second_dm_before_the_customer_replies(desk: DeskHarness) -> None:
    await ask(desk)
    await claim(desk, "staff-jd")
    desk.staff("staff-jd", "/dm 1 Could you tell me your order number?")
    await settle(desk)
    desk.staff("staff-jd", "/dm 1 And the e-mail address you ordered with, please.")
    await settle(desk)
    assert texts(desk, "dm:cust1")[-1] == "And the e-mail address you ordered with, please. ^JD"
    q = await desk.question(1)
    assert q["state"] == "moved_to_dm"


async def test_note_is_internal(desk: DeskHarness) -> None:
    await ask(desk)
    await claim(desk, "staff-jd")
    sent_before = len(desk.local.sent())
    desk.staff("staff-jd", "/note 1 Customer called earlier about this too")
    await settle(desk)
    q = await desk.question(1)
    notes = events_of(q, "note")
    assert len(notes) == 1
    assert notes[0]["actor"] == "jdiaz"
    assert notes[0]["data"]["text"] == "Customer called earlier about this too"
    new = desk.local.sent()[sent_before:]
    assert [(m.chat, m.text) for m in new] == [("dm:staff-jd", "Note added to #1.")]
    assert texts(desk, "help") == [] and texts(desk, "dm:cust1") == []
    assert q["state"] == "claimed"


async def test_resolve(desk: DeskHarness) -> None:
    await ask(desk)
    await claim(desk, "staff-jd")
    desk.staff("staff-jd", "/answer 1 Done.")
    await settle(desk)
    desk.staff("staff-jd", "/resolve 1")
    await settle(desk)
    q = await desk.question(1)
    assert q["state"] == "resolved" and q["resolved_at"] is not None
    assert "resolved" in kinds(q)
    assert "#1 resolved." in texts(desk, "dm:staff-jd")
    desk.staff("staff-jd", "/answer 1 One more thing")
    await settle(desk)
    assert "#1 is resolved; nothing was sent." in texts(desk, "dm:staff-jd")
    assert texts(desk, "help") == ["Done. ^JD"]


async def test_an_agent_cannot_resolve_a_question_someone_else_holds(desk: DeskHarness) -> None:
    await ask(desk)
    await claim(desk, "staff-pr")
    desk.staff("staff-so", "/resolve 1")  # sokafor is an agent
    await settle(desk)
    q = await desk.question(1)
    assert q["state"] == "claimed"
    assert "#1 is already held by Priya Raman (^PR)." in texts(desk, "dm:staff-so")
    desk.staff("staff-jd", "/resolve 1")  # jdiaz is a lead
    await settle(desk)
    assert (await desk.question(1))["state"] == "resolved"


async def test_transfer_hands_the_question_over(desk: DeskHarness) -> None:
    await ask(desk)
    await claim(desk, "staff-jd")
    desk.staff("staff-jd", "/transfer 1 praman")
    await settle(desk)
    q = await desk.question(1)
    assert q["claimed_by"] == "praman" and q["state"] == "claimed"
    transferred = events_of(q, "transferred")
    assert transferred and transferred[0]["data"] == {"from_staff": "jdiaz", "to_staff": "praman"}
    notice = [t for t in texts(desk, "dm:staff-pr") if t.startswith("You hold #1")]
    assert notice and "(transferred by Jordan Diaz)" in notice[0]
    assert "#1 transferred to Priya Raman." in texts(desk, "dm:staff-jd")
    # the new holder answers; the old one is refused
    desk.staff("staff-jd", "/answer 1 From the old holder")
    desk.staff("staff-pr", "/answer 1 From the new holder")
    await settle(desk)
    assert texts(desk, "help") == ["From the new holder ^PR"]
    # an unknown target is refused
    desk.staff("staff-pr", "/transfer 1 nobody-here")
    await settle(desk)
    assert "/transfer 1 needs the roster id of a staff member." in texts(desk, "dm:staff-pr")
    assert (await desk.question(1))["claimed_by"] == "praman"


async def _moved_to_dm(desk: DeskHarness) -> None:
    desk.staff("staff-jd", "/dm 1 Could you tell me your order number?")
    await settle(desk)
    assert (await desk.question(1))["state"] == "moved_to_dm"


async def _awaiting_customer(desk: DeskHarness) -> None:
    desk.staff("staff-jd", "/ask 1 Which model is it?")
    await settle(desk)
    assert (await desk.question(1))["state"] == "awaiting_customer"


@pytest.mark.parametrize("reach", [_moved_to_dm, _awaiting_customer])
async def test_transfer_of_a_question_waiting_on_the_customer(desk: DeskHarness, reach) -> None:  # type: ignore[no-untyped-def]
    await ask(desk)
    await claim(desk, "staff-jd")
    await reach(desk)
    state = (await desk.question(1))["state"]
    desk.staff("staff-jd", "/transfer 1 praman")
    await settle(desk)
    assert "#1 transferred to Priya Raman." in texts(desk, "dm:staff-jd")
    q = await desk.question(1)
    assert q["claimed_by"] == "praman" and q["state"] == state


async def test_ask_waits_for_the_customer(desk: DeskHarness) -> None:
    asked = await ask(desk)
    await claim(desk, "staff-jd")
    desk.staff("staff-jd", "/ask 1 Which model is it?")
    await settle(desk)
    assert [(m.text, m.reply_to) for m in desk.local.sent("help")] == [
        ("Which model is it? ^JD", asked)
    ]
    q = await desk.question(1)
    assert q["state"] == "awaiting_customer" and q["claimed_by"] == "jdiaz"
    assert [v["data"]["action"] for v in events_of(q, "policy_verdict")] == ["allow"]
    desk.customer("cust1", "help", "The X100", handle="alice")
    await settle(desk)
    q = await desk.question(1)
    assert q["state"] == "claimed" and q["claimed_by"] == "jdiaz"
    assert "#1 · @alice wrote again:\nThe X100" in texts(desk, "dm:staff-jd")
    desk.staff("staff-jd", "/ask 1")
    await settle(desk)
    assert "/ask 1 needs the text to send." in texts(desk, "dm:staff-jd")


async def test_queue_and_details(desk: DeskHarness) -> None:
    await ask(desk, "cust1", "First question")
    await ask(desk, "cust2", "Second question", handle="bob")
    await claim(desk, "staff-jd", 1)
    desk.staff("staff-jd", "/queue")
    await settle(desk)
    assert texts(desk, "dm:staff-jd")[-1] == "You hold: #1 (claimed). Waiting for a claim: #2."
    desk.staff("staff-jd", "/details 2")
    await settle(desk)
    details = texts(desk, "dm:staff-jd")[-1]
    assert details.startswith("#2 · local · @bob · offered · held by nobody")
    assert "customer: Second question" in details


async def test_unknown_command_gets_help(desk: DeskHarness) -> None:
    await ask(desk)
    desk.staff("staff-jd", "/frobnicate 1")
    desk.staff("staff-jd", "just chatting with the bot")
    await settle(desk)
    dm = texts(desk, "dm:staff-jd")
    assert f"unknown command /frobnicate. {HELP}" in dm
    assert HELP in dm
    q = await desk.question(1)
    assert q["state"] == "offered"
    assert texts(desk, "help") == []


async def test_commands_replying_to_a_notification_apply_to_its_question(
    desk: DeskHarness,
) -> None:
    await ask(desk, "cust1", "First question")
    await ask(desk, "cust2", "Second question", handle="bob")
    offer_2 = next(m for m in desk.local.sent("staff") if m.text.startswith("#2 "))
    desk.staff("staff-jd", "/claim", chat="staff", reply_to=offer_2.id)
    await settle(desk)
    q2 = await desk.question(2)
    assert q2["claimed_by"] == "jdiaz"
    assert (await desk.question(1))["claimed_by"] is None
    held = next(m for m in desk.local.sent("dm:staff-jd") if m.text.startswith("You hold #2"))
    desk.staff("staff-jd", "/note", reply_to=held.id)  # a note needs text: it says so
    desk.staff("staff-jd", "The answer to two", reply_to=held.id)
    await settle(desk)
    assert "/note 2 needs the text of the note." in texts(desk, "dm:staff-jd")
    assert texts(desk, "help") == ["The answer to two ^JD"]
    desk.staff("staff-jd", "/resolve", reply_to=held.id)
    await settle(desk)
    assert (await desk.question(2))["state"] == "resolved"
    assert (await desk.question(1))["state"] == "offered"
    # without a number and not replying to anything, it asks for one
    desk.staff("staff-jd", "/claim")
    await settle(desk)
    assert "/claim needs a question number, e.g. /claim 12." in texts(desk, "dm:staff-jd")


async def test_claim_of_a_missing_question(desk: DeskHarness) -> None:
    desk.staff("staff-jd", "/claim 42")
    await settle(desk)
    assert texts(desk, "dm:staff-jd") == ["There is no question #42."]


async def test_a_claim_beyond_the_claim_limit_is_refused(desk: DeskHarness) -> None:
    for i in range(1, 5):
        await ask(desk, f"cust{i}", f"Question {i}", handle=f"c{i}")
    for i in (1, 2, 3):  # mellis may hold 3 at once
        await claim(desk, "staff-me", i)
    desk.staff("staff-me", "/claim 4")
    await settle(desk)
    assert texts(desk, "dm:staff-me")[-1] == (
        "You hold 3 questions waiting for your answer (your limit is 3): answer or release one "
        "first."
    )
    assert (await desk.question(4))["claimed_by"] is None
    desk.staff("staff-me", "/resolve 1")
    await settle(desk)
    await claim(desk, "staff-me", 4)


async def test_an_implicit_claim_respects_the_claim_limit(desk: DeskHarness) -> None:
    for i in range(1, 5):
        await ask(desk, f"cust{i}", f"Question {i}", handle=f"c{i}")
    for i in (1, 2, 3):
        await claim(desk, "staff-me", i)
    desk.staff("staff-me", "/answer 4 Here is an answer")
    await settle(desk)
    q4 = await desk.question(4)
    assert q4["claimed_by"] is None
    held = await count(
        desk, "SELECT COUNT(*) FROM questions WHERE claimed_by = 'mellis' AND state IN "
        "('claimed', 'answered', 'awaiting_customer', 'moved_to_dm')",
    )
    assert held <= 3


async def test_the_staff_channel_is_not_a_place_to_ask(desk: DeskHarness) -> None:
    desk.customer("cust1", "staff", "Can I ask here?", handle="alice")
    desk.staff("staff-jd", "Lunch at one?", chat="staff")
    await settle(desk)
    assert await count(desk, "SELECT COUNT(*) FROM questions") == 0
    assert desk.local.sent() == []
    ignored = await desk.store.fetchall(
        "SELECT actor FROM events WHERE kind = 'ignored' AND question_id IS NULL"
    )
    assert [r[0] for r in ignored] == ["local:cust1"]


async def test_staff_writing_in_a_customer_channel_ask_as_customers(
    desk: DeskHarness,
) -> None:
    desk.staff("staff-jd", "My own TV is broken too", chat="help")
    await settle(desk)
    q = await desk.question(1)
    assert q["customer_id"] == "staff-jd" and q["state"] == "offered"


# -- follow-ups and reopening --------------------------------------------------------------------


async def test_a_followup_joins_the_open_question_and_notifies_the_claimer(
    desk: DeskHarness,
) -> None:
    await ask(desk)
    await claim(desk, "staff-jd")
    desk.staff("staff-jd", "/answer 1 Turn off the eco timer.")
    await settle(desk)
    desk.customer("cust1", "help", "Where is that setting?", handle="alice")
    await settle(desk)
    assert await count(desk, "SELECT COUNT(*) FROM questions") == 1
    q = await desk.question(1)
    assert "followup" in kinds(q)
    assert q["state"] == "claimed" and q["claimed_by"] == "jdiaz"
    assert "#1 · @alice wrote again:\nWhere is that setting?" in texts(desk, "dm:staff-jd")
    # only one offer ever went to the staff channel
    assert len([m for m in desk.local.sent("staff") if not m.edit]) == 1


async def test_followup_within_the_reopen_window_reopens_to_the_last_answerer(
    plain_config: Config, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with DeskHarness(plain_config, tmp_path / "hf.db", clock=clock) as desk:
        await ask(desk)
        await claim(desk, "staff-pr")
        desk.staff("staff-pr", "/answer 1 Turn off the eco timer.")
        await settle(desk)
        desk.staff("staff-jd", "/resolve 1")  # a lead resolves it
        await settle(desk)
        assert (await desk.question(1))["state"] == "resolved"
        await clock.advance(23 * 3600)
        desk.customer("cust1", "help", "It happened again", handle="alice")
        await settle(desk)
        assert await count(desk, "SELECT COUNT(*) FROM questions") == 1
        q = await desk.question(1)
        assert q["state"] == "claimed" and q["claimed_by"] == "praman"
        assert q["resolved_at"] is None
        assert kinds(q)[-2:] == ["followup", "reopened"]
        assert "#1 · @alice wrote again:\nIt happened again" in texts(desk, "dm:staff-pr")


async def test_followup_after_the_reopen_window_starts_a_new_question(
    plain_config: Config, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with DeskHarness(plain_config, tmp_path / "hf.db", clock=clock) as desk:
        asked = await ask(desk)
        await claim(desk, "staff-pr")
        desk.staff("staff-pr", "/answer 1 Turn off the eco timer.")
        await settle(desk)
        desk.staff("staff-pr", "/resolve 1")
        await settle(desk)
        await clock.advance(24 * 3600 + 60)
        # even a reply to the old thread starts afresh
        desk.customer("cust1", "help", "New problem: no sound", handle="alice", reply_to=asked)
        await settle(desk)
        q1 = await desk.question(1)
        assert q1["state"] == "resolved" and "reopened" not in kinds(q1)
        q2 = await desk.question(2)
        assert q2["customer_id"] == "cust1" and q2["state"] == "offered"
        assert kinds(q2)[:2] == ["received", "offered"]
        assert "New problem: no sound" in texts(desk, "staff")[-1]


# -- policy seam --------------------------------------------------------------------------------


async def test_a_public_ask_for_private_data_is_not_sent(desk: DeskHarness) -> None:
    await ask(desk)
    await claim(desk, "staff-jd")
    desk.staff("staff-jd", "/answer 1 What is your order number?")
    await settle(desk)
    assert texts(desk, "help") == []
    notice = texts(desk, "dm:staff-jd")[-1]
    assert notice.startswith("Not sent (#1):")
    assert "[privacy.ask-in-public]" in notice
    assert "Send it privately instead: /send 1" in notice
    q = await desk.question(1)
    verdicts = events_of(q, "policy_verdict")
    assert [v["data"]["action"] for v in verdicts] == ["move_to_dm"]
    assert verdicts[0]["data"]["rule"] == "privacy.ask-in-public"
    assert verdicts[0]["actor"] == "jdiaz"
    assert q["state"] == "claimed" and q["first_answer_at"] is None
    assert "answered" not in kinds(q)
    # the suggested route works
    desk.staff("staff-jd", "/dm 1 What is your order number?")
    await settle(desk)
    assert texts(desk, "dm:cust1") == ["What is your order number? ^JD"]


async def test_every_staff_answer_has_a_policy_verdict(desk: DeskHarness) -> None:
    await ask(desk)
    await claim(desk, "staff-jd")
    desk.staff("staff-jd", "/answer 1 First answer")
    desk.staff("staff-jd", "/answer 1 Can you send your e-mail address?")
    desk.staff("staff-jd", "/answer 1 Second answer")
    await settle(desk)
    q = await desk.question(1)
    verdicts = [v["data"]["action"] for v in events_of(q, "policy_verdict")]
    assert verdicts == ["allow", "move_to_dm", "allow"]
    assert len(events_of(q, "answered")) == 2
    assert texts(desk, "help") == ["First answer ^JD", "Second answer ^JD"]


# -- offers -----------------------------------------------------------------------------------


async def test_offer_is_edited_to_claimed_and_loses_its_buttons(desk: DeskHarness) -> None:
    await ask(desk)
    offer = desk.local.sent("staff")[0]
    assert offer.buttons == (("Claim", "claim:1"), ("Details", "details:1"))
    desk.press("staff-pr", offer, "claim:1")
    await settle(desk)
    current = desk.local.bot_message(offer.id)
    assert current is not None and current.edit
    assert current.text == "#1 · local · @alice — claimed by Priya Raman (^PR)"
    assert current.buttons == ()
    # the notice for a button press goes to the presser's private chat
    assert texts(desk, "dm:staff-pr")[-1].startswith("You hold #1")


async def test_offers_are_bounded_by_notify_limit(desk: DeskHarness) -> None:
    await ask(desk)
    q = await desk.question(1)
    offered = events_of(q, "offered")[0]["data"]
    assert offered["channels"] == ["local:staff"]
    assert len(offered["staff"]) == desk.config.settings.desk.notify_limit == 5
    dm_offers = [m for m in desk.local.sent() if m.chat.startswith("dm:staff-")]
    assert len(dm_offers) == 5


async def test_a_question_nobody_can_be_offered_is_escalated(
    plain_config: Config, tmp_path: Path
) -> None:
    config = variant(plain_config, staff_channel=None, notify_limit=0)
    async with DeskHarness(config, tmp_path / "hf.db") as desk:
        await ask(desk)
        q = await desk.question(1)
        assert q["state"] == "escalated"
        assert "offered" not in kinds(q)
        escalated = events_of(q, "escalated")
        assert escalated and escalated[0]["data"]["reason"] == "nobody available to offer it to"
        # the leads (a bounded few) are told directly; nobody else is
        leads = ["jdiaz", "praman", "mellis"]
        assert sorted(escalated[0]["data"]["to"]) == sorted(leads)
        told = sorted(m.chat for m in desk.local.sent())
        assert told == ["dm:staff-jd", "dm:staff-me", "dm:staff-pr"]
        assert all("needs a lead" in m.text for m in desk.local.sent())
        # a lead can still take it
        await claim(desk, "staff-jd")
        assert (await desk.question(1))["state"] == "claimed"


async def test_an_offer_shows_the_questions_tags_and_when_it_is_due(
    example_config: Config, tmp_path: Path
) -> None:
    async with DeskHarness(example_config, tmp_path / "helpforce.db") as desk:
        await ask(desk, text="My TV remote stopped working")
        offer = next(m for m in desk.local.sent("staff") if m.text.startswith("#1 "))
    facts = offer.text.splitlines()[2]
    assert facts.startswith("tags: tv · answer by ")
    assert "waiting" not in facts  # new: its wait is not worth saying yet


def test_offer_texts_say_how_long_a_question_has_waited() -> None:
    from helpforce import texts as t

    text = t.offer(7, "x", "alice", "public", "Hi", True, age=3 * 3600 + 5 * 60)
    assert text.endswith("\nwaiting 3 h 5 min")
    assert t.duration(59 * 60) == "59 min" and t.duration(2 * 86400 + 3600) == "2 d 1 h"
    assert t.offer(7, "x", "alice", "public", "Hi", True) == "#7 · x (public) · @alice:\nHi"


async def test_staff_who_refuse_private_messages_are_not_notified_there_again(
    desk: DeskHarness,
) -> None:
    await ask(desk)
    first_wave = sorted({m.chat for m in desk.local.sent() if m.chat.startswith("dm:staff-")
                         and m.text.startswith("#1 ")})
    assert len(first_wave) == 5
    # two of them block the bot; the desk learns it from the next refusal
    for chat in first_wave[:2]:
        desk.local.refuse(chat)
    for i in range(2, 9):  # more than two rounds of the 12 staff, 5 at a time
        await ask(desk, f"cust{i}", f"Question number {i}")
    assert desk.app.store is not None
    attempts = await desk.app.store.fetchall(
        "SELECT json_extract(payload, '$.dm_user'), state FROM outbox "
        "WHERE json_extract(payload, '$.dm_user') IN (?, ?)",
        tuple(c.removeprefix("dm:") for c in first_wave[:2]),
    )
    # each was tried once (and refused), then passed over for every later offer
    assert sorted(r[1] for r in attempts) == ["failed", "failed", "sent", "sent"]


async def test_staff_ask_for_their_own_figures_of_the_week(desk: DeskHarness) -> None:
    desk.staff("staff-jd", "/stats")
    await settle(desk)
    assert texts(desk, "dm:staff-jd")[-1] == "No answers from you yet this week."
    await ask(desk)
    await claim(desk, "staff-jd")
    desk.staff("staff-jd", "/answer 1 Hold the power button.")
    await settle(desk)
    desk.staff("staff-jd", "/mystats")
    await settle(desk)
    reply = texts(desk, "dm:staff-jd")[-1]
    assert reply.startswith("This week you answered 1 question, median first response")
    assert "/stats" in HELP
