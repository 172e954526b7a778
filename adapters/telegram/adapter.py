"""The adapter between the desk and the Telegram Bot API (python-telegram-bot 22).

In: long polling with getUpdates. The update offset is the resume cursor: a batch of updates
is normalised and handed to the desk's sink with ``str(last update id + 1)``, and the offset
advances only after the sink returns (the desk committed the batch and the cursor together),
so a crash re-delivers rather than loses. Updates are parsed one by one from the raw answer:
a malformed one is logged by its update id (never its text) and skipped without holding up the
others. Message ids are qualified ``"<chat id>:<message id>"`` (Telegram numbers messages per
chat); a button press is ``"cb:<callback query id>"`` and is answered (answerCallbackQuery)
once committed. With ``settings.webhook`` set, Telegram POSTs updates to helpforce's server
instead (webhook.py): each is answered 200 only once committed, and no cursor is saved.
``/start <payload>`` in a private chat is an InboundKind.START: someone opening one of our
start links (``deep_link``), which the desk binds to its question.

Out: sendMessage / editMessageText with an inline keyboard whose callback data is the desk's
short key. Errors are classified for the outbox: flood control (RetryAfter, with its delay),
5xx, a connection that could not be made and timeouts before sending are transient; Forbidden
(403: the user never started the bot, or blocked it) and BadRequest are permanent; a timeout or
a dropped connection after a sendMessage went out is uncertain (Telegram has no idempotency
key: re-sending could duplicate), while edits, which are idempotent, are simply retried.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import warnings
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from helpforce.adapter import (
    AdapterError,
    Capabilities,
    InboundSink,
    PermanentError,
    SendResult,
    TransientError,
    UncertainError,
    Unreachable,
)
from helpforce.clock import Clock
from helpforce.models import Account, Inbound, InboundKind, Outgoing, Visibility

from . import PLATFORM, TelegramSettings

if TYPE_CHECKING:
    from .webhook import WebhookServer  # imported at start: aiohttp only in webhook mode

log = logging.getLogger(__name__)

#: the update types the desk uses; others are never fetched
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
_REF = re.compile(r"(-?\d{1,20}):(\d{1,12})")
_CHAT_ID = re.compile(r"-?\d{1,20}")
_USER_ID = re.compile(r"\d{1,20}")
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BACKOFF_MAX = 60.0


class TelegramAdapter:
    platform = PLATFORM
    capabilities = Capabilities(
        buttons=True, edits=True, threads=False, dms=True, deep_links=True,
        idempotent_send=False, max_text=MAX_TEXT,
    )

    def __init__(self, settings: TelegramSettings, token: str, clock: Clock, *,
                 webhook_secret: str | None = None) -> None:
        self.settings = settings
        self.clock = clock
        # time periods as timedelta (PTB 22.2's opt-in): the int form warns on every 429
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        # httpx logs every request URL at INFO, and the URL holds the token
        logging.getLogger("httpx").setLevel(logging.WARNING)
        # python-telegram-bot logs the API URL (with the token) and every call's parameters
        # (setWebhook's hold the secret token) at DEBUG
        ptb_log = logging.getLogger("telegram")
        if ptb_log.level < logging.INFO:  # NOTSET included
            ptb_log.setLevel(logging.INFO)
        t = settings.request_timeout
        self._poll_request = HTTPXRequest(
            connection_pool_size=1, read_timeout=t, write_timeout=t, connect_timeout=t,
            pool_timeout=t,
        )
        self.bot = Bot(
            token, base_url=settings.base_url, base_file_url=settings.base_file_url,
            # the outbox's sends in flight, plus room for answers to button presses
            request=HTTPXRequest(connection_pool_size=settings.rate_limit.in_flight + 4,
                                 read_timeout=t, write_timeout=t,
                                 connect_timeout=t, pool_timeout=t),
            get_updates_request=self._poll_request,
        )
        self._task: asyncio.Task[None] | None = None
        self._answers: set[asyncio.Task[None]] = set()
        #: webhook mode (settings.webhook): the secret token and, once started, the server
        self._webhook_secret = webhook_secret
        self._webhook: WebhookServer | None = None
        self._state = "stopped"
        self._connected = False
        self._offset: int | None = None
        self.bot_id: int | None = None
        self.username = ""
        #: updates that could not be parsed or normalised (logged by update id, then skipped)
        self.skipped = 0
        #: updates that are not for the desk (other bots, service messages, bare /start, ...)
        self.ignored = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def status(self) -> str:
        return self._state

    async def start(self, sink: InboundSink, cursor: str | None) -> None:
        if cursor is not None and not _CHAT_ID.fullmatch(cursor):
            log.warning("telegram: ignoring a saved cursor that is not an update offset")
            cursor = None
        self._offset = int(cursor) if cursor is not None else None
        self._state = "connecting"
        if self.settings.webhook is not None:
            from .webhook import WebhookServer

            # listen before registering: Telegram may post as soon as setWebhook answers
            self._webhook = WebhookServer(self, sink, self._webhook_secret or "")
            await self._webhook.start()
        try:
            await self._connect()
        except InvalidToken:
            self._state = "failing: the Bot API refused the token"
            if self._webhook is not None:
                await self._webhook.stop()
                self._webhook = None
            raise RuntimeError(
                f"telegram: the Bot API at {self.settings.base_url} refused the bot token in "
                f"the environment variable {self.settings.token_env}"
            ) from None
        except TelegramError as exc:
            # unreachable for now: the poller keeps trying, with backoff
            self._state = f"failing: {_describe(exc)}"
            log.error("telegram: cannot reach the Bot API at %s (%s); retrying",
                      self.settings.base_url, _describe(exc))
        if self._webhook is not None:
            # updates arrive at the server; this task only retries setWebhook until it holds
            self._task = asyncio.create_task(
                self._webhook.register(), name="helpforce.adapter.telegram.set-webhook"
            )
            return
        self._task = asyncio.create_task(self._poll(sink), name="helpforce.adapter.telegram")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
            await self._confirm()
        if self._webhook is not None:
            # the webhook stays registered: Telegram keeps what arrives meanwhile (up to 24 h)
            # and delivers it once we listen again; deleting it would lose nothing either, but
            # would cut off a new daemon that registered it already (a rolling restart)
            await self._webhook.stop()
            self._webhook = None
        if self._answers:
            await asyncio.gather(*self._answers, return_exceptions=True)
        self._connected = False
        try:
            await self.bot.shutdown()
            # sends before start, or a start that failed, opened connections too
            await self.bot.request.shutdown()
            await self._poll_request.shutdown()
        except Exception:
            log.exception("telegram: error while closing the connection")
        self._state = "stopped"

    async def _connect(self) -> None:
        await self.bot.initialize()  # getMe: checks the token
        hook = self.settings.webhook
        if hook is not None and self._webhook is not None:
            # polling and webhooks exclude each other: Telegram posts to our server from now on
            await self.bot.set_webhook(
                self._webhook.url, secret_token=self._webhook_secret,
                allowed_updates=list(ALLOWED_UPDATES), max_connections=hook.max_connections,
                drop_pending_updates=False,
            )
        else:
            if (await self.bot.get_webhook_info()).url:
                # back from webhook mode: Telegram's queue holds exactly what the webhook did
                # not acknowledge, and the saved offset predates the webhook (webhook.py)
                log.info("telegram: a webhook was set; polling resumes from Telegram's queue")
                self._offset = None
            await self.bot.delete_webhook(drop_pending_updates=False)
        self.bot_id = self.bot.id
        self.username = self.bot.username or ""
        self._connected = True
        self._state = "connected"

    # -- in ----------------------------------------------------------------------------------

    async def _poll(self, sink: InboundSink) -> None:
        failures = 0
        while True:
            try:
                if not self._connected:
                    await self._connect()
                raw = await self._get_updates()
                failures = 0
            except asyncio.CancelledError:
                raise
            except RetryAfter as exc:
                self._state = "failing: flood control"
                await self.clock.sleep(_retry_after(exc))
                continue
            except Exception as exc:
                failures += 1
                why = _describe(exc)
                if isinstance(exc, InvalidToken):
                    why = f"the Bot API refused the token in {self.settings.token_env}"
                elif isinstance(exc, Conflict):
                    why = "another poller or a webhook uses this bot token"
                self._state = f"failing: {why}"
                delay = min(_BACKOFF_MAX, 0.5 * 2 ** min(failures, 10))
                log.warning("telegram: getUpdates failed (%s); retrying in %.1fs", why, delay)
                await self.clock.sleep(delay * random.uniform(0.5, 1.0))
                continue
            self._state = "connected"
            if not raw:
                continue
            batch, presses, last = self._normalise_all(raw)
            if last is None:
                # nothing carried an update id: we cannot move past them
                log.error("telegram: getUpdates returned %d updates without an update id",
                          len(raw))
                await self.clock.sleep(1.0)
                continue
            cursor = str(last + 1)
            while True:
                try:
                    # returns once the desk has committed the batch together with the cursor
                    await sink(batch, cursor)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("telegram: the desk could not take a batch; retrying it")
                    self._state = "failing: desk unavailable"
                    await self.clock.sleep(1.0)
            self._state = "connected"
            self._offset = last + 1
            for query_id in presses:
                task = asyncio.create_task(self._answer(query_id))
                self._answers.add(task)
                task.add_done_callback(self._answers.discard)

    async def _confirm(self) -> None:
        """One last getUpdates without waiting, as Telegram's docs ask of a poller that stops:
        it confirms what the desk committed, so the next start is not handed it again (it
        would be ignored: ingest is idempotent). What it returns is left for that start."""
        if self._offset is None or not self._connected:
            return
        data = RequestData([RequestParameter.from_input(k, v) for k, v in {
            "offset": self._offset, "timeout": 0, "limit": 1,
            "allowed_updates": list(ALLOWED_UPDATES)}.items()])
        try:
            await self._poll_request.post(f"{self.bot.base_url}/getUpdates", data,
                                          read_timeout=self.settings.request_timeout)
        except Exception as exc:  # stopping anyway: the next start confirms it
            log.info("telegram: could not confirm the last updates on stop (%s)",
                     type(exc).__name__)

    async def _get_updates(self) -> list[Any]:
        """One long poll, as raw JSON: updates are parsed one by one (see _normalise_all)."""
        s = self.settings
        params: dict[str, object] = {
            "timeout": int(s.poll_timeout), "limit": s.poll_limit,
            "allowed_updates": list(ALLOWED_UPDATES),
        }
        if self._offset is not None:
            params["offset"] = self._offset
        data = RequestData([RequestParameter.from_input(k, v) for k, v in params.items()])
        result = await self._poll_request.post(
            f"{self.bot.base_url}/getUpdates", data,
            read_timeout=s.poll_timeout + s.request_timeout,
        )
        return result if isinstance(result, list) else []

    def _normalise_all(
        self, raw: Sequence[Any]
    ) -> tuple[list[Inbound], list[str], int | None]:
        batch: list[Inbound] = []
        presses: list[str] = []
        last: int | None = None
        for item in raw:
            uid = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(uid, int) or isinstance(uid, bool):
                self.skipped += 1
                log.warning("telegram: skipped an update without an update id")
                continue
            last = uid if last is None else max(last, uid)
            try:
                update = Update.de_json(item, self.bot)
                event = self._normalise(update)
            except Exception as exc:  # a surprising payload must not stop the others
                self.skipped += 1
                log.warning("telegram: skipped malformed update %d (%s)", uid,
                            type(exc).__name__)
                continue
            if update.callback_query is not None:
                presses.append(update.callback_query.id)
            if event is not None:
                batch.append(event)
        return batch, presses, last

    def _ignore(self, update: Update, why: str) -> None:
        self.ignored += 1
        log.debug("telegram: update %d ignored: %s", update.update_id, why)

    def _normalise(self, update: Update) -> Inbound | None:
        if update.callback_query is not None:
            return self._press(update, update.callback_query)
        edited = update.edited_message is not None
        msg = update.message or update.edited_message
        if msg is None:
            self._ignore(update, "not a message or a button press")
            return None
        user = msg.from_user
        if user is None:
            self._ignore(update, "no author (a channel or an anonymous admin)")
            return None
        if user.id == self.bot_id or user.is_bot:
            self._ignore(update, "written by a bot")
            return None
        chat_id = msg.chat.id
        private = msg.chat.type == ChatType.PRIVATE
        text = self._text(update, msg)
        if text is None:
            return None
        ref = f"{chat_id}:{msg.message_id}"
        reply_to: str | None = None
        if edited:
            stamp = int(msg.edit_date.timestamp()) if msg.edit_date else update.update_id
            message_id = f"{ref}:edit:{stamp}"
            reply_to = ref
        else:
            message_id = ref
            if msg.reply_to_message is not None and not _is_topic_root(msg):
                reply_to = f"{chat_id}:{msg.reply_to_message.message_id}"
        thread = str(msg.message_thread_id) if msg.is_topic_message and msg.message_thread_id \
            else None
        kind = InboundKind.EDIT if edited else InboundKind.MESSAGE
        data: str | None = None
        if private and not edited and text.startswith("/start "):
            # the Start button of a t.me/<bot>?start=<payload> link we gave out
            kind, data = InboundKind.START, text.removeprefix("/start ").strip()
        return Inbound(
            platform=PLATFORM,
            message_id=message_id,
            author=Account(PLATFORM, str(user.id), user.username or user.full_name),
            conversation=str(chat_id),
            visibility=Visibility.PRIVATE if private else Visibility.PUBLIC,
            text=text,
            reply_to=reply_to,
            thread=thread,
            kind=kind,
            data=data,
            at=msg.date.timestamp() if msg.date else self.clock.now(),
        )

    def _text(self, update: Update, msg: Message) -> str | None:
        """The message's text for the desk; None to ignore it."""
        text = msg.text or msg.caption or ""
        command = next(
            (e for e in msg.entities
             if e.type == MessageEntity.BOT_COMMAND and e.offset == 0),
            None,
        )
        if command is not None and msg.text:
            word = msg.parse_entity(command)
            name, _, target = word.partition("@")
            if target and self.username and target.lower() != self.username.lower():
                self._ignore(update, "a command for another bot")
                return None
            rest = msg.text[len(word):]
            if name.lower() == "/start" and not rest.strip():
                # Telegram's Start button: the person opened the chat, nothing was asked yet
                self._ignore(update, "/start without a payload")
                return None
            text = name + rest
        if not text.strip():
            attachment = msg.effective_attachment
            if attachment is None:
                self._ignore(update, "a service message or an empty text")
                return None
            kind = type(attachment[-1] if isinstance(attachment, Sequence) else attachment)
            text = f"[{kind.__name__.lower()}]"
        return text

    def _press(self, update: Update, query: CallbackQuery) -> Inbound | None:
        if query.data is None:
            self._ignore(update, "a button press without callback data")
            return None
        user = query.from_user
        message = query.message
        if message is not None:
            conversation = str(message.chat.id)
            reply_to: str | None = f"{message.chat.id}:{message.message_id}"
            private = message.chat.type == ChatType.PRIVATE
        else:  # a button under an inline-mode message: no chat to point at
            conversation, reply_to, private = str(user.id), None, True
        return Inbound(
            platform=PLATFORM,
            message_id=f"cb:{query.id}",
            author=Account(PLATFORM, str(user.id), user.username or user.full_name),
            conversation=conversation,
            visibility=Visibility.PRIVATE if private else Visibility.PUBLIC,
            reply_to=reply_to,
            kind=InboundKind.ACTION,
            data=query.data,
            at=self.clock.now(),
        )

    async def _answer(self, query_id: str) -> None:
        """Stop the button's spinner; the desk's answer comes as a message."""
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramError as exc:
            # e.g. a press re-delivered after a restart: the query is too old to answer
            log.info("telegram: could not answer a button press (%s)", _describe(exc))

    # -- out ---------------------------------------------------------------------------------

    def deep_link(self, payload: str) -> str:
        """The link that opens a private chat with the bot and sends it ``/start payload``."""
        if not self.username:
            raise TransientError("the bot's username is not known yet (getMe has not answered)")
        if not _PAYLOAD.fullmatch(payload):
            raise PermanentError("a start payload is 1-64 characters of A-Z a-z 0-9 _ -")
        return f"https://t.me/{self.username}?start={payload}"

    async def send(self, out: Outgoing) -> SendResult:
        if not out.text.strip():
            raise PermanentError("empty message")
        if out.deep_link:
            out = replace(out, text=f"{out.text}\n{self.deep_link(out.deep_link)}")
        if len(out.text) > MAX_TEXT:
            raise PermanentError(
                f"message too long ({len(out.text)} characters; Telegram allows {MAX_TEXT})"
            )
        for button in out.buttons:
            if not 1 <= len(button.data.encode()) <= MAX_CALLBACK_DATA:
                raise PermanentError(f"button data must be 1-{MAX_CALLBACK_DATA} bytes")
        markup = (
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(b.label, callback_data=b.data) for b in out.buttons]]
            )
            if out.buttons else None
        )
        if out.edit_of:
            return await self._edit(out, markup)
        chat = self._chat_of(out)
        reply = None
        if out.reply_to and (m := _REF.fullmatch(out.reply_to)) and _same_chat(chat, m[1]):
            reply = ReplyParameters(int(m[2]), allow_sending_without_reply=True)
        thread = int(out.thread) if out.thread and out.thread.isdigit() else None
        try:
            msg = await self.bot.send_message(
                chat, out.text, reply_markup=markup, reply_parameters=reply,
                message_thread_id=thread,
            )
        except TelegramError as exc:
            raise _classify(exc, repeatable=False, token_env=self.settings.token_env,
                            private=isinstance(chat, int) and chat > 0) from exc
        return SendResult(f"{msg.chat.id}:{msg.message_id}")

    async def _edit(self, out: Outgoing, markup: InlineKeyboardMarkup | None) -> SendResult:
        assert out.edit_of is not None
        m = _REF.fullmatch(out.edit_of)
        if m is None:
            raise PermanentError(f"cannot edit {out.edit_of!r}: not a Telegram message id")
        try:
            # without reply_markup Telegram removes the inline keyboard (a claimed offer)
            await self.bot.edit_message_text(
                out.text, chat_id=int(m[1]), message_id=int(m[2]), reply_markup=markup
            )
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                raise _classify(exc, repeatable=True, token_env=self.settings.token_env) \
                    from exc
        except TelegramError as exc:
            raise _classify(exc, repeatable=True, token_env=self.settings.token_env) from exc
        return SendResult(out.edit_of)

    def _chat_of(self, out: Outgoing) -> int | str:
        if out.dm_user is not None:
            if not _USER_ID.fullmatch(out.dm_user):
                raise PermanentError(f"not a Telegram user id: {out.dm_user!r}")
            return int(out.dm_user)  # a private chat's id is its user's id
        conv = out.conversation.removeprefix("dm:")
        if _CHAT_ID.fullmatch(conv):
            return int(conv)
        if conv.startswith("@"):
            return conv  # a public channel or supergroup by username
        raise PermanentError(f"not a Telegram chat: {out.conversation!r}")


