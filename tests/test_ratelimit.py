"""The platform limiter: the platform-wide rate, per chat, per group (Telegram's 20/min), the
group and chat limits together, a pause told by the platform, bounded memory; and the outbox
leaving a group that must wait for a later pass instead of holding up other chats.

Time is a :class:`VirtualClock`, moved by the test (never slept).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from helpforce.adapter import SendResult
from helpforce.adapters.local.adapter import LocalAdapter
from helpforce.adapters.local.platform import LocalPlatform
from helpforce.clock import VirtualClock
from helpforce.models import Outgoing, Visibility
from helpforce.outbox import Outbox, OutboxPolicy
from helpforce.ratelimit import MAX_BUCKETS, PlatformLimiter
from helpforce.store import Store, Tx

START = 1_800_000_000.0
GROUP = "-1009000"


def send_greedily(
    limiter: PlatformLimiter, clock: VirtualClock, targets: list[tuple[str, bool]],
    seconds: float, cap: int = 10_000,
) -> list[tuple[float, str]]:
    """Send as fast as ``limiter`` lets, to whichever (chat, group) target may go first, for
    ``seconds`` of virtual time; returns (seconds since the start, chat) of every send."""
    start = clock.now()
    sent: list[tuple[float, str]] = []
    while len(sent) < cap:
        wait, chat, group = min((limiter.ready_in(c, g), c, g) for c, g in targets)
        at = clock.now() + wait
        if at - start > seconds + 1e-9:
            break
        clock.advance_to(at)
        limiter.take(chat, group)
        sent.append((at - start, chat))
    return sent


def busiest(times: list[float], window: float) -> int:
    """The most sends in any window ``(t - window, t]``."""
    most, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - window + 1e-9:
            first += 1
        most = max(most, last - first + 1)
    return most


# -- the limiter -----------------------------------------------------------------------------


def test_the_platform_wide_rate_holds_across_many_chats() -> None:
    clock = VirtualClock(START)
    limiter = PlatformLimiter(per_second=30, burst=1, per_chat_per_second=1.0, clock=clock)
    chats = [(str(1000 + i), False) for i in range(100)]
    sent = send_greedily(limiter, clock, chats, seconds=10)
    # one at once, then 30 a second, whichever chats they go to
    assert len(sent) == pytest.approx(301, abs=1)
    assert busiest([t for t, _ in sent], 1.0) == 30
    # a burst is banked once
    bursty = PlatformLimiter(per_second=30, burst=5, per_chat_per_second=None, clock=clock)
    assert [bursty.ready_in(c) for c, _ in chats[:5]] == [0.0] * 5
    for c, _ in chats[:5]:
        bursty.take(c)
    assert bursty.ready_in("9999") == pytest.approx(1 / 30)


def test_one_chat_gets_one_message_a_second_while_others_go() -> None:
    clock = VirtualClock(START)
    limiter = PlatformLimiter(per_second=1000, burst=1000, per_chat_per_second=1.0, clock=clock)
    sent = send_greedily(limiter, clock, [("42", False)], seconds=10)
    assert [round(t, 6) for t, _ in sent] == [float(s) for s in range(11)]
    # the chat that must wait does not make another wait
    assert limiter.ready_in("42") == pytest.approx(1.0)
    assert limiter.ready_in("43") == 0
    assert limiter.chat_ready_in("42") == pytest.approx(1.0)


def test_a_group_gets_20_messages_a_minute_and_a_private_chat_is_not_held_to_it() -> None:
    clock = VirtualClock(START)
    limiter = PlatformLimiter(per_second=30, burst=30, per_chat_per_second=1.0, clock=clock,
                              per_group_per_minute=20)
    sent = send_greedily(limiter, clock, [(GROUP, True)], seconds=600)
    times = [t for t, _ in sent]
    # one at once, then one every 3 s: 20 a minute, never 21 in any minute
    assert len(sent) == 201
    assert busiest(times, 60.0) == 20
    assert all(b - a == pytest.approx(3.0) for a, b in zip(times, times[1:], strict=False))
    # the same chat key as a private chat (or a group message without the group limit
    # configured) is held to the per-chat limit only
    private = send_greedily(limiter, clock, [("7", False)], seconds=60)
    assert len(private) == 61
    no_group_limit = PlatformLimiter(per_second=30, burst=30, per_chat_per_second=1.0,
                                      clock=clock)
    assert len(send_greedily(no_group_limit, clock, [(GROUP, True)], seconds=60)) == 61


def test_the_group_limit_applies_on_top_of_the_chat_limit() -> None:
    clock = VirtualClock(START)
    # a chat limit slower than the group's: it binds (one per 10 s, not one per 3 s)
    slow_chat = PlatformLimiter(per_second=30, burst=30, per_chat_per_second=0.1, clock=clock,
                                per_group_per_minute=20)
    slow_chat.take(GROUP, True)
    assert slow_chat.ready_in(GROUP, True) == pytest.approx(10.0)
    assert slow_chat.chat_ready_in(GROUP, True) == pytest.approx(10.0)
    # the usual case: the group's limit binds (3 s, not the chat's 1 s)
    usual = PlatformLimiter(per_second=30, burst=30, per_chat_per_second=1.0, clock=clock,
                            per_group_per_minute=20)
    usual.take(GROUP, True)
    assert usual.ready_in(GROUP, True) == pytest.approx(3.0)
    # a private message to the same key since then waits for the chat limit only, and it
    # took from the chat's bucket: the group now waits for both
    clock.advance_to(clock.now() + 1.0)
    assert usual.ready_in(GROUP) == 0
    usual.take(GROUP)
    clock.advance_to(clock.now() + 1.5)
    assert usual.ready_in(GROUP, True) == pytest.approx(0.5)
    # the group limit alone, without a per-chat limit
    group_only = PlatformLimiter(per_second=30, burst=30, per_chat_per_second=None,
                                 clock=clock, per_group_per_minute=20)
    group_only.take(GROUP, True)
    assert group_only.ready_in(GROUP, True) == pytest.approx(3.0)
    assert group_only.ready_in(GROUP) == 0
    # and the platform-wide rate still applies to group messages
    slow_platform = PlatformLimiter(per_second=0.1, burst=1, per_chat_per_second=1.0,
                                    clock=clock, per_group_per_minute=20)
    slow_platform.take(GROUP, True)
    assert slow_platform.ready_in(GROUP, True) == pytest.approx(10.0)
    assert slow_platform.chat_ready_in(GROUP, True) == pytest.approx(3.0)


def test_a_chat_and_a_group_count_a_message_from_the_platforms_answer() -> None:
    clock = VirtualClock(START)
    limiter = PlatformLimiter(per_second=30, burst=1, per_chat_per_second=1.0, clock=clock,
                              per_group_per_minute=20)
    limiter.take("42")
    clock.advance_to(clock.now() + 0.02)  # the request took 20 ms
    limiter.answered("42")
    # the chat's next message waits a whole second from the answer, not from the request:
    # the platform may have counted this one at any moment in between
    assert limiter.ready_in("42") == pytest.approx(1.0)
    # the platform-wide rate counts from the request (its window is the margin)
    assert limiter.ready_in("43") == pytest.approx(1 / 30 - 0.02, abs=1e-6)
    clock.advance_to(clock.now() + 1.0)
    limiter.take(GROUP, True)
    clock.advance_to(clock.now() + 0.5)
    limiter.answered(GROUP, True)
    assert limiter.ready_in(GROUP, True) == pytest.approx(3.0)


def test_a_pause_told_by_the_platform_holds_every_chat() -> None:
    clock = VirtualClock(START)
    limiter = PlatformLimiter(per_second=30, burst=30, per_chat_per_second=1.0, clock=clock,
                              per_group_per_minute=20)
    limiter.pause(5)
    assert limiter.ready_in("42") == pytest.approx(5.0)
    assert limiter.ready_in(GROUP, True) == pytest.approx(5.0)
    # a shorter retry-after does not shorten it
    limiter.pause(1)
    assert limiter.ready_in("42") == pytest.approx(5.0)
    # it is not a chat's own limit: every chat waits alike
    assert limiter.chat_ready_in("42") == 0
    clock.advance_to(clock.now() + 5)
    assert limiter.ready_in("42") == 0 and limiter.ready_in(GROUP, True) == 0


def test_a_sleep_that_ends_a_hair_before_a_pause_ends_it() -> None:
    # at 1.8e9 s a float clock moves in steps of ~2.4e-7 s: what a sleep of the whole pause
    # leaves of it is dust that no further sleep could move the clock past
    clock = VirtualClock(START + 0.1)
    limiter = PlatformLimiter(per_second=30, burst=30, per_chat_per_second=None, clock=clock)
    limiter.pause(2.0)
    clock.advance_to(limiter.paused_until - 2.4e-7)
    assert clock.now() < limiter.paused_until
    assert limiter.paused_for() == 0 and limiter.ready_in("42") == 0


def test_memory_is_bounded_and_busy_buckets_are_kept() -> None:
    clock = VirtualClock(START)
    limiter = PlatformLimiter(per_second=1e9, burst=10**9, per_chat_per_second=1.0,
                              clock=clock, per_group_per_minute=20)
    # a group that sent a moment ago, when the buckets reach the cap
    for i in range(MAX_BUCKETS - 1):
        clock.advance_to(clock.now() + 0.001)
        limiter.take(f"-{i}", True)
    limiter.take(GROUP, True)
    clock.advance_to(clock.now() + 0.001)
    limiter.take("-999999", True)  # one more: buckets that refilled are forgotten
    assert len(limiter._groups) < MAX_BUCKETS
    assert len(limiter._chats) < MAX_BUCKETS
    assert limiter.ready_in(GROUP, True) == pytest.approx(3.0 - 0.001)
    most = 0
    for i in range(3 * MAX_BUCKETS):
        clock.advance_to(clock.now() + 0.001)
        limiter.take(f"-{10**7 + i}", True)
        most = max(most, len(limiter._groups), len(limiter._chats))
    assert most <= MAX_BUCKETS


def test_requests_charged_after_a_send_delay_the_next_one() -> None:
    clock = VirtualClock(START)
    limiter = PlatformLimiter(per_second=10.0, burst=1, per_chat_per_second=None, clock=clock)
    limiter.take("a")
    assert limiter.ready_in("b") == pytest.approx(0.1)
    limiter.charge(1)  # the send opened a DM channel first: two requests
    assert limiter.ready_in("b") == pytest.approx(0.2)
    limiter.charge(0)
    assert limiter.ready_in("b") == pytest.approx(0.2)


# -- the outbox ------------------------------------------------------------------------------


class Recorder(LocalAdapter):
    """Records (virtual time, message) of each send; the platform is not involved."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(LocalPlatform(), clock)
        self.sent: list[tuple[float, Outgoing]] = []
        #: text -> requests its send makes beyond the message (a DM channel opened first)
        self.extra: dict[str, int] = {}

    async def send(self, out: Outgoing) -> SendResult:
        self.sent.append((self.clock.now() - START, out))
        return SendResult(f"{out.conversation}:{len(self.sent)}",
                          extra_requests=self.extra.get(out.text, 0))


