"""Telegram in webhook mode, end to end: the real App, store and outbox, the real
python-telegram-bot, the adapter's aiohttp webhook server, and the Bot API faked on 127.0.0.1
(tests/fakes/telegram.py), which POSTs updates to the webhook as Telegram does and delivers
again what is not answered 2xx. No fixed sleeps: every wait is on a condition, with a timeout.

People and chats as in test_telegram.py: 1001 Jordan (lead, ^JD), 1002 Priya (agent) on the
roster; 2001 Alice, 2002 Bob and 3001 Mallory are customers; the staff group is -1009000.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("telegram")
pytest.importorskip("aiohttp")

import test_telegram as base  # noqa: E402
from fakes.telegram import TOKEN, FakeTelegram  # noqa: E402
from telegram import Bot  # noqa: E402
from telegram.error import Conflict  # noqa: E402
from test_telegram import (  # noqa: E402
    ALICE,
    BOB,
    JORDAN,
    MALLORY,
    STAFF_GROUP,
    TelegramDesk,
    in_chat,
    kinds,
    write_config,
)

from helpforce.adapters.telegram import (  # noqa: E402
    TelegramAdapterFactory,
    TelegramSettings,
    TelegramWebhookSettings,
)
from helpforce.adapters.telegram.adapter import ALLOWED_UPDATES, TelegramAdapter  # noqa: E402
from helpforce.adapters.telegram.webhook import WebhookServer  # noqa: E402
from helpforce.app import App  # noqa: E402
from helpforce.clock import Clock, ManualClock, SystemClock  # noqa: E402
from helpforce.config import load_config  # noqa: E402
from helpforce.config.yamlpos import ConfigErrors  # noqa: E402
from helpforce.models import Event, Inbound  # noqa: E402

SECRET = "s3cret-Token_for-the-webhook"
ENV = {"HF_TELEGRAM_TOKEN": TOKEN, "HF_TELEGRAM_WEBHOOK_SECRET": SECRET}
WEBHOOK = """\
    webhook:
      url: "http://127.0.0.1:{port}/telegram"
      port: 0
      secret_token_env: HF_TELEGRAM_WEBHOOK_SECRET
"""


def webhook_config(directory: Path, tg: FakeTelegram, webhook: str = WEBHOOK) -> Path:
    """test_telegram's deployment, with updates delivered by webhook."""
    write_config(directory, tg)
    settings = directory / "helpforce.yaml"
    settings.write_text(settings.read_text() + webhook)
    return directory


class WebhookDesk(TelegramDesk):
    """The daemon on Telegram (webhook mode, unless the config says otherwise)."""

    def __init__(
        self, tg: FakeTelegram, config_dir: Path, db_path: Path,
        wrap_sink: Callable[[Any], Any] | None = None, clock: Clock | None = None,
    ) -> None:
        self.tg = tg
        factory = TelegramAdapterFactory()
        self.config = load_config(config_dir, env=ENV, factories={"telegram": factory})
        settings = self.config.settings.platforms["telegram"]
        adapter = factory.create(settings, clock=clock or SystemClock(), env=ENV)
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

    async def __aenter__(self) -> WebhookDesk:
        await self.app.start()
        return self

    @property
    def server(self) -> WebhookServer:
        server = self.adapter._webhook
        assert server is not None, "not in webhook mode, or not started"
        return server

    async def count(self, table: str) -> int:
        row = await self.store.fetchone(f"SELECT COUNT(*) FROM {table}")
        assert row is not None
        return int(row[0])


# the fake Bot API with the people of tests/test_telegram.py
tg = base.tg


@pytest.fixture
def config_dir(tmp_path: Path, tg: FakeTelegram) -> Path:
    return webhook_config(tmp_path / "config", tg)


@pytest.fixture
async def desk(
    tg: FakeTelegram, config_dir: Path, tmp_path: Path
) -> AsyncIterator[WebhookDesk]:
    async with WebhookDesk(tg, config_dir, tmp_path / "hf.db") as h:
        yield h


