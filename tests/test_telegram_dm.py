"""Telegram's move to a private chat: a bot cannot write first, so a group question that needs
private data gets a public reply with a t.me/<bot>?start=<payload> link, the staff member's
private message waits, and opening the link (Start) delivers it and binds the private chat to
the same question. Real App, store, outbox and python-telegram-bot against the loopback fake.

People as in tests/test_telegram.py; 2003 is Carol, a customer who has never started the bot.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("telegram")

import test_telegram as base  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from fakes.telegram import BOT_USERNAME, FakeTelegram, Sent  # noqa: E402
from test_telegram import (  # noqa: E402
    ALICE,
    BOB,
    ENV,
    JORDAN,
    MALLORY,
    PRIYA,
    STAFF_GROUP,
    TelegramDesk,
    in_chat,
    kinds,
)

from helpforce.cli import main  # noqa: E402

# the fake Bot API, the test deployment and the running desk, as in tests/test_telegram.py
tg = base.tg
config_dir = base.config_dir
desk = base.desk

CAROL = 2003
GROUP = -100777
LINK = re.compile(rf"https://t\.me/{BOT_USERNAME}\?start=([A-Za-z0-9_-]+)")


def sent_to(tg: FakeTelegram, chat_id: int) -> list[str]:
    """Every sendMessage the bot attempted into ``chat_id`` (whatever the answer)."""
    return [str(p.get("text")) for p, _ in tg.calls_of("sendMessage", chat_id)]


async def _claimed_group_question(tg: FakeTelegram, customer: int, text: str) -> None:
    tg.group(GROUP, "Acme community")
    tg.user_says(customer, text, chat_id=GROUP)
    post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    tg.press(PRIYA, post, "claim:1")
    await tg.wait_sent(in_chat(PRIYA, starts="You hold #1"))


async def _held_private_reply(tg: FakeTelegram, text: str) -> tuple[Sent, str]:
    """Carol (who never started the bot) asks in a group, Priya claims it and writes ``text``
    privately: it is held, and the group gets the start link. Returns that post and the
    link's payload."""
    tg.user(CAROL, "Carol", "carol", started=False)
    await _claimed_group_question(tg, CAROL, "@helpforce_bot my order never arrived")
    tg.user_says(PRIYA, f"/dm 1 {text}")
    public = await tg.wait_sent(in_chat(GROUP))
    link = LINK.search(public.text)
    assert link is not None, public.text
    await tg.wait_sent(in_chat(PRIYA, starts="#1: @carol has to open the private chat"))
    return public, link[1]


