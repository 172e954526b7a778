"""Telegram end to end: the real App, store and outbox, the real python-telegram-bot, and the
Bot API faked on 127.0.0.1 (tests/fakes/telegram.py). No fixed sleeps: every wait is on a
condition, with a timeout.

People: 1001 is Jordan Diaz (lead, ^JD) and 1002 Priya Raman (agent, ^PR), both on the roster
with their Telegram user ids; 2001 and 2002 are customers; 3001 is someone not on the roster.
The staff group is -1009000.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("telegram")

from fakes.telegram import TOKEN, FakeTelegram, Sent  # noqa: E402
from waiting import until  # noqa: E402

from conftest import EXAMPLE_CONFIG  # noqa: E402
from helpforce.adapter import PermanentError, TransientError, UncertainError  # noqa: E402
from helpforce.adapters.telegram import (  # noqa: E402
    TelegramAdapterFactory,
    TelegramSettings,
)
from helpforce.adapters.telegram.adapter import TelegramAdapter  # noqa: E402
from helpforce.app import App  # noqa: E402
from helpforce.clock import SystemClock  # noqa: E402
from helpforce.config import load_config  # noqa: E402
from helpforce.models import Event, Inbound, InboundKind, Outgoing, Visibility  # noqa: E402
from helpforce.queries import show_question  # noqa: E402
from helpforce.store import Store  # noqa: E402

ENV = {"HF_TELEGRAM_TOKEN": TOKEN}
STAFF_GROUP = -1009000
JORDAN, PRIYA = 1001, 1002
ALICE, BOB = 2001, 2002
MALLORY = 3001
TIMEOUT = 10.0

ROSTER = f"""\
staff:
  - id: jdiaz
    name: Jordan Diaz
    initials: JD
    role: lead
    accounts: {{telegram: {JORDAN}}}
    notify: [telegram]
  - id: praman
    name: Priya Raman
    initials: PR
    accounts: {{telegram: {PRIYA}}}
    notify: [telegram]
"""


def write_config(directory: Path, tg: FakeTelegram, *, per_chat: str = "null") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "helpforce.yaml").write_text(f"""\
desk:
  brand: acme
platforms:
  telegram:
    token_env: HF_TELEGRAM_TOKEN
    base_url: {tg.base_url}
    base_file_url: {tg.base_file_url}
    staff_channel: "{STAFF_GROUP}"
    poll_timeout: 5
    request_timeout: 5
    rate_limit: {{per_second: 500, burst: 500, per_chat_per_second: {per_chat}}}
