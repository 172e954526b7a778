"""Sends in flight: the outbox overlaps a platform's round trips, up to ``in_flight`` at once,
while each chat's messages still go one after another, in order, an edit still waits for the
message it edits, and a chat waiting for an answer does not hold up the others.

The real TelegramAdapter (python-telegram-bot over HTTPX) talks to the loopback Bot API
(tests/fakes/telegram.py), which takes ``latency`` seconds to answer each call and counts the
calls it is handling at once. Nothing is timed: the assertions are about overlap and order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram import TOKEN, FakeTelegram
from waiting import until

from helpforce.adapter import Capabilities, SendResult, TransientError
from helpforce.adapters.telegram import TelegramAdapterFactory, TelegramSettings
from helpforce.clock import SystemClock, VirtualClock
from helpforce.config.schema import RateLimit
from helpforce.models import Outgoing, Visibility
from helpforce.outbox import Outbox
from helpforce.ratelimit import PlatformLimiter
from helpforce.store import Store, Tx

ENV = "HF_TEST_TG_TOKEN"
USERS = [700_000 + i for i in range(12)]
ONE_CHAT = 699_999
#: Telegram's limits but for the one-chat rate (a chat's order must hold without it)
RATE = RateLimit(per_second=30.0, burst=1, per_chat_per_second=None, in_flight=4)


@dataclass
class Rig:
    tg: FakeTelegram
    store: Store
    outbox: Outbox


@asynccontextmanager
async def rig(tmp_path: Path, rate: RateLimit, latency: float) -> AsyncIterator[Rig]:
    async with FakeTelegram() as tg:
        tg.latency = latency
        for chat in [*USERS, ONE_CHAT]:
            tg.user(chat, f"User{chat}")
        settings = TelegramSettings(token_env=ENV, base_url=tg.base_url,
                                    base_file_url=tg.base_file_url, rate_limit=rate)
        clock = SystemClock()
        adapter = TelegramAdapterFactory().create(settings, clock=clock, env={ENV: TOKEN})
        limiter = PlatformLimiter(rate.per_second, rate.burst, rate.per_chat_per_second, clock,
                                  in_flight=rate.in_flight)
        store = Store(tmp_path / "hf.db")
        await store.open()
        outbox = Outbox(store, {"telegram": adapter}, {"telegram": limiter}, clock)
        try:
            yield Rig(tg, store, outbox)
        finally:
            await outbox.stop(drain=0)
            await adapter.stop()
            await store.close()


async def commit(store: Store, messages: list[tuple[int, str]], edit: tuple[int, str] | None
                 = None) -> None:
    """Commit one outbox row (with its message row) per (chat, text), and optionally an edit
    of the ``edit[0]``-th of them, in one transaction: one pass sees them all."""
    now = SystemClock().now()

    async def step(tx: Tx) -> None:
        rows: list[int] = []
        for chat, text in messages:
            mid = tx.new_id("messages")
            rows.append(mid)
            tx.insert("messages", {
                "id": mid, "question_id": None, "platform": "telegram",
                "platform_message_id": None, "conversation": f"dm:{chat}", "thread": None,
                "direction": "out", "visibility": "private", "kind": "notice",
                "author_id": None, "staff_id": None, "text": text, "reply_to": None,
                "at": now,
            })
            insert_outbox(tx, Outgoing("telegram", f"dm:{chat}", text, Visibility.PRIVATE,
                                       dm_user=str(chat)), mid, now)
        if edit is not None:
            # as the desk marks a private offer taken: addressed to the conversation
            index, text = edit
            chat = messages[index][0]
            insert_outbox(tx, Outgoing("telegram", f"dm:{chat}", text, Visibility.PUBLIC,
                                       edit_of=f"row:{rows[index]}"), None, now)

    await store.transaction(step)


def insert_outbox(tx: Tx, out: Outgoing, message_row: int | None, now: float,
                  platform: str = "telegram") -> None:
    oid = tx.new_id("outbox")
    out = replace(out, key=f"hf{oid}")
    tx.insert("outbox", {
        "id": oid, "key": out.key, "platform": platform, "message_row": message_row,
        "question_id": None, "payload": json.dumps(out.to_json()), "state": "pending",
        "attempts": 0, "due_at": now, "created_at": now,
    })


async def all_sent(store: Store, n: int) -> None:
    async def done() -> bool:
        row = await store.fetchone("SELECT COUNT(*) FROM outbox WHERE state = 'sent'")
        return bool(row) and int(row[0]) == n

    await until(done)


async def test_round_trips_overlap_up_to_in_flight(tmp_path: Path) -> None:
    async with rig(tmp_path, RATE, latency=0.3) as r:
        await commit(r.store, [(u, f"Hello {u}") for u in USERS])
        await r.outbox.start(drain=0)
        await all_sent(r.store, len(USERS))
        # 30/s admits a send every 33 ms and each takes 300 ms: without the window, nine
        # would be on their way at once
        assert r.tg.max_in_progress == 4
        assert sorted(m.chat_id for m in r.tg.sent) == USERS


async def test_in_flight_1_sends_one_at_a_time(tmp_path: Path) -> None:
    async with rig(tmp_path, replace_rate(in_flight=1), latency=0.05) as r:
        await commit(r.store, [(u, f"Hello {u}") for u in USERS[:5]])
        await r.outbox.start(drain=0)
        await all_sent(r.store, 5)
        assert r.tg.max_in_progress == 1


async def test_one_chats_messages_go_one_after_another_in_order(tmp_path: Path) -> None:
    async with rig(tmp_path, RATE, latency=0.1) as r:
        # one chat's six messages interleaved with other chats' (no per-chat limit here: only
        # the outbox's ordering keeps them apart)
        messages: list[tuple[int, str]] = []
        for k in range(6):
            messages += [(ONE_CHAT, f"Part {k}"), (USERS[k], f"Hello {k}")]
        await commit(r.store, messages)
        await r.outbox.start(drain=0)
        await all_sent(r.store, len(messages))
        assert r.tg.max_in_progress_one_chat == 1
        assert r.tg.max_in_progress > 1  # the other chats' sends overlapped
        assert [m.text for m in r.tg.sent_to(ONE_CHAT)] == [f"Part {k}" for k in range(6)]


async def test_a_proxys_html_error_page_is_a_failure_to_retry_not_an_uncertain_send(
    tmp_path: Path,
) -> None:
    # a 502 page from a proxy in front of the Bot API (HTML, not the API's JSON): the server
    # answered, so the message is retried (and sent once), not escalated as uncertain
    async with rig(tmp_path, replace_rate(in_flight=1), latency=0.0) as r:
        r.tg.fail("sendMessage", 502, html=True)
        await commit(r.store, [(USERS[0], "Your order has shipped")])
        await r.outbox.start(drain=0)
        await all_sent(r.store, 1)
        assert [m.text for m in r.tg.sent] == ["Your order has shipped"]
        assert r.outbox.retries == 1


async def test_a_slow_chat_does_not_hold_up_the_others(tmp_path: Path) -> None:
    async with rig(tmp_path, RATE, latency=0.02) as r:
        # one chat's three messages come first, and each of its calls takes half a second
        r.tg.slow_chats[ONE_CHAT] = 0.5
        await commit(r.store, [(ONE_CHAT, f"Part {k}") for k in range(3)]
                     + [(u, f"Hello {u}") for u in USERS[:6]])
        await r.outbox.start(drain=0)
        await all_sent(r.store, 9)
        order = [m.text for m in r.tg.sent]
        # the other chats' messages went while the slow chat waited for its answers
        assert order.index("Part 1") > max(order.index(f"Hello {u}") for u in USERS[:6])
        assert [m.text for m in r.tg.sent_to(ONE_CHAT)] == ["Part 0", "Part 1", "Part 2"]


async def test_an_edit_waits_for_its_original_on_its_way(tmp_path: Path) -> None:
    async with rig(tmp_path, RATE, latency=0.2) as r:
        # the original and its edit in one pass; the original is still on its way when the
        # edit is admitted
        await commit(r.store, [(USERS[0], "Offer #1: open"), (USERS[1], "Offer #2: open")],
                     edit=(0, "Offer #1: claimed by ^PR"))
        await r.outbox.start(drain=0)
        await all_sent(r.store, 3)
        first = r.tg.sent_to(USERS[0])
        assert [(m.text, m.edits) for m in first] == [("Offer #1: claimed by ^PR", 1)]
        # it went in that pass: never set aside to wait for its original to be recorded
        edit = await r.store.fetchone(
            "SELECT due_at, created_at FROM outbox WHERE json_extract(payload, '$.edit_of') "
            "IS NOT NULL")
        assert edit is not None and edit["due_at"] == edit["created_at"]
        assert [m.text for m in r.tg.sent_to(USERS[1])] == ["Offer #2: open"]


def replace_rate(**changes: object) -> RateLimit:
    return RATE.model_copy(update=changes)


class Opener:
    """A platform whose every send first opens a channel: one request more than the message,
    which the adapter knows before it sends (``requests_before``)."""

    platform = "p"
    capabilities = Capabilities(idempotent_send=True)

    def __init__(self, knows_before: bool) -> None:
        self.sent = 0
        if knows_before:
            self.requests_before = lambda out: 1

    async def start(self, sink: object, cursor: str | None) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, out: Outgoing) -> SendResult:
        self.sent += 1
        return SendResult(f"m{self.sent}", extra_requests=1)

    def status(self) -> str:
        return "connected"


async def first_wait(db: Path, knows_before: bool) -> float:
    """The first rate-limit wait of two sends at 10 requests/s, four on their way at once."""
    clock = VirtualClock(1_800_000_000.0)
    store = Store(db)
    await store.open()
    limiter = PlatformLimiter(10, 1, None, clock, in_flight=4)
    outbox = Outbox(store, {"p": Opener(knows_before)}, {"p": limiter}, clock)
    seen: list[float] = []
    outbox.on_wait = lambda platform, seconds: seen.append(seconds)

    async def step(tx: Tx) -> None:
        for user in ("1", "2"):
            insert_outbox(tx, Outgoing("p", f"dm:{user}", "Hi", Visibility.PRIVATE,
                                       dm_user=user), None, clock.now(), platform="p")

    await store.transaction(step)
    await outbox.start(drain=0)
    try:
        await until(lambda: seen)
    finally:
        await outbox.stop(drain=0)
        await store.close()
    return seen[0]


async def test_requests_a_send_makes_first_count_when_it_is_let_go(tmp_path: Path) -> None:
    # a send that opens a channel first is two requests: at 10/s the next send waits 0.2 s,
    # counted when the first is let go, not after its answer (sends are on their way at once)
    assert await first_wait(tmp_path / "a.db", knows_before=True) == pytest.approx(0.2)
    # told only after the answer, the second send would already be on its way at 0.1 s
    assert await first_wait(tmp_path / "b.db", knows_before=False) == pytest.approx(0.1)


class Wire:
    """A platform whose calls take a round trip of virtual time; scripted failures by text."""

    platform = "p"

    def __init__(self, clock: VirtualClock, *, idempotent: bool) -> None:
        self.capabilities = Capabilities(idempotent_send=idempotent)
        self.clock = clock
        #: text -> seconds its call takes (default 0.05)
        self.rtt: dict[str, float] = {}
        #: text -> what its call raises
        self.fail: dict[str, Exception] = {}
        #: (when, text) of each call made
        self.calls: list[tuple[float, str]] = []

    async def start(self, sink: object, cursor: str | None) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, out: Outgoing) -> SendResult:
        self.calls.append((self.clock.now(), out.text))
        await self.clock.sleep(self.rtt.get(out.text, 0.05))
        if out.text in self.fail:
            raise self.fail.pop(out.text)
        return SendResult(f"id-{out.text}")

    def status(self) -> str:
        return "connected"


@asynccontextmanager
async def wired(tmp_path: Path, limiter_args: dict[str, object], *, idempotent: bool
                ) -> AsyncIterator[tuple[VirtualClock, Store, Wire, Outbox]]:
    clock = VirtualClock(1_800_000_000.0)
    store = Store(tmp_path / "hf.db")
    await store.open()
    wire = Wire(clock, idempotent=idempotent)
    limiter = PlatformLimiter(clock=clock, **limiter_args)  # type: ignore[arg-type]
    outbox = Outbox(store, {"p": wire}, {"p": limiter}, clock)
    try:
        yield clock, store, wire, outbox
    finally:
        await outbox.stop(drain=0)
        await store.close()


async def enqueue_p(store: Store, clock: VirtualClock, *texts: str) -> None:
    async def step(tx: Tx) -> None:
        for n, text in enumerate(texts):
            insert_outbox(tx, Outgoing("p", f"dm:{n}", text, Visibility.PRIVATE, dm_user=str(n)),
                          None, clock.now(), platform="p")

    await store.transaction(step)


async def run_until(clock: VirtualClock, done: Callable[[], Awaitable[bool]]) -> None:
    """Let the outbox work, moving the virtual clock to the next sleeper's deadline whenever
    the real tasks have had a moment, until ``done()``."""
    for _ in range(500):
        if await done():
            return
        await asyncio.sleep(0.01)
        deadline = clock.next_deadline()
        if deadline is not None:
            clock.advance_to(max(deadline, clock.now()))
    raise AssertionError("the outbox did not get there")


async def states(store: Store) -> dict[str, str]:
    rows = await store.fetchall("SELECT payload, state FROM outbox")
    return {json.loads(r["payload"])["text"]: r["state"] for r in rows}


async def test_a_pause_told_while_the_next_send_waits_holds_it(tmp_path: Path) -> None:
    # 10/s: B waits 0.1 s for its token; meanwhile A's call is answered 429, retry after 2 s
    async with wired(tmp_path, {"per_second": 10, "burst": 1, "per_chat_per_second": None,
                                "in_flight": 2}, idempotent=True) as (clock, store, wire, ob):
        wire.fail["A"] = TransientError("429 Too Many Requests", retry_after=2.0)
        start = clock.now()
        await enqueue_p(store, clock, "A", "B")
        await ob.start(drain=0)

        async def b_called() -> bool:
            return any(text == "B" for _, text in wire.calls)

        await run_until(clock, b_called)
        b_at = next(at for at, text in wire.calls if text == "B")
        assert b_at - start == pytest.approx(2.05)  # not 0.1: the pause holds it


async def test_a_failure_reaches_the_dispatcher_after_the_other_sends_finish(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Telegram-like (rows marked sending first); recording A's result fails while B is on its
    # way: B still finishes and is recorded, and the dispatcher recovers A (uncertain)
    async with wired(tmp_path, {"per_second": 100, "burst": 10, "per_chat_per_second": None,
                                "in_flight": 2}, idempotent=False) as (clock, store, wire, ob):
        wire.rtt["B"] = 0.3
        record = ob._record_many

        async def failing_record(tx: Tx, results: list[Any]) -> None:
            if any(item.out.text == "A" for item, _ in results):
                raise RuntimeError("disk I/O error")
            await record(tx, results)

        ob._record_many = failing_record  # type: ignore[method-assign]
        await enqueue_p(store, clock, "A", "B")
        await ob.start(drain=0)

        async def settled() -> bool:
            return (await states(store)) == {"A": "uncertain", "B": "sent"}

        await run_until(clock, settled)
        assert "outbox pass failed" in caplog.text
