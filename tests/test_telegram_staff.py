"""Telegram, the staff's side: answering by replying to the staff-group post, and a reply the
guidelines stop, explained with the compliant version and a button that sends it. Real App,
store, outbox and python-telegram-bot against the loopback fake (tests/fakes/telegram.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytest.importorskip("telegram")

import test_telegram as base  # noqa: E402
from fakes.telegram import TOKEN, FakeTelegram  # noqa: E402
from test_telegram import (  # noqa: E402
    ALICE,
    JORDAN,
    PRIYA,
    STAFF_GROUP,
    TelegramDesk,
    in_chat,
    kinds,
)

# the fake Bot API, the test deployment and the running desk, as in tests/test_telegram.py
tg = base.tg
config_dir = base.config_dir
desk = base.desk


async def test_a_reply_to_the_staff_group_post_answers_and_claims(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    tg.user_says(ALICE, "Does the X200 have wifi?")
    post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    tg.user_says(PRIYA, "Yes, wifi 6.", chat_id=STAFF_GROUP, reply_to=post)
    answer = await tg.wait_sent(in_chat(ALICE))
    assert answer.text == "Yes, wifi 6. ^PR"
    await tg.wait_until(lambda: "claimed by Priya Raman (^PR)" in post.text)
    q = await desk.question_where(1, lambda q: "delivered" in kinds(q))
    assert q["claimed_by"] == "praman"


async def test_a_stopped_reply_is_explained_with_a_button_that_sends_the_compliant_one(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    group = -100555
    tg.group(group, "Acme community")
    tg.user_says(ALICE, "@helpforce_bot where is my parcel?", chat_id=group)
    post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    tg.press(JORDAN, post, "claim:1")
    held = await tg.wait_sent(in_chat(JORDAN, starts="You hold #1"))
    tg.user_says(JORDAN, "What's your order number?", reply_to=held)
    stopped = await tg.wait_sent(in_chat(JORDAN, starts="Not sent (#1)"))
    assert ("Send this instead", "send:1") in stopped.buttons
    assert tg.sent_to(group) == []  # nothing went out in public
    tg.press(JORDAN, stopped, "send:1")
    public = await tg.wait_sent(in_chat(group))
    # the public note is signed and carries the link to the private chat, not the question
    assert "order number" not in public.text and "^JD" in public.text
    assert "https://t.me/helpforce_bot?start=" in public.text
    q = await desk.question_where(1, lambda q: "moved_to_dm" in kinds(q))
    assert "policy_verdict" in kinds(q)


async def test_neither_the_token_nor_customer_text_reaches_the_logs_even_at_debug(
    tg: FakeTelegram, config_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with TelegramDesk(tg, config_dir, tmp_path / "hf.db"):
        tg.user_says(ALICE, "My secret question about the X200")
        post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
        tg.press(JORDAN, post, "claim:1")
        await tg.wait_sent(in_chat(JORDAN, starts="You hold #1"))
    assert caplog.records  # the daemon did log
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
    assert "secret question" not in caplog.text
