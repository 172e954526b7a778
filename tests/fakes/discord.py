"""Discord (gateway + REST API v10) on 127.0.0.1, for driving the real discord.py in tests.

    async with FakeDiscord(heartbeat_interval=1.0) as dc:
        guild = dc.guild("Helpforce")                 # the bot is a member (administrator)
        help_ = dc.text_channel(guild, "help")
        alice = dc.member(guild, "alice")             # a person in the guild
        with dc.patch_discord():                      # Route.BASE / DEFAULT_GATEWAY -> here
            client = discord.Client(intents=..., guild_ready_timeout=0.05)
            ...                                       # client.start(dc.token)
            dc.user_says(alice.id, help_.id, "My TV is broken")   # MESSAGE_CREATE
            sent = await dc.wait_sent(lambda m: m.channel_id == help_.id)

One aiohttp server, random port: REST under ``/api/v10`` (:attr:`FakeDiscord.api_base`), the
gateway websocket at ``/`` (:attr:`FakeDiscord.gateway_url`) and, for RESUMEs, at ``/resume``
(the READY's ``resume_gateway_url``, so a test can see that the client used it). discord.py
reads both base URLs from class attributes at call time; :meth:`FakeDiscord.patch_discord`
sets them and puts the old values back.

Gateway (plain JSON text frames; the client's ``compress=zlib-stream`` is ignored, discord.py
parses text frames as JSON): op 10 HELLO (``heartbeat_interval``), op 2 IDENTIFY -> READY
(``user``, ``guilds`` as unavailable, ``session_id``, ``resume_gateway_url``,
``application {id, flags}``) and one GUILD_CREATE per guild (channels, threads, members, roles);
op 1 -> op 11; op 8 -> GUILD_MEMBERS_CHUNK; op 6 RESUME -> the events missed since the client's
``seq`` are sent again, then RESUMED (an unknown or closed session: op 9 ``d=false``). A session
ends when the client closes with 1000/1001 (as Discord), not when the connection drops. Events
are filtered by intent as Discord does (GUILDS, GUILD_MESSAGES, DIRECT_MESSAGES, GUILD_MEMBERS);
without MESSAGE_CONTENT (not requested, or ``message_content_granted=False``) guild messages
arrive with empty content, embeds, attachments and components, except the bot's own messages,
DMs and messages that mention the bot. With ``close_on_disallowed_intents=True`` an IDENTIFY
asking for a privileged intent that is not granted is closed with 4014 "Disallowed intent(s)"
(discord.py raises ``PrivilegedIntentsRequired``). A wrong token: 4004.

What people do: :meth:`~FakeDiscord.user_says` (MESSAGE_CREATE in a guild channel, thread or
DM), :meth:`~FakeDiscord.user_dms`, :meth:`~FakeDiscord.user_edits`,
:meth:`~FakeDiscord.user_deletes`, :meth:`~FakeDiscord.user_presses` (INTERACTION_CREATE type 3
with a fresh token). What Discord does: :meth:`~FakeDiscord.reconnect` (op 7),
:meth:`~FakeDiscord.drop_connection`, :meth:`~FakeDiscord.invalidate_session` (op 9),
:meth:`~FakeDiscord.dispatch` (any event, for malformed-payload tests). The bot's own messages
come back to it as MESSAGE_CREATE, as on Discord.

REST: users/@me, users/{id}, oauth2/applications/@me, gateway, gateway/bot, channels (GET,
PATCH), messages (POST with content/embeds/components/message_reference/nonce+enforce_nonce,
multipart with ``payload_json``; GET one; GET history with before/after/around, newest first
as Discord; PATCH; DELETE), reactions, typing, DM channels (POST users/@me/channels), threads
(from a message: the thread gets the message's id; standalone public/private; forum posts),
thread members, guild members, interaction callbacks (types 4, 5, 6, 7, 9; answered later than
``interaction_deadline`` after the dispatch -> 404 10062 "Unknown interaction"; twice -> 400
40060), follow-ups and ``@original`` via /webhooks/{application id}/{token}, application
commands (stored and echoed). Errors as Discord: ``{"message", "code"}`` (+ ``errors``), e.g.
403 50007 "Cannot send messages to this user" for a DM to a user who does not accept DMs or
shares no guild with the bot. Every answer is ``Content-Type: application/json`` exactly
(discord.py compares the header verbatim) with X-RateLimit-Limit/Remaining/Reset/Reset-After/
Bucket headers of the route's bucket.

Rate limits: ``FakeDiscord(limits=Limits())`` enforces them (off by default: the headers then
describe a generous bucket that never binds); see :class:`Limits`. Faults:
:meth:`FakeDiscord.fail` (429 with ``Via: 1.1 google`` and ``{message, retry_after, global}``,
5xx, 403/50007, a dropped connection after the call took effect). Everything is recorded:
:attr:`FakeDiscord.calls` (REST), :attr:`FakeDiscord.frames` (gateway frames from the client),
:attr:`FakeDiscord.sent` (the bot's messages), :attr:`FakeDiscord.callbacks` (interaction
callbacks, with the delay since the dispatch). Wait on them with :meth:`FakeDiscord.wait_until`
and :meth:`FakeDiscord.wait_sent` (no polling).

Driving discord.py 2.x against it (things that cost time to find out):

- ``guild_ready_timeout`` (default 2 s) is how long READY waits for more GUILD_CREATEs: set it
  low (0.05) or every start takes 2 s.
- ``Client.before_identify_hook`` sleeps 5 s before every IDENTIFY but the first (after an
  INVALID_SESSION, say): override it in tests.
- ``Client.close()`` asks for close code 1000, but its reader task, woken by the close, sends
  4000 first; on the wire the session stays resumable.
- A 429 without ``Via`` is taken for a Cloudflare ban (HTTPException, no retry); 500/502/504
  are retried after 1 s, 3 s, ... (slow in tests); a dropped answer is an aiohttp
  ``ClientError`` (ServerDisconnectedError), not a discord.py exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import hashlib
import itertools
import json
import math
import re
import secrets
import time
import warnings
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

from fakes.common import Observable

TOKEN = "fake-discord.bot-token.for-the-loopback-fake"
#: a valid snowflake; since 2020 an application's id is its bot user's id
BOT_ID = 1100000000000000001
APPLICATION_ID = BOT_ID
BOT_USERNAME = "helpforce"
API_PREFIX = "/api/v10"
TIMEOUT = 10.0
DISCORD_EPOCH_MS = 1420070400000

# gateway intents (bits)
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

# application flags: the "limited" (unverified app) grants of the privileged intents
APP_FLAG_PRESENCE_LIMITED = 1 << 13
APP_FLAG_MEMBERS_LIMITED = 1 << 15
APP_FLAG_MESSAGE_CONTENT_LIMITED = 1 << 19

# channel types
GUILD_TEXT = 0
DM = 1
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
GUILD_FORUM = 15
THREAD_TYPES = frozenset({10, PUBLIC_THREAD, PRIVATE_THREAD})

# message flags
EPHEMERAL = 1 << 6
LOADING = 1 << 7

#: what the bot's role may do: administrator (discord.py checks some permissions locally)
ADMINISTRATOR = "8"
EVERYONE_PERMISSIONS = "1071698660929"

_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


def _iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).isoformat()


# -- the model -----------------------------------------------------------------------------------


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    #: False: the user does not accept DMs from server members (a DM answers 403 / 50007)
    allows_dms: bool = True

    def payload(self) -> dict[str, Any]:
        return {"id": str(self.id), "username": self.username, "discriminator": "0",
                "global_name": self.global_name, "avatar": None, "bot": self.bot,
                "public_flags": 0, "flags": 0}


@dataclass
class Member:
    user_id: int
    nick: str | None = None
    roles: list[int] = field(default_factory=list)
    joined_at: str = field(default_factory=_iso)


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    members: dict[int, Member] = field(default_factory=dict)
    roles: list[dict[str, Any]] = field(default_factory=list)
    joined_at: str = field(default_factory=_iso)


@dataclass
class Channel:
    id: int
    type: int
    name: str = ""
    guild_id: int | None = None
    #: a thread's parent channel (a text or forum channel); a guild channel's category
    parent_id: int | None = None
    #: a DM channel's other person
    recipient_id: int | None = None
    #: threads: who created it, who is in it
    owner_id: int | None = None
    members: dict[int, str] = field(default_factory=dict)  # user id -> join timestamp
    invitable: bool = True
    archived: bool = False
    locked: bool = False
    auto_archive_duration: int = 1440
    position: int = 0
    topic: str | None = None
    last_message_id: int | None = None
    message_count: int = 0
    created_at: str = field(default_factory=_iso)

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def is_dm(self) -> bool:
        return self.type == DM


@dataclass
class Message:
    """A message in a channel (anyone's; the bot's are also in :attr:`FakeDiscord.sent`).

    ``content``, ``embeds`` and ``components`` are kept as sent; edits update them (the old
    versions are in ``history``)."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    #: the message this one replies to (message_reference)
    reference: int | None = None
    nonce: str | None = None
    flags: int = 0
    type: int = 0
    mentions: list[int] = field(default_factory=list)
    timestamp: str = field(default_factory=_iso)
    edited_timestamp: str | None = None
    edits: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    #: the thread started from this message (it has this message's id)
    thread_id: int | None = None
    #: how the bot made it: "channel" (POST messages), "interaction" (a callback), "followup";
    #: "user" for people's messages
    via: str = "user"
    webhook_id: int | None = None
    interaction_id: int | None = None
    reactions: list[str] = field(default_factory=list)
    #: time.monotonic() when it was created
    at: float = field(default_factory=time.monotonic)

    @property
    def ref(self) -> str:
        """``"<channel id>:<message id>"``."""
        return f"{self.channel_id}:{self.id}"

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def buttons(self) -> list[tuple[str | None, str | None]]:
        """``(label, custom_id)`` of every button (link buttons: custom_id None)."""
        return [(c.get("label"), c.get("custom_id")) for c in _walk(self.components)
                if c.get("type") == 2]

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in _walk(self.components) if "custom_id" in c]