# -- helpers ---------------------------------------------------------------------------------


def _is_topic_root(msg: Message) -> bool:
    # in forum topics every message "replies" to the topic's first message
    return bool(
        msg.is_topic_message and msg.reply_to_message is not None
        and msg.reply_to_message.message_id == msg.message_thread_id
    )


def _same_chat(chat: int | str, ref_chat: str) -> bool:
    return isinstance(chat, int) and str(chat) == ref_chat


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # reading it as a number is deprecated in favour of a timedelta (PTB 22.2)
        warnings.simplefilter("ignore")
        value: Any = exc.retry_after
    if isinstance(value, timedelta):
        return max(0.0, value.total_seconds())
    return max(0.0, float(value))


def _describe(exc: BaseException) -> str:
    message = exc.message if isinstance(exc, TelegramError) else str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _classify(
    exc: TelegramError, *, repeatable: bool, token_env: str, private: bool = False
) -> AdapterError:
    """What the outbox should do about a failed call. ``repeatable``: doing the call twice
    does no harm (an edit), so a lost answer is simply retried."""
    if isinstance(exc, RetryAfter):
        seconds = _retry_after(exc)
        return TransientError(f"flood control: retry after {seconds:g}s", retry_after=seconds)
    if isinstance(exc, Forbidden):
        # 403: the user never started the bot, blocked it, or the bot left the chat
        if private:
            return Unreachable(f"forbidden: {exc.message}")
        return PermanentError(f"forbidden: {exc.message}")
    if isinstance(exc, ChatMigrated):
        return PermanentError(
            f"the group is now a supergroup with chat id {exc.new_chat_id}: update the settings"
        )
    if isinstance(exc, BadRequest):
        return PermanentError(f"bad request: {exc.message}")
    if isinstance(exc, InvalidToken):
        return TransientError(f"the Bot API refused the token in {token_env}")
    if isinstance(exc, TimedOut):
        cause = exc.__cause__
        if repeatable or isinstance(cause, httpx.ConnectTimeout | httpx.PoolTimeout):
            return TransientError(f"timed out before sending: {exc.message}")
        return UncertainError(f"timed out after sending; Telegram may have it: {exc.message}")
    if isinstance(exc, NetworkError):
        cause = exc.__cause__
        # an HTTP error status came back (5xx): with the Bot API's JSON there is no cause;
        # with a proxy's HTML page the cause is the failed parse of that page
        answered = cause is None or isinstance(cause, TelegramError)
        if repeatable or answered or isinstance(cause, httpx.ConnectError):
            # no connection, or the server answered with an error (5xx)
            return TransientError(f"network: {exc.message}")
        return UncertainError(f"connection lost after sending; Telegram may have it: "
                              f"{exc.message}")
    return TransientError(_describe(exc))