async def test_a_group_question_moves_to_private_through_the_start_link(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    public, payload = await _held_private_reply(
        tg, "Could you send me your order number here?")
    # Telegram's start parameter: at most 64 characters of A-Za-z0-9_-; ours is 128 random bits
    assert 16 <= len(payload) <= 64
    assert "@carol" in public.text and "order number" not in public.text
    # the private message waits: the bot does not even try (it would get a 403)
    assert sent_to(tg, CAROL) == []

    # someone else in the group opens the link: politely refused, nothing released
    tg.user_says(MALLORY, f"/start {payload}")
    refusal = await tg.wait_sent(in_chat(MALLORY))
    assert "someone else's conversation" in refusal.text
    assert sent_to(tg, CAROL) == []
    q = await desk.question_where(1, lambda q: "ignored" in kinds(q))
    assert "dm_opened" not in kinds(q)

    # Carol presses Start: the held message goes out in her private chat
    tg.user_says(CAROL, f"/start {payload}")
    private = await tg.wait_sent(in_chat(CAROL))
    assert private.text == "Could you send me your order number here? ^PR"
    await tg.wait_sent(in_chat(PRIYA, starts="#1: @carol opened the private chat"))

    # and the private conversation continues on the same question
    tg.user_says(CAROL, "Sure, it is 4417-2209")
    followup = await tg.wait_sent(in_chat(PRIYA, starts="#1 · @carol wrote again"))
    tg.user_says(PRIYA, "Thanks, it ships tomorrow.", reply_to=followup)
    await tg.wait_sent(in_chat(CAROL, has="ships tomorrow"))
    q = await desk.question_where(1, lambda q: kinds(q).count("delivered") >= 3)
    assert kinds(q).count("dm_opened") == 1 and kinds(q).count("received") == 1
    assert q["state"] in ("answered", "moved_to_dm")
    conn = sqlite3.connect(desk.app.db_path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM questions").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM outbox WHERE state = 'held'").fetchone()[0] == 0
    finally:
        conn.close()

    # pressing Start again changes nothing and queues nothing (checked once the desk has
    # committed the update: the fake forgets an update when the next poll confirms it)
    before = _outbox_rows(desk)
    tg.user_says(CAROL, f"/start {payload}")
    await desk.until(lambda: not tg.updates)
    assert _outbox_rows(desk) == before
    assert kinds(await desk.question(1)).count("dm_opened") == 1


def _outbox_rows(desk: TelegramDesk) -> int:
    conn = sqlite3.connect(desk.app.db_path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    finally:
        conn.close()


async def test_a_customer_posting_their_own_data_in_a_group_gets_the_link_too(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    tg.user(CAROL, "Carol", "carol", started=False)
    tg.group(GROUP, "Acme community")
    tg.user_says(CAROL, "@helpforce_bot order never came, mail me at carol.b@example.org",
                 chat_id=GROUP)
    public = await tg.wait_sent(in_chat(GROUP))
    payload = LINK.search(public.text)
    assert payload is not None, public.text
    offer = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    assert "carol.b@example.org" not in offer.text
    q = await desk.question_where(1, lambda q: "moved_to_dm" in kinds(q))
    assert q["dm_conversation"] == f"dm:{CAROL}" and sent_to(tg, CAROL) == []

    # the private opener waits for Start; then the claimer's answer goes privately too
    tg.user_says(CAROL, f"/start {payload[1]}")
    opener = await tg.wait_sent(in_chat(CAROL))
    assert opener.text.startswith("Hi @carol")
    tg.press(JORDAN, offer, "claim:1")
    held = await tg.wait_sent(in_chat(JORDAN, starts="You hold #1"))
    tg.user_says(JORDAN, "We'll sort it out here.", reply_to=held)
    answer = await tg.wait_sent(in_chat(CAROL, has="sort it out"))
    assert answer.text == "We'll sort it out here. ^JD"
    assert [m.text for m in tg.sent_to(GROUP)] == [public.text]  # nothing more in public


async def test_a_customer_who_started_the_bot_is_written_to_at_once(
    tg: FakeTelegram, config_dir: Path, tmp_path: Path
) -> None:
    # a resolved question is not reopened by the customer's next message
    settings = config_dir / "helpforce.yaml"
    settings.write_text(settings.read_text().replace("  brand: acme\n",
                                                     "  brand: acme\n  reopen_window: 0s\n"))
    async with TelegramDesk(tg, config_dir, tmp_path / "hf.db") as desk:
        await _written_to_at_once(tg, desk)


async def _written_to_at_once(tg: FakeTelegram, desk: TelegramDesk) -> None:
    # Bob wrote to the bot privately before: the desk knows a private message reaches him
    tg.user_says(BOB, "Hello?")
    await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    tg.user_says(JORDAN, "/resolve 1")
    await desk.question_where(1, lambda q: q["state"] == "resolved")

    tg.group(GROUP, "Acme community")
    tg.user_says(BOB, "@helpforce_bot my invoice is wrong", chat_id=GROUP)
    post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#2"))
    tg.press(PRIYA, post, "claim:2")
    await tg.wait_sent(in_chat(PRIYA, starts="You hold #2"))
    tg.user_says(PRIYA, "/dm 2 Which invoice number is it?")
    private = await tg.wait_sent(in_chat(BOB, has="Which invoice number"))
    public = await tg.wait_sent(in_chat(GROUP))
    assert LINK.search(public.text) is None and "private message" in public.text
    assert private.text.endswith("^PR")


async def test_an_unknown_or_mangled_link_opens_nothing(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    tg.user_says(ALICE, "/start not-a-real-payload")
    reply = await tg.wait_sent(in_chat(ALICE))
    assert "expired or is not valid" in reply.text
    tg.user_says(ALICE, "/start " + "x" * 80)
    await tg.wait_until(lambda: len(tg.sent_to(ALICE)) == 2)
    conn = sqlite3.connect(desk.app.db_path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM questions").fetchone()[0] == 0
    finally:
        conn.close()


async def test_staff_who_never_started_the_bot_show_in_helpforce_roster(
    tg: FakeTelegram, config_dir: Path, tmp_path: Path
) -> None:
    tg.started.discard(PRIYA)  # Priya never pressed Start in her private chat with the bot
    db = tmp_path / "hf.db"
    async with TelegramDesk(tg, config_dir, db) as h:
        tg.user_says(ALICE, "My TV keeps switching off")
        await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
        # routing notifies both; Priya's private chat refuses (403)
        await h.until(lambda: tg.calls_of("sendMessage", PRIYA))
        await h.until(lambda: _reach(db, PRIYA) == 0)
        assert _reach(db, JORDAN) is None  # never tried and never wrote: unknown, not blamed

    runner = CliRunner(env=ENV)
    # the CLI runs its own event loop: call it from a thread
    roster = ["roster", "--config", str(config_dir), "--db", str(db)]
    shown = await asyncio.to_thread(runner.invoke, main, roster)
    assert shown.exit_code == 0, shown.output
    assert f"telegram:{PRIYA} (unreachable)" in shown.output
    assert "praman on telegram (has not started the bot, or blocked it)" in shown.output
    assert f"telegram:{JORDAN} (unreachable)" not in shown.output
    as_json = await asyncio.to_thread(runner.invoke, main, [*roster, "--json"])
    by_id = {s["id"]: s for s in json.loads(as_json.output)}
    assert "forbidden" in by_id["praman"]["unreachable"]["telegram"]
    assert by_id["jdiaz"]["unreachable"] == {}

    # once Priya starts the bot (writes to it), the desk knows she is reachable again
    async with TelegramDesk(tg, config_dir, db) as h:
        tg.user_says(PRIYA, "/queue")
        await h.until(lambda: _reach(db, PRIYA) == 1)
    shown = await asyncio.to_thread(runner.invoke, main, roster)
    assert shown.exit_code == 0 and "(unreachable)" not in shown.output


def _reach(db: Path, user_id: int) -> int | None:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT reachable FROM dm_reach WHERE platform = 'telegram' "
                           "AND user_id = ?", (str(user_id),)).fetchone()
    finally:
        conn.close()
    return None if row is None else int(row[0])



async def test_a_customer_who_writes_to_the_bot_without_the_link_gets_what_was_held(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    tg.user(CAROL, "Carol", "carol", started=False)
    await _claimed_group_question(tg, CAROL, "@helpforce_bot my order never arrived")
    tg.user_says(PRIYA, "/dm 1 Could you send me your order number here?")
    await tg.wait_sent(in_chat(GROUP))
    # Carol finds the bot on her own and writes to it: her private chat is open all the same
    tg.user_says(CAROL, "hello? about my order")
    private = await tg.wait_sent(in_chat(CAROL, has="order number"))
    assert private.text.endswith("^PR")
    q = await desk.question_where(1, lambda q: "dm_opened" in kinds(q))
    assert "followup" in kinds(q)
    assert _count(desk, "SELECT COUNT(*) FROM questions") == 1
    assert _count(desk, "SELECT COUNT(*) FROM outbox WHERE state = 'held'") == 0


async def test_a_held_answer_is_not_a_response_yet_and_its_author_is_told(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    tg.user(CAROL, "Carol", "carol", started=False)
    tg.group(GROUP, "Acme community")
    tg.user_says(CAROL, "@helpforce_bot order never came, mail me at carol.b@example.org",
                 chat_id=GROUP)
    offer = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    tg.press(JORDAN, offer, "claim:1")
    held = await tg.wait_sent(in_chat(JORDAN, starts="You hold #1"))
    tg.user_says(JORDAN, "We'll sort it out here.", reply_to=held)
    await tg.wait_sent(in_chat(JORDAN, starts="#1: @carol has to open the private chat"))
    q = await desk.question_where(1, lambda q: "answered" in kinds(q))
    answered = [e for e in q["events"] if e["kind"] == "answered"]
    assert answered[-1]["data"].get("held") is True
    # not a first response: nothing reached Carol yet (a first-response target, where one
    # is set, still stands and escalates)
    assert _count(desk, "SELECT COUNT(*) FROM questions WHERE first_answer_at IS NULL") == 1

    # resolved before Carol ever opened the chat: what waited is dropped, visibly
    tg.user_says(JORDAN, "/resolve 1")
    q = await desk.question_where(1, lambda q: q["state"] == "resolved")
    assert any("dropped" in str(e["data"].get("reason", "")) for e in q["events"])
    assert _count(desk, "SELECT COUNT(*) FROM outbox WHERE state = 'held'") == 0
    assert sent_to(tg, CAROL) == []


def _count(desk: TelegramDesk, sql: str) -> int:
    conn = sqlite3.connect(desk.app.db_path)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


async def test_a_takeover_drops_the_previous_holders_reply_waiting_for_the_private_chat(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    # Priya's private message waits for Carol to open the chat; Jordan (lead) takes the
    # question over and answers: Carol gets Jordan's answer, not Priya's as a second one
    _, payload = await _held_private_reply(tg, "Please send your order number here")
    tg.user_says(JORDAN, "/takeover 1")
    await tg.wait_sent(in_chat(PRIYA, has="taken over"))
    q = await desk.question_where(1, lambda q: "ignored" in kinds(q))
    tg.user_says(JORDAN, "/answer 1 I refunded you, nothing else is needed")
    await desk.question_where(1, lambda q: kinds(q).count("answered") >= 2)
    tg.user_says(CAROL, f"/start {payload}")
    await tg.wait_sent(in_chat(CAROL, has="refunded"))
    assert [t for t in sent_to(tg, CAROL) if "order number" in t] == []
    conn = sqlite3.connect(desk.app.db_path)
    try:
        states = [r[0] for r in conn.execute(
            "SELECT state FROM outbox WHERE payload LIKE '%order number%' "
            "AND json_extract(payload, '$.dm_user') IS NOT NULL")]
    finally:
        conn.close()
    assert states == ["dropped"]
    assert q["claimed_by"] == "jdiaz"  # the takeover, when Priya's message was dropped