@dataclass
class Rig:
    clock: VirtualClock
    store: Store
    adapter: Recorder
    outbox: Outbox

    async def enqueue(self, *outs: Outgoing) -> None:
        now = self.clock.now()

        async def step(tx: Tx) -> None:
            for out in outs:
                oid = tx.new_id("outbox")
                out = replace(out, key=f"hf{oid}")
                tx.insert("outbox", {
                    "id": oid, "key": out.key, "platform": "local", "message_row": None,
                    "question_id": None, "payload": json.dumps(out.to_json()),
                    "state": "pending", "attempts": 0, "due_at": now, "created_at": now,
                })

        await self.store.transaction(step)
        self.outbox.wake("local")

    async def settled(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Until ``condition()`` holds and the outbox waits with nothing it can send now."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (condition() and self.outbox.idle):
            if loop.time() > deadline:
                raise TimeoutError(f"not settled; sent: {self.texts()}")
            await asyncio.sleep(0.005)

    def advance(self) -> None:
        """Move the clock to the outbox's next wake."""
        deadline = self.clock.next_deadline()
        assert deadline is not None
        self.clock.advance_to(deadline)

    def texts(self) -> list[tuple[float, str]]:
        return [(round(t, 6), out.text) for t, out in self.adapter.sent]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = VirtualClock(START)
    store = Store(tmp_path / "hf.db")
    await store.open()
    adapter = Recorder(clock)
    limiter = PlatformLimiter(per_second=30, burst=30, per_chat_per_second=1.0, clock=clock,
                              per_group_per_minute=20)
    outbox = Outbox(store, {"local": adapter}, {"local": limiter}, clock)
    try:
        yield Rig(clock, store, adapter, outbox)
    finally:
        await outbox.stop(drain=0)
        await store.close()


def in_group(text: str, **kw: str) -> Outgoing:
    return Outgoing("local", GROUP, text, Visibility.PUBLIC, **kw)


async def test_a_group_that_must_wait_does_not_hold_up_other_chats(rig: Rig) -> None:
    await rig.enqueue(in_group("g1"), in_group("g2"))
    await rig.outbox.start()
    await rig.settled(lambda: len(rig.adapter.sent) == 1)
    # the outbox sleeps until the group may have its next message: 3 s, not the chat's 1 s
    assert rig.clock.next_deadline() == pytest.approx(START + 3.0)
    await rig.enqueue(Outgoing("local", "dm:42", "dm", Visibility.PRIVATE, dm_user="42"),
                      Outgoing("local", "7", "private", Visibility.PRIVATE))
    await rig.settled(lambda: len(rig.adapter.sent) == 3)
    # the private chats went at once, the group waits
    assert rig.texts() == [(0.0, "g1"), (0.0, "dm"), (0.0, "private")]
    rig.advance()
    await rig.settled(lambda: len(rig.adapter.sent) == 4)
    assert rig.texts()[-1] == (pytest.approx(3.0), "g2")


async def test_requests_a_send_made_beyond_its_message_hold_the_next_send(rig: Rig) -> None:
    # the rig allows 30/s with 30 banked: a send that took 31 requests leaves the bank at -1
    rig.adapter.extra["first"] = 30
    await rig.outbox.start()
    await rig.enqueue(Outgoing("local", "dm:1", "first", Visibility.PRIVATE, dm_user="1"),
                      Outgoing("local", "dm:2", "second", Visibility.PRIVATE, dm_user="2"))
    await rig.settled(lambda: len(rig.adapter.sent) == 1)
    rig.advance()
    await rig.settled(lambda: len(rig.adapter.sent) == 2)
    assert rig.texts() == [(0.0, "first"), (pytest.approx(2 / 30, abs=1e-6), "second")]


async def test_an_edit_in_a_group_counts_against_its_limit(rig: Rig) -> None:
    await rig.enqueue(in_group("offer"), in_group("offer, claimed", edit_of=f"{GROUP}:1"),
                      in_group("notice"))
    await rig.outbox.start()
    await rig.settled(lambda: len(rig.adapter.sent) == 1)
    rig.advance()
    await rig.settled(lambda: len(rig.adapter.sent) == 2)
    rig.advance()
    await rig.settled(lambda: len(rig.adapter.sent) == 3)
    assert rig.texts() == [(0.0, "offer"), (pytest.approx(3.0), "offer, claimed"),
                           (pytest.approx(6.0), "notice")]
    assert rig.adapter.sent[1][1].edit_of == f"{GROUP}:1"


async def test_a_group_backlog_larger_than_a_batch_does_not_hold_up_a_private_reply(
    rig: Rig,
) -> None:
    # 300 due rows for one group (a pass reads 200), then a private reply to a customer
    await rig.enqueue(*[in_group(f"g{i}") for i in range(300)])
    rig.clock.advance_to(START + 0.001)
    await rig.enqueue(Outgoing("local", "dm:42", "customer answer", Visibility.PRIVATE,
                               dm_user="42"))
    await rig.outbox.start()
    await rig.settled(lambda: any(t == "customer answer" for _, t in rig.texts()))
    assert [t for _, t in rig.texts()] == ["g0", "customer answer"]
    assert rig.clock.now() - START < 1.0  # at once, not after the group's 300 messages


async def test_a_private_chats_waiting_edits_do_not_fill_the_look_past_read(
    tmp_path: Path,
) -> None:
    # a batch of 3: the private chat 9 must wait (it just had a message), and its offers'
    # edits, addressed to dm:9, are more than a batch; the look past them must skip them all
    clock = VirtualClock(START)
    store = Store(tmp_path / "small.db")
    await store.open()
    adapter = Recorder(clock)
    limiter = PlatformLimiter(per_second=30, burst=30, per_chat_per_second=1.0, clock=clock)
    outbox = Outbox(store, {"local": adapter}, {"local": limiter}, clock,
                    OutboxPolicy(batch=3))
    rig = Rig(clock, store, adapter, outbox)
    try:
        await rig.enqueue(Outgoing("local", "dm:9", "offer", Visibility.PRIVATE, dm_user="9"))
        await outbox.start()
        await rig.settled(lambda: len(adapter.sent) == 1)
        await rig.enqueue(*[Outgoing("local", "dm:9", f"offer, claimed {i}", Visibility.PUBLIC,
                                     edit_of="dm:9:1") for i in range(6)],
                          Outgoing("local", "5", "to 5", Visibility.PRIVATE))
        await rig.settled(lambda: len(adapter.sent) == 2)
        assert rig.texts() == [(0.0, "offer"), (0.0, "to 5")]
    finally:
        await outbox.stop(drain=0)
        await store.close()


async def test_the_outbox_tells_its_hooks_of_rate_limit_waits_and_retries(rig: Rig) -> None:
    from helpforce.adapter import TransientError

    waits: list[tuple[str, float]] = []
    retries: list[str] = []
    rig.outbox.on_wait = lambda platform, seconds: waits.append((platform, seconds))
    rig.outbox.on_retry = retries.append
    rig.adapter.extra["first"] = 30  # the bank runs dry: the next send waits 2/30 s
    await rig.outbox.start()
    await rig.enqueue(Outgoing("local", "dm:1", "first", Visibility.PRIVATE, dm_user="1"),
                      Outgoing("local", "dm:2", "second", Visibility.PRIVATE, dm_user="2"))
    await rig.settled(lambda: len(rig.adapter.sent) == 1)
    rig.advance()
    await rig.settled(lambda: len(rig.adapter.sent) == 2)
    assert waits == [("local", pytest.approx(2 / 30))]

    async def failing(out: Outgoing) -> SendResult:
        raise TransientError("503")

    rig.adapter.send = failing  # type: ignore[method-assign]
    await rig.enqueue(Outgoing("local", "dm:3", "third", Visibility.PRIVATE, dm_user="3"))
    for _ in range(500):  # it may wait for the platform-wide rate first
        if retries:
            break
        await asyncio.sleep(0.01)
        deadline = rig.clock.next_deadline()
        if rig.outbox.idle and deadline is not None and deadline > rig.clock.now():
            rig.clock.advance_to(deadline)
    assert retries and set(retries) == {"local"}