""")
    (directory / "roster.yaml").write_text(ROSTER)
    shutil.copy(EXAMPLE_CONFIG / "policies.yaml", directory / "policies.yaml")
    return directory


class TelegramDesk:
    """The daemon on Telegram against the fake; ``wrap_sink`` lets a test hold batches."""

    def __init__(
        self, tg: FakeTelegram, config_dir: Path, db_path: Path,
        wrap_sink: Callable[[Any], Any] | None = None,
    ) -> None:
        self.tg = tg
        factory = TelegramAdapterFactory()
        self.config = load_config(config_dir, env=ENV, factories={"telegram": factory})
        settings = self.config.settings.platforms["telegram"]
        adapter = factory.create(settings, clock=SystemClock(), env=ENV)
        assert isinstance(adapter, TelegramAdapter)
        self.adapter = adapter
        if wrap_sink is not None:
            start = adapter.start

            async def wrapped_start(sink: Any, cursor: str | None) -> None:
                await start(wrap_sink(sink), cursor)

            adapter.start = wrapped_start  # type: ignore[method-assign]
        self.events: list[Event] = []
        self.app = App(self.config, db_path=str(db_path), adapters={"telegram": adapter},
                       observers=[self.events.append], env=ENV)

    async def __aenter__(self) -> TelegramDesk:
        await self.app.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.stop()

    @property
    def store(self) -> Store:
        assert self.app.store is not None
        return self.app.store

    async def question(self, qid: int) -> dict[str, Any]:
        q = await show_question(self.store, qid)
        assert q is not None, f"no question #{qid}"
        return q

    async def until(self, condition: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        """Wait for a condition on the desk's side (an async or plain callable)."""
        return await until(condition, timeout)

    async def question_where(
        self, qid: int, check: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            q = await show_question(self.store, qid)
            return q if q is not None and check(q) else None

        found: dict[str, Any] = await self.until(probe)
        return found


def kinds(q: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in q["events"]]


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.user(JORDAN, "Jordan", "jdiaz")
        fake.user(PRIYA, "Priya")
        fake.user(ALICE, "Alice", "alice")
        fake.user(BOB, "Bob", "bob")
        fake.user(MALLORY, "Mallory", "mallory")
        fake.group(STAFF_GROUP, "Acme staff")
        yield fake


@pytest.fixture
def config_dir(tmp_path: Path, tg: FakeTelegram) -> Path:
    return write_config(tmp_path / "config", tg)


@pytest.fixture
async def desk(
    tg: FakeTelegram, config_dir: Path, tmp_path: Path
) -> AsyncIterator[TelegramDesk]:
    async with TelegramDesk(tg, config_dir, tmp_path / "hf.db") as h:
        yield h


def in_chat(chat_id: int, *, starts: str = "", has: str = "") -> Callable[[Sent], bool]:
    return lambda m: m.chat_id == chat_id and m.text.startswith(starts) and has in m.text


# -- the whole loop ------------------------------------------------------------------------------


async def test_private_question_claimed_with_the_button_and_answered_by_reply(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    asked = tg.user_says(ALICE, "My TV keeps switching off")
    post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    assert "My TV keeps switching off" in post.text and "@alice" in post.text
    assert post.buttons == [("Claim", "claim:1"), ("Details", "details:1")]
    # staff picked by routing are told directly, with a Claim button of their own
    offer = await tg.wait_sent(lambda m: m.chat_id in (JORDAN, PRIYA) and m.text.startswith("#1"))
    assert offer.buttons == [("Claim", "claim:1")]

    press = tg.press(JORDAN, post, "claim:1")
    held = await tg.wait_sent(in_chat(JORDAN, starts="You hold #1"))
    await tg.wait_until(lambda: "claimed by Jordan Diaz (^JD)" in post.text)
    assert post.buttons == [] and post.edits == 1  # the Claim button is gone
    await tg.wait_until(lambda: any(a["id"] == press for a in tg.callback_answers))

    tg.user_says(JORDAN, "Please unplug it for 30 seconds, then switch it on again.",
                 reply_to=held)
    answer = await tg.wait_sent(in_chat(ALICE, has="unplug it"))
    assert answer.text == "Please unplug it for 30 seconds, then switch it on again. ^JD"

    q = await desk.question_where(1, lambda q: "delivered" in kinds(q))
    assert q["claimed_by"] == "jdiaz" and q["state"] == "answered"
    assert q["platform"] == "telegram" and q["customer_id"] == str(ALICE)
    assert q["root_message"] == asked
    # the offer went to the staff group once
    assert len(tg.sent_to(STAFF_GROUP)) == 1


async def test_someone_not_on_the_roster_pressing_claim_is_refused_and_nothing_changes(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    tg.user_says(ALICE, "Where is my parcel?")
    post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    q_before = await desk.question_where(1, lambda q: q["state"] == "offered")
    press = tg.press(MALLORY, post, "claim:1")
    refusal = await tg.wait_sent(in_chat(MALLORY))
    assert refusal.text.startswith("Sorry, that button is for our support staff")
    await tg.wait_until(lambda: any(a["id"] == press for a in tg.callback_answers))
    q = await desk.question_where(1, lambda q: "ignored" in kinds(q))
    assert q["state"] == "offered" and q["claimed_by"] is None
    assert post.buttons == [("Claim", "claim:1"), ("Details", "details:1")]
    assert post.edits == 0
    assert kinds(q).count("claimed") == 0
    assert len(q["events"]) == len(q_before["events"]) + 1
    # a roster member can still claim it
    tg.press(PRIYA, post, "claim:1")
    await tg.wait_sent(in_chat(PRIYA, starts="You hold #1"))


async def test_staff_commands_carry_entities_and_reach_the_desk(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    tg.user_says(ALICE, "Can I change my delivery address?")
    await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    tg.user_says(PRIYA, "/claim 1")
    await tg.wait_sent(in_chat(PRIYA, starts="You hold #1"))
    tg.user_says(PRIYA, "/answer 1 Yes: use the link in your confirmation e-mail.")
    answer = await tg.wait_sent(in_chat(ALICE))
    assert answer.text == "Yes: use the link in your confirmation e-mail. ^PR"


async def test_a_group_question_is_answered_in_the_group_as_a_reply(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    group = -100555
    tg.group(group, "Acme community")
    asked = tg.user_says(BOB, "@helpforce_bot does the X200 support 5 GHz wifi?", chat_id=group)
    post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    assert "(public)" in post.text and "@bob" in post.text
    tg.press(PRIYA, post, "claim:1")
    held = await tg.wait_sent(in_chat(PRIYA, starts="You hold #1"))
    tg.user_says(PRIYA, "Yes, both 2.4 and 5 GHz.", reply_to=held)
    answer = await tg.wait_sent(in_chat(group))
    assert answer.text == "Yes, both 2.4 and 5 GHz. ^PR"
    assert answer.reply_to == int(asked.split(":")[1])
    q = await desk.question_where(1, lambda q: "delivered" in kinds(q))
    assert q["visibility"] == "public"


# -- resume --------------------------------------------------------------------------------------


async def test_stopping_confirms_what_the_desk_committed(
    tg: FakeTelegram, config_dir: Path, tmp_path: Path
) -> None:
    async with TelegramDesk(tg, config_dir, tmp_path / "hf.db") as h:
        tg.user_says(ALICE, "First question")
        await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
        await h.until(lambda: h.store.cursor("telegram"))
        cursor = int(await h.store.cursor("telegram") or 0)
    # the poller's last word to Telegram: a getUpdates that waits for nothing
    last, _ = tg.calls_of("getUpdates")[-1]
    assert int(last["timeout"]) == 0 and int(last["offset"]) == cursor
    assert tg.confirmed == cursor and not tg.pending_updates()


async def test_a_restart_mid_stream_neither_loses_nor_duplicates(
    tg: FakeTelegram, config_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "hf.db"
    delivered: list[dict[str, Any]] = []
    async with TelegramDesk(tg, config_dir, db) as h:
        tg.user_says(ALICE, "First question")
        delivered.extend(tg.updates)
        await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
        await h.until(lambda: h.store.cursor("telegram"))

    # the daemon is down: customers keep writing
    tg.user_says(BOB, "Second question")
    tg.user_says(ALICE, "And one more thing about the first")
    delivered.extend(u for u in tg.updates if u not in delivered)

    # back up, but crashing once after fetching a batch and before committing it
    held = asyncio.Event()

    def hold_first(sink: Any) -> Any:
        async def gated(batch: Sequence[Inbound], cursor: str | None) -> None:
            if batch and not held.is_set():
                held.set()
                await asyncio.Event().wait()  # never commits: "crashes" here
            await sink(batch, cursor)
        return gated

    async with TelegramDesk(tg, config_dir, db, wrap_sink=hold_first) as h:
        await asyncio.wait_for(held.wait(), TIMEOUT)
        cursor = await h.store.cursor("telegram")
    assert tg.pending_updates(), "the fetched batch must not be confirmed"

    async with TelegramDesk(tg, config_dir, db) as h:
        await tg.wait_sent(in_chat(STAFF_GROUP, starts="#2"))
        await h.question_where(2, lambda q: q["state"] == "offered")
        await h.until(lambda: tg.confirmed > int(cursor or 0) and not tg.pending_updates())
        count = await h.store.fetchone("SELECT COUNT(*) FROM questions")
        assert count is not None
        # Alice's third message is a follow-up of her open question #1, Bob's is #2
        assert count[0] == 2
        q1 = await h.question_where(1, lambda q: "followup" in kinds(q))
        assert kinds(q1).count("received") == 1 and kinds(q1).count("followup") == 1
        posts = [m.text.split(" ")[0] for m in tg.sent_to(STAFF_GROUP)
                 if m.text.startswith("#")]
        assert posts.count("#1") == 1 and posts.count("#2") == 1

    # Telegram re-delivers what it was never told was confirmed (here: everything, as if the
    # saved cursor were older): the inbound ledger makes the repeats harmless
    sent_before = len(tg.sent)
    replayed = list(delivered)
    assert len(replayed) == 3
    tg.confirmed = 0
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM cursors WHERE platform = 'telegram'")
    for payload in replayed:
        tg.push(payload)
    async with TelegramDesk(tg, config_dir, db) as h:
        last = max(p["update_id"] for p in replayed)
        await h.until(lambda: tg.confirmed > last)
        await h.until(lambda: h.store.cursor("telegram"))
        count = await h.store.fetchone("SELECT COUNT(*) FROM questions")
        assert count is not None and count[0] == 2
        q1 = await h.question(1)
        assert kinds(q1).count("received") == 1 and kinds(q1).count("followup") == 1
        assert len(tg.sent) == sent_before  # nobody was told anything twice


# -- delivery ------------------------------------------------------------------------------------


async def test_flood_control_is_obeyed_and_delivery_completes(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    tg.fail("sendMessage", retry_after=1, chat_id=STAFF_GROUP)
    tg.user_says(ALICE, "Is the shop open on Sunday?")
    post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    assert "Is the shop open on Sunday?" in post.text
    calls = tg.calls_of("sendMessage", STAFF_GROUP)
    assert len(calls) == 2
    assert calls[1][1] - calls[0][1] >= 0.95  # waited the retry_after Telegram asked for
    await desk.until(lambda: _sent_after_flood_control(desk))


async def _sent_after_flood_control(desk: TelegramDesk) -> bool:
    rows = await desk.store.fetchall(
        "SELECT state, attempts, last_error FROM outbox WHERE platform = 'telegram'"
    )
    return any(r[0] == "sent" and r[1] == 2 and "flood control" in (r[2] or "") for r in rows)


async def test_forbidden_answer_is_a_recorded_permanent_failure(
    tg: FakeTelegram, desk: TelegramDesk
) -> None:
    tg.user_says(ALICE, "How do I reset my router?")
    post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    tg.press(JORDAN, post, "claim:1")
    held = await tg.wait_sent(in_chat(JORDAN, starts="You hold #1"))
    tg.blocked.add(ALICE)  # Alice blocked the bot meanwhile
    tg.user_says(JORDAN, "Hold the reset button for ten seconds.", reply_to=held)
    q = await desk.question_where(1, lambda q: "delivery_failed" in kinds(q))
    failed = [e for e in q["events"] if e["kind"] == "delivery_failed"]
    assert len(failed) == 1 and "forbidden" in failed[0]["data"]["reason"]
    assert "blocked" in failed[0]["data"]["reason"]
    # tried once (permanent: no retries), and the desk escalated it visibly
    assert len(tg.calls_of("sendMessage", ALICE)) == 1
    q = await desk.question_where(1, lambda q: q["state"] == "escalated")
    assert any(e["kind"] == "escalated" and "could not be delivered" in e["data"]["reason"]
               for e in q["events"])


async def test_a_message_to_someone_who_never_started_the_bot_fails_permanently(
    tg: FakeTelegram,
) -> None:
    tg.user(4001, "Newcomer", started=False)
    adapter = _adapter(tg)
    try:
        with pytest.raises(PermanentError, match="can't initiate conversation"):
            await adapter.send(Outgoing("telegram", "dm:4001", "Hello", Visibility.PRIVATE,
                                        dm_user="4001"))
        with pytest.raises(PermanentError, match="too long"):
            await adapter.send(Outgoing("telegram", str(ALICE), "x" * 4097, Visibility.PRIVATE))
        with pytest.raises(PermanentError, match="(?i)chat not found"):
            await adapter.send(Outgoing("telegram", "-5", "Hello", Visibility.PUBLIC))
        tg.fail("sendMessage", 502, "Bad Gateway")
        with pytest.raises(TransientError):
            await adapter.send(Outgoing("telegram", str(ALICE), "Hi", Visibility.PRIVATE))
        tg.fail("sendMessage", drop=True)
        with pytest.raises(UncertainError):
            await adapter.send(Outgoing("telegram", str(ALICE), "Hi", Visibility.PRIVATE))
        sent = await adapter.send(Outgoing("telegram", str(ALICE), "Hi", Visibility.PRIVATE))
        # an edit that changes nothing is a success, not an error
        same = Outgoing("telegram", str(ALICE), "Hi", Visibility.PRIVATE,
                        edit_of=sent.platform_message_id)
        assert (await adapter.send(same)).platform_message_id == sent.platform_message_id
    finally:
        await adapter.stop()


# -- input ---------------------------------------------------------------------------------------


def _adapter(tg: FakeTelegram, **settings: Any) -> TelegramAdapter:
    s = TelegramSettings(token_env="HF_TELEGRAM_TOKEN", base_url=tg.base_url,
                         base_file_url=tg.base_file_url, poll_timeout=5, **settings)
    adapter = TelegramAdapterFactory().create(s, clock=SystemClock(), env=ENV)
    assert isinstance(adapter, TelegramAdapter)
    return adapter


class Capture:
    def __init__(self) -> None:
        self.events: list[Inbound] = []
        self.cursors: list[str | None] = []
        self.changed = asyncio.Event()

    async def __call__(self, batch: Sequence[Inbound], cursor: str | None) -> None:
        self.events.extend(batch)
        self.cursors.append(cursor)
        self.changed.set()

    async def wait(self, n: int, timeout: float = TIMEOUT) -> list[Inbound]:
        async def enough() -> None:
            while len(self.events) < n:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.events


async def test_updates_are_normalised(tg: FakeTelegram) -> None:
    group = -100777
    tg.group(group, "Acme customers")
    adapter = _adapter(tg)
    capture = Capture()
    await adapter.start(capture, None)
    try:
        assert adapter.status() == "connected"
        tg.user_says(ALICE, "/start")  # the Start button: nothing asked yet
        tg.user_says(ALICE, "/start q1-Zx9")
        tg.user_says(BOB, "@helpforce_bot is the shop open?", chat_id=group)
        tg.user_says(JORDAN, "/claim@helpforce_bot 3", chat_id=group)
        tg.user_says(JORDAN, "/claim@otherbot 3", chat_id=group)
        reply = tg.user_says(BOB, "and on Sunday?", chat_id=group, reply_to=1)
        tg.user_edits(BOB, reply, "and on Sundays?")
        got = await capture.wait(5)
        start, public, command, followup, edit = got
        assert start.text == "/start q1-Zx9" and start.visibility is Visibility.PRIVATE
        assert start.conversation == str(ALICE) and start.message_id == f"{ALICE}:2"
        assert start.author.user_id == str(ALICE) and start.author.handle == "alice"
        assert public.visibility is Visibility.PUBLIC and public.conversation == str(group)
        assert command.text == "/claim 3" and command.author.user_id == str(JORDAN)
        assert followup.reply_to == f"{group}:1" and followup.message_id == reply
        assert edit.kind is InboundKind.EDIT and edit.reply_to == reply
        assert edit.message_id.startswith(f"{reply}:edit:")
        assert adapter.ignored == 2  # the bare /start and the other bot's command
        assert capture.cursors[-1] == str(tg.updates[-1]["update_id"] + 1)
    finally:
        await adapter.stop()
    assert adapter.status() == "stopped"


async def test_malformed_updates_are_skipped_without_their_text(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="helpforce")
    adapter = _adapter(tg)
    capture = Capture()
    await adapter.start(capture, None)
    try:
        bad_1 = tg.push({"message": {"message_id": 5, "text": "SECRET-TEXT-1 no chat, no date"}})
        bad_2 = tg.push({"message": {"message_id": "x", "chat": 7, "date": "soon",
                                     "text": "SECRET-TEXT-2"}})
        tg.push({"future_kind": {"id": "p1"}})  # a type this library does not know yet
        tg.push({"update_id": "not a number", "message": {"text": "SECRET-TEXT-3"}})
        tg.user_says(ALICE, "A good message after the bad ones")
        got = await capture.wait(1)
        assert [e.text for e in got] == ["A good message after the bad ones"]
        assert adapter.skipped == 3 and adapter.ignored == 1
        assert f"update {bad_1}" in caplog.text and f"update {bad_2}" in caplog.text
        assert "SECRET-TEXT" not in caplog.text
        assert adapter.status() == "connected"
    finally:
        await adapter.stop()


async def test_polling_survives_5xx_disconnects_and_flood_control(tg: FakeTelegram) -> None:
    adapter = _adapter(tg)
    capture = Capture()
    tg.fail("getUpdates", 502, "Bad Gateway")
    tg.fail("getUpdates", drop=True)
    tg.fail("getUpdates", retry_after=1)
    await adapter.start(capture, None)
    try:
        tg.user_says(ALICE, "Still there?")
        got = await capture.wait(1)
        assert [e.text for e in got] == ["Still there?"]
        assert all(f.times == 0 for f in tg.faults)
        assert adapter.status() == "connected"
    finally:
        await adapter.stop()


async def test_a_bad_token_is_one_clear_error_naming_the_variable(tg: FakeTelegram) -> None:
    s = TelegramSettings(token_env="HF_TELEGRAM_TOKEN", base_url=tg.base_url)
    adapter = TelegramAdapterFactory().create(
        s, clock=SystemClock(), env={"HF_TELEGRAM_TOKEN": "999:wrong"}
    )
    with pytest.raises(RuntimeError, match="HF_TELEGRAM_TOKEN"):
        await adapter.start(Capture(), None)
    await adapter.stop()
    with pytest.raises(ValueError, match="HF_TELEGRAM_TOKEN"):
        TelegramAdapterFactory().create(s, clock=SystemClock(), env={})


# -- settings ------------------------------------------------------------------------------------


def test_user_ids_are_numeric_and_handles_are_refused() -> None:
    factory = TelegramAdapterFactory()
    assert factory.validate_user_id(123456789) == "123456789"
    assert factory.validate_user_id(" 42 ") == "42"
    with pytest.raises(ValueError, match="numeric user id, got '@jdoe'.*can change"):
        factory.validate_user_id("@jdoe")
    for bad in ("jdoe", True, -5, "12a", None, 1.5, "0"):
        with pytest.raises(ValueError, match="numeric user id"):
            factory.validate_user_id(bad)


def test_settings_defaults_follow_telegrams_limits() -> None:
    s = TelegramSettings()
    assert s.base_url == "https://api.telegram.org/bot"
    assert s.token_env == "HELPFORCE_TELEGRAM_TOKEN"
    limit = s.rate_limit
    assert (limit.per_second, limit.burst, limit.per_chat_per_second,
            limit.per_group_per_minute) == (30.0, 1, 1.0, 20)
    assert s.env_fields() == {"token_env": "HELPFORCE_TELEGRAM_TOKEN"}
    assert TelegramSettings(staff_channel=" -1001234567890 ").staff_channel == "-1001234567890"
    with pytest.raises(ValueError, match="chat id"):
        TelegramSettings(staff_channel="staff")
