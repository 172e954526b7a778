"""The Telegram Bot API on 127.0.0.1, for driving the real python-telegram-bot in tests.

    async with FakeTelegram() as tg:
        tg.user(42, "Alice", "alice")                 # a person (who has started the bot)
        bot = Bot(TOKEN, base_url=tg.base_url)
        tg.user_says(42, "My TV is broken")           # a private message to the bot
        sent = await tg.wait_sent(lambda m: m.chat_id == 42)

Wire protocol as the real API: ``POST /bot<token>/<method>``, form-encoded (JSON-encoded
values for ``reply_markup`` and the like) or JSON bodies; answers ``{"ok": true, "result"}``
or ``{"ok": false, "error_code", "description", "parameters": {"retry_after"}}``.

Methods: getMe, deleteWebhook, getUpdates (long poll with ``timeout``; ``offset`` confirms
and forgets every update below it; a second poller ends the first with 409), sendMessage,
editMessageText, editMessageReplyMarkup, answerCallbackQuery, close, logOut. A private chat's
id is its user's id; the bot may only message users who have started it (else 403, as
Telegram). Faults are injected with :meth:`FakeTelegram.fail` (429 with retry_after, 5xx,
403, a dropped connection). Commands in users' texts carry ``bot_command`` entities.
Telegram's flood limits are enforced when asked: ``FakeTelegram(limits=Limits())`` (see
:class:`Limits`; off by default).

Webhooks: setWebhook (recorded in :attr:`FakeTelegram.webhook`), getWebhookInfo, and
deleteWebhook, which removes it. While a webhook is set getUpdates answers 409, as Telegram
does, and a delivery task POSTs the queued updates to its URL in order, one at a time, with the
``X-Telegram-Bot-Api-Secret-Token`` header; an update answered other than 2xx stays queued and
is delivered again after a short delay (counted in ``webhook_deliveries`` /
``webhook_failures``; each answer in ``webhook_answers``). :meth:`FakeTelegram.post_to_webhook`
sends a request of the test's making (a wrong token, a malformed body).

A tiny HTTP/1.1 server on asyncio streams: no dependency beyond the standard library.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fakes.common import Observable, close_server

TOKEN = "123456:TEST-token-for-the-loopback-fake"
BOT_ID = 7000
BOT_USERNAME = "helpforce_bot"
TIMEOUT = 10.0

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 409: "Conflict", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway"}


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


class _Html(Exception):
    """Answer with an HTML error page of this status (a proxy's, not the Bot API's)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _Drop(Exception):
    """Close the connection without answering (after the call took effect)."""


@dataclass
class Fault:
    method: str
    code: int = 0
    description: str = ""
    retry_after: int | None = None
    times: int = 1
    #: only calls whose chat_id is this
    chat_id: int | None = None
    #: do the call, then drop the connection without an answer
    drop: bool = False
    #: answer ``code`` with an HTML error page, as a proxy in front of the Bot API does
    html: bool = False


@dataclass
class Sent:
    """A message the bot sent (its current state: edits update it)."""

    chat_id: int
    message_id: int
    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)
    reply_to: int | None = None
    edits: int = 0

    @property
    def ref(self) -> str:
        """The adapter's platform message id for it."""
        return f"{self.chat_id}:{self.message_id}"


#: the methods that send or change a message: what Telegram's flood limits count here
LIMITED_METHODS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})


@dataclass
class Limits:
    """Telegram's flood limits, enforced when given: ``FakeTelegram(limits=Limits())``.

    A call of a :data:`LIMITED_METHODS` method that would exceed one is answered 429 ``Too
    Many Requests: retry after N`` with ``parameters.retry_after`` N (whole seconds until the
    window would let it through) and counted in :attr:`FakeTelegram.rejected_429`; it does
    not count against the limits. Each limit is a sliding window over the arrival times
    (``time.monotonic()``) of the calls let through: at most ``per_second`` in any second
    overall; at most ``per_chat_per_second`` in any second into one chat (below 1: one in
    any 1/rate seconds); at most ``per_group_per_minute`` in any ``group_window`` seconds into
    one group or channel (a negative chat id or a @username), on top of the chat's limit.
    ``group_window`` is Telegram's minute; a test shrinks it to run in seconds. None: off.
    """

    per_second: float | None = 30
    per_chat_per_second: float | None = 1
    per_group_per_minute: float | None = 20
    group_window: float = 60.0