@dataclass
class InteractionCallback:
    """One POST /interactions/{id}/{token}/callback, late or not."""

    interaction_id: int
    type: int
    data: dict[str, Any]
    #: time.monotonic() of its arrival, and seconds since the interaction was dispatched
    at: float
    delay: float
    status: int = 200


@dataclass
class Interaction:
    id: int
    token: str
    type: int
    user_id: int
    channel_id: int
    guild_id: int | None
    message_id: int | None
    custom_id: str | None
    component_type: int | None
    #: time.monotonic() of the INTERACTION_CREATE dispatch
    dispatched_at: float
    payload: dict[str, Any] = field(default_factory=dict)
    callbacks: list[InteractionCallback] = field(default_factory=list)
    #: the accepted callback's type (None: not acknowledged)
    response_type: int | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return self.response_type is not None

    @property
    def answered_in(self) -> float | None:
        """Seconds from the dispatch to the first callback (None: none yet)."""
        return self.callbacks[0].delay if self.callbacks else None


@dataclass
class Call:
    """One REST request: ``route`` is the matched template (``""``: none matched)."""

    method: str
    path: str
    route: str
    query: dict[str, str]
    body: Any
    at: float
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Frame:
    """A gateway frame received from the client."""

    connection: int
    op: int | None
    d: Any
    at: float


@dataclass
class Fault:
    method: str
    pattern: str
    status: int
    code: int = 0
    message: str = ""
    retry_after: float | None = None
    times: int = 1
    #: 429 only: with the ``Via`` header Discord's real 429s carry (without it discord.py
    #: takes the 429 for a Cloudflare ban and does not retry)
    via: bool = True
    global_: bool = False
    #: do the call, then close the connection without an answer
    drop: bool = False
    hits: int = 0


@dataclass
class Limits:
    """Discord's rate limits, enforced when given: ``FakeDiscord(limits=Limits())``.

    - ``global_per_second``: at most this many requests in any 1 s (sliding window) across
      all routes except interaction callbacks and interaction webhooks, which Discord exempts
      from the global limit (documented: 50 per second). Not announced in headers (as Discord).
    - ``routes``: ``"METHOD template"`` -> (limit, seconds), one bucket per route and major
      parameter (channel, guild, or webhook id + token). Discord does not publish them; these
      are the values its headers announce: 5 messages per 5 s per channel, the same for edits.
    - ``default_route``: every other route (50 per 1 s).

    Buckets are fixed windows that start with their first request, as Discord's: the headers
    say ``Limit``, ``Remaining``, ``Reset`` (epoch seconds) and ``Reset-After``; a client that
    waits for the reset when Remaining is 0 (discord.py does) never sees a 429. A request over
    a limit is answered 429 ``{message, retry_after, global}`` with ``Via``, ``Retry-After``,
    ``X-RateLimit-Scope`` (and ``X-RateLimit-Global`` for the global one), counted in
    :attr:`FakeDiscord.rejected_429`, and does not count against the limits.
    """

    global_per_second: int | None = 50
    routes: dict[str, tuple[int, float]] = field(default_factory=lambda: {
        "POST /channels/{channel_id}/messages": (5, 5.0),
        "PATCH /channels/{channel_id}/messages/{message_id}": (5, 5.0),
    })
    default_route: tuple[int, float] = (50, 1.0)


#: the bucket every route gets while limits are off: announced, never binding
_UNLIMITED = (1000, 1.0)


@dataclass
class _Bucket:
    limit: int
    period: float
    count: int = 0
    reset_at: float = 0.0


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str,
                 errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


class _RateLimited(Exception):
    def __init__(self, retry_after: float, *, global_: bool, via: bool = True,
                 headers: dict[str, str] | None = None, scope: str = "user") -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after
        self.global_ = global_
        self.via = via
        self.headers = headers or {}
        self.scope = scope


class _Drop(Exception):
    """Close the connection without answering (after the call took effect)."""


def _form_error(name: str, code: str, message: str) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body",
                    {name: {"_errors": [{"code": code, "message": message}]}})


# -- the gateway side -----------------------------------------------------------------------------


@dataclass
class _Close:
    code: int
    message: str = ""


