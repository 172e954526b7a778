"""Telegram's flood limits end to end: the real App, outbox and python-telegram-bot against the
loopback fake enforcing them (tests/fakes/telegram.py, ``Limits``).

A burst of customer questions makes a burst of staff-group posts. The fake's group window is
shrunk from a minute to one second (5 messages in any second into one group) so the test runs
in about two seconds; the desk's limits are set 10 % under the fake's, as a deployment would
keep a margin.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("telegram")

from fakes.telegram import TOKEN, FakeTelegram, Limits  # noqa: E402
from test_telegram import JORDAN, PRIYA, ROSTER  # noqa: E402

from conftest import EXAMPLE_CONFIG  # noqa: E402
from helpforce.adapters.telegram import TelegramAdapterFactory  # noqa: E402
from helpforce.app import App  # noqa: E402
from helpforce.clock import SystemClock  # noqa: E402
from helpforce.config import load_config  # noqa: E402

ENV = {"HF_TELEGRAM_TOKEN": TOKEN}
STAFF_GROUP = -1009000
CUSTOMERS = range(2001, 2009)  # eight questions at once
#: what the fake enforces: 5 messages in any second into one group (group_window 1 s)
FAKE = Limits(per_second=100, per_chat_per_second=25, per_group_per_minute=5, group_window=1.0)
#: the desk's limits, 10 % under the fake's; per_group_per_minute 270 = 4.5 a second
LIMITS = "{per_second: 90, burst: 1, per_chat_per_second: 20, per_group_per_minute: %s}"



def write_config(directory: Path, tg: FakeTelegram, per_group: str) -> Path:
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
    rate_limit: {LIMITS % per_group}
""")
    (directory / "roster.yaml").write_text(ROSTER)
    shutil.copy(EXAMPLE_CONFIG / "policies.yaml", directory / "policies.yaml")
    return directory


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(limits=FAKE) as fake:
        fake.user(JORDAN, "Jordan", "jdiaz")
        fake.user(PRIYA, "Priya")
        for c in CUSTOMERS:
            fake.user(c, f"Customer{c}")
        fake.group(STAFF_GROUP, "Acme staff")
        yield fake


async def run_burst(tg: FakeTelegram, tmp_path: Path, per_group: str) -> list[float]:
    """Eight customers ask at once; returns the arrival times of the eight staff-group posts."""
    factory = TelegramAdapterFactory()
    config = load_config(write_config(tmp_path / "config", tg, per_group), env=ENV,
                         factories={"telegram": factory})
    adapter = factory.create(config.settings.platforms["telegram"], clock=SystemClock(), env=ENV)
    app = App(config, db_path=str(tmp_path / "hf.db"), adapters={"telegram": adapter}, env=ENV)
    await app.start()
    try:
        for c in CUSTOMERS:
            tg.user_says(c, f"Question from {c}: where is my parcel?")
        await tg.wait_until(lambda: len(tg.sent_to(STAFF_GROUP)) == len(CUSTOMERS),
                            timeout=20)
    finally:
        await app.stop()
    return [at for at, method, chat in tg.let_through
            if chat == str(STAFF_GROUP) and method == "sendMessage"]


async def test_a_burst_into_one_group_keeps_to_its_limit_without_a_429(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    posts = await run_burst(tg, tmp_path, per_group="270")
    assert len(posts) == len(CUSTOMERS)
    assert tg.rejected_429 == 0, tg.rejected_by
    # paced at 4.5 a second, not sent as fast as the per-chat limit (20/s) allows
    assert posts[-1] - posts[0] >= (len(posts) - 1) / 4.5 - 0.01
    # the staff were told in their private chats meanwhile (not held up by the group)
    assert tg.sent_to(JORDAN) and tg.sent_to(PRIYA)


async def test_without_the_group_limit_the_fake_rejects_and_retry_after_is_obeyed(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    posts = await run_burst(tg, tmp_path, per_group="null")
    assert tg.rejected_by["group"] > 0
    # every post still arrived: the outbox paused for the retry-after the fake asked for (1 s)
    # and sent the rejected ones again
    assert len(posts) == len(CUSTOMERS)
    first = min(at for at, _, chat, _ in tg.rejected if chat == str(STAFF_GROUP))
    assert min(at for at in posts if at > first) - first >= 0.95
