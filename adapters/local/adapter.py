"""The adapter between the desk and the :class:`LocalPlatform`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from helpforce.adapter import Capabilities, InboundSink, PermanentError, SendResult
from helpforce.adapters.local.platform import DM_PREFIX, LocalPlatform
from helpforce.clock import Clock
from helpforce.models import Account, Inbound, InboundKind, Outgoing, Visibility

log = logging.getLogger(__name__)

PLATFORM = "local"


class LocalAdapter:
    platform = PLATFORM
    capabilities = Capabilities(
        buttons=True, edits=True, threads=False, dms=True, deep_links=False,
        idempotent_send=True, max_text=4096,
    )

    def __init__(
        self, local: LocalPlatform, clock: Clock, *, bot_id: str = "helpforce-bot",
        batch: int = 200,
    ) -> None:
        self.local = local
        self.clock = clock
        self.bot_id = bot_id
        self.batch = batch
        self._task: asyncio.Task[None] | None = None
        self._state = "stopped"
        self.skipped = 0

    def status(self) -> str:
        return self._state

    async def start(self, sink: InboundSink, cursor: str | None) -> None:
        self.local.open_for_bot()
        self._state = "connected"
        self._task = asyncio.create_task(
            self._read(sink, cursor), name="helpforce.adapter.local.reader"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self.local.close_for_bot()
        self._state = "stopped"

    async def _read(self, sink: InboundSink, cursor: str | None) -> None:
        while True:
            items, new_cursor = await self.local.read_inbound(cursor, self.batch)
            if not items:
                await self.local.wait_inbound(1.0)
                continue
            batch = [e for e in (self._normalise(i) for i in items) if e is not None]
            try:
                # returns once the desk has committed the batch together with the cursor
                await sink(batch, new_cursor)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("local: the desk could not take a batch; retrying it")
                self._state = "failing: desk unavailable"
                await self.clock.sleep(1.0)
                continue
            self._state = "connected"
            cursor = new_cursor

    def _normalise(self, raw: dict[str, Any] | str) -> Inbound | None:
        if not isinstance(raw, dict):
            self.skipped += 1
            log.warning("local: skipped an event that is not a JSON object")
            return None
        mid = raw.get("id")
        try:
            user = raw["user"]
            chat = raw["chat"]
            if not isinstance(mid, str) or not mid or not isinstance(user, str) or not user:
                raise KeyError("id/user")
            if not isinstance(chat, str) or not chat:
                raise KeyError("chat")
            kind = InboundKind(raw.get("kind", "message"))
            text = raw.get("text") or ""
            if not isinstance(text, str):
                raise TypeError("text")
        except (KeyError, TypeError, ValueError) as exc:
            self.skipped += 1
            log.warning("local: skipped malformed event %r (%s)", mid, type(exc).__name__)
            return None
        if user == self.bot_id:
            return None  # our own messages
        return Inbound(
            platform=PLATFORM,
            message_id=mid,
            author=Account(PLATFORM, user, str(raw.get("handle") or user)),
            conversation=chat,
            visibility=Visibility.PRIVATE if chat.startswith(DM_PREFIX) else Visibility.PUBLIC,
            text=text,
            reply_to=raw.get("reply_to") or None,
            kind=kind,
            data=raw.get("data"),
            at=self.clock.now(),
        )

    async def send(self, out: Outgoing) -> SendResult:
        self.local.open_for_bot()  # idempotent: sends may come before start()
        chat = f"{DM_PREFIX}{out.dm_user}" if out.dm_user else out.conversation
        if len(out.text) > self.capabilities.max_text:
            raise PermanentError(f"message too long ({len(out.text)} characters)")
        mid = self.local.bot_send(
            chat, out.text, key=out.key, reply_to=out.reply_to,
            buttons=[(b.label, b.data) for b in out.buttons], edit_of=out.edit_of,
        )
        return SendResult(mid)