class _Connection:
    def __init__(self, number: int, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.number = number
        self.ws = ws
        self.path = request.path
        self.query = dict(request.query)
        self.transport = request.transport
        self.queue: asyncio.Queue[dict[str, Any] | _Close | None] = asyncio.Queue()
        self.session: _Session | None = None
        self.opened_at = time.monotonic()
        self.closed = False
        #: the fake closed it (a close frame of ours, with this code), not the client
        self.closed_by_server = False
        self.dropped = False
        self.close_code: int | None = None
        self.writer: asyncio.Task[None] | None = None

    def send(self, frame: dict[str, Any] | _Close) -> None:
        if not self.closed:
            self.queue.put_nowait(frame)


class _Session:
    def __init__(self, session_id: str, intents: int, content: bool, max_replay: int) -> None:
        self.id = session_id
        self.intents = intents
        #: whether guild messages arrive with their content
        self.content = content
        self.seq = 0
        self.log: deque[dict[str, Any]] = deque(maxlen=max_replay)
        self.conn: _Connection | None = None
        self.valid = True


@dataclass
class GatewayConnection:
    """What a test may want to know about one websocket connection."""

    number: int
    path: str
    query: dict[str, str]
    opened_at: float
    closed_at: float | None = None
    #: the close code on the wire: the client's, or the fake's when it closed first
    close_code: int | None = None
    #: who ended it: "client" (a close frame), "fake" (a close frame), "dropped" (no frame)
    closed_by: str | None = None
    #: "identify" or "resume" (the first one the client sent), None before
    kind: str | None = None


# -- the fake -------------------------------------------------------------------------------------


Handler = Callable[["_Request"], Awaitable[tuple[int, Any]]]


@dataclass
class _Request:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    files: list[dict[str, Any]]
    headers: dict[str, str]


class FakeDiscord(Observable):
    _what = "the fake Discord"

    def __init__(self, token: str = TOKEN, *, bot_id: int = BOT_ID,
                 bot_username: str = BOT_USERNAME, application_id: int = APPLICATION_ID,
                 heartbeat_interval: float = 41.25, message_content_granted: bool = True,
                 members_granted: bool = True, presences_granted: bool = True,
                 close_on_disallowed_intents: bool = False, limits: Limits | None = None,
                 interaction_deadline: float = 3.0, interaction_token_ttl: float = 900.0,
                 nonce_window: float = 300.0, max_replay: int = 1000) -> None:
        self.token = token
        self.bot = User(bot_id, bot_username, "Helpforce", bot=True)
        self.owner = User(bot_id + 1, "app-owner")
        self.application_id = application_id
        #: seconds (HELLO carries milliseconds); Discord's is 41.25 s, tests want less
        self.heartbeat_interval = heartbeat_interval
        self.message_content_granted = message_content_granted
        self.members_granted = members_granted
        self.presences_granted = presences_granted
        self.close_on_disallowed_intents = close_on_disallowed_intents
        self.limits = limits
        self.interaction_deadline = interaction_deadline
        self.interaction_token_ttl = interaction_token_ttl
        self.nonce_window = nonce_window
        self.max_replay = max_replay
        #: False: heartbeats are recorded but not ACKed (a zombie connection)
        self.ack_heartbeats = True

        self.users: dict[int, User] = {self.bot.id: self.bot, self.owner.id: self.owner}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        #: the bot's messages, in order (channel sends, interaction responses, follow-ups)
        self.sent: list[Message] = []
        self.interactions: dict[int, Interaction] = {}
        self.callbacks: list[InteractionCallback] = []
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        #: every REST request, and every gateway frame the client sent
        self.calls: list[Call] = []
        self.frames: list[Frame] = []
        #: IDENTIFY and RESUME payloads (``d``), in order
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        #: how many events each RESUME replayed
        self.replayed: list[int] = []
        self.connections: list[GatewayConnection] = []
        #: every event dispatched to a session: (session id, seq, event name, data)
        self.dispatched: list[tuple[str, int, str, dict[str, Any]]] = []
        self.faults: list[Fault] = []
        #: requests answered 429 because they exceeded ``limits`` (injected faults not counted)
        self.rejected_429 = 0
        #: those by limit: "global" or the route's "METHOD template"
        self.rejected_by: Counter[str] = Counter()
        #: (time.monotonic(), "METHOD template", major parameter) of each request let through
        self.let_through: list[tuple[float, str, str]] = []
        #: answers by HTTP status (injected faults included)
        self.statuses: Counter[int] = Counter()

        self._last_id = 0
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self._sessions: dict[str, _Session] = {}
        self._conns: dict[int, _Connection] = {}
        self._conn_numbers = itertools.count(1)
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._global: deque[float] = deque()
        self._changed = asyncio.Event()
        self._routes: list[tuple[str, re.Pattern[str], str, Handler, bool]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._build_routes()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/", self._gateway)
        app.router.add_get("/resume", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0,
                                     access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        for conn in list(self._conns.values()):
            conn.send(_Close(1001, "going away"))
        writers = [c.writer for c in self._conns.values() if c.writer is not None]
        if writers:
            await asyncio.wait(writers, timeout=1.0)
            for writer in writers:
                writer.cancel()
            await asyncio.gather(*writers, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` must be (as a yarl.URL)."""
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume"

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py (process-wide class attributes) at this fake; restore on exit."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop
            import yarl
            from discord.gateway import DiscordWebSocket
            from discord.http import Route
        old = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        Route.BASE = self.api_base
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old

    # -- building the world -------------------------------------------------------------------

    def snowflake(self) -> int:
        """A new id: Discord's layout (ms since 2015 << 22), strictly increasing."""
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_id = max(candidate, self._last_id + 1)
        return self._last_id

    def user(self, username: str, *, user_id: int | None = None, global_name: str | None = None,
             allows_dms: bool = True, bot: bool = False) -> User:
        """A person (in no guild yet: the bot cannot DM them, 50007)."""
        u = User(user_id or self.snowflake(), username, global_name, bot, allows_dms)
        self.users[u.id] = u
        return u

    def guild(self, name: str = "Helpforce", *, guild_id: int | None = None) -> Guild:
        """A guild the bot is in (with an administrator role); dispatched as GUILD_CREATE
        to connected sessions."""
        gid = guild_id or self.snowflake()
        bot_role = self.snowflake()
        g = Guild(gid, name, self.owner.id, roles=[
            _role(gid, "@everyone", EVERYONE_PERMISSIONS, 0),
            _role(bot_role, self.bot.username, ADMINISTRATOR, 1, managed=True),
        ])
        g.members[self.bot.id] = Member(self.bot.id, roles=[bot_role])
        self.guilds[gid] = g
        self._dispatch("GUILD_CREATE", lambda session: self._guild_create(g, session),
                       intent=GUILDS)
        return g

    def member(self, guild: Guild | int, user: User | int | str, *, nick: str | None = None,
               allows_dms: bool = True) -> User:
        """Put a user in a guild (a name: a new user); GUILD_MEMBER_ADD when connected."""
        g = self._guild(guild)
        if isinstance(user, str):
            u = self.user(user, allows_dms=allows_dms)
        else:
            u = self.users[user if isinstance(user, int) else user.id]
        g.members[u.id] = Member(u.id, nick=nick)
        self._dispatch("GUILD_MEMBER_ADD",
                       {**self._member_payload(g, u.id), "guild_id": str(g.id)},
                       intent=GUILD_MEMBERS)
        return u

    def text_channel(self, guild: Guild | int, name: str, *, channel_id: int | None = None,
                     topic: str | None = None, category_id: int | None = None) -> Channel:
        return self._guild_channel(guild, name, GUILD_TEXT, channel_id, topic, category_id)

    def forum_channel(self, guild: Guild | int, name: str, *, channel_id: int | None = None,
                      topic: str | None = None) -> Channel:
        return self._guild_channel(guild, name, GUILD_FORUM, channel_id, topic, None)

    def _guild_channel(self, guild: Guild | int, name: str, kind: int, channel_id: int | None,
                       topic: str | None, category_id: int | None) -> Channel:
        g = self._guild(guild)
        position = sum(1 for c in self.channels.values() if c.guild_id == g.id and not c.is_thread)
        ch = Channel(channel_id or self.snowflake(), kind, name, g.id, parent_id=category_id,
                     position=position, topic=topic)
        self.channels[ch.id] = ch
        self._dispatch("CHANNEL_CREATE", self._channel_payload(ch), intent=GUILDS)
        return ch

    def thread(self, parent: Channel | int, name: str, *, private: bool = False,
               owner: User | int | None = None, members: tuple[User | int, ...] = ()) -> Channel:
        """A thread that already exists (made by a person): THREAD_CREATE when connected."""
        par = self._channel(parent)
        owner_id = _id(owner) if owner is not None else self.owner.id
        t = Channel(self.snowflake(), PRIVATE_THREAD if private else PUBLIC_THREAD, name,
                    par.guild_id, parent_id=par.id, owner_id=owner_id)
        for uid in (owner_id, *map(_id, members)):
            t.members[uid] = _iso()
        self.channels[t.id] = t
        self._dispatch("THREAD_CREATE", {**self._channel_payload(t), "newly_created": True},
                       intent=GUILDS)
        return t

    def dm_channel(self, user: User | int) -> Channel:
        """The DM channel between the bot and ``user`` (made if missing)."""
        uid = _id(user)
        if uid not in self.users:
            raise KeyError(f"no user {uid}")
        for ch in self.channels.values():
            if ch.is_dm and ch.recipient_id == uid:
                return ch
        ch = Channel(self.snowflake(), DM, recipient_id=uid)
        self.channels[ch.id] = ch
        return ch

    def can_dm(self, user: User | int) -> bool:
        """Discord's rule for bots: the user shares a guild with the bot and accepts DMs."""
        u = self.users[_id(user)]
        return u.allows_dms and any(u.id in g.members for g in self.guilds.values())

    # -- what people do ---------------------------------------------------------------------

    def user_says(self, user_id: int, channel_id: int, text: str,
                  reference: Message | int | None = None, *,
                  embeds: list[dict[str, Any]] | None = None) -> Message:
        """A person posts ``text`` in a guild channel, thread or DM channel: MESSAGE_CREATE.
        ``<@id>`` in the text mentions that user (the bot sees mentions of itself in full)."""
        ch = self._channel(channel_id)
        if user_id not in self.users:
            raise KeyError(f"no user {user_id}")
        if ch.type == GUILD_FORUM:
            raise ValueError("a forum channel takes posts (threads), not messages")
        if ch.is_dm:
            if ch.recipient_id != user_id:
                raise ValueError(f"user {user_id} is not in DM channel {ch.id}")
        else:
            g = self.guilds[ch.guild_id or 0]
            if user_id not in g.members:
                raise ValueError(f"user {user_id} is not a member of guild {g.id}")
            if ch.type == PRIVATE_THREAD and user_id not in ch.members:
                raise ValueError(f"user {user_id} is not in private thread {ch.id}")
        ref_id = _id(reference) if reference is not None else None
        if ref_id is not None and ref_id not in self.messages:
            raise KeyError(f"no message {ref_id}")
        msg = Message(self.snowflake(), ch.id, ch.guild_id, user_id, text,
                      embeds=list(embeds or []), reference=ref_id,
                      type=19 if ref_id is not None else 0, mentions=_mentions(text))
        self._store(msg)
        if ch.is_thread and user_id not in ch.members and ch.type == PUBLIC_THREAD:
            ch.members[user_id] = _iso()
        self._dispatch_message("MESSAGE_CREATE", msg)
        return msg

    def user_forum_post(self, user_id: int, forum: Channel | int, title: str,
                        text: str) -> tuple[Channel, Message]:
        """A person opens a post in a forum channel: THREAD_CREATE, then the post's first
        message (MESSAGE_CREATE), whose id is the post's, as on Discord."""
        ch = self._channel(forum)
        if ch.type != GUILD_FORUM:
            raise ValueError(f"channel {ch.id} is not a forum channel")
        post = self.thread(ch, title, owner=user_id)
        msg = Message(post.id, post.id, ch.guild_id, user_id, text, mentions=_mentions(text))
        self._store(msg)
        self._dispatch_message("MESSAGE_CREATE", msg)
        return post, msg

    def user_dms(self, user_id: int, text: str) -> Message:
        """A person writes to the bot in private (MESSAGE_CREATE without guild_id)."""
        return self.user_says(user_id, self.dm_channel(user_id).id, text)

    def user_edits(self, message: Message | int, text: str) -> Message:
        msg = self.messages[_id(message)]
        msg.history.append({"content": msg.content, "embeds": msg.embeds})
        msg.content = text
        msg.mentions = _mentions(text)
        msg.edits += 1
        msg.edited_timestamp = _iso()
        self._dispatch_message("MESSAGE_UPDATE", msg)
        return msg

    def user_deletes(self, message: Message | int) -> None:
        msg = self.messages[_id(message)]
        msg.deleted = True
        data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
        self._dispatch("MESSAGE_DELETE", data,
                       intent=GUILD_MESSAGES if msg.guild_id else DIRECT_MESSAGES)
        self._notify()

    def user_presses(self, user_id: int, message: Message | int, custom_id: str, *,
                     values: list[str] | None = None) -> Interaction:
        """A person presses a button (or picks from a select: ``values``) on ``message``:
        INTERACTION_CREATE type 3 with a fresh token. The component must be on the message."""
        msg = self.messages[_id(message)]
        comp = next((c for c in _walk(msg.components) if c.get("custom_id") == custom_id), None)
        if comp is None:
            raise ValueError(f"message {msg.id} has no component with custom_id {custom_id!r}")
        ch = self.channels[msg.channel_id]
        user = self.users[user_id]
        ix = Interaction(self.snowflake(), "ix." + secrets.token_urlsafe(24), 3, user_id,
                         ch.id, ch.guild_id, msg.id, custom_id, int(comp["type"]),
                         time.monotonic())
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ix.component_type}
        if values is not None:
            data["values"] = values
        p: dict[str, Any] = {
            "id": str(ix.id), "application_id": str(self.application_id), "type": 3,
            "token": ix.token, "version": 1, "data": data, "channel_id": str(ch.id),
            "channel": self._channel_payload(ch), "message": self._message_payload(msg),
            "app_permissions": ADMINISTRATOR, "locale": "en-US", "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if ch.guild_id is not None:
            g = self.guilds[ch.guild_id]
            p.update(guild_id=str(g.id), guild_locale="en-US", context=0,
                     guild={"id": str(g.id), "locale": "en-US", "features": []},
                     member={**self._member_payload(g, user.id), "permissions": ADMINISTRATOR},
                     authorizing_integration_owners={"0": str(g.id)})
        else:
            p.update(user=user.payload(), context=1,
                     authorizing_integration_owners={"0": str(user.id)})
        ix.payload = p
        self.interactions[ix.id] = ix
        ix.dispatched_at = time.monotonic()
        self._dispatch("INTERACTION_CREATE", p)
        return ix

    # -- what Discord does --------------------------------------------------------------------

    def dispatch(self, event: str, data: dict[str, Any], *, intent: int = 0) -> None:
        """Send any event (``t``) with any payload to every session: for robustness tests."""
        self._dispatch(event, data, intent=intent)

    def reconnect(self) -> int:
        """op 7 RECONNECT on every connection: the client should RESUME at
        ``resume_gateway_url``. Events from now on wait in the session for the RESUME.
        Returns how many connections were told."""
        told = 0
        for session in self._live_sessions():
            conn = session.conn
            if conn is not None:
                conn.send({"op": 7, "d": None})
                session.conn = None
                told += 1
        self._notify()
        return told

    def drop_connection(self, code: int | None = None) -> int:
        """Cut every connection: no close frame (``code`` None; the client sees an abnormal
        closure) or a close frame with ``code``. The sessions stay resumable."""
        dropped = 0
        for conn in list(self._conns.values()):
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            dropped += 1
            if code is None:
                conn.closed = True
                conn.dropped = True
                if conn.transport is not None:
                    conn.transport.abort()
            else:
                conn.send(_Close(code, "dropped by the fake"))
        self._notify()
        return dropped

    def invalidate_session(self, resumable: bool = False) -> int:
        """op 9 INVALID_SESSION (``d=resumable``) on every connection. Not resumable: the
        session is gone and the client must IDENTIFY again (what it missed is lost)."""
        told = 0
        for session in self._live_sessions():
            conn = session.conn
            if conn is None:
                continue
            conn.send({"op": 9, "d": resumable})
            session.conn = None
            if not resumable:
                session.valid = False
            told += 1
        self._notify()
        return told

    @property
    def connected(self) -> bool:
        """A session is live on a connection (READY or RESUMED sent)."""
        return any(s.conn is not None for s in self._live_sessions())

    @property
    def session_ids(self) -> list[str]:
        return [s.id for s in self._sessions.values() if s.valid]

    # -- faults -----------------------------------------------------------------------------

    def fail(self, method: str, path_pattern: str, status: int = 429, *, code: int = 0,
             message: str = "", retry_after: float | None = None, times: int = 1,
             via: bool = True, global_: bool = False, drop: bool = False) -> Fault:
        """The next ``times`` requests matching ``method`` ("*": any) and ``path_pattern`` fail.

        The pattern is a route template (``"/channels/{channel_id}/messages"``) or a glob on
        the path below /api/v10 (``"/channels/123/*"``). 429: ``{message, retry_after (default
        0.05), global}`` with ``Via: 1.1 google`` unless ``via=False``; other statuses:
        ``{message, code}`` (e.g. 403 with code 50007). ``drop``: the request takes effect, then
        the connection is closed without an answer (status is then ignored)."""
        if status == 429 and retry_after is None:
            retry_after = 0.05
        fault = Fault(method.upper(), path_pattern, status, code,
                      message or _default_message(status, code), retry_after, times, via,
                      global_, drop)
        self.faults.append(fault)
        return fault

    def _fault_for(self, method: str, path: str, template: str) -> Fault | None:
        for fault in self.faults:
            if fault.times <= 0 or fault.method not in ("*", method):
                continue
            if fault.pattern != template and not fnmatch.fnmatchcase(path, fault.pattern):
                continue
            fault.times -= 1
            fault.hits += 1
            return fault
        return None

    # -- reading what the bot did -------------------------------------------------------------

    def sent_to(self, channel_id: int) -> list[Message]:
        return [m for m in self.sent if m.channel_id == channel_id]

    def channel_messages(self, channel_id: int) -> list[Message]:
        """Everything in a channel, oldest first (deleted ones left out)."""
        return sorted((m for m in self.messages.values()
                       if m.channel_id == channel_id and not m.deleted), key=lambda m: m.id)

    def calls_of(self, method: str, route: str | None = None) -> list[Call]:
        """REST calls of ``method`` (to the route template, or a glob on the path)."""
        return [c for c in self.calls if c.method == method.upper()
                and (route is None or c.route == route or fnmatch.fnmatchcase(c.path, route))]

    def frames_of(self, op: int) -> list[Frame]:
        return [f for f in self.frames if f.op == op]

    async def wait_sent(self, where: Callable[[Message], bool] = lambda m: True, *,
                        after: int = 0, timeout: float = TIMEOUT) -> Message:
        """The first bot message (index >= ``after`` in :attr:`sent`) that matches."""
        def find() -> Message | None:
            return next((m for m in self.sent[after:] if where(m)), None)

        found: Message = await self.wait_until(find, timeout)
        return found

    async def wait_callback(self, interaction: Interaction | int,
                            timeout: float = TIMEOUT) -> InteractionCallback:
        """The first callback to an interaction."""
        ix = self.interactions[_id(interaction)]
        found: InteractionCallback = await self.wait_until(
            lambda: ix.callbacks[0] if ix.callbacks else None, timeout)
        return found

    # -- payloads -----------------------------------------------------------------------------

    def _guild(self, guild: Guild | int) -> Guild:
        gid = guild if isinstance(guild, int) else guild.id
        return self.guilds[gid]

    def _channel(self, channel: Channel | int) -> Channel:
        cid = channel if isinstance(channel, int) else channel.id
        return self.channels[cid]

    def _member_payload(self, g: Guild, user_id: int) -> dict[str, Any]:
        m = g.members[user_id]
        return {"user": self.users[user_id].payload(), "nick": m.nick,
                "roles": [str(r) for r in m.roles], "joined_at": m.joined_at, "deaf": False,
                "mute": False, "flags": 0, "pending": False, "avatar": None,
                "premium_since": None, "communication_disabled_until": None}

    def _channel_payload(self, ch: Channel) -> dict[str, Any]:
        if ch.is_dm:
            return {"id": str(ch.id), "type": DM, "flags": 0,
                    "last_message_id": _str(ch.last_message_id),
                    "recipients": [self.users[ch.recipient_id or 0].payload()]}
        p: dict[str, Any] = {"id": str(ch.id), "type": ch.type, "guild_id": str(ch.guild_id),
                             "name": ch.name, "parent_id": _str(ch.parent_id),
                             "last_message_id": _str(ch.last_message_id),
                             "rate_limit_per_user": 0, "flags": 0}
        if ch.is_thread:
            meta: dict[str, Any] = {"archived": ch.archived, "locked": ch.locked,
                                    "auto_archive_duration": ch.auto_archive_duration,
                                    "archive_timestamp": ch.created_at,
                                    "create_timestamp": ch.created_at}
            if ch.type == PRIVATE_THREAD:
                meta["invitable"] = ch.invitable
            p.update(owner_id=str(ch.owner_id), message_count=ch.message_count,
                     total_message_sent=ch.message_count, member_count=min(50, len(ch.members)),
                     thread_metadata=meta, applied_tags=[])
            if self.bot.id in ch.members:
                p["member"] = {"id": str(ch.id), "user_id": str(self.bot.id),
                               "join_timestamp": ch.members[self.bot.id], "flags": 0}
            return p
        p.update(position=ch.position, permission_overwrites=[], nsfw=False, topic=ch.topic)
        if ch.type == GUILD_FORUM:
            p.update(available_tags=[], default_reaction_emoji=None, default_sort_order=None,
                     default_forum_layout=0)
        return p

    def _guild_create(self, g: Guild, session: _Session) -> dict[str, Any]:
        if session.intents & GUILD_MEMBERS:
            member_ids = list(g.members)
        else:  # Discord then sends only the bot itself
            member_ids = [self.bot.id]
        channels = [c for c in self.channels.values() if c.guild_id == g.id]
        return {
            "id": str(g.id), "name": g.name, "icon": None, "splash": None, "banner": None,
            "description": None, "owner_id": str(g.owner_id), "unavailable": False,
            "member_count": len(g.members), "large": False, "joined_at": g.joined_at,
            "roles": g.roles, "emojis": [], "stickers": [], "features": [],
            "channels": [self._channel_payload(c) for c in channels if not c.is_thread],
            "threads": [self._channel_payload(c) for c in channels
                        if c.is_thread and not c.archived],
            "members": [self._member_payload(g, uid) for uid in member_ids],
            "presences": [], "voice_states": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
            "preferred_locale": "en-US", "system_channel_flags": 0, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0,
            "nsfw_level": 0, "premium_tier": 0, "afk_timeout": 300,
            "premium_progress_bar_enabled": False,
        }

    def _content_visible(self, msg: Message, has_content: bool) -> bool:
        return (has_content or msg.guild_id is None or msg.author_id == self.bot.id
                or self.bot.id in msg.mentions)

    def _message_payload(self, msg: Message, *, content: bool = True,
                         event: bool = False, nested: bool = False) -> dict[str, Any]:
        visible = self._content_visible(msg, content)
        author = self.users[msg.author_id]
        p: dict[str, Any] = {
            "id": str(msg.id), "channel_id": str(msg.channel_id), "type": msg.type,
            "author": author.payload(), "content": msg.content if visible else "",
            "timestamp": msg.timestamp, "edited_timestamp": msg.edited_timestamp,
            "tts": False, "mention_everyone": False,
            "mentions": [self.users[u].payload() for u in msg.mentions if u in self.users],
            "mention_roles": [], "attachments": msg.attachments if visible else [],
            "embeds": msg.embeds if visible else [],
            "components": msg.components if visible else [], "pinned": False,
            "flags": msg.flags,
        }
        if msg.guild_id is not None:
            p["guild_id"] = str(msg.guild_id)
            g = self.guilds[msg.guild_id]
            if event and msg.author_id in g.members and msg.webhook_id is None:
                member = self._member_payload(g, msg.author_id)
                del member["user"]
                p["member"] = member
        if msg.nonce is not None:
            p["nonce"] = msg.nonce
        if msg.webhook_id is not None:
            p["webhook_id"] = str(msg.webhook_id)
            p["application_id"] = str(self.application_id)
        if msg.interaction_id is not None and msg.interaction_id in self.interactions:
            ix = self.interactions[msg.interaction_id]
            p["interaction_metadata"] = {
                "id": str(ix.id), "type": ix.type, "user": self.users[ix.user_id].payload(),
                "authorizing_integration_owners": ix.payload.get(
                    "authorizing_integration_owners", {}),
                "interacted_message_id": _str(ix.message_id)}
        if msg.reference is not None:
            ref = self.messages.get(msg.reference)
            p["message_reference"] = {"type": 0, "message_id": str(msg.reference),
                                      "channel_id": str(ref.channel_id if ref else
                                                        msg.channel_id)}
            if msg.guild_id is not None:
                p["message_reference"]["guild_id"] = str(msg.guild_id)
            if not nested:
                p["referenced_message"] = (
                    None if ref is None or ref.deleted
                    else self._message_payload(ref, content=content, nested=True))
        if msg.thread_id is not None and msg.thread_id in self.channels:
            p["thread"] = self._channel_payload(self.channels[msg.thread_id])
        if msg.reactions:
            p["reactions"] = [{"count": 1, "me": True, "burst_colors": [],
                               "count_details": {"burst": 0, "normal": 1},
                               "emoji": {"id": None, "name": e}, "burst_count": 0,
                               "me_burst": False} for e in msg.reactions]
        return p

    # -- dispatching -------------------------------------------------------------------------

    def _live_sessions(self) -> list[_Session]:
        return [s for s in self._sessions.values() if s.valid]

    def _send_event(self, session: _Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.log.append(frame)
        self.dispatched.append((session.id, session.seq, event, data))
        if session.conn is not None:
            session.conn.send(frame)
        self._notify()

    def _dispatch(self, event: str, data: dict[str, Any] | Callable[[_Session], dict[str, Any]],
                  *, intent: int = 0) -> None:
        for session in self._live_sessions():
            if intent and not session.intents & intent:
                continue
            self._send_event(session, event, data(session) if callable(data) else data)

    def _dispatch_message(self, event: str, msg: Message) -> None:
        if msg.ephemeral:
            return  # ephemeral messages are not dispatched
        intent = GUILD_MESSAGES if msg.guild_id is not None else DIRECT_MESSAGES
        self._dispatch(event, lambda s: self._message_payload(msg, content=s.content,
                                                              event=True), intent=intent)

    def _store(self, msg: Message) -> None:
        self.messages[msg.id] = msg
        ch = self.channels[msg.channel_id]
        if not msg.ephemeral:
            ch.last_message_id = msg.id
            if ch.is_thread:
                ch.message_count += 1
        if msg.author_id == self.bot.id:
            self.sent.append(msg)
        self._notify()

    # -- the gateway -----------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(next(self._conn_numbers), ws, request)
        info = GatewayConnection(conn.number, conn.path, conn.query, conn.opened_at)
        self.connections.append(info)
        self._conns[conn.number] = conn
        conn.writer = asyncio.create_task(self._writer(conn), name=f"fake-discord.ws{conn.number}")
        conn.send({"op": 10, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000),
                                   "_trace": ["fake-discord"]}})
        self._notify()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_frame(conn, info, msg.data)
                elif msg.type is WSMsgType.BINARY:
                    conn.send(_Close(4002, "Decode error."))
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            conn.closed = True
            if not conn.closed_by_server:
                conn.close_code = ws.close_code
            info.closed_at = time.monotonic()
            info.close_code = conn.close_code
            info.closed_by = ("dropped" if conn.dropped else
                              "fake" if conn.closed_by_server else "client")
            session = conn.session
            if session is not None:
                if session.conn is conn:
                    session.conn = None
                if ws.close_code in (1000, 1001) and not conn.closed_by_server:
                    session.valid = False  # a clean close by the client ends the session
            conn.queue.put_nowait(None)
            self._conns.pop(conn.number, None)
            self._notify()
        return ws

    async def _writer(self, conn: _Connection) -> None:
        try:
            while True:
                item = await conn.queue.get()
                if item is None or conn.ws.closed:
                    return
                if isinstance(item, _Close):
                    if conn.session is not None and conn.session.conn is conn:
                        conn.session.conn = None
                    conn.closed_by_server = True
                    conn.close_code = item.code
                    await conn.ws.close(code=item.code, message=item.message.encode())
                    return
                await conn.ws.send_str(json.dumps(item))
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass

    def _on_frame(self, conn: _Connection, info: GatewayConnection, raw: str) -> None:
        try:
            frame = json.loads(raw)
            op = frame.get("op")
            d = frame.get("d")
        except (ValueError, AttributeError):
            self.frames.append(Frame(conn.number, None, raw, time.monotonic()))
            conn.send(_Close(4002, "Decode error."))
            return
        self.frames.append(Frame(conn.number, op, d, time.monotonic()))
        self._notify()
        if op == 1:
            if self.ack_heartbeats:
                conn.send({"op": 11})
        elif op == 2:
            info.kind = info.kind or "identify"
            self._identify(conn, d if isinstance(d, dict) else {})
        elif op == 6:
            info.kind = info.kind or "resume"
            self._resume(conn, d if isinstance(d, dict) else {})
        elif conn.session is None:
            conn.send(_Close(4003, "Not authenticated."))
        elif op == 8:
            self._request_members(conn.session, d if isinstance(d, dict) else {})
        elif op in (3, 4):
            pass  # presence / voice state: recorded only
        else:
            conn.send(_Close(4001, "Unknown opcode."))

    def _identify(self, conn: _Connection, d: dict[str, Any]) -> None:
        self.identifies.append(d)
        if conn.session is not None:
            conn.send(_Close(4005, "Already authenticated."))
            return
        if d.get("token") != self.token:
            conn.send(_Close(4004, "Authentication failed."))
            return
        intents = d.get("intents")
        if not isinstance(intents, int) or intents < 0:
            conn.send(_Close(4013, "Invalid intent(s)."))
            return
        granted = ((MESSAGE_CONTENT if self.message_content_granted else 0)
                   | (GUILD_MEMBERS if self.members_granted else 0)
                   | (GUILD_PRESENCES if self.presences_granted else 0))
        missing = intents & PRIVILEGED_INTENTS & ~granted
        if missing and self.close_on_disallowed_intents:
            conn.send(_Close(4014, "Disallowed intent(s)."))
            return
        effective = intents & ~missing
        session = _Session(secrets.token_hex(16), effective, bool(effective & MESSAGE_CONTENT),
                           self.max_replay)
        self._sessions[session.id] = session
        conn.session = session
        session.conn = conn
        flags = ((APP_FLAG_MESSAGE_CONTENT_LIMITED if self.message_content_granted else 0)
                 | (APP_FLAG_MEMBERS_LIMITED if self.members_granted else 0)
                 | (APP_FLAG_PRESENCE_LIMITED if self.presences_granted else 0))
        self._send_event(session, "READY", {
            "v": 10, "user": {**self.bot.payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
            "session_id": session.id, "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "application": {"id": str(self.application_id), "flags": flags},
            "private_channels": [], "relationships": [], "presences": [],
            "guild_join_requests": [], "geo_ordered_rtc_regions": [], "user_settings": {},
            "_trace": ["fake-discord"],
        })
        if effective & GUILDS:
            for g in self.guilds.values():
                self._send_event(session, "GUILD_CREATE", self._guild_create(g, session))

    def _resume(self, conn: _Connection, d: dict[str, Any]) -> None:
        self.resumes.append(d)
        if d.get("token") != self.token:
            conn.send(_Close(4004, "Authentication failed."))
            return
        session = self._sessions.get(str(d.get("session_id")))
        seq = d.get("seq")
        if seq is None:
            seq = 0
        oldest = session.log[0]["s"] if session is not None and session.log else 1
        if (session is None or not session.valid or not isinstance(seq, int)
                or seq > session.seq or seq < oldest - 1):
            conn.send({"op": 9, "d": False})
            return
        old = session.conn
        if old is not None and old is not conn:
            old.send(_Close(4000, "Session resumed elsewhere."))
        conn.session = session
        session.conn = conn
        missed = [f for f in session.log if f["s"] > seq]
        for frame in missed:
            conn.send(frame)
        self.replayed.append(len(missed))
        session.seq += 1
        conn.send({"op": 0, "t": "RESUMED", "s": session.seq, "d": {"_trace": ["fake-discord"]}})
        self._notify()

    def _request_members(self, session: _Session, d: dict[str, Any]) -> None:
        g = self.guilds.get(int(d.get("guild_id") or 0))
        if g is None:
            return
        ids = d.get("user_ids")
        wanted = [int(u) for u in ids] if isinstance(ids, list) else list(g.members)
        query = str(d.get("query") or "").lower()
        members = [self._member_payload(g, uid) for uid in wanted if uid in g.members
                   and self.users[uid].username.lower().startswith(query)]
        limit = int(d.get("limit") or 0)
        if limit:
            members = members[:limit]
        data: dict[str, Any] = {"guild_id": str(g.id), "members": members, "chunk_index": 0,
                                "chunk_count": 1, "not_found": []}
        if d.get("nonce") is not None:
            data["nonce"] = d["nonce"]
        self._send_event(session, "GUILD_MEMBERS_CHUNK", data)

    # -- REST -------------------------------------------------------------------------------

    def _build_routes(self) -> None:
        table: list[tuple[str, str, Handler, bool]] = [
            ("GET", "/users/@me", self._get_me, True),
            ("POST", "/users/@me/channels", self._create_dm, True),
            ("GET", "/users/{user_id}", self._get_user, True),
            ("GET", "/oauth2/applications/@me", self._get_application, True),
            ("GET", "/applications/@me", self._get_application, True),
            ("GET", "/gateway", self._get_gateway, False),
            ("GET", "/gateway/bot", self._get_gateway_bot, True),
            ("GET", "/channels/{channel_id}", self._get_channel, True),
            ("PATCH", "/channels/{channel_id}", self._edit_channel, True),
            ("POST", "/channels/{channel_id}/typing", self._typing, True),
            ("POST", "/channels/{channel_id}/messages", self._create_message, True),
            ("GET", "/channels/{channel_id}/messages", self._history, True),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message, True),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message, True),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message,
             True),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
             self._add_reaction, True),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads",
             self._thread_from_message, True),
            ("POST", "/channels/{channel_id}/threads", self._thread_without_message, True),
            ("PUT", "/channels/{channel_id}/thread-members/{user_id}", self._add_thread_member,
             True),
            ("DELETE", "/channels/{channel_id}/thread-members/{user_id}",
             self._remove_thread_member, True),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member, True),
            ("POST", "/interactions/{interaction_id}/{interaction_token}/callback",
             self._interaction_callback, False),
            ("POST", "/webhooks/{webhook_id}/{webhook_token}", self._execute_webhook, False),
            ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
             self._get_webhook_message, False),
            ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
             self._edit_webhook_message, False),
            ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
             self._delete_webhook_message, False),
            ("GET", "/applications/{application_id}/commands", self._get_commands, True),
            ("PUT", "/applications/{application_id}/commands", self._put_commands, True),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands",
             self._get_commands, True),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands",
             self._put_commands, True),
        ]
        for method, template, handler, authed in table:
            regex = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)",
                                            re.escape(template)) + "$")
            self._routes.append((method, regex, template, handler, authed))

    def _match(self, method: str, path: str) -> tuple[str, dict[str, str], Handler, bool] | None:
        allowed = False
        for m, regex, template, handler, authed in self._routes:
            found = regex.match(path)
            if found is None:
                continue
            if m == method:
                return template, found.groupdict(), handler, authed
            allowed = True
        if allowed:
            raise ApiError(405, 0, "405: Method Not Allowed")
        return None

    async def _read_body(self, request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            body: Any = None
            files: list[dict[str, Any]] = []
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read()
                if part.name == "payload_json":
                    body = json.loads(data)
                else:
                    files.append({"name": part.name, "filename": part.filename,
                                  "size": len(data),
                                  "content_type": part.headers.get("Content-Type")})
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        if ctype == "application/json":
            try:
                return json.loads(raw), []
            except ValueError:
                return raw.decode("utf-8", "replace"), []
        return raw.decode("utf-8", "replace"), []

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = request.path[len(API_PREFIX):]
        method = request.method
        try:
            body, files = await self._read_body(request)
        except ValueError:
            body, files = None, []
        call = Call(method, path, "", dict(request.query), body, time.monotonic())
        self.calls.append(call)
        headers: dict[str, str] = {}
        try:
            matched = self._match(method, path)
            if matched is None:
                raise ApiError(404, 0, "404: Not Found")
            template, params, handler, authed = matched
            call.route = template
            if authed and request.headers.get("Authorization") != f"Bot {self.token}":
                raise ApiError(401, 0, "401: Unauthorized")
            fault = self._fault_for(method, path, template)
            if fault is not None and not fault.drop:
                self._raise_fault(fault)
            headers = self._rate_check(method, template, params)
            req = _Request(method, path, params, dict(request.query), body, files,
                           dict(request.headers))
            status, payload = await handler(req)
            if fault is not None and fault.drop:
                raise _Drop()
        except _Drop:
            call.status = 0
            self._notify()
            if request.transport is not None:
                request.transport.abort()
            # writing this fails on the aborted transport; aiohttp then just drops the
            # connection ("premature client disconnection"), which is the point
            return web.Response(status=500)
        except _RateLimited as exc:
            status = 429
            payload = {"message": "You are being rate limited.",
                       "retry_after": round(exc.retry_after, 3), "global": exc.global_,
                       "code": 0}
            headers = {**exc.headers, "Retry-After": str(max(1, math.ceil(exc.retry_after))),
                       "X-RateLimit-Scope": exc.scope}
            if exc.global_:
                headers["X-RateLimit-Global"] = "true"
            if exc.via:
                headers["Via"] = "1.1 google"
        except ApiError as exc:
            status, payload = exc.status, exc.body()
        call.status = status
        call.headers = headers
        self.statuses[status] += 1
        self._notify()
        if payload is None:
            return web.Response(status=status, headers=headers)
        return web.Response(status=status, body=json.dumps(payload).encode(),
                            headers={**headers, "Content-Type": "application/json"})

    def _raise_fault(self, fault: Fault) -> None:
        if fault.status == 429:
            raise _RateLimited(fault.retry_after or 0.05, global_=fault.global_, via=fault.via,
                               scope="global" if fault.global_ else "user")
        raise ApiError(fault.status, fault.code, fault.message)

    def _major(self, template: str, params: dict[str, str]) -> str:
        for key in ("channel_id", "guild_id"):
            if key in params:
                return params[key]
        if "webhook_id" in params:
            return f"{params['webhook_id']}+{params['webhook_token']}"
        if "interaction_id" in params:
            return f"{params['interaction_id']}+{params['interaction_token']}"
        return ""

    def _rate_check(self, method: str, template: str, params: dict[str, str]) -> dict[str, str]:
        key = f"{method} {template}"
        major = self._major(template, params)
        limits = self.limits
        if limits is None:
            limit, period = _UNLIMITED
        else:
            limit, period = limits.routes.get(key, limits.default_route)
        now = time.monotonic()
        bucket = self._buckets.get((key, major))
        if bucket is None or now >= bucket.reset_at:
            bucket = self._buckets[(key, major)] = _Bucket(limit, period, 0, now + period)
        bucket_hash = hashlib.sha1(key.encode()).hexdigest()[:16]
        exempt = template.startswith(("/interactions/", "/webhooks/"))

        def headers(remaining: int) -> dict[str, str]:
            after = max(0.0, math.ceil((bucket.reset_at - now) * 1000) / 1000)
            return {"X-RateLimit-Limit": str(bucket.limit),
                    "X-RateLimit-Remaining": str(max(0, remaining)),
                    "X-RateLimit-Reset": f"{time.time() + after:.3f}",
                    "X-RateLimit-Reset-After": f"{after:.3f}",
                    "X-RateLimit-Bucket": bucket_hash}

        if limits is not None:
            if limits.global_per_second is not None and not exempt:
                while self._global and self._global[0] <= now - 1.0:
                    self._global.popleft()
                if len(self._global) >= limits.global_per_second:
                    wait = self._global[0] + 1.0 - now
                    self.rejected_429 += 1
                    self.rejected_by["global"] += 1
                    raise _RateLimited(wait, global_=True, scope="global")
            if bucket.count >= bucket.limit:
                self.rejected_429 += 1
                self.rejected_by[key] += 1
                raise _RateLimited(bucket.reset_at - now, global_=False,
                                   headers=headers(0), scope="user")
        bucket.count += 1
        if not exempt:
            self._global.append(now)
        self.let_through.append((now, key, major))
        return headers(bucket.limit - bucket.count)

    # -- REST handlers ------------------------------------------------------------------------

    def _rest_channel(self, req: _Request) -> Channel:
        ch = self.channels.get(_int(req.params.get("channel_id")))
        if ch is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return ch

    def _rest_message(self, ch: Channel, req: _Request) -> Message:
        msg = self.messages.get(_int(req.params.get("message_id")))
        if msg is None or msg.deleted or msg.channel_id != ch.id:
            raise ApiError(404, 10008, "Unknown Message")
        return msg

    async def _get_me(self, req: _Request) -> tuple[int, Any]:
        return 200, {**self.bot.payload(), "verified": True, "mfa_enabled": False,
                     "locale": "en-US", "email": None}

    async def _get_user(self, req: _Request) -> tuple[int, Any]:
        u = self.users.get(_int(req.params["user_id"]))
        if u is None:
            raise ApiError(404, 10013, "Unknown User")
        return 200, u.payload()

    async def _get_application(self, req: _Request) -> tuple[int, Any]:
        flags = ((APP_FLAG_MESSAGE_CONTENT_LIMITED if self.message_content_granted else 0)
                 | (APP_FLAG_MEMBERS_LIMITED if self.members_granted else 0)
                 | (APP_FLAG_PRESENCE_LIMITED if self.presences_granted else 0))
        return 200, {"id": str(self.application_id), "name": self.bot.username, "icon": None,
                     "description": "", "summary": "", "type": None, "bot_public": False,
                     "bot_require_code_grant": False, "verify_key": "0" * 64,
                     "owner": self.owner.payload(), "team": None, "flags": flags,
                     "hook": True, "interactions_endpoint_url": None, "rpc_origins": [],
                     "redirect_uris": [], "tags": [], "bot": self.bot.payload(),
                     "approximate_guild_count": len(self.guilds)}

    async def _get_gateway(self, req: _Request) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url.rstrip("/")}

    async def _get_gateway_bot(self, req: _Request) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url.rstrip("/"), "shards": 1,
                     "session_start_limit": {"total": 1000,
                                             "remaining": max(0, 1000 - len(self.identifies)),
                                             "reset_after": 86_400_000, "max_concurrency": 1}}

    async def _create_dm(self, req: _Request) -> tuple[int, Any]:
        body = req.body if isinstance(req.body, dict) else {}
        uid = _int(body.get("recipient_id"))
        if uid not in self.users or uid == self.bot.id:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        return 200, self._channel_payload(self.dm_channel(uid))

    async def _get_channel(self, req: _Request) -> tuple[int, Any]:
        return 200, self._channel_payload(self._rest_channel(req))

    async def _edit_channel(self, req: _Request) -> tuple[int, Any]:
        ch = self._rest_channel(req)
        body = req.body if isinstance(req.body, dict) else {}
        if ch.is_dm:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        for name in ("name", "topic", "archived", "locked", "invitable",
                     "auto_archive_duration"):
            if name in body and body[name] is not None:
                setattr(ch, name, body[name])
        payload = self._channel_payload(ch)
        self._dispatch("THREAD_UPDATE" if ch.is_thread else "CHANNEL_UPDATE", payload,
                       intent=GUILDS)
        return 200, payload

    async def _typing(self, req: _Request) -> tuple[int, Any]:
        self._rest_channel(req)
        return 204, None

    def _check_message_body(self, body: dict[str, Any], *, creating: bool,
                            files: list[dict[str, Any]]) -> None:
        content = body.get("content")
        if content is not None and not isinstance(content, str):
            raise _form_error("content", "STRING_TYPE_CONVERT", "Could not interpret as string.")
        if isinstance(content, str) and len(content) > 2000:
            raise _form_error("content", "BASE_TYPE_MAX_LENGTH",
                              "Must be 2000 or fewer in length.")
        embeds = body.get("embeds") or []
        if len(embeds) > 10:
            raise _form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        if creating and not (content or embeds or body.get("components") or files
                             or body.get("sticker_ids") or body.get("poll")):
            raise ApiError(400, 50006, "Cannot send an empty message")

    def _new_bot_message(self, ch: Channel, body: dict[str, Any], files: list[dict[str, Any]],
                         via: str, *, flags: int = 0, interaction: Interaction | None = None
                         ) -> Message:
        ref = body.get("message_reference")
        ref_id: int | None = None
        if isinstance(ref, dict) and ref.get("message_id") is not None:
            ref_id = _int(ref.get("message_id"))
            target = self.messages.get(ref_id)
            if target is None or target.deleted:
                if ref.get("fail_if_not_exists", True):
                    raise _form_error("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                      "Unknown message")
                ref_id = None
        attachments = [{"id": str(self.snowflake()), "filename": f["filename"] or "file",
                        "size": f["size"], "url": f"{self.api_base}/attachments/{f['filename']}",
                        "proxy_url": f"{self.api_base}/attachments/{f['filename']}",
                        "content_type": f["content_type"]} for f in files]
        msg = Message(self.snowflake(), ch.id, ch.guild_id, self.bot.id,
                      body.get("content") or "", embeds=list(body.get("embeds") or []),
                      components=list(body.get("components") or []), attachments=attachments,
                      reference=ref_id, nonce=_str(body.get("nonce")),
                      flags=flags | int(body.get("flags") or 0) & ~LOADING,
                      type=19 if ref_id is not None else 0,
                      mentions=_mentions(body.get("content") or ""), via=via)
        if interaction is not None:
            msg.webhook_id = self.application_id
            msg.interaction_id = interaction.id
            msg.type = 20 if interaction.type == 2 else 0
        return msg

    async def _create_message(self, req: _Request) -> tuple[int, Any]:
        ch = self._rest_channel(req)
        body = req.body if isinstance(req.body, dict) else {}
        if ch.type == GUILD_FORUM:
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        if ch.is_dm and not self.can_dm(ch.recipient_id or 0):
            raise ApiError(403, 50007, "Cannot send messages to this user")
        if ch.is_thread and (ch.archived and ch.locked):
            raise ApiError(400, 50083, "Thread is archived")
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > 25:
            raise _form_error("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        self._check_message_body(body, creating=True, files=req.files)
        now = time.monotonic()
        if nonce is not None and body.get("enforce_nonce"):
            seen = self._nonces.get((ch.id, str(nonce)))
            if seen is not None and now - seen[1] <= self.nonce_window:
                original = self.messages.get(seen[0])
                if original is not None and not original.deleted:
                    return 200, self._message_payload(original)
        msg = self._new_bot_message(ch, body, req.files, "channel")
        if ch.is_thread and ch.archived:
            ch.archived = False  # sending into an archived (unlocked) thread unarchives it
        if nonce is not None and body.get("enforce_nonce"):
            self._nonces[(ch.id, str(nonce))] = (msg.id, now)
        self._store(msg)
        self._dispatch_message("MESSAGE_CREATE", msg)
        return 200, self._message_payload(msg)

    async def _history(self, req: _Request) -> tuple[int, Any]:
        ch = self._rest_channel(req)
        if ch.type == GUILD_FORUM:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        try:
            limit = int(req.query.get("limit", "50"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            raise _form_error("limit", "NUMBER_TYPE_MAX", "int value should be <= 100 and >= 1.")
        msgs = [m for m in self.channel_messages(ch.id) if not m.ephemeral]
        before, after, around = (_int(req.query.get(k)) if req.query.get(k) else None
                                 for k in ("before", "after", "around"))
        if around is not None:
            older = [m for m in msgs if m.id < around][-(limit // 2):] if limit > 1 else []
            newer = [m for m in msgs if m.id >= around][:limit - len(older)]
            page = older + newer
        elif before is not None:
            page = [m for m in msgs if m.id < before][-limit:]
        elif after is not None:
            page = [m for m in msgs if m.id > after][:limit]
        else:
            page = msgs[-limit:]
        return 200, [self._message_payload(m, content=self.message_content_granted)
                     for m in reversed(page)]  # newest first, as Discord

    async def _get_message(self, req: _Request) -> tuple[int, Any]:
        ch = self._rest_channel(req)
        msg = self._rest_message(ch, req)
        return 200, self._message_payload(msg, content=self.message_content_granted)

    def _apply_edit(self, msg: Message, body: dict[str, Any]) -> None:
        self._check_message_body(body, creating=False, files=[])
        msg.history.append({"content": msg.content, "embeds": msg.embeds,
                            "components": msg.components})
        if "content" in body:
            msg.content = body["content"] or ""
            msg.mentions = _mentions(msg.content)
        if "embeds" in body:
            msg.embeds = list(body["embeds"] or [])
        if "components" in body:
            msg.components = list(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            msg.flags = (msg.flags & EPHEMERAL) | int(body["flags"])
        msg.flags &= ~LOADING
        msg.edits += 1
        msg.edited_timestamp = _iso()
        self._dispatch_message("MESSAGE_UPDATE", msg)
        self._notify()

    async def _edit_message(self, req: _Request) -> tuple[int, Any]:
        ch = self._rest_channel(req)
        msg = self._rest_message(ch, req)
        if msg.author_id != self.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._apply_edit(msg, req.body if isinstance(req.body, dict) else {})
        return 200, self._message_payload(msg)

    async def _delete_message(self, req: _Request) -> tuple[int, Any]:
        ch = self._rest_channel(req)
        msg = self._rest_message(ch, req)
        if msg.author_id != self.bot.id and ch.is_dm:
            raise ApiError(403, 50003, "Cannot execute action on a DM channel")
        self.user_deletes(msg)
        return 204, None

    async def _add_reaction(self, req: _Request) -> tuple[int, Any]:
        ch = self._rest_channel(req)
        msg = self._rest_message(ch, req)
        emoji = req.params["emoji"]
        if emoji not in msg.reactions:
            msg.reactions.append(emoji)
        self._notify()
        return 204, None

    def _new_thread(self, parent: Channel, name: str, kind: int, body: dict[str, Any],
                    thread_id: int | None = None) -> Channel:
        if not name or len(name) > 100:
            raise _form_error("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in "
                                                              "length.")
        t = Channel(thread_id or self.snowflake(), kind, name, parent.guild_id,
                    parent_id=parent.id, owner_id=self.bot.id,
                    invitable=bool(body.get("invitable", True)),
                    auto_archive_duration=int(body.get("auto_archive_duration") or 1440))
        t.members[self.bot.id] = _iso()
        self.channels[t.id] = t
        return t

    async def _thread_from_message(self, req: _Request) -> tuple[int, Any]:
        ch = self._rest_channel(req)
        msg = self._rest_message(ch, req)
        if ch.type != GUILD_TEXT:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        if msg.thread_id is not None:
            raise ApiError(400, 160004, "A thread has already been created for this message")
        body = req.body if isinstance(req.body, dict) else {}
        t = self._new_thread(ch, str(body.get("name") or ""), PUBLIC_THREAD, body,
                             thread_id=msg.id)  # a thread from a message has its id
        msg.thread_id = t.id
        self._dispatch("THREAD_CREATE", {**self._channel_payload(t), "newly_created": True},
                       intent=GUILDS)
        self._notify()
        return 201, self._channel_payload(t)

    async def _thread_without_message(self, req: _Request) -> tuple[int, Any]:
        ch = self._rest_channel(req)
        body = req.body if isinstance(req.body, dict) else {}
        name = str(body.get("name") or "")
        if ch.type == GUILD_FORUM:
            first = body.get("message")
            if not isinstance(first, dict):
                raise _form_error("message", "BASE_TYPE_REQUIRED", "This field is required")
            self._check_message_body(first, creating=True, files=req.files)
            t = self._new_thread(ch, name, PUBLIC_THREAD, body)
            self._dispatch("THREAD_CREATE", {**self._channel_payload(t), "newly_created": True},
                           intent=GUILDS)
            starter = self._new_bot_message(t, first, req.files, "channel")
            starter.id = t.id  # a forum post's first message has the post's id
            self._store(starter)
            t.message_count = 0
            self._dispatch_message("MESSAGE_CREATE", starter)
            return 201, {**self._channel_payload(t), "message": self._message_payload(starter)}
        if ch.type != GUILD_TEXT:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        kind = int(body.get("type") or PRIVATE_THREAD)
        if kind not in (PUBLIC_THREAD, PRIVATE_THREAD):
            raise _form_error("type", "BASE_TYPE_CHOICES", "Value must be one of {11, 12}.")
        t = self._new_thread(ch, name, kind, body)
        self._dispatch("THREAD_CREATE", {**self._channel_payload(t), "newly_created": True},
                       intent=GUILDS)
        self._notify()
        return 201, self._channel_payload(t)

    def _thread_for_members(self, req: _Request) -> tuple[Channel, int]:
        t = self._rest_channel(req)
        if not t.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        raw = req.params["user_id"]
        uid = self.bot.id if raw == "@me" else _int(raw)
        g = self.guilds[t.guild_id or 0]
        if uid not in g.members:
            raise ApiError(404, 10007, "Unknown Member")
        return t, uid

    async def _add_thread_member(self, req: _Request) -> tuple[int, Any]:
        t, uid = self._thread_for_members(req)
        if t.archived:
            raise ApiError(400, 50083, "Thread is archived")
        if uid not in t.members:
            t.members[uid] = _iso()
            g = self.guilds[t.guild_id or 0]
            self._dispatch("THREAD_MEMBERS_UPDATE", {
                "id": str(t.id), "guild_id": str(g.id), "member_count": min(50, len(t.members)),
                "added_members": [{"id": str(t.id), "user_id": str(uid),
                                   "join_timestamp": t.members[uid], "flags": 0,
                                   "member": self._member_payload(g, uid)}],
            }, intent=GUILDS)
            self._notify()
        return 204, None

    async def _remove_thread_member(self, req: _Request) -> tuple[int, Any]:
        t, uid = self._thread_for_members(req)
        if t.members.pop(uid, None) is not None:
            self._dispatch("THREAD_MEMBERS_UPDATE", {
                "id": str(t.id), "guild_id": str(t.guild_id),
                "member_count": min(50, len(t.members)), "removed_member_ids": [str(uid)],
            }, intent=GUILDS)
            self._notify()
        return 204, None

    async def _get_member(self, req: _Request) -> tuple[int, Any]:
        g = self.guilds.get(_int(req.params["guild_id"]))
        if g is None:
            raise ApiError(404, 10004, "Unknown Guild")
        uid = _int(req.params["user_id"])
        if uid not in g.members:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, self._member_payload(g, uid)

    # interactions

    def _interaction_by_token(self, req: _Request, id_key: str, token_key: str,
                              unknown: ApiError) -> Interaction:
        ix = self.interactions.get(_int(req.params[id_key]))
        if ix is None or ix.token != req.params[token_key]:
            raise unknown
        return ix

    async def _interaction_callback(self, req: _Request) -> tuple[int, Any]:
        unknown = ApiError(404, 10062, "Unknown interaction")
        ix = self._interaction_by_token(req, "interaction_id", "interaction_token", unknown)
        body = req.body if isinstance(req.body, dict) else {}
        now = time.monotonic()
        kind = int(body.get("type") or 0)
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        assert isinstance(data, dict)
        cb = InteractionCallback(ix.id, kind, data, now, now - ix.dispatched_at)
        ix.callbacks.append(cb)
        self.callbacks.append(cb)
        try:
            if ix.acknowledged:
                raise ApiError(400, 40060, "Interaction has already been acknowledged.")
            if cb.delay > self.interaction_deadline:
                raise unknown
            result = self._answer_interaction(ix, kind, data, req.files)
        except ApiError as exc:
            cb.status = exc.status
            raise
        finally:
            self._notify()
        if req.query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        return 200, result

    def _answer_interaction(self, ix: Interaction, kind: int, data: dict[str, Any],
                            files: list[dict[str, Any]]) -> dict[str, Any]:
        ch = self.channels[ix.channel_id]
        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        resource: dict[str, Any] | None = None
        response_id: int | None = None
        if kind == 4:
            self._check_message_body(data, creating=True, files=files)
            msg = self._new_bot_message(ch, data, files, "interaction", interaction=ix)
            self._store(msg)
            self._dispatch_message("MESSAGE_CREATE", msg)
            ix.original_message_id = response_id = msg.id
            resource = {"type": 4, "message": self._message_payload(msg)}
        elif kind == 5:
            msg = self._new_bot_message(ch, {"flags": data.get("flags")}, [], "interaction",
                                        flags=LOADING, interaction=ix)
            self._store(msg)
            self._dispatch_message("MESSAGE_CREATE", msg)
            ix.original_message_id = response_id = msg.id
            resource = {"type": 5, "message": self._message_payload(msg)}
        elif kind in (6, 7):
            if ix.message_id is None:
                raise ApiError(400, 40004, "Interaction has no message to update")
            ix.original_message_id = ix.message_id
            if kind == 7:
                msg = self.messages[ix.message_id]
                self._apply_edit(msg, data)
                resource = {"type": 7, "message": self._message_payload(msg)}
        elif kind == 9:
            pass  # a modal: recorded in the callback
        else:
            raise _form_error("type", "BASE_TYPE_CHOICES", "Value must be one of {4, 5, 6, 7, 9}.")
        ix.response_type = kind
        out: dict[str, Any] = {"interaction": {
            "id": str(ix.id), "type": ix.type,
            "response_message_loading": kind == 5, "response_message_ephemeral": ephemeral}}
        if response_id is not None:
            out["interaction"]["response_message_id"] = str(response_id)
        if resource is not None:
            out["resource"] = resource
        return out

    def _webhook_interaction(self, req: _Request) -> Interaction:
        unknown = ApiError(404, 10015, "Unknown Webhook")
        if _int(req.params["webhook_id"]) != self.application_id:
            raise unknown
        ix = next((i for i in self.interactions.values()
                   if i.token == req.params["webhook_token"]), None)
        if ix is None or not ix.acknowledged:
            raise unknown
        if time.monotonic() - ix.dispatched_at > self.interaction_token_ttl:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return ix

    def _webhook_message(self, ix: Interaction, req: _Request) -> Message:
        raw = req.params["message_id"]
        mid = ix.original_message_id if raw == "@original" else _int(raw)
        if mid is None or mid not in self.messages or (
                raw != "@original" and mid not in ix.followup_ids):
            raise ApiError(404, 10008, "Unknown Message")
        msg = self.messages[mid]
        if msg.deleted:
            raise ApiError(404, 10008, "Unknown Message")
        return msg

    async def _execute_webhook(self, req: _Request) -> tuple[int, Any]:
        ix = self._webhook_interaction(req)
        body = req.body if isinstance(req.body, dict) else {}
        self._check_message_body(body, creating=True, files=req.files)
        ch = self.channels[ix.channel_id]
        msg = self._new_bot_message(ch, body, req.files, "followup", interaction=ix)
        self._store(msg)
        ix.followup_ids.append(msg.id)
        self._dispatch_message("MESSAGE_CREATE", msg)
        if req.query.get("wait") in ("1", "true", "True"):
            return 200, self._message_payload(msg)
        return 204, None

    async def _get_webhook_message(self, req: _Request) -> tuple[int, Any]:
        ix = self._webhook_interaction(req)
        return 200, self._message_payload(self._webhook_message(ix, req))

    async def _edit_webhook_message(self, req: _Request) -> tuple[int, Any]:
        ix = self._webhook_interaction(req)
        msg = self._webhook_message(ix, req)
        self._apply_edit(msg, req.body if isinstance(req.body, dict) else {})
        return 200, self._message_payload(msg)

    async def _delete_webhook_message(self, req: _Request) -> tuple[int, Any]:
        ix = self._webhook_interaction(req)
        self.user_deletes(self._webhook_message(ix, req))
        return 204, None

    # application commands (stored and echoed: discord.py only calls them on tree.sync())

    async def _get_commands(self, req: _Request) -> tuple[int, Any]:
        return 200, self.commands.get(_int(req.params.get("guild_id")) or None, [])

    async def _put_commands(self, req: _Request) -> tuple[int, Any]:
        gid = _int(req.params.get("guild_id")) or None
        body = req.body if isinstance(req.body, list) else []
        out = []
        for cmd in body:
            c = {"type": 1, "description": "", "options": [], "default_member_permissions": None,
                 "dm_permission": True, "nsfw": False, **cmd, "id": str(self.snowflake()),
                 "application_id": str(self.application_id), "version": str(self.snowflake())}
            if gid is not None:
                c["guild_id"] = str(gid)
            out.append(c)
        self.commands[gid] = out
        self._notify()
        return 200, out


# -- helpers ---------------------------------------------------------------------------------------


def _role(role_id: int, name: str, permissions: str, position: int, *,
          managed: bool = False) -> dict[str, Any]:
    return {"id": str(role_id), "name": name, "color": 0, "colors": {"primary_color": 0},
            "hoist": False, "icon": None, "unicode_emoji": None, "position": position,
            "permissions": permissions, "managed": managed, "mentionable": False, "flags": 0}


def _walk(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every component, nested ones (action rows, v2 containers, accessories) included."""
    for c in components:
        if not isinstance(c, dict):
            continue
        yield c
        yield from _walk(c.get("components") or [])
        accessory = c.get("accessory")
        if isinstance(accessory, dict):
            yield from _walk([accessory])


_MENTION = re.compile(r"<@!?(\d+)>")


def _mentions(text: str) -> list[int]:
    return list(dict.fromkeys(int(m) for m in _MENTION.findall(text)))


def _default_message(status: int, code: int) -> str:
    known = {50007: "Cannot send messages to this user", 10003: "Unknown Channel",
             10008: "Unknown Message", 50001: "Missing Access", 50013: "Missing Permissions",
             10062: "Unknown interaction", 40060: "Interaction has already been acknowledged."}
    if code in known:
        return known[code]
    if status == 429:
        return "You are being rate limited."
    return f"{status}: {_REASONS.get(status, 'Error')}"


def _id(obj: Any) -> int:
    return obj if isinstance(obj, int) else int(obj.id)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