class _Window:
    """At most ``limit`` calls in any ``seconds``: the arrival times of the last ones."""

    def __init__(self, limit: float, seconds: float) -> None:
        self.limit = max(1, int(limit))
        self.seconds = seconds
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more call fits (0: now)."""
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        over = len(self.times) - self.limit
        return 0.0 if over < 0 else self.times[over] + self.seconds - now


class FakeTelegram(Observable):
    _what = "the fake Telegram"

    def __init__(self, token: str = TOKEN, *, bot_id: int = BOT_ID,
                 bot_username: str = BOT_USERNAME, limits: Limits | None = None) -> None:
        self.token = token
        self.bot = {"id": bot_id, "is_bot": True, "first_name": "Helpforce",
                    "username": bot_username, "can_join_groups": True,
                    "can_read_all_group_messages": False, "supports_inline_queries": False}
        self.users: dict[int, dict[str, Any]] = {}
        self.started: set[int] = set()
        self.blocked: set[int] = set()
        self.groups: dict[int, dict[str, Any]] = {}
        #: queued updates (order, payload); confirmed ones are forgotten
        self._queue: list[tuple[int, dict[str, Any]]] = []
        self.confirmed = 0
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        #: (chat id, message id) -> message dict, users' and the bot's
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.sent: list[Sent] = []
        self._sent_by_ref: dict[tuple[int, int], Sent] = {}
        self.callbacks: dict[str, dict[str, Any]] = {}
        self.callback_answers: list[dict[str, Any]] = []
        #: every API call: (method, parameters, time.monotonic() when it arrived)
        self.calls: list[tuple[str, dict[str, Any], float]] = []
        self.faults: list[Fault] = []
        #: Telegram's flood limits, enforced when set (see :class:`Limits`)
        self.limits = limits
        #: calls answered 429 because they exceeded ``limits`` (injected faults not counted)
        self.rejected_429 = 0
        #: those calls by the limit they exceeded: "overall", "chat" or "group"
        self.rejected_by: Counter[str] = Counter()
        #: (time.monotonic(), method, chat id, limit) of each of them
        self.rejected: list[tuple[float, str, str, str]] = []
        #: (time.monotonic(), method, chat id) of each limited call let through, when
        #: ``limits`` is set
        self.let_through: list[tuple[float, str, str]] = []
        self._windows: dict[tuple[str, str], _Window] = {}
        self._callback_ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._poll_generation = 0
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        self.port = 0
        #: the webhook set with setWebhook (url, secret_token, allowed_updates,
        #: max_connections), None while polling
        self.webhook: dict[str, Any] | None = None
        #: webhook POSTs made, those not answered 2xx, and each one's (update id, HTTP status;
        #: 0 = no answer)
        self.webhook_deliveries = 0
        self.webhook_failures = 0
        self.webhook_answers: list[tuple[int, int]] = []
        #: how long Telegram waits before delivering a failed update again (seconds)
        self.webhook_retry_delay = 0.05
        #: seconds each Bot API call takes on the wire, there and back (half each way: a
        #: call counts against the limits when it arrives, half-way): a real round trip
        self.latency = 0.0
        #: Bot API calls the server is handling at once, now and at most; and at most into
        #: one chat (concurrent calls into one chat would let its messages overtake)
        #: extra seconds, there and back, of each call into these chats (chat id -> seconds)
        self.slow_chats: dict[int, float] = {}
        self.in_progress = 0
        self.max_in_progress = 0
        self.max_in_progress_one_chat = 0
        self._in_progress_by_chat: Counter[str] = Counter()
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_error: tuple[int, str] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> FakeTelegram:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            try:
                await self._webhook_task
            except asyncio.CancelledError:
                pass
            self._webhook_task = None
        if self._server is not None:
            await close_server(self._server, self._conns)
            self._server = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- people and chats --------------------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "", username: str | None = None, *,
             started: bool = True) -> dict[str, Any]:
        u: dict[str, Any] = {"id": user_id, "is_bot": False,
                             "first_name": first_name or f"User{user_id}"}
        if username:
            u["username"] = username
        self.users[user_id] = u
        if started:
            self.started.add(user_id)
        return u

    def group(self, chat_id: int, title: str = "Group", *, kind: str = "supergroup") -> None:
        self.groups[chat_id] = {"id": chat_id, "type": kind, "title": title}

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id in self.groups:
            return dict(self.groups[chat_id])
        u = self.users.get(chat_id)
        if u is None:
            raise ApiError(400, "Bad Request: chat not found")
        chat = {"id": chat_id, "type": "private", "first_name": u["first_name"]}
        if "username" in u:
            chat["username"] = u["username"]
        return chat

    def _next_mid(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    # -- what users do --------------------------------------------------------------------------

    def push(self, payload: dict[str, Any]) -> int:
        """Queue an update (``update_id`` assigned if missing); returns its id."""
        if "update_id" not in payload:
            payload = {"update_id": next(self._update_ids), **payload}
        uid = payload["update_id"]
        # a malformed id (for robustness tests) still gets a place in the order
        seq = uid if isinstance(uid, int) else next(self._update_ids)
        self._queue.append((seq, payload))
        self._notify()
        return seq

    @property
    def updates(self) -> list[dict[str, Any]]:
        """Queued, not yet confirmed updates, oldest first."""
        return [p for _, p in self._queue]

    def user_says(self, user_id: int, text: str, *, chat_id: int | None = None,
                  reply_to: Sent | int | None = None, thread: int | None = None) -> str:
        """``user_id`` writes ``text`` (privately to the bot unless ``chat_id`` is a group).
        Returns the message's adapter id ``"<chat>:<message>"``."""
        chat_id = user_id if chat_id is None else chat_id
        if chat_id == user_id:
            self.started.add(user_id)
        chat = self._chat(chat_id)
        mid = self._next_mid(chat_id)
        msg: dict[str, Any] = {"message_id": mid, "from": self.users[user_id], "chat": chat,
                               "date": int(time.time()), "text": text}
        entities = _entities(text)
        if entities:
            msg["entities"] = entities
        if thread is not None:
            msg["message_thread_id"] = thread
            msg["is_topic_message"] = True
        if reply_to is not None:
            rid = reply_to.message_id if isinstance(reply_to, Sent) else reply_to
            original = self.messages.get((chat_id, rid))
            if original is not None:
                msg["reply_to_message"] = original
        self.messages[(chat_id, mid)] = msg
        self.push({"message": msg})
        return f"{chat_id}:{mid}"

    def user_edits(self, user_id: int, ref: str, text: str) -> None:
        chat_s, mid_s = ref.split(":")
        msg = dict(self.messages[(int(chat_s), int(mid_s))])
        msg["text"] = text
        msg["edit_date"] = int(time.time()) + 1
        self.messages[(int(chat_s), int(mid_s))] = msg
        self.push({"edited_message": msg})

    def press(self, user_id: int, message: Sent, data: str) -> str:
        """``user_id`` presses the inline button carrying ``data`` under the bot's message."""
        assert (data in {d for _, d in message.buttons}), (data, message.buttons)
        cid = str(next(self._callback_ids))
        original = self.messages[(message.chat_id, message.message_id)]
        query = {"id": cid, "from": self.users[user_id], "message": original,
                 "chat_instance": str(message.chat_id), "data": data}
        self.callbacks[cid] = query
        self.push({"callback_query": query})
        return cid

    # -- faults --------------------------------------------------------------------------

    def fail(self, method: str, code: int = 0, description: str = "", *,
             retry_after: int | None = None, times: int = 1, chat_id: int | None = None,
             drop: bool = False, html: bool = False) -> Fault:
        """The next ``times`` calls of ``method`` fail (429 with ``retry_after`` when given;
        with ``html``, an HTML error page instead of the Bot API's JSON)."""
        if retry_after is not None and not code:
            code = 429
            description = description or f"Too Many Requests: retry after {retry_after}"
        fault = Fault(method, code, description or f"error {code}", retry_after, times,
                      chat_id, drop, html)
        self.faults.append(fault)
        return fault

    def _fault_for(self, method: str, params: dict[str, Any]) -> Fault | None:
        for fault in self.faults:
            if fault.method != method or fault.times <= 0:
                continue
            if fault.chat_id is not None and _int(params.get("chat_id")) != fault.chat_id:
                continue
            fault.times -= 1
            return fault
        return None

    def _enforce_limits(self, method: str, params: dict[str, Any]) -> None:
        limits = self.limits
        if limits is None or method not in LIMITED_METHODS:
            return
        chat = str(params.get("chat_id", ""))
        chat_id = _int(chat)
        group = chat.startswith("@") or (chat_id is not None and chat_id < 0)
        wanted: list[tuple[str, str, float | None, float]] = [
            ("overall", "", limits.per_second, 1.0),
            ("chat", chat, limits.per_chat_per_second, 1.0),
            ("group", chat if group else "", limits.per_group_per_minute, limits.group_window),
        ]
        windows: list[tuple[str, _Window]] = []
        for kind, key, limit, seconds in wanted:
            if limit is None or (kind == "group" and not group):
                continue
            if limit < 1:  # e.g. 0.5 a second: one in any two seconds
                limit, seconds = 1, seconds / limit
            window = self._windows.get((kind, key))
            if window is None:
                window = self._windows[(kind, key)] = _Window(limit, seconds)
            windows.append((kind, window))
        now = time.monotonic()
        wait, kind = max(((w.wait(now), k) for k, w in windows), default=(0.0, ""))
        if wait > 0:
            self.rejected_429 += 1
            self.rejected_by[kind] += 1
            self.rejected.append((now, method, chat, kind))
            seconds = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {seconds}", seconds)
        for _, window in windows:
            window.times.append(now)
        self.let_through.append((now, method, chat))

    # -- reading what the bot did ------------------------------------------------------------------

    def sent_to(self, chat_id: int) -> list[Sent]:
        return [m for m in self.sent if m.chat_id == chat_id]

    async def wait_sent(self, where: Callable[[Sent], bool], *, after: int = 0,
                        timeout: float = TIMEOUT) -> Sent:
        """The first bot message (index >= ``after`` in :attr:`sent`) that matches ``where``."""
        def find() -> Sent | None:
            return next((m for m in self.sent[after:] if where(m)), None)

        found: Sent = await self.wait_until(find, timeout)
        return found

    def calls_of(
        self, method: str, chat_id: int | None = None
    ) -> list[tuple[dict[str, Any], float]]:
        """``(parameters, arrival time)`` of each call of ``method`` (into ``chat_id``)."""
        return [(p, at) for m, p, at in self.calls
                if m == method and (chat_id is None or _int(p.get("chat_id")) == chat_id)]

    def pending_updates(self) -> list[dict[str, Any]]:
        return [p for seq, p in self._queue if seq >= self.confirmed]

    # -- the HTTP server --------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                parts = line.decode("latin-1").split()
                if len(parts) < 2:
                    break
                target = parts[1]
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = h.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                body = await reader.readexactly(length) if length else b""
                content_type = "application/json"
                try:
                    status, payload = await self._dispatch(target, headers, body)
                    data = json.dumps(payload).encode()
                except _Drop:
                    break
                except _Html as page:
                    status, content_type = page.code, "text/html"
                    data = (f"<html><body><h1>{page.code} "
                            f"{_REASONS.get(page.code, 'Error')}</h1></body></html>").encode()
                writer.write(
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                    f"Content-Type: {content_type}\r\nContent-Length: {len(data)}\r\n"
                    "Connection: keep-alive\r\n\r\n".encode() + data
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # stopped: this task is the connection's top level, nothing awaits it
        finally:
            self._conns.discard(task)
            writer.close()

    async def _dispatch(
        self, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        path = urllib.parse.urlsplit(target).path
        prefix = f"/bot{self.token}/"
        if not path.startswith("/bot"):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = path[len(prefix):]
        params = _params(headers.get("content-type", ""), body)
        self.calls.append((method, params, time.monotonic()))
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method"}
        fault = self._fault_for(method, params)
        chat = str(params.get("chat_id", ""))
        self.in_progress += 1
        self.max_in_progress = max(self.max_in_progress, self.in_progress)
        if method != "getUpdates":
            self._in_progress_by_chat[chat] += 1
            self.max_in_progress_one_chat = max(self.max_in_progress_one_chat,
                                                self._in_progress_by_chat[chat])
        latency = self.latency + self.slow_chats.get(_int(chat) or 0, 0.0)
        try:
            if latency and method != "getUpdates":
                await asyncio.sleep(latency / 2)
            if fault is not None and fault.html:
                raise _Html(fault.code)
            if fault is not None and not fault.drop:
                raise ApiError(fault.code, fault.description, fault.retry_after)
            self._enforce_limits(method, params)
            result = await handler(params)
            if latency and method != "getUpdates":
                await asyncio.sleep(latency / 2)
            if fault is not None and fault.drop:
                raise _Drop()
        except ApiError as exc:
            err: dict[str, Any] = {"ok": False, "error_code": exc.code,
                                   "description": exc.description}
            if exc.retry_after is not None:
                err["parameters"] = {"retry_after": exc.retry_after}
            return exc.code, err
        finally:
            self.in_progress -= 1
            if method != "getUpdates":
                self._in_progress_by_chat[chat] -= 1
        return 200, {"ok": True, "result": result}

    # -- methods --------------------------------------------------------------------------

    async def _api_getMe(self, p: dict[str, Any]) -> Any:
        return self.bot

    async def _api_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = None
        if str(p.get("drop_pending_updates")).lower() == "true":
            self._queue = []
        self._notify()  # ends the delivery task
        return True

    async def _api_setWebhook(self, p: dict[str, Any]) -> Any:
        url = p.get("url") or ""
        if not url:
            return await self._api_deleteWebhook(p)
        secret = p.get("secret_token")
        if secret is not None and not _webhook_secret_ok(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if not urllib.parse.urlsplit(url).hostname:
            raise ApiError(400, "Bad Request: bad webhook: invalid webhook URL specified")
        self.webhook = {"url": url, "secret_token": secret,
                        "allowed_updates": _json(p.get("allowed_updates")),
                        "max_connections": _int(p.get("max_connections")) or 40}
        self._webhook_error = None
        if str(p.get("drop_pending_updates")).lower() == "true":
            self._queue = []
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._deliver_webhook(),
                                                     name="fake-telegram.webhook")
        self._notify()  # a new URL: try the queue's head there at once
        return True

    async def _api_getWebhookInfo(self, p: dict[str, Any]) -> Any:
        hook = self.webhook or {}
        info: dict[str, Any] = {"url": hook.get("url", ""), "has_custom_certificate": False,
                                "pending_update_count": len(self.pending_updates())}
        if hook:
            info["max_connections"] = hook["max_connections"]
            if hook["allowed_updates"] is not None:
                info["allowed_updates"] = hook["allowed_updates"]
        if hook and self._webhook_error is not None:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    # -- webhook delivery (Telegram's side) ----------------------------------------------------

    async def post_to_webhook(self, body: bytes | dict[str, Any], *, secret: str | None,
                              url: str | None = None, timeout: float = TIMEOUT) -> int:
        """POST ``body`` (an update, or raw bytes) to ``url`` (default: the webhook's) as
        Telegram does, with ``secret`` in the secret token header (None: no header). Returns
        the HTTP status, 0 if there was no answer."""
        target = url if url is not None else (self.webhook or {}).get("url", "")
        parts = urllib.parse.urlsplit(target)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = (f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                "Connection: close\r\n")
        if secret is not None:
            head += f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\n"
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(parts.hostname,
                                                               parts.port or 80)
                writer.write(head.encode("latin-1") + b"\r\n" + data)
                await writer.drain()
                status_line = await reader.readline()
                await reader.read()  # the rest of the answer, until the server closes
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return 0
        finally:
            if writer is not None:
                writer.close()
                try:
                    await writer.wait_closed()
                except OSError:
                    pass
        fields = status_line.split()
        return int(fields[1]) if len(fields) >= 2 and fields[1].isdigit() else 0

    async def _deliver_webhook(self) -> None:
        """While a webhook is set: POST the queued updates to it in order, one at a time; one
        not answered 2xx stays at the head and is delivered again after
        :attr:`webhook_retry_delay`. An answered one is forgotten (acknowledged)."""
        while self.webhook is not None:
            changed = self._changed
            head = next((item for item in self._queue if item[0] >= self.confirmed), None)
            if head is None:
                await changed.wait()
                continue
            hook = self.webhook
            status = await self.post_to_webhook(head[1], secret=hook["secret_token"],
                                                url=hook["url"])
            self.webhook_deliveries += 1
            self.webhook_answers.append((head[0], status))
            if 200 <= status < 300:
                self._queue = [item for item in self._queue if item is not head]
                self._notify()
                continue
            self.webhook_failures += 1
            self._webhook_error = (
                int(time.time()),
                f"Wrong response from the webhook: {status} {_REASONS.get(status, 'Error')}"
                if status else "Connection refused",
            )
            self._notify()
            await asyncio.sleep(self.webhook_retry_delay)

    async def _api_close(self, p: dict[str, Any]) -> Any:
        return True

    async def _api_logOut(self, p: dict[str, Any]) -> Any:
        return True

    async def _api_getUpdates(self, p: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is "
                                "active; use deleteWebhook to delete the webhook first")
        offset = _int(p.get("offset")) or 0
        limit = _int(p.get("limit")) or 100
        timeout = float(p.get("timeout") or 0)
        if offset > self.confirmed:
            self.confirmed = offset
            self._queue = [(seq, p) for seq, p in self._queue if seq >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make "
                                    "sure that only one bot instance is running")
            ready = self.pending_updates()[:limit]
            remaining = deadline - loop.time()
            if ready or remaining <= 0:
                return ready
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                pass

    def _bot_message(self, chat_id: int, p: dict[str, Any], mid: int) -> dict[str, Any]:
        msg: dict[str, Any] = {"message_id": mid, "from": self.bot, "chat": self._chat(chat_id),
                               "date": int(time.time()), "text": p.get("text", "")}
        markup = _json(p.get("reply_markup"))
        if markup:
            msg["reply_markup"] = markup
        return msg

    def _check_text(self, text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return text

    def _target_chat(self, p: dict[str, Any]) -> int:
        chat_id = _int(p.get("chat_id"))
        if chat_id is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.users or chat_id > 0:
            if chat_id not in self.users:
                raise ApiError(400, "Bad Request: chat not found")
            if chat_id in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if chat_id not in self.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        elif chat_id not in self.groups:
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    async def _api_sendMessage(self, p: dict[str, Any]) -> Any:
        chat_id = self._target_chat(p)
        text = self._check_text(p.get("text"))
        markup = _json(p.get("reply_markup"))
        buttons = _buttons(markup)
        mid = self._next_mid(chat_id)
        msg = self._bot_message(chat_id, p, mid)
        reply = _json(p.get("reply_parameters"))
        reply_to = None
        if isinstance(reply, dict) and (chat_id, reply.get("message_id")) in self.messages:
            reply_to = int(reply["message_id"])
            msg["reply_to_message"] = self.messages[(chat_id, reply_to)]
        if p.get("message_thread_id"):
            msg["message_thread_id"] = _int(p["message_thread_id"])
        self.messages[(chat_id, mid)] = msg
        sent = Sent(chat_id, mid, text, buttons, reply_to)
        self.sent.append(sent)
        self._sent_by_ref[(chat_id, mid)] = sent
        self._notify()
        return msg

    def _own_message(self, p: dict[str, Any]) -> tuple[dict[str, Any], Sent]:
        chat_id = _int(p.get("chat_id"))
        mid = _int(p.get("message_id"))
        key = (chat_id or 0, mid or 0)
        sent = self._sent_by_ref.get(key)
        if sent is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return self.messages[key], sent

    async def _api_editMessageText(self, p: dict[str, Any]) -> Any:
        msg, sent = self._own_message(p)
        text = self._check_text(p.get("text"))
        markup = _json(p.get("reply_markup"))
        buttons = _buttons(markup)
        if text == sent.text and buttons == sent.buttons:
            raise ApiError(400, "Bad Request: message is not modified: specified new message "
                                "content and reply markup are exactly the same as a current "
                                "content and reply markup of the message")
        msg["text"] = text
        msg["edit_date"] = int(time.time())
        if markup:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        sent.text, sent.buttons = text, buttons
        sent.edits += 1
        self._notify()
        return msg

    async def _api_editMessageReplyMarkup(self, p: dict[str, Any]) -> Any:
        msg, sent = self._own_message(p)
        markup = _json(p.get("reply_markup"))
        buttons = _buttons(markup)
        if buttons == sent.buttons:
            raise ApiError(400, "Bad Request: message is not modified")
        if markup:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)
        sent.buttons = buttons
        sent.edits += 1
        self._notify()
        return msg

    async def _api_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        cid = p.get("callback_query_id")
        if cid not in self.callbacks:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired "
                                "or query ID is invalid")
        self.callback_answers.append(
            {"id": cid, "text": p.get("text"), "show_alert": p.get("show_alert")}
        )
        self._notify()
        return True


# -- helpers ---------------------------------------------------------------------------------------


def _entities(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if text.startswith("/"):
        word = text.split(maxsplit=1)[0]
        out.append({"type": "bot_command", "offset": 0, "length": _utf16_len(word)})
    return out


def _webhook_secret_ok(secret: Any) -> bool:
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    return isinstance(secret, str) and 1 <= len(secret) <= 256 and set(secret) <= allowed


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _params(content_type: str, body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    if content_type.startswith("application/json"):
        data = json.loads(body)
        return dict(data) if isinstance(data, dict) else {}
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
            .items()}


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _buttons(markup: Any) -> list[tuple[str, str]]:
    if not isinstance(markup, dict):
        return []
    return [(b.get("text", ""), b.get("callback_data", ""))
            for row in markup.get("inline_keyboard", []) for b in row]