def forged_update(tg: FakeTelegram, text: str) -> dict[str, Any]:
    """An update as Telegram would send it, but made by the test (not queued in the fake)."""
    return {"update_id": 900, "message": {
        "message_id": 900, "from": tg.users[ALICE], "date": int(time.time()), "text": text,
        "chat": {"id": ALICE, "type": "private", "first_name": "Alice"},
    }}


def statuses(tg: FakeTelegram) -> list[int]:
    return [status for _, status in tg.webhook_answers]


# -- the whole loop ------------------------------------------------------------------------------


async def test_a_question_by_webhook_is_claimed_with_the_button_and_answered(
    tg: FakeTelegram, desk: WebhookDesk
) -> None:
    server = desk.server
    assert desk.adapter.status() == "connected" and server.listening
    assert tg.webhook == {"url": f"http://127.0.0.1:{server.port}/telegram",
                          "secret_token": SECRET, "allowed_updates": list(ALLOWED_UPDATES),
                          "max_connections": 1}

    asked = tg.user_says(ALICE, "My TV keeps switching off")
    post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    assert "My TV keeps switching off" in post.text
    assert post.buttons == [("Claim", "claim:1"), ("Details", "details:1")]

    press = tg.press(JORDAN, post, "claim:1")  # the press arrives by webhook too
    held = await tg.wait_sent(in_chat(JORDAN, starts="You hold #1"))
    await tg.wait_until(lambda: "claimed by Jordan Diaz (^JD)" in post.text)
    await tg.wait_until(lambda: any(a["id"] == press for a in tg.callback_answers))

    tg.user_says(JORDAN, "Please unplug it for 30 seconds, then switch it on again.",
                 reply_to=held)
    answer = await tg.wait_sent(in_chat(ALICE, has="unplug it"))
    assert answer.text == "Please unplug it for 30 seconds, then switch it on again. ^JD"

    q = await desk.question_where(1, lambda q: "delivered" in kinds(q))
    assert q["claimed_by"] == "jdiaz" and q["state"] == "answered"
    assert q["root_message"] == asked
    await tg.wait_until(lambda: not tg.updates)  # Telegram got a 200 for every update
    assert statuses(tg) == [200, 200, 200] and tg.webhook_failures == 0
    # no polling at all, and no cursor: Telegram tracks webhook delivery itself
    assert not tg.calls_of("getUpdates") and not tg.calls_of("deleteWebhook")
    assert await desk.store.cursor("telegram") is None
    assert server.received == 3


# -- refused requests ----------------------------------------------------------------------------


