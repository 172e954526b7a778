"""A harness for tests: the real App, store and outbox on an in-memory local platform.

    async with DeskHarness(config, tmp_path / "hf.db") as h:
        mid = h.customer("cust1", "help", "My TV is broken")
        offer = await h.next_message("staff")
        h.press("staff-jd", offer, "claim:1")
        ...

Waiting is event-driven (the platform's subscriptions) with a generous timeout, so tests
never sleep for a fixed time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpforce.adapters.local.adapter import LocalAdapter
from helpforce.adapters.local.platform import BotMessage, LocalPlatform
from helpforce.app import App
from helpforce.clock import Clock, SystemClock
from helpforce.config import Config
from helpforce.models import Event
from helpforce.queries import show_question
from helpforce.store import Store

TIMEOUT = 10.0


class DeskHarness:
    def __init__(
        self, config: Config, db_path: str | Path, *, clock: Clock | None = None,
        local: LocalPlatform | None = None, watch: bool = False,
    ) -> None:
        self.config = config
        self.db_path = str(db_path)
        self.clock = clock or SystemClock()
        self.local = local or LocalPlatform()
        self.adapter = LocalAdapter(self.local, self.clock)
        self.events: list[Event] = []
        self.app = App(config, db_path=self.db_path, clock=self.clock,
                       adapters={"local": self.adapter}, observers=[self.events.append],
                       watch=watch, env={})
        self._queues: dict[str, asyncio.Queue[BotMessage]] = {}

    async def __aenter__(self) -> DeskHarness:
        await self.app.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.stop()

    @property
    def store(self) -> Store:
        assert self.app.store is not None
        return self.app.store

    def watch(self, chat: str) -> asyncio.Queue[BotMessage]:
        """Subscribe to what the bot says in ``chat`` (do it before the message is sent)."""
        if chat not in self._queues:
            self._queues[chat] = self.local.subscribe(chat)
        return self._queues[chat]

    def customer(self, user: str, chat: str, text: str, *, reply_to: str | None = None,
                 handle: str | None = None) -> str:
        return self.local.post(user, chat, text, reply_to=reply_to, handle=handle)

    def staff(self, user: str, text: str, *, chat: str | None = None,
              reply_to: str | None = None) -> str:
        """A staff member writes (by default in their private chat with the bot)."""
        return self.local.post(user, chat or f"dm:{user}", text, reply_to=reply_to)

    def press(self, user: str, message: BotMessage | str, data: str) -> str:
        mid = message if isinstance(message, str) else message.id
        return self.local.press(user, mid, data)

    async def next_message(
        self, chat: str, where: Callable[[BotMessage], bool] | None = None,
        timeout: float = TIMEOUT,
    ) -> BotMessage:
        """The next bot message in ``chat`` (that matches ``where``)."""
        queue = self.watch(chat)

        async def get() -> BotMessage:
            while True:
                msg = await queue.get()
                if where is None or where(msg):
                    return msg

        return await asyncio.wait_for(get(), timeout)

    async def settle(self, timeout: float = TIMEOUT) -> None:
        """Wait until every posted event is committed and every due outbox row is sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            cursor = await self.store.cursor("local")
            consumed = not await self.local.has_inbound_after(cursor)
            outbox = self.app.outbox
            if consumed and (outbox is None or await outbox.backlog(due=True) == 0):
                # one more look: a commit may have queued rows just now; and the dispatchers
                # must be waiting (a test that moves the clock while one is still between its
                # last read and its sleep would leave that sleep behind the clock)
                await asyncio.sleep(0)
                if outbox is None or (await outbox.backlog(due=True) == 0 and outbox.idle):
                    return
            await asyncio.sleep(0.005)
        raise TimeoutError("the desk did not settle")

    async def question(self, qid: int) -> dict[str, Any]:
        q = await show_question(self.store, qid)
        assert q is not None, f"no question #{qid}"
        return q
