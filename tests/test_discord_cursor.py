"""The Discord adapter's cursor confirms only what the desk has: a batch cut at 200 events, a
channel whose read-back failed, a stop with events still queued; and what it tells the outbox
and the logs (a 429's wait; no customer text at DEBUG).

The real discord.py against the loopback fake (tests/fakes/discord.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    pytest.importorskip("discord")

from fakes.discord import TOKEN, FakeDiscord  # noqa: E402
from waiting import until  # noqa: E402

from helpforce.adapter import TransientError  # noqa: E402
from helpforce.adapters.discord import DiscordSettings  # noqa: E402
from helpforce.adapters.discord.adapter import DiscordAdapter, reset_urls  # noqa: E402
from helpforce.clock import SystemClock  # noqa: E402
from helpforce.models import Inbound, Outgoing, Visibility  # noqa: E402


class Sink:
    """The desk: records what it committed; ``hold`` keeps a batch waiting, ``stall_at`` never
    commits that call (a crash in the middle of it)."""

    def __init__(self) -> None:
        self.got: list[str] = []
        self.cursors: list[dict[str, int]] = []
        self.calls = 0
        self.hold: asyncio.Event | None = None
        self.stall_at: int | None = None

    async def __call__(self, batch: Sequence[Inbound], cursor: str | None) -> None:
        self.calls += 1
        if self.calls == self.stall_at:
            await asyncio.Event().wait()
        if self.hold is not None:
            await self.hold.wait()
        self.got += [e.message_id for e in batch]
        if cursor:
            self.cursors.append(json.loads(cursor))


@pytest.fixture
async def world() -> AsyncIterator[tuple[FakeDiscord, Any, Any, Any]]:
    async with FakeDiscord(heartbeat_interval=0.5) as fake:
        guild = fake.guild("Acme")
        help_ = fake.text_channel(guild, "help")
        staff = fake.text_channel(guild, "staff")
        alice = fake.member(guild, "alice")
        try:
            yield fake, help_, staff, alice
        finally:
            reset_urls()


def adapter(fake: FakeDiscord, help_: Any, staff: Any) -> DiscordAdapter:
    settings = DiscordSettings(api_base=fake.api_base, gateway_url=fake.gateway_url,
                               help_channels=[str(help_.id)], staff_channel=str(staff.id),
                               guild_ready_timeout=0.05)
    return DiscordAdapter(settings, TOKEN, SystemClock())


async def test_a_channel_that_could_not_be_read_back_is_read_again_before_its_cursor_moves(
    world: tuple[FakeDiscord, Any, Any, Any],
) -> None:
    fake, help_, staff, alice = world
    m0 = fake.user_says(alice.id, help_.id, "before")
    m1 = fake.user_says(alice.id, help_.id, "said while the bot was away")
    fake.fail("GET", f"/channels/{help_.id}/messages", 503, times=1)
    a, sink = adapter(fake, help_, staff), Sink()
    await a.start(sink, json.dumps({str(help_.id): m0.id}))
    try:
        await until(lambda: fake.connected and a.status() == "connected")
        m2 = fake.user_says(alice.id, help_.id, "live")
        await until(lambda: f"{help_.id}:{m2.id}" in sink.got)
        # the live message came first; its batch did not move the cursor past the gap
        assert sink.cursors[0][str(help_.id)] == m0.id
        await until(lambda: f"{help_.id}:{m1.id}" in sink.got)
    finally:
        await a.stop()


async def test_a_batch_cut_at_200_is_confirmed_by_its_own_cursor(
    world: tuple[FakeDiscord, Any, Any, Any],
) -> None:
    fake, help_, staff, alice = world
    a, sink = adapter(fake, help_, staff), Sink()
    sink.hold = asyncio.Event()
    await a.start(sink, None)
    try:
        await until(lambda: fake.connected and a.status() == "connected")
        fake.user_says(alice.id, help_.id, "m0")
        await until(lambda: sink.calls == 1)  # the desk is busy with it
        msgs = [fake.user_says(alice.id, help_.id, f"m{i}") for i in range(1, 251)]
        await until(lambda: a._queue.qsize() == 250)
        sink.stall_at = 3  # the desk commits the next batch (200), then stops for good
        sink.hold.set()
        await until(lambda: sink.calls >= 3)
    finally:
        await a.stop(drain=0)
    committed = sink.cursors[-1][str(help_.id)]
    delivered = {int(x.split(":")[1]) for x in sink.got}
    assert [m.id for m in msgs if m.id <= committed and m.id not in delivered] == []
    assert committed == msgs[199].id


async def test_a_stop_hands_what_is_queued_to_the_desk_first(
    world: tuple[FakeDiscord, Any, Any, Any],
) -> None:
    fake, help_, staff, alice = world
    a, sink = adapter(fake, help_, staff), Sink()
    sink.hold = asyncio.Event()
    await a.start(sink, None)
    await until(lambda: fake.connected and a.status() == "connected")
    fake.user_says(alice.id, help_.id, "a public question")
    await until(lambda: sink.calls == 1)  # the desk is committing it
    dm = fake.user_dms(alice.id, "a private follow-up")  # cannot be read back later
    await until(lambda: a._queue.qsize() == 1)
    stopping = asyncio.create_task(a.stop())
    await until(lambda: a.client.is_closed())
    sink.hold.set()
    await stopping
    assert any(str(dm.id) in x for x in sink.got)


async def test_a_429_tells_the_outbox_how_long_to_wait(
    world: tuple[FakeDiscord, Any, Any, Any],
) -> None:
    fake, help_, staff, alice = world
    a, sink = adapter(fake, help_, staff), Sink()
    await a.start(sink, None)
    try:
        await until(lambda: fake.connected and a.status() == "connected")
        fake.fail("POST", "/channels/{channel_id}/messages", 429, via=False, retry_after=30.0)
        with pytest.raises(TransientError) as raised:
            await a.send(Outgoing("discord", str(help_.id), "hi", Visibility.PUBLIC, key="k1"))
        assert raised.value.retry_after == pytest.approx(30.0)
    finally:
        await a.stop()


async def test_customer_texts_stay_out_of_the_logs_at_debug(
    world: tuple[FakeDiscord, Any, Any, Any], caplog: pytest.LogCaptureFixture,
) -> None:
    fake, help_, staff, alice = world
    caplog.set_level(logging.DEBUG)
    a, sink = adapter(fake, help_, staff), Sink()
    await a.start(sink, None)
    try:
        await until(lambda: fake.connected and a.status() == "connected")
        fake.user_says(alice.id, help_.id, "my card number is 4111-SECRET")
        await until(lambda: sink.got)
    finally:
        await a.stop()
    assert [r.name for r in caplog.records if "4111-SECRET" in r.getMessage()] == []