async def test_a_wrong_or_missing_secret_token_gets_403_and_nothing_reaches_the_desk(
    tg: FakeTelegram, desk: WebhookDesk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    forged = forged_update(tg, "FORGED-TEXT please refund me")
    assert await tg.post_to_webhook(forged, secret="wrong-Secret") == 403
    assert await tg.post_to_webhook(forged, secret=None) == 403
    assert await tg.post_to_webhook(forged, secret=SECRET + "x") == 403
    assert await tg.post_to_webhook(forged, secret="") == 403
    assert desk.server.refused == 4 and desk.server.received == 0
    assert await desk.count("inbound") == 0 and await desk.count("questions") == 0
    assert "secret token" in caplog.text
    for leak in ("wrong-Secret", SECRET, "FORGED-TEXT"):
        assert leak not in caplog.text
    # Telegram itself still gets through
    tg.user_says(ALICE, "Hello, is anyone there?")
    post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    assert "Hello, is anyone there?" in post.text
    assert await desk.count("questions") == 1
    assert SECRET not in caplog.text
    assert desk.adapter.status() == "connected"


async def test_a_malformed_body_gets_400_and_the_daemon_keeps_working(
    tg: FakeTelegram, desk: WebhookDesk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="helpforce")
    bodies = [
        b'{"update_id": 5, "message": SECRET-BODY',  # cut off
        b"\xff SECRET-BODY",  # not UTF-8
        b'["SECRET-BODY"]',  # not an object
        b'{"message": {"text": "SECRET-BODY"}}',  # no update id
        b'{"update_id": "6", "message": {"text": "SECRET-BODY"}}',
        b"",
    ]
    for body in bodies:
        assert await tg.post_to_webhook(body, secret=SECRET) == 400, body
    assert desk.server.malformed == len(bodies)
    assert "not JSON (Expecting" in caplog.text and "no numeric update_id" in caplog.text
    # an update Telegram could send but this library cannot read: re-delivering it would not
    # help, so it is skipped (logged by its id) and acknowledged
    odd = {"update_id": 950, "message": {"message_id": "x", "chat": 7, "date": "soon",
                                         "text": "SECRET-BODY"}}
    assert await tg.post_to_webhook(odd, secret=SECRET) == 200
    assert desk.adapter.skipped == 1 and "update 950" in caplog.text
    assert "SECRET-BODY" not in caplog.text
    assert await desk.count("inbound") == 0

    tg.user_says(ALICE, "A good question after the bad ones")
    post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    assert "A good question after the bad ones" in post.text
    assert desk.adapter.status() == "connected"


# -- at least once, exactly once on the desk -------------------------------------------------------


async def test_when_the_desk_cannot_take_an_update_it_is_delivered_again_and_recorded_once(
    tg: FakeTelegram, config_dir: Path, tmp_path: Path
) -> None:
    failed = asyncio.Event()

    def fail_once(sink: Any) -> Any:
        async def flaky(batch: Sequence[Inbound], cursor: str | None) -> None:
            if batch and not failed.is_set():
                failed.set()
                raise RuntimeError("the database is on fire")
            await sink(batch, cursor)
        return flaky

    async with WebhookDesk(tg, config_dir, tmp_path / "hf.db", wrap_sink=fail_once) as h:
        tg.user_says(ALICE, "Is the shop open on Sunday?")
        post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
        assert "Is the shop open on Sunday?" in post.text
        await tg.wait_until(lambda: not tg.updates)
        assert failed.is_set()
        assert statuses(tg) == [500, 200]  # not acknowledged, so Telegram delivered it again
        assert tg.webhook_failures == 1 and h.server.failed == 1
        q = await h.question_where(1, lambda q: q["state"] == "offered")
        assert kinds(q).count("received") == 1
        assert await h.count("questions") == 1 and await h.count("inbound") == 1
        assert len(tg.sent_to(STAFF_GROUP)) == 1
        assert h.adapter.status() == "connected"


async def test_a_duplicate_delivery_is_recorded_once(
    tg: FakeTelegram, desk: WebhookDesk
) -> None:
    tg.user_says(ALICE, "Where is my parcel?")
    payload = tg.updates[-1]
    await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
    await tg.wait_until(lambda: not tg.updates)
    events = len((await desk.question(1))["events"])
    outbox = await desk.count("outbox")

    # Telegram delivers it again (our 200 was lost on the way, say), once in order and twice
    # at the same time
    tg.push(payload)
    at_once = await asyncio.gather(tg.post_to_webhook(payload, secret=SECRET),
                                   tg.post_to_webhook(payload, secret=SECRET))
    assert list(at_once) == [200, 200]
    await tg.wait_until(lambda: not tg.updates)
    assert statuses(tg) == [200, 200]

    q = await desk.question(1)
    assert kinds(q).count("received") == 1 and "followup" not in kinds(q)
    assert len(q["events"]) == events
    assert await desk.count("questions") == 1 and await desk.count("inbound") == 1
    assert await desk.count("outbox") == outbox  # nobody is told anything twice


# -- lifecycle -----------------------------------------------------------------------------------


async def test_a_failing_set_webhook_is_reported_and_retried(
    tg: FakeTelegram, config_dir: Path, tmp_path: Path
) -> None:
    tg.fail("setWebhook", 502, "Bad Gateway")
    clock = ManualClock()  # the adapter backs off on it
    async with WebhookDesk(tg, config_dir, tmp_path / "hf.db", clock=clock) as h:
        status = h.adapter.status()
        assert status.startswith("failing: ") and "Bad Gateway" in status
        assert h.server.listening and tg.webhook is None

        async def later_connected() -> bool:
            await clock.advance(60.0)  # past any backoff
            return bool(h.adapter.status() == "connected")

        await h.until(later_connected)
        assert tg.webhook is not None and len(tg.calls_of("setWebhook")) == 2
        tg.user_says(ALICE, "Hello after the outage")
        await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))


