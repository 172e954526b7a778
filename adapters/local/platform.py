"""The local platform: a small chat service that runs without any network or token.

It has users (customers and staff, by user id), public channels (``help``, ``staff``…) and one
private chat per user with the bot (``dm:<user id>``). Users post messages and press buttons;
the bot sends and edits messages. The bot's sends carry an idempotency key, and a repeated key
returns the first message instead of posting again (as Discord's nonce does).

Two storage modes:

* in memory (the demo and most tests): simulated users live in the same process and can
  :meth:`subscribe` to what the bot says in a chat;
* a spool directory (``helpforce run`` with ``platforms.local.spool``, and the crash tests):
  ``inbox.jsonl`` holds what users wrote (appended by one writer, e.g. a test driver in another
  process) and ``sent.jsonl`` what the bot sent. Both survive a kill -9 of either side; a line
  torn by a crash mid-write is dropped when the file is reopened.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpforce.adapter import PermanentError, TransientError, UncertainError, Unreachable

DM_PREFIX = "dm:"


@dataclass(frozen=True, slots=True)
class BotMessage:
    id: str
    chat: str
    text: str
    reply_to: str | None
    buttons: tuple[tuple[str, str], ...]
    key: str
    #: set when this record edits an earlier message (``id`` is that message's id)
    edit: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "chat": self.chat, "text": self.text, "reply_to": self.reply_to,
            "buttons": [list(b) for b in self.buttons], "key": self.key, "edit": self.edit,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BotMessage:
        return cls(
            d["id"], d["chat"], d["text"], d.get("reply_to"),
            tuple((b[0], b[1]) for b in d.get("buttons", [])), d.get("key", ""),
            bool(d.get("edit")),
        )


class LocalPlatform:
    def __init__(self, spool: str | Path | None = None, *, poll_interval: float = 0.02) -> None:
        self.spool = Path(spool) if spool is not None else None
        self.poll_interval = poll_interval
        self._inbound: list[dict[str, Any]] = []
        self._sent: list[BotMessage] = []
        self._by_key: dict[str, BotMessage] = {}
        self._texts: dict[str, BotMessage] = {}
        self._subscribers: dict[str, list[asyncio.Queue[BotMessage]]] = {}
        self._inbound_changed = asyncio.Event()
        self._faults: list[Exception] = []
        #: private chats that refuse the bot's messages (someone who blocked it)
        self._refusing: set[str] = set()
        self._next_user_id = 0
        self._sent_file: Any = None
        if self.spool is not None:
            self.spool.mkdir(parents=True, exist_ok=True)
            self._inbox_path = self.spool / "inbox.jsonl"
            self._sent_path = self.spool / "sent.jsonl"
            for path in (self._inbox_path, self._sent_path):
                path.touch(exist_ok=True)
            self._next_user_id = sum(1 for _ in _complete_lines(self._inbox_path))

    # -- the users' side -------------------------------------------------------------------

    def post(
        self,
        user_id: str,
        chat: str,
        text: str,
        *,
        handle: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        """A user writes ``text`` in ``chat``; returns the new message's id."""
        return self._append_inbound(
            {"kind": "message", "user": user_id, "handle": handle or user_id, "chat": chat,
             "text": text, "reply_to": reply_to}
        )

    def press(self, user_id: str, message_id: str, data: str, *, handle: str | None = None) -> str:
        """A user presses the button carrying ``data`` on bot message ``message_id``."""
        msg = self._texts.get(message_id) if self.spool is None else self.bot_message(message_id)
        chat = msg.chat if msg else f"{DM_PREFIX}{user_id}"
        return self._append_inbound(
            {"kind": "action", "user": user_id, "handle": handle or user_id, "chat": chat,
             "text": "", "reply_to": message_id, "data": data}
        )

    def post_raw(self, record: dict[str, Any]) -> str:
        """Append an arbitrary (possibly malformed) event, as a misbehaving client would."""
        return self._append_inbound(dict(record))

    def _append_inbound(self, record: dict[str, Any]) -> str:
        self._next_user_id += 1
        record.setdefault("id", f"u{self._next_user_id}")
        if self.spool is not None:
            with self._inbox_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        else:
            self._inbound.append(record)
        self._inbound_changed.set()
        return str(record["id"])

    def subscribe(self, chat: str) -> asyncio.Queue[BotMessage]:
        """What the bot sends (and edits) in ``chat`` from now on (in-memory mode)."""
        queue: asyncio.Queue[BotMessage] = asyncio.Queue()
        self._subscribers.setdefault(chat, []).append(queue)
        return queue

    def sent(self, chat: str | None = None) -> list[BotMessage]:
        """Everything the bot sent (edits included), oldest first."""
        records = self._read_sent() if self.spool is not None else self._sent
        return [m for m in records if chat is None or m.chat == chat]

    def bot_message(self, message_id: str) -> BotMessage | None:
        """The current version of a bot message (after edits)."""
        if self.spool is None:
            return self._texts.get(message_id)
        current = None
        for m in self._read_sent():
            if m.id == message_id:
                current = m
        return current

    def _read_sent(self) -> list[BotMessage]:
        assert self.spool is not None
        return [BotMessage.from_json(json.loads(line)) for line in _complete_lines(self._sent_path)]

    def refuse(self, chat: str) -> None:
        """The bot's messages to this private chat are refused from now on (Unreachable)."""
        self._refusing.add(chat)

    def fail_next(self, *errors: Exception) -> None:
        """Make the bot's next sends fail with these errors, in order (fault injection)."""
        self._faults.extend(errors)

    # -- the bot's side --------------------------------------------------------------------

    def open_for_bot(self) -> None:
        """Load what the bot sent before (spool mode), dropping a line torn by a crash."""
        if self.spool is None or self._sent_file is not None:
            return
        _drop_torn_tail(self._sent_path)
        for m in self._read_sent():
            self._record_sent(m, publish=False)
        self._sent_file = self._sent_path.open("a", encoding="utf-8")

    def close_for_bot(self) -> None:
        if self._sent_file is not None:
            self._sent_file.close()
            self._sent_file = None

    async def read_inbound(
        self, cursor: str | None, limit: int = 200
    ) -> tuple[list[dict[str, Any] | str], str]:
        """Events after ``cursor`` and the cursor after them. A line that is not valid JSON is
        returned as its raw text so the adapter can report it."""
        if self.spool is None:
            start = int(cursor or 0)
            items: list[dict[str, Any] | str] = list(self._inbound[start : start + limit])
            return items, str(start + len(items))
        offset = int(cursor or 0)
        out: list[dict[str, Any] | str] = []
        with self._inbox_path.open("rb") as f:
            f.seek(offset)
            while len(out) < limit:
                line = f.readline()
                if not line.endswith(b"\n"):
                    break  # not yet completely written
                offset += len(line)
                try:
                    record = json.loads(line)
                    raw = line.decode("utf-8", "replace")
                    out.append(record if isinstance(record, dict) else raw)
                except ValueError:
                    out.append(line.decode("utf-8", "replace"))
        return out, str(offset)

    async def wait_inbound(self, timeout: float) -> None:
        if self.spool is not None:
            await asyncio.sleep(min(timeout, self.poll_interval))
            return
        self._inbound_changed.clear()
        try:
            await asyncio.wait_for(self._inbound_changed.wait(), timeout)
        except TimeoutError:
            pass

    async def has_inbound_after(self, cursor: str | None) -> bool:
        if self.spool is None:
            return len(self._inbound) > int(cursor or 0)
        return self._inbox_path.stat().st_size > int(cursor or 0)

    def bot_send(
        self,
        chat: str,
        text: str,
        *,
        key: str,
        reply_to: str | None = None,
        buttons: Sequence[tuple[str, str]] = (),
        edit_of: str | None = None,
    ) -> str:
        if chat in self._refusing:
            raise Unreachable(f"{chat} does not accept the bot's messages")
        if self._faults:
            fault = self._faults.pop(0)
            if not isinstance(fault, UncertainError):
                raise fault
            # the platform got it, but the answer was lost on the way back
            self._do_send(chat, text, key, reply_to, buttons, edit_of)
            raise fault
        return self._do_send(chat, text, key, reply_to, buttons, edit_of)

    def _do_send(
        self, chat: str, text: str, key: str, reply_to: str | None,
        buttons: Sequence[tuple[str, str]], edit_of: str | None,
    ) -> str:
        if key and key in self._by_key:
            return self._by_key[key].id  # the platform's idempotency: nothing posted twice
        if not chat:
            raise PermanentError("unknown chat ''")
        if len(text) > 4096:
            raise PermanentError(f"message too long ({len(text)} > 4096 characters)")
        if edit_of is not None:
            if edit_of not in self._texts:
                raise PermanentError(f"message {edit_of} not found")
            msg = BotMessage(edit_of, self._texts[edit_of].chat, text, None, tuple(buttons),
                             key, edit=True)
        else:
            msg = BotMessage(f"b{len(self._sent) + 1}", chat, text, reply_to, tuple(buttons), key)
        if self._sent_file is not None:
            self._sent_file.write(json.dumps(msg.to_json()) + "\n")
            self._sent_file.flush()
        self._record_sent(msg, publish=True)
        return msg.id

    def _record_sent(self, msg: BotMessage, publish: bool) -> None:
        self._sent.append(msg)
        if msg.key:
            self._by_key[msg.key] = msg
        self._texts[msg.id] = msg
        if publish:
            for queue in self._subscribers.get(msg.chat, ()):
                queue.put_nowait(msg)


def _complete_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    end = data.rfind(b"\n")
    return data[: end + 1].splitlines() if end >= 0 else []


def _drop_torn_tail(path: Path) -> None:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
            os.fsync(f.fileno())


__all__ = [
    "DM_PREFIX",
    "BotMessage",
    "LocalPlatform",
    "PermanentError",
    "TransientError",
    "UncertainError",
]
