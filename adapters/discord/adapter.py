"""The adapter between the desk and Discord (discord.py 2).

In: the gateway. Messages in the help channels (and in the posts of help forum channels), DMs
to the bot and mentions of the bot anywhere become questions or follow-ups; messages in the
staff channel and its threads come from staff (the desk decides who is staff, from roster ids).
Button presses (component interactions) are acknowledged at once (a deferred update: Discord
wants an answer within 3 s) and handed to the desk; their message id is ``ix:<id>`` and the
interaction is kept for 15 minutes so that a private reply to it goes as an ephemeral
follow-up (a refusal only the presser sees).

Events are queued and handed to the desk's sink in batches by one task, with the cursor: the
last message id seen per watched channel, as JSON. After a full reconnect (a new session, not a
RESUME) the watched channels are read back from those ids over REST, so nothing said while the
gateway was away is lost; the desk drops what it already has.

Message ids are ``"<channel id>:<message id>"`` (an edit needs the channel). A message in a
thread started from one of our posts replies to that post (a thread started from a message has
the message's id), so staff working in a question's thread are answering that question.

Out: ``channel.send`` with the outbox key as nonce (Discord drops a repeat with the same nonce:
a send that timed out is retried safely), buttons as a ``discord.ui.View`` whose custom ids are
the desk's short keys (persistent: no view state to lose on a restart), staff-channel posts as
an embed, edits of our messages, DMs through ``create_dm``. Errors: 429 (discord.py waits and
retries by itself; what remains is transient), 5xx and network errors are transient; code 50007
(the user does not accept DMs) is :class:`~helpforce.adapter.Unreachable`; other 4xx are
permanent.

Discord's base URLs are class attributes in discord.py (``Route.BASE``,
``DiscordWebSocket.DEFAULT_GATEWAY``), shared by every client in the process: this adapter
sets them at start and refuses a second adapter in the same process that wants other URLs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from collections import OrderedDict
from typing import Any

with warnings.catch_warnings():
    # discord.py imports audioop (voice), deprecated since Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

import aiohttp
import yarl

from helpforce.adapter import (
    AdapterError,
    Capabilities,
    InboundSink,
    PermanentError,
    SendResult,
    TransientError,
    Unreachable,
)
from helpforce.clock import Clock
from helpforce.models import Account, Inbound, InboundKind, Outgoing, Visibility

from . import PLATFORM, DiscordSettings

log = logging.getLogger(__name__)
# discord.py logs gateway payloads and REST bodies at DEBUG: customer texts among them
for _name in ("discord.gateway", "discord.http", "discord.client", "discord.state"):
    if logging.getLogger(_name).level < logging.INFO:  # NOTSET included
        logging.getLogger(_name).setLevel(logging.INFO)

MAX_TEXT = 2000
#: Discord: an interaction token is valid for 15 minutes
INTERACTION_TTL = 15 * 60.0
_CANNOT_DM = 50007
#: "A thread has already been created for this message"
_THREAD_EXISTS = 160004
#: DM channels and opened threads remembered (ids: a few hundred KB at the cap)
MAX_DM_CHANNELS = 20_000
_URLS: tuple[str, str] | None = None


class DiscordAdapter:
    platform = PLATFORM
    capabilities = Capabilities(
        buttons=True, edits=True, threads=True, dms=True, deep_links=False, ephemeral=True,
        private_threads=True,
        idempotent_send=True, max_text=MAX_TEXT,
    )

    def __init__(self, settings: DiscordSettings, token: str, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._token = token
        intents = discord.Intents.default()
        intents.message_content = True  # privileged: checked at start (see _explain_intents)
        self.client = discord.Client(
            intents=intents, guild_ready_timeout=settings.guild_ready_timeout,
            chunk_guilds_at_startup=False, max_messages=None,
        )
        self._watched = {int(c) for c in settings.help_channels}
        if settings.staff_channel:
            self._watched.add(int(settings.staff_channel))
        self._staff_channel = int(settings.staff_channel) if settings.staff_channel else None
        #: events for the desk, each with the (watched channel, message id) it confirms
        self._queue: asyncio.Queue[tuple[Inbound, tuple[str, int] | None]] = asyncio.Queue()
        #: the committed cursor: per watched channel, the last message the desk has
        self._last: dict[str, int] = {}
        #: the newest message handed to the desk per channel (the cursor once read back)
        self._seen: dict[str, int] = {}
        #: channels being read back after a new session: their cursor stays until that ends
        self._reading_back: set[str] = set()
        #: True while the feeder hands a batch to the desk
        self._feeding = False
        self._interactions: OrderedDict[str, tuple[discord.Interaction, float]] = OrderedDict()
        #: (channel, customer) -> the private thread standing in for their closed DMs
        self._private_threads: dict[tuple[str, str], int] = {}
        self._thread_members: dict[int, set[str]] = {}
        #: user -> their DM channel's id (see _dm)
        self._dm_channels: dict[str, int] = {}
        #: staff posts whose thread this process opened (or found open)
        self._opened_threads: set[int] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._gateway: asyncio.Task[None] | None = None
        self._feeder: asyncio.Task[None] | None = None
        self._state = "stopped"
        self._sink: InboundSink | None = None
        #: events that could not be normalised (logged by id, then skipped)
        self.skipped = 0
        self._register()
        self._guard_parsers()

    # -- lifecycle ---------------------------------------------------------------------------

    def status(self) -> str:
        return self._state

    async def start(self, sink: InboundSink, cursor: str | None) -> None:
        _use_urls(self.settings)
        self._sink = sink
        self._last = _parse_cursor(cursor)
        self._seen = dict(self._last)
        self._state = "connecting"
        try:
            await self.client.login(self._token)
        except discord.LoginFailure:
            self._state = "failing: Discord refused the bot token"
            raise RuntimeError(
                f"discord: {self.settings.api_base} refused the bot token in the environment "
                f"variable {self.settings.token_env}"
            ) from None
        self._feeder = asyncio.create_task(self._feed(sink), name="helpforce.adapter.discord.feed")
        self._gateway = asyncio.create_task(self._connect(),
                                            name="helpforce.adapter.discord.gateway")

    async def stop(self, drain: float = 5.0) -> None:
        await self.client.close()
        # what is queued (DMs, thread messages, presses, edits cannot be read back) goes to
        # the desk first, for up to ``drain`` seconds
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain
        while (self._feeder is not None and not self._feeder.done()
               and (self._feeding or not self._queue.empty()) and loop.time() < deadline):
            await asyncio.sleep(0.01)
        for task in (self._gateway, self._feeder, *self._tasks):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._gateway, self._feeder, *self._tasks):
            if task is not None:
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        self._gateway = self._feeder = None
        self._tasks.clear()
        self._state = "stopped"

    async def _connect(self) -> None:
        """The gateway connection, for as long as the adapter runs: discord.py reconnects and
        resumes by itself; if it gives up, it is started again with backoff (a new session:
        the watched channels are then read back). A missing privileged intent needs the
        operator, and stops here."""
        failures = 0
        while not self.client.is_closed():
            try:
                await self.client.connect(reconnect=True)
                return
            except discord.PrivilegedIntentsRequired:
                self._state = (
                    "failing: the Message Content intent is not enabled for this bot "
                    "(Developer Portal -> your application -> Bot -> Privileged Gateway "
                    "Intents -> Message Content Intent); without it guild messages arrive empty"
                )
                log.error("discord: %s", self._state.removeprefix("failing: "))
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = min(60.0, 2.0 ** min(failures, 6))
                self._state = f"failing: {_describe(exc)}"
                log.error("discord: the gateway connection ended (%s); reconnecting in %.0fs",
                          _describe(exc), delay)
                await self.clock.sleep(delay)

    def _guard_parsers(self) -> None:
        """A malformed gateway event must not end the connection: discord.py parses events
        inside its read loop, so one that fails to parse is logged (by event name, never its
        contents) and skipped."""
        parsers: dict[str, Any] = self.client._connection.parsers

        def guarded(event: str, parse: Any) -> Any:
            def run(data: Any) -> None:
                try:
                    parse(data)
                except Exception as exc:
                    self.skipped += 1
                    log.warning("discord: skipped a malformed %s event (%s)", event,
                                type(exc).__name__)
            return run

        for event, parse in list(parsers.items()):
            parsers[event] = guarded(event, parse)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _register(self) -> None:
        client = self.client

        @client.event
        async def on_ready() -> None:
            # a new session (not a RESUME): what was said meanwhile is read back over REST
            self._state = "connected"
            self._explain_intents()
            self._spawn(self._backfill(), "helpforce.adapter.discord.backfill")

        @client.event
        async def on_resumed() -> None:
            self._state = "connected"

        @client.event
        async def on_disconnect() -> None:
            if self._state == "connected":
                self._state = "connecting: the gateway connection dropped; resuming"

        @client.event
        async def on_message(message: discord.Message) -> None:
            self._take(message)

        @client.event
        async def on_raw_message_edit(payload: discord.RawMessageUpdateEvent) -> None:
            self._take_edit(payload)

        @client.event
        async def on_interaction(interaction: discord.Interaction) -> None:
            await self._press(interaction)

    def _explain_intents(self) -> None:
        flags = self.client.application_flags
        if not (flags.gateway_message_content or flags.gateway_message_content_limited):
            log.warning(
                "discord: the application does not show the Message Content intent as "
                "enabled; messages in help channels may arrive empty. Enable it in the "
                "Developer Portal (Bot -> Privileged Gateway Intents)."
            )

    # -- in ----------------------------------------------------------------------------------

    def _take(self, message: discord.Message) -> None:
        try:
            event = self._normalise(message)
        except Exception as exc:  # a surprising payload must not stop the others
            self.skipped += 1
            log.warning("discord: skipped message %s (%s)", getattr(message, "id", "?"),
                        type(exc).__name__)
            return
        if event is not None:
            watched = self._watched_id(message.channel)
            self._queue.put_nowait(
                (event, (str(watched), message.id) if watched is not None else None))

    def _normalise(self, message: discord.Message) -> Inbound | None:
        me = self.client.user
        if message.author.bot or (me is not None and message.author.id == me.id):
            return None
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return None
        channel = message.channel
        private = isinstance(channel, discord.DMChannel)
        watched = self._watched_id(channel)
        mentioned = me is not None and me in message.mentions
        if not (private or watched is not None or mentioned):
            return None
        text = message.content
        if not text.strip():
            if message.attachments:
                text = "[attachment]"
            else:
                return None
        if me is not None:
            text = text.replace(f"<@{me.id}>", "").replace(f"<@!{me.id}>", "").strip() or text
        reply_to: str | None = None
        ref = message.reference
        if ref is not None and ref.message_id is not None:
            reply_to = f"{ref.channel_id}:{ref.message_id}"
        elif isinstance(channel, discord.Thread) and channel.parent_id is not None:
            # a thread started from a message has that message's id: working in a
            # question's thread answers that question
            reply_to = f"{channel.parent_id}:{channel.id}"
        if (self._staff_channel is not None and watched == self._staff_channel
                and text.startswith(self.settings.note_prefix)):
            text = "/note " + text[len(self.settings.note_prefix):].strip()
        # a thread (a question's thread on its staff post, a forum post, a private thread)
        # belongs to the channel it is in: that is the conversation, the thread its thread
        parent = getattr(channel, "parent_id", None)
        in_thread = isinstance(channel, discord.Thread) and parent is not None
        return Inbound(
            platform=PLATFORM,
            message_id=f"{channel.id}:{message.id}",
            author=Account(PLATFORM, str(message.author.id), message.author.name),
            conversation=str(parent) if in_thread else str(channel.id),
            thread=str(channel.id) if in_thread else None,
            visibility=Visibility.PRIVATE if private or _is_private_thread(channel)
            else Visibility.PUBLIC,
            text=text,
            reply_to=reply_to,
            kind=InboundKind.MESSAGE,
            at=message.created_at.timestamp(),
        )

    def _watched_id(self, channel: Any) -> int | None:
        """The watched channel a message's channel is, or belongs to (a thread, a forum
        post), if any."""
        if channel.id in self._watched:
            return int(channel.id)
        parent = getattr(channel, "parent_id", None)
        if parent is not None and parent in self._watched:
            return int(parent)
        return None

    def _take_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        data = payload.data
        author = data.get("author") or {}
        if author.get("bot") or "content" not in data or not author.get("id"):
            return  # our own edits, embeds resolving, pins: nothing a person said
        ref = f"{payload.channel_id}:{payload.message_id}"
        stamp = data.get("edited_timestamp") or ""
        self._queue.put_nowait((Inbound(
            platform=PLATFORM, message_id=f"{ref}:edit:{stamp}",
            author=Account(PLATFORM, str(author["id"]), str(author.get("username", ""))),
            conversation=str(payload.channel_id), visibility=Visibility.PUBLIC,
            text=str(data.get("content", "")), reply_to=ref, kind=InboundKind.EDIT,
        ), None))

    async def _press(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.component:
            return
        custom_id = (interaction.data or {}).get("custom_id")
        try:
            # within Discord's 3 s: the desk's answer comes as a message or a follow-up
            await interaction.response.defer()
        except discord.HTTPException as exc:
            log.warning("discord: could not acknowledge interaction %s (%s)", interaction.id,
                        _describe(exc))
        if not isinstance(custom_id, str) or not custom_id:
            return
        key = f"ix:{interaction.id}"
        self._interactions[key] = (interaction, time.monotonic())
        self._expire_interactions()
        message = interaction.message
        channel_id = interaction.channel_id or 0
        private = interaction.guild_id is None
        self._queue.put_nowait((Inbound(
            platform=PLATFORM, message_id=key,
            author=Account(PLATFORM, str(interaction.user.id), interaction.user.name),
            conversation=str(channel_id),
            visibility=Visibility.PRIVATE if private else Visibility.PUBLIC,
            reply_to=f"{channel_id}:{message.id}" if message is not None else None,
            kind=InboundKind.ACTION, data=custom_id, at=self.clock.now(),
        ), None))

    def _expire_interactions(self) -> None:
        now = time.monotonic()
        while self._interactions:
            key, (_, at) = next(iter(self._interactions.items()))
            if now - at < INTERACTION_TTL and len(self._interactions) <= 10_000:
                break
            self._interactions.popitem(last=False)

    async def _feed(self, sink: InboundSink) -> None:
        """Hand queued events to the desk in batches, with the cursor that confirms them."""
        while True:
            items = [await self._queue.get()]
            self._feeding = True
            while not self._queue.empty() and len(items) < 200:
                items.append(self._queue.get_nowait())
            batch = [event for event, _ in items]
            # the cursor confirms this batch, not what is still queued; a channel being read
            # back keeps its cursor until it has been read to the end
            seen = dict(self._seen)
            for _, mark in items:
                if mark is not None:
                    seen[mark[0]] = max(seen.get(mark[0], 0), mark[1])
            last = {ch: (self._last[ch] if ch in self._reading_back and ch in self._last
                         else mid) for ch, mid in seen.items()}
            cursor = json.dumps(last, sort_keys=True) if last else None
            while True:
                try:
                    await sink(batch, cursor)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("discord: the desk could not take a batch; retrying it")
                    await self.clock.sleep(1.0)
            self._seen, self._last = seen, last
            self._feeding = False

    async def _backfill(self) -> None:
        """Read the watched channels from the last saved message on (after a new session).
        A channel's cursor stays where it was until it has been read to the end; a channel
        that cannot be read now is tried again, less and less often."""
        pending = dict(self._last)
        self._reading_back = set(pending)
        failures = 0
        while pending:
            for channel_id, after in sorted(pending.items()):
                if await self._read_back(channel_id, after):
                    del pending[channel_id]
                    self._reading_back.discard(channel_id)
            if pending:
                failures += 1
                await self.clock.sleep(min(300.0, 2.0 ** failures))

    async def _read_back(self, channel_id: str, after: int) -> bool:
        """Read one channel back from ``after``; False if it could not be read."""
        try:
            channel = self.client.get_channel(int(channel_id)) or \
                await self.client.fetch_channel(int(channel_id))
            if not isinstance(channel, discord.abc.Messageable):
                return True  # a forum: its posts are threads, not in a history
            count = 0
            async for message in channel.history(
                limit=None, after=discord.Object(after), oldest_first=True
            ):
                self._take(message)
                count += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("discord: could not read back channel %s (%s); trying again",
                        channel_id, _describe(exc))
            return False
        if count:
            log.info("discord: read back %d messages from channel %s", count, channel_id)
        return True

    # -- out ---------------------------------------------------------------------------------

    def requests_before(self, out: Outgoing) -> int:
        """Requests a send of ``out`` will make before its message, as far as known now: a DM
        channel or a question's thread to open. The outbox counts them when it lets the send
        go, so that sends on their way at once do not open channels faster than the limit."""
        if out.edit_of or (out.thread and out.thread.startswith("private:")):
            return 0
        if out.thread:
            ref = _ref(out.thread)
            return int(ref is not None and ref[1] not in self._opened_threads)
        if out.dm_user is not None:
            return int(out.dm_user not in self._dm_channels)
        return 0

    async def send(self, out: Outgoing) -> SendResult:
        if not out.text.strip():
            raise PermanentError("empty message")
        if len(out.text) > MAX_TEXT:
            raise PermanentError(
                f"message too long ({len(out.text)} characters; Discord allows {MAX_TEXT})"
            )
        view = _view(out)
        try:
            if out.reply_to and out.reply_to in self._interactions and out.dm_user is None:
                return await self._ephemeral(out)
            if out.edit_of:
                return await self._edit(out, view)
            channel, extra = await self._channel(out)
            kwargs: dict[str, Any] = {"nonce": out.key or None}
            if view is not None:
                kwargs["view"] = view
            if self._is_staff_post(out):
                kwargs["embed"] = _embed(out.text)
                text: str | None = None
            else:
                text = out.text
            ref = _ref(out.reply_to)
            if ref is not None and ref[0] == channel.id:
                kwargs["reference"] = discord.MessageReference(
                    message_id=ref[1], channel_id=ref[0], fail_if_not_exists=False
                )
                kwargs["mention_author"] = False
            message = await channel.send(text, **kwargs)
        except AdapterError:
            raise
        except discord.HTTPException as exc:
            raise _classify(exc) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # with the nonce, a repeat is dropped by Discord: retrying is safe
            raise TransientError(f"network: {_describe(exc)}") from exc
        return SendResult(f"{message.channel.id}:{message.id}", extra_requests=extra)

    async def _channel(self, out: Outgoing) -> tuple[discord.abc.Messageable, int]:
        """Where ``out`` goes, and how many requests finding it took (0 when known)."""
        if out.thread and out.thread.startswith("private:"):
            return await self._private_thread(out)
        if out.thread:
            return await self._thread(out.thread, out.text)
        if out.dm_user is not None:
            return await self._dm(out.dm_user)
        conv = out.conversation.removeprefix("dm:")
        if not conv.isdigit():
            raise PermanentError(f"not a Discord channel: {out.conversation!r}")
        return self.client.get_partial_messageable(int(conv)), 0

    async def _dm(self, user: str) -> tuple[discord.abc.Messageable, int]:
        """The DM channel with ``user``. Its id is remembered here for every user, not only
        the 128 discord.py keeps: a DM to a user without one costs a request to open it
        (POST /users/@me/channels), which counts against the overall limit, and a wave of
        offers to a few hundred staff would pay it again and again."""
        if not user.isdigit():
            raise PermanentError(f"not a Discord user id: {user!r}")
        known = self._dm_channels.get(user)
        if known is not None:
            return self.client.get_partial_messageable(
                known, type=discord.ChannelType.private), 0
        channel = await self.client.create_dm(discord.Object(int(user)))
        if len(self._dm_channels) >= MAX_DM_CHANNELS:
            self._dm_channels.clear()  # bounded memory; reopening one is a single request
        self._dm_channels[user] = channel.id
        return channel, 1

    async def _thread(self, thread: str, text: str) -> tuple[discord.abc.Messageable, int]:
        """A thread to send into: a thread's id, or ``<channel>:<message>`` for the thread on
        one of our messages (opened now if it is not there yet; it has the message's id)."""
        if thread.isdigit():
            return self.client.get_partial_messageable(int(thread)), 0
        ref = _ref(thread)
        if ref is None:
            raise PermanentError(f"not a Discord thread or message: {thread!r}")
        if ref[1] in self._opened_threads:
            return self.client.get_partial_messageable(ref[1]), 0
        name = text.split("\n", 1)[0][:100] or "question"
        try:
            await self.client.http.start_thread_with_message(
                ref[0], ref[1], name=name, auto_archive_duration=1440,
                rate_limit_per_user=None,
            )
        except discord.HTTPException as exc:
            if exc.code != _THREAD_EXISTS:
                raise
        if len(self._opened_threads) >= MAX_DM_CHANNELS:
            self._opened_threads.clear()
        self._opened_threads.add(ref[1])
        return self.client.get_partial_messageable(ref[1]), 1

    async def _private_thread(self, out: Outgoing) -> tuple[discord.abc.Messageable, int]:
        """The private thread standing in for a closed DM. ``private:<customer>[,<holder>]``
        opens one (once per channel and customer in this process);
        ``private:<members>@<thread id>`` names the one opened before (the desk finds it in
        the question's messages, so a restart keeps using it). Members are added once."""
        spec = (out.thread or "").removeprefix("private:")
        spec, _, known = spec.partition("@")
        members = tuple(m for m in spec.split(",") if m)
        channel = out.conversation
        if not channel.isdigit() or not members or not all(m.isdigit() for m in members) \
                or (known and not known.isdigit()):
            raise PermanentError(f"cannot open a private thread {out.thread!r} in {channel!r}")
        requests = 0
        key = (channel, members[0])
        thread_id = int(known) if known else self._private_threads.get(key)
        if thread_id is None:
            data = await self.client.http.start_thread_without_message(
                int(channel), name="private conversation", auto_archive_duration=10080,
                type=discord.ChannelType.private_thread.value, invitable=False,
            )
            requests += 1
            thread_id = int(data["id"])
        self._private_threads[key] = thread_id
        added = self._thread_members.setdefault(thread_id, set())
        for member in members:
            if member not in added:
                await self.client.http.add_user_to_thread(thread_id, int(member))
                requests += 1
                added.add(member)
        return self.client.get_partial_messageable(thread_id), requests

    def _is_staff_post(self, out: Outgoing) -> bool:
        return (self._staff_channel is not None and bool(out.buttons) and not out.thread
                and out.conversation == str(self._staff_channel))

    async def _edit(self, out: Outgoing, view: discord.ui.View | None) -> SendResult:
        assert out.edit_of is not None
        ref = _ref(out.edit_of)
        if ref is None:
            raise PermanentError(f"cannot edit {out.edit_of!r}: not a Discord message id")
        message = self.client.get_partial_messageable(ref[0]).get_partial_message(ref[1])
        if out.conversation == str(self._staff_channel) and not out.thread:
            await message.edit(content=None, embed=_embed(out.text), view=view)
        else:
            await message.edit(content=out.text, view=view)
        return SendResult(out.edit_of)

    async def _ephemeral(self, out: Outgoing) -> SendResult:
        """A private reply to a button press: a follow-up only the presser sees."""
        assert out.reply_to is not None
        interaction, _ = self._interactions[out.reply_to]
        view = _view(out)
        kwargs: dict[str, Any] = {"ephemeral": True, "wait": True}
        if view is not None:
            kwargs["view"] = view
        message = await interaction.followup.send(out.text, **kwargs)
        return SendResult(f"{message.channel.id}:{message.id}")


# -- helpers ---------------------------------------------------------------------------------


def _use_urls(settings: DiscordSettings) -> None:
    global _URLS
    wanted = (settings.api_base, settings.gateway_url)
    if _URLS is not None and _URLS != wanted and _URLS != _defaults():
        raise RuntimeError(
            "discord: another Discord adapter in this process uses other URLs "
            f"({_URLS[0]}, {_URLS[1]}); discord.py keeps them process-wide"
        )
    Route.BASE = settings.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)
    _URLS = wanted