async def test_a_stop_keeps_the_webhook_and_a_restart_gets_what_came_meanwhile(
    tg: FakeTelegram, config_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "hf.db"
    async with WebhookDesk(tg, config_dir, db):
        tg.user_says(ALICE, "First question")
        await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
        await tg.wait_until(lambda: not tg.updates)
    assert tg.webhook is not None and not tg.calls_of("deleteWebhook")

    tg.user_says(BOB, "Second question, while the daemon is down")
    await tg.wait_until(lambda: tg.webhook_failures >= 1)  # nobody listens: Telegram keeps it
    assert len(tg.updates) == 1

    async with WebhookDesk(tg, config_dir, db) as h:
        post = await tg.wait_sent(in_chat(STAFF_GROUP, starts="#2"))
        assert "while the daemon is down" in post.text
        await tg.wait_until(lambda: not tg.updates)
        assert await h.count("questions") == 2
        assert kinds(await h.question(1)).count("received") == 1
        assert tg.webhook["url"] == f"http://127.0.0.1:{h.server.port}/telegram"
    assert [m.text.split(" ")[0] for m in tg.sent_to(STAFF_GROUP)] == ["#1", "#2"]


async def test_switching_between_polling_and_webhook_neither_loses_nor_repeats(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    db = tmp_path / "hf.db"
    polling = write_config(tmp_path / "polling", tg)
    webhook = webhook_config(tmp_path / "webhook", tg)

    async with WebhookDesk(tg, polling, db) as h:
        tg.user_says(ALICE, "First, by polling")
        await tg.wait_sent(in_chat(STAFF_GROUP, starts="#1"))
        polled = await h.until(lambda: h.store.cursor("telegram"))

    async with WebhookDesk(tg, webhook, db) as h:
        tg.user_says(BOB, "Second, by webhook")
        await tg.wait_sent(in_chat(STAFF_GROUP, starts="#2"))
        await tg.wait_until(lambda: not tg.updates)
        assert await h.store.cursor("telegram") == polled  # webhook mode saves no cursor

    tg.user_says(MALLORY, "Third, while the daemon is down")
    await tg.wait_until(lambda: tg.webhook_failures >= 1)

    async with WebhookDesk(tg, polling, db) as h:
        await tg.wait_sent(in_chat(STAFF_GROUP, starts="#3"))
        assert tg.webhook is None  # polling removed it
        await h.until(lambda: not tg.pending_updates() and tg.confirmed > 0)
        assert await h.count("questions") == 3
        for qid in (1, 2, 3):
            assert kinds(await h.question(qid)).count("received") == 1
    assert [m.text.split(" ")[0] for m in tg.sent_to(STAFF_GROUP)] == ["#1", "#2", "#3"]


async def test_the_fake_refuses_polling_while_a_webhook_is_set(tg: FakeTelegram) -> None:
    async with Bot(TOKEN, base_url=tg.base_url) as bot:
        assert await bot.set_webhook("http://127.0.0.1:9/telegram", secret_token="abc")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        info = await bot.get_webhook_info()
        assert info.url == "http://127.0.0.1:9/telegram"
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""
        assert await bot.get_updates() == ()


# -- settings ------------------------------------------------------------------------------------


def test_webhook_settings_default_to_polling_and_are_validated() -> None:
    assert TelegramSettings().webhook is None
    hook = TelegramWebhookSettings(url="https://help.example.com/telegram")
    assert (hook.listen, hook.port, hook.path, hook.secret_token_env, hook.max_connections) \
        == ("127.0.0.1", 8443, "/telegram", "HELPFORCE_TELEGRAM_WEBHOOK_SECRET", 1)
    TelegramWebhookSettings(url="http://127.0.0.1:{port}/telegram", port=0)
    TelegramWebhookSettings(url="http://localhost:8080/tg")

    with pytest.raises(ValueError, match="only to https URLs.*'http://help.example.com/tg'"):
        TelegramWebhookSettings(url="http://help.example.com/tg")
    for bad in ("help.example.com/telegram", "ftp://help.example.com/tg", "https:///tg",
                "https://help.example.com:99999/tg"):
        with pytest.raises(ValueError, match="expected a URL like 'https://"):
            TelegramWebhookSettings(url=bad)
    with pytest.raises(ValueError, match="expected a path like '/telegram'"):
        TelegramWebhookSettings(url="https://h.example.com/tg", path="telegram")
    for field, value in (("port", -1), ("port", 65536), ("max_connections", 0),
                         ("max_connections", 101)):
        with pytest.raises(ValueError, match=field):
            TelegramWebhookSettings(url="https://h.example.com/tg", **{field: value})
    with pytest.raises(ValueError, match="name of an environment variable.*not shown here"):
        TelegramWebhookSettings(url="https://h.example.com/tg", secret_token_env="pasted:s3cr3t")

    s = TelegramSettings(token_env="HF_TOKEN", webhook=hook)
    assert s.env_fields() == {"token_env": "HF_TOKEN",
                              "webhook.secret_token_env": "HELPFORCE_TELEGRAM_WEBHOOK_SECRET"}


def test_the_factory_refuses_a_missing_or_invalid_secret_naming_the_variable(
    tg: FakeTelegram,
) -> None:
    factory = TelegramAdapterFactory()

    def settings(**hook: Any) -> TelegramSettings:
        return TelegramSettings(
            token_env="HF_TELEGRAM_TOKEN", base_url=tg.base_url,
            webhook=TelegramWebhookSettings(
                url="https://help.example.com/telegram",
                secret_token_env="HF_TELEGRAM_WEBHOOK_SECRET", **hook,
            ),
        )

    token_only = {"HF_TELEGRAM_TOKEN": TOKEN}
    with pytest.raises(ValueError, match="HF_TELEGRAM_WEBHOOK_SECRET .*is not set"):
        factory.create(settings(), clock=SystemClock(), env=token_only)
    for bad in ("has spaces and $ymbols", "a" * 257, "ünïcode"):
        with pytest.raises(ValueError, match="HF_TELEGRAM_WEBHOOK_SECRET .*1-256") as info:
            factory.create(settings(), clock=SystemClock(),
                           env={**token_only, "HF_TELEGRAM_WEBHOOK_SECRET": bad})
        assert bad not in str(info.value)
    with pytest.raises(ValueError, match="must not contain the bot token") as info:
        factory.create(settings(path=f"/{TOKEN}"), clock=SystemClock(), env=ENV)
    assert TOKEN not in str(info.value)
    adapter = factory.create(settings(), clock=SystemClock(), env=ENV)
    assert isinstance(adapter, TelegramAdapter) and adapter.status() == "stopped"


def test_check_reports_webhook_problems_at_their_place(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    factories = {"telegram": TelegramAdapterFactory()}
    directory = webhook_config(tmp_path / "missing", tg)
    with pytest.raises(ConfigErrors) as info:
        load_config(directory, env={"HF_TELEGRAM_TOKEN": TOKEN}, factories=factories)
    assert ("platforms.telegram.webhook.secret_token_env: environment variable "
            "HF_TELEGRAM_WEBHOOK_SECRET is not set") in str(info.value)

    bad_url = WEBHOOK.replace("http://127.0.0.1:{port}", "http://help.example.com")
    directory = webhook_config(tmp_path / "bad-url", tg, bad_url)
    with pytest.raises(ConfigErrors) as info:
        load_config(directory, env=ENV, factories=factories)
    lines = str(info.value).splitlines()
    text = (directory / "helpforce.yaml").read_text().splitlines()
    line = next(n for n, t in enumerate(text, 1) if t.startswith("      url:"))
    assert len(lines) == 1
    assert f"helpforce.yaml:{line}:12: platforms.telegram.webhook.url: Telegram posts " \
           "updates only to https URLs" in lines[0]

    # a secret pasted where the variable's name belongs is not echoed
    pasted = WEBHOOK.replace("HF_TELEGRAM_WEBHOOK_SECRET", "pasted:s3cr3t")
    directory = webhook_config(tmp_path / "pasted", tg, pasted)
    with pytest.raises(ConfigErrors) as info:
        load_config(directory, env=ENV, factories=factories)
    assert "platforms.telegram.webhook.secret_token_env: expected the name of an environment " \
           "variable" in str(info.value)
    assert "s3cr3t" not in str(info.value)