def _defaults() -> tuple[str, str]:
    return ("https://discord.com/api/v10", "wss://gateway.discord.gg/")


def reset_urls() -> None:
    """Forget the URLs set by an adapter (tests run many adapters one after another)."""
    global _URLS
    _URLS = None
    Route.BASE = _defaults()[0]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(_defaults()[1])


def _parse_cursor(cursor: str | None) -> dict[str, int]:
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
        return {str(k): int(v) for k, v in data.items() if str(k).isdigit()}
    except (ValueError, TypeError, AttributeError):
        log.warning("discord: ignoring a saved cursor that is not a channel -> message map")
        return {}


def _ref(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    channel, _, message = value.partition(":")
    if channel.isdigit() and message.isdigit():
        return int(channel), int(message)
    return None


def _is_private_thread(channel: Any) -> bool:
    return isinstance(channel, discord.Thread) and \
        channel.type is discord.ChannelType.private_thread


def _view(out: Outgoing) -> discord.ui.View | None:
    if not out.buttons and not out.edit_of:
        return None
    view = discord.ui.View(timeout=None)
    for b in out.buttons:
        style = discord.ButtonStyle.primary if b.data.startswith("claim:") \
            else discord.ButtonStyle.secondary
        view.add_item(discord.ui.Button(label=b.label, custom_id=b.data, style=style))
    return view


def _embed(text: str) -> discord.Embed:
    title, _, body = text.partition("\n")
    return discord.Embed(title=title[:256], description=body[:4096] or None)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, discord.HTTPException):
        return f"{exc.status} {exc.code or ''} {exc.text}".strip()
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _retry_after(exc: discord.HTTPException) -> float | None:
    """Seconds a 429 says to wait: its Retry-After header, or retry_after in its body."""
    for value in (getattr(exc, "retry_after", None),
                  getattr(getattr(exc, "response", None), "headers", {}).get("Retry-After")):
        try:
            if value is not None and float(value) > 0:
                return float(value)
        except (TypeError, ValueError):
            continue
    return None


def _classify(exc: discord.HTTPException) -> AdapterError:
    if exc.code == _CANNOT_DM:
        return Unreachable(f"cannot send messages to this user (50007): {exc.text}")
    if exc.status == 429:
        return TransientError(f"rate limited: {exc.text}", retry_after=_retry_after(exc))
    if exc.status >= 500:
        return TransientError(f"server error {exc.status}: {exc.text}")
    return PermanentError(f"{exc.status} ({exc.code}): {exc.text}")
