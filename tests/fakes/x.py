"""The X (Twitter) API v2 on 127.0.0.1, for driving the real tweepy ``AsyncClient`` in tests.

    clock = Clock()                                   # Unix seconds that only tests move
    async with FakeX(clock=clock) as x:               # the brand account x.brand exists
        alice = x.user(42, "alice", "Alice")          # a customer
        agent = x.user(43, "agent1834", "Agent")      # a staff member's own account
        async with rewriting_session(x.base_url) as session:
            client = AsyncClient(**x.token_for(agent.id).as_kwargs())
            client.session = session                  # https://api.twitter.com -> here
            tid = x.tweet(alice.id, "@helpforce my TV is broken")   # a public mention
            page = await client.get_users_mentions(x.brand.id, user_auth=True)
            await client.create_tweet(text="On it!", in_reply_to_tweet_id=tid)
            reply = await x.wait_tweet(lambda t: t.in_reply_to_tweet_id == tid)

Getting tweepy here: it hard-codes ``"https://api.twitter.com" + route``; the hook is its
public ``session`` attribute. :func:`rewriting_session` builds an aiohttp ``ClientSession``
(aiohttp >= 3.12, for ``middlewares=``) whose middleware rewrites that prefix to the fake's
base and refuses any other URL, so no request leaves 127.0.0.1. tweepy 4.17 never closes nor
replaces a session that was set (it closes only the throw-away session it makes per request
when ``session`` is None): the caller owns it and closes it.

Wire protocol as X's: JSON bodies, ids as strings, ``{"data", "includes", "meta", "errors"}``
answers (an empty page has no ``data``, only ``meta.result_count`` 0); errors as X's problem
objects, e.g. 403 ``{"detail": "You are not allowed to create a Tweet with duplicate
content.", "type": "about:blank", "title": "Forbidden", "status": 403}`` (tweepy puts
``detail``, or each ``errors[].message``, in ``api_messages`` and the exception's text). Every
tweet carries ``edit_history_tweet_ids`` (tweepy warns without it); times are
``2026-01-01T00:00:00.000Z``; ids are snowflakes that grow with the clock, so ``since_id``
works. Auth: ``Authorization: OAuth ...`` (OAuth 1.0a user context; the header must carry
``oauth_consumer_key`` = :data:`CONSUMER_KEY`, ``oauth_token`` and ``oauth_signature``; the
signature is not checked; the token says who acts: :meth:`FakeX.token_for`) or ``Bearer``
(:attr:`FakeX.bearer_token` app-only, or :meth:`FakeX.bearer_for` a user's OAuth 2.0 token).
Missing or unknown auth: 401 ``{"title": "Unauthorized", "detail": "Unauthorized", ...}``;
app-only on a user-context endpoint: 403 "Unsupported Authentication". Unknown query
parameters, fields and expansions, and out-of-range ``max_results``: 400 "Invalid Request"
with ``errors[].message`` as X words them.

Endpoints (keys of :attr:`FakeX.calls`, :class:`Limits` and :meth:`FakeX.fail`):

- ``GET /2/users/me``, ``GET /2/users/:id``, ``GET /2/users/by/username/:username``
  (user.fields incl. ``receives_your_dm``); an unknown user: 200 with ``errors`` only.
- ``GET /2/users/:id/mentions``: tweets whose text @mentions the user (the latest 800 only, as
  X), newest first; since_id, until_id, start_time, end_time, max_results 5..100 (default 10),
  pagination_token -> ``meta.next_token``; expansions, tweet.fields, user.fields.
- ``GET /2/tweets/search/recent``: the last 7 days; query with ``conversation_id:N``,
  ``from:``, ``to:`` (user name or id), ``in_reply_to_tweet_id:``, ``@user``, ``#tag``, words,
  ``"phrases"``, ``is:retweet|reply|quote``, ``has:mentions|hashtags|links``, ``lang:``,
  negation ``-``, AND by spaces, ``OR``, parentheses (AND binds tighter, as X); a query of
  negations only, or an unknown operator: 400. since_id older than 7 days: 400 as X.
  max_results 10..100, next_token.
- ``GET /2/tweets/:id``, ``GET /2/tweets?ids=`` (missing ones as ``errors``).
- ``POST /2/tweets`` {text, reply: {in_reply_to_tweet_id, exclude_reply_user_ids},
  quote_tweet_id} -> 201 ``{"data": {"id", "text", "edit_history_tweet_ids"}}``. As X, a
  reply's text gets the replied-to author's and that tweet's mentioned users' @handles in front
  (auto-populated reply metadata, less ``exclude_reply_user_ids`` and handles already leading
  the text); they do not count against the 280 weighted characters (``weighted_length(text,
  "x")``; over: 400 "Your Tweet text is too long..."). The same full text by the same user
  within :attr:`FakeX.duplicate_window` (deleted tweets aside): 403 duplicate content. A reply
  to a deleted or unknown tweet: 403 "You attempted to reply to a Tweet that is deleted or not
  visible to you." ``FakeX(reply_restriction=True)`` models X's 2026 self-serve rule (a reply
  only to a post whose author mentioned or quoted the replier; wording not verified).
- ``DELETE /2/tweets/:id`` -> ``{"data": {"deleted": true}}``; another's tweet: 403.
- ``GET /2/dm_events``, ``GET /2/dm_conversations/with/:participant_id/dm_events``,
  ``GET /2/dm_conversations/:dm_conversation_id/dm_events`` (dm_event.fields, expansions
  sender_id/participant_ids/referenced_tweets.id, event_types, max_results 1..100 default 100,
  pagination_token; the last 30 days, newest first).
- ``POST /2/dm_conversations/with/:participant_id/messages`` and
  ``POST /2/dm_conversations/:dm_conversation_id/messages`` {text} -> 201 ``{"data":
  {"dm_conversation_id": "<low id>-<high id>", "dm_event_id"}}``. A user may DM a recipient who
  accepts DMs from anyone, who allowed the sender (:meth:`FakeX.allow_dms`), or who has written
  to the sender before; else 403 ``{"detail": "You cannot send messages to this user.",
  "title": "Forbidden", ...}``. The wording is X's long-standing one (v1.1 error 349) in the v2
  problem shape: the v2 text is not verified, so an adapter should treat any 403 there as
  "DMs closed", not match the text.

Rate limits (:class:`Limits`, on by default with X's published per-user numbers): every answer
but 401/404 carries ``x-rate-limit-limit/-remaining/-reset`` (Unix seconds, of the injected
clock) for its endpoint and principal (a user, or ``"app"`` for the app-only bearer); fixed
windows that start at the first call, as X. Over: 429 with those headers (remaining 0) and
``{"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
"status": 429}``; no Retry-After (tweepy's ``TooManyRequests.reset_time`` reads the reset).
24-hour caps (:attr:`Limits.daily`) add ``x-user-limit-24hour-limit/-remaining/-reset``; a
429 from one leaves ``x-rate-limit-*`` describing the 15-minute window (as X is reported to do;
so tweepy's ``reset_time`` is too early: read the 24-hour header). Counted: :attr:`FakeX.calls`
(every request, by endpoint), :attr:`FakeX.rate_limited` (429s served by the limits) and
:attr:`FakeX.rate_limited_by`, :attr:`FakeX.statuses` (answers by status, injected faults
included, 0 = dropped), :meth:`FakeX.remaining`; :attr:`FakeX.requests` has each request (who,
how authenticated, parameters, status, clock time).

Faults: :meth:`FakeX.fail` answers the next ``times`` calls of an endpoint (``"*"``: any) with
a status (429 with rate-limit headers, 5xx problem bodies, ...) or drops the connection
(``drop=True``; by default after the call took effect, as a post that went out while the answer
was lost). ``applied=True`` makes a status fault take effect too (X's "503, but it posted").

What people do: :meth:`FakeX.user`, :meth:`FakeX.tweet` (mentions, hashtags and URLs become
entities; reply metadata as above), :meth:`FakeX.delete`, :meth:`FakeX.dm`,
:meth:`FakeX.allow_dms`. Read what the clients did: :attr:`FakeX.posted`, :attr:`FakeX.sent_dms`
(via the API), :attr:`FakeX.tweets`, :attr:`FakeX.dms` (everything); wait with
:meth:`FakeX.wait_tweet`, :meth:`FakeX.wait_dm`, :meth:`FakeX.wait_until` (no polling).

Facts about tweepy 4.17 ``AsyncClient`` that cost time to find out:

- ``get_users_mentions``, ``search_recent_tweets``, ``get_tweet(s)`` and ``get_user`` default
  to ``user_auth=False`` (Bearer): with OAuth 1.0a credentials only, pass ``user_auth=True``
  or they go out as ``Bearer None`` (401). ``get_me``, ``create_tweet``, ``delete_tweet`` and
  the DM methods default to user auth.
- ``wait_on_rate_limit=True`` with user auth crashes on a 429 (it retries with ``params=None``):
  catch ``TooManyRequests`` (``reset_time``, ``response.headers``) yourself.
- A non-2xx answer must be JSON (tweepy calls ``response.json()`` on it); a dropped answer is
  an ``aiohttp.ClientError`` (``ServerDisconnectedError``), not a tweepy exception.
- An unexpected keyword argument is logged with the deprecated ``Logger.warn``, a
  DeprecationWarning (an error under this project's pytest settings).
- The OAuth 1.0a user id is taken from the access token's prefix (``"<user id>-..."``), so
  :meth:`FakeX.token_for` makes tokens of that form.

A tiny HTTP/1.1 server on asyncio streams; the server needs nothing beyond the standard
library (and :mod:`helpforce.policies.length`); :func:`rewriting_session` imports aiohttp.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import secrets
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fakes.common import Observable, close_server
from helpforce.policies.length import weighted_length

if TYPE_CHECKING:
    import aiohttp

API_BASE = "https://api.twitter.com"
CONSUMER_KEY = "fake-x-consumer-key"
CONSUMER_SECRET = "fake-x-consumer-secret"
BEARER_TOKEN = "AAAAAAAAAAAAAAAAAAAAAFakeXAppOnlyBearerToken"
BRAND_ID = 4200000001
BRAND_USERNAME = "helpforce"
TIMEOUT = 10.0
#: X's snowflake epoch (ms)
TWEPOCH_MS = 1288834974657
MAX_TWEET_LENGTH = 280
MAX_DM_LENGTH = 10000
MENTIONS_KEPT = 800
SEARCH_DAYS = 7
DM_DAYS = 30
DAY = 86400.0

_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}

#: X's published per-user windows (requests, seconds); make them configuration in the adapter
DEFAULT_WINDOWS: dict[str, tuple[int, float]] = {
    "GET /2/users/me": (75, 900.0),
    "GET /2/users/:id": (900, 900.0),
    "GET /2/users/by/username/:username": (900, 900.0),
    "GET /2/users/:id/mentions": (300, 900.0),
    "GET /2/tweets/search/recent": (300, 900.0),
    "GET /2/tweets/:id": (900, 900.0),
    "GET /2/tweets": (900, 900.0),
    "POST /2/tweets": (100, 900.0),
    "DELETE /2/tweets/:id": (50, 900.0),
    "GET /2/dm_events": (300, 900.0),
    "GET /2/dm_conversations/with/:participant_id/dm_events": (300, 900.0),
    "GET /2/dm_conversations/:dm_conversation_id/dm_events": (300, 900.0),
    "POST /2/dm_conversations/with/:participant_id/messages": (15, 900.0),
    "POST /2/dm_conversations/:dm_conversation_id/messages": (15, 900.0),
}
#: 24-hour caps per user (``x-user-limit-24hour-*``)
DEFAULT_DAILY: dict[str, int] = {
    "POST /2/dm_conversations/with/:participant_id/messages": 1440,
    "POST /2/dm_conversations/:dm_conversation_id/messages": 1440,
}

TWEET_FIELDS = frozenset({
    "article", "attachments", "author_id", "card_uri", "community_id", "context_annotations",
    "conversation_id", "created_at", "display_text_range", "edit_controls",
    "edit_history_tweet_ids", "entities", "geo", "id", "in_reply_to_user_id", "lang",
    "media_metadata", "non_public_metrics", "note_tweet", "organic_metrics",
    "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets",
    "reply_settings", "scopes", "source", "text", "withheld"})
USER_FIELDS = frozenset({
    "affiliation", "connection_status", "created_at", "description", "entities", "id",
    "is_identity_verified", "location", "most_recent_tweet_id", "name", "parody",
    "pinned_tweet_id", "profile_banner_url", "profile_image_url", "protected",
    "public_metrics", "receives_your_dm", "subscription", "subscription_type", "url",
    "username", "verified", "verified_followers_count", "verified_type", "withheld"})
DM_EVENT_FIELDS = frozenset({
    "attachments", "created_at", "dm_conversation_id", "entities", "event_type", "id",
    "participant_ids", "referenced_tweets", "sender_id", "text"})
TWEET_EXPANSIONS = frozenset({
    "article.cover_media", "article.media_entities", "attachments.media_keys",
    "attachments.media_source_tweet", "attachments.poll_ids", "author_id",
    "edit_history_tweet_ids", "entities.mentions.username", "geo.place_id",
    "in_reply_to_user_id", "entities.note.mentions.username", "referenced_tweets.id",
    "referenced_tweets.id.attachments.media_keys", "referenced_tweets.id.author_id"})
USER_EXPANSIONS = frozenset({"affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id"})
DM_EXPANSIONS = frozenset({"attachments.media_keys", "participant_ids", "referenced_tweets.id",
                           "sender_id"})
EXTRA_FIELDS = ("media.fields", "place.fields", "poll.fields")

_MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,15})")
_HASHTAG_RE = re.compile(r"(?<![\w#])#(\w*[^\W\d]\w*)")
_URL_RE = re.compile(r"https?://[^\s]+")
_LEADING_MENTIONS_RE = re.compile(r"(?:@\w{1,15}\s+)*")
_STATUS_URL_RE = re.compile(r"https?://(?:www\.)?(?:x|twitter)\.com/\w+/status/(\d+)")


# -- time and ids ----------------------------------------------------------------------------------


class Clock:
    """Unix seconds that only a test moves: ``FakeX(clock=clock)``; ``clock.advance(901)``."""

    def __init__(self, start: float = 1767225600.0) -> None:  # 2026-01-01T00:00:00Z
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def iso(ts: float) -> str:
    """X's time format: ``2026-01-01T00:00:00.000Z``."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def snowflake_time(snowflake: int) -> float:
    """The Unix time an X id was made at."""
    return ((snowflake >> 22) + TWEPOCH_MS) / 1000.0


# -- the world's objects --------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """OAuth 1.0a user-context keys: ``AsyncClient(**creds.as_kwargs())``."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    def as_kwargs(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass
class XUser:
    id: int
    username: str
    name: str
    #: the "allow message requests from everyone" setting
    accepts_dms_from_anyone: bool = True
    #: who may DM this user anyway (people it follows, in X's terms)
    dm_allowed_from: set[int] = field(default_factory=set)
    description: str = ""
    protected: bool = False
    verified: bool = False
    created_at: float = 0.0


@dataclass
class Post:
    """A tweet (X calls them posts). ``text`` is as X shows it: a reply's auto-populated
    @handles in front; ``body`` is the text as its author wrote it."""

    id: int
    author_id: int
    text: str
    body: str
    created_at: float
    conversation_id: int
    in_reply_to_tweet_id: int | None = None
    in_reply_to_user_id: int | None = None
    quote_tweet_id: int | None = None
    #: the entities X computes: mentions (with user ids), hashtags, urls
    entities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: where the counted text starts (after the leading reply mentions), in code points
    display_start: int = 0
    #: created through the API (by a client under test), not by a test helper
    via_api: bool = False
    deleted: bool = False

    @property
    def mentioned_ids(self) -> list[int]:
        return [int(m["id"]) for m in self.entities.get("mentions", [])]

    @property
    def hashtags(self) -> list[str]:
        return [h["tag"] for h in self.entities.get("hashtags", [])]


@dataclass
class DmEvent:
    id: int
    sender_id: int
    recipient_id: int
    text: str
    created_at: float
    via_api: bool = False

    @property
    def conversation_id(self) -> str:
        return dm_conversation_id(self.sender_id, self.recipient_id)

    @property
    def participant_ids(self) -> list[int]:
        return sorted({self.sender_id, self.recipient_id})


def dm_conversation_id(a: int, b: int) -> str:
    """A one-to-one conversation's id, as X: ``"<lower id>-<higher id>"``."""
    low, high = sorted((a, b))
    return f"{low}-{high}"


@dataclass
class Call:
    """One request as the fake saw it."""

    method: str
    endpoint: str
    path: str
    params: dict[str, str]
    body: Any
    #: the acting user (None: app-only, or not authenticated)
    user_id: int | None
    #: "oauth1", "bearer-app", "bearer-user" or "none"
    auth: str
    #: the answer's status; 0 while being handled or when the connection was dropped
    status: int = 0
    #: the fake clock when it arrived
    at: float = 0.0


@dataclass
class Fault:
    endpoint: str
    status: int = 503
    times: int = 1
    #: close the connection without an answer
    drop: bool = False
    #: the call takes effect before the fault answers (default: for drops)
    applied: bool = False
    #: only calls by this user
    user_id: int | None = None
    detail: str = ""
    #: 429s: seconds until the x-rate-limit-reset the answer names (default: the window's)
    reset_in: float | None = None


@dataclass
class Limits:
    """X's rate limits: per endpoint and principal (user id, or "app"), fixed windows of
    ``(requests, seconds)`` from :attr:`windows` (endpoints not named: :attr:`default`), plus
    24-hour caps from :attr:`daily`. ``Limits.of({...})`` overrides the defaults; a test may
    also change :attr:`windows` while the fake runs. ``enforce=False``: headers only."""

    windows: dict[str, tuple[int, float]] = field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    daily: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_DAILY))
    default: tuple[int, float] = (900, 900.0)
    enforce: bool = True

    @classmethod
    def of(cls, windows: dict[str, tuple[int, float]] | None = None,
           daily: dict[str, int] | None = None, **kwargs: Any) -> Limits:
        return cls(windows={**DEFAULT_WINDOWS, **(windows or {})},
                   daily={**DEFAULT_DAILY, **(daily or {})}, **kwargs)

    def window(self, endpoint: str) -> tuple[int, float]:
        return self.windows.get(endpoint, self.default)


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body


class _Drop(Exception):
    """Close the connection without answering."""


def problem(status: int, title: str, detail: str, type_: str = "about:blank",
            **extra: Any) -> ApiError:
    """An X problem answer: ``{"title", "detail", "type", "status"}``."""
    return ApiError(status, {"title": title, "detail": detail, "type": type_,
                             "status": status, **extra})


def invalid(message: str, parameters: dict[str, list[str]] | None = None) -> ApiError:
    """X's 400 "Invalid Request" with one ``errors[]`` entry."""
    err: dict[str, Any] = {"parameters": parameters or {}, "message": message}
    return ApiError(400, {"errors": [err], "title": "Invalid Request",
                          "detail": "One or more parameters to your request was invalid.",
                          "type": "https://api.twitter.com/2/problems/invalid-request"})


def _forbidden(detail: str) -> ApiError:
    return problem(403, "Forbidden", detail)


def _not_found(kind: str, parameter: str, value: str) -> dict[str, Any]:
    what = "tweet" if kind == "tweet" else "user"
    key = "username" if parameter == "username" else "id"
    return {"value": value, "detail": f"Could not find {what} with {key}: [{value}].",
            "title": "Not Found Error", "resource_type": kind, "parameter": parameter,
            "resource_id": value, "type": "https://api.twitter.com/2/problems/resource-not-found"}


DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
REPLY_GONE = "You attempted to reply to a Tweet that is deleted or not visible to you."
QUOTE_GONE = "You attempted to quote a Tweet that is deleted or not visible to you."
TOO_LONG = ("Your Tweet text is too long. For more information on how Twitter determines text "
            "length see https://github.com/twitter/twitter-text.")
DM_CLOSED = "You cannot send messages to this user."
REPLY_RESTRICTED = ("Reply to this conversation is not allowed because you have not been "
                    "mentioned or otherwise engaged by the author of the post you are replying "
                    "to.")


# -- the session that reaches the fake -------------------------------------------------------------


def rewriting_session(base_url: str, *, api_base: str = API_BASE,
                      middlewares: Sequence[Any] = (), **kwargs: Any) -> aiohttp.ClientSession:
    """An aiohttp ``ClientSession`` that sends tweepy's ``https://api.twitter.com/...`` requests
    to ``base_url`` instead (path and encoded query kept, Host header set to match) and refuses
    any other URL (``aiohttp.InvalidURL``), so nothing leaves for the real X. Set it as the
    client's ``session``; tweepy never closes it: close it (``async with``). ``middlewares`` run
    after the rewrite (they see the rewritten request); ``kwargs`` go to ``ClientSession``.
    Create it inside the running loop."""
    import aiohttp
    from yarl import URL

    source = api_base.rstrip("/")
    target = base_url.rstrip("/")
    host = URL(target).host_port_subcomponent

    async def rewrite(req: aiohttp.ClientRequest,
                      handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
        url = str(req.url)
        if url != source and not url.startswith(source + "/"):
            raise aiohttp.InvalidURL(url, f"not an X API URL (only {source} is rewritten)")
        req.url = URL(target + url[len(source):], encoded=True)
        if host is not None:
            req.headers["Host"] = host
        return await handler(req)

    return aiohttp.ClientSession(middlewares=(rewrite, *middlewares), **kwargs)


# -- search queries --------------------------------------------------------------------------------


Predicate = Callable[[Post], bool]


class _Query:
    """X's search query language, the part a helpdesk needs (see the module docstring)."""

    def __init__(self, fake: FakeX, text: str) -> None:
        self.fake = fake
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.positive = False
        if not self.tokens:
            raise invalid("There were errors processing your request: the query is empty",
                          {"query": [text]})
        self.predicate = self._or()
        if self.pos != len(self.tokens):
            raise invalid(f"There were errors processing your request: unexpected "
                          f"'{self.tokens[self.pos]}'", {"query": [text]})
        if not self.positive:
            raise invalid("There were errors processing your request: Rules must contain a "
                          "non-negation term", {"query": [text]})

    @staticmethod
    def _tokenize(text: str) -> list[str]:
        tokens: list[str] = []
        i = 0
        while i < len(text):
            c = text[i]
            if c.isspace():
                i += 1
            elif c in "()":
                tokens.append(c)
                i += 1
            elif c == "-" and i + 1 < len(text) and not text[i + 1].isspace():
                tokens.append("-")
                i += 1
            elif c == '"':
                end = text.find('"', i + 1)
                end = len(text) if end < 0 else end
                tokens.append(text[i:end + 1])
                i = end + 1
            else:
                j = i
                while j < len(text) and not text[j].isspace() and text[j] not in '()"':
                    j += 1
                tokens.append(text[i:j])
                i = j
        return tokens

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._peek() == "OR":
            self.pos += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda p: any(f(p) for f in parts))

    def _and(self) -> Predicate:
        parts: list[Predicate] = []
        while (tok := self._peek()) is not None and tok not in (")", "OR"):
            parts.append(self._unary(negated=False))
        if not parts:
            raise invalid("There were errors processing your request: an operand is missing",
                          {"query": [" ".join(self.tokens)]})
        return parts[0] if len(parts) == 1 else (lambda p: all(f(p) for f in parts))

    def _unary(self, negated: bool) -> Predicate:
        tok = self._peek()
        if tok == "-":
            self.pos += 1
            inner = self._unary(not negated)
            return lambda p: not inner(p)
        if tok == "(":
            self.pos += 1
            inner = self._or()
            if self._peek() != ")":
                raise invalid("There were errors processing your request: missing ')'",
                              {"query": [" ".join(self.tokens)]})
            self.pos += 1
            return inner
        assert tok is not None
        self.pos += 1
        if not negated:
            self.positive = True
        return self._term(tok)

    def _user_matches(self, value: str) -> Callable[[int | None], bool]:
        if value.isdigit():
            wanted: int | None = int(value)
        else:
            user = self.fake.user_by_username(value)
            wanted = user.id if user else None
        return lambda uid: wanted is not None and uid == wanted

    def _term(self, tok: str) -> Predicate:
        if tok.startswith('"'):
            phrase = tok.strip('"').lower()
            return lambda p: phrase in p.text.lower()
        if tok.startswith("@") and len(tok) > 1:
            is_user = self._user_matches(tok[1:])
            return lambda p: any(is_user(uid) for uid in p.mentioned_ids)
        if tok.startswith("#") and len(tok) > 1:
            tag = tok[1:].lower()
            return lambda p: tag in (h.lower() for h in p.hashtags)
        op, sep, value = tok.partition(":")
        if sep and re.fullmatch(r"[A-Za-z_]+", op):
            return self._operator(op.lower(), value, tok)
        word = tok.lower()
        return lambda p: word in _words(p.text)

    def _operator(self, op: str, value: str, tok: str) -> Predicate:
        if op == "from":
            is_user = self._user_matches(value)
            return lambda p: is_user(p.author_id)
        if op == "to":
            is_user = self._user_matches(value)
            return lambda p: is_user(p.in_reply_to_user_id)
        if op in ("conversation_id", "in_reply_to_tweet_id", "quotes_of_tweet_id"):
            if not value.isdigit():
                raise invalid(f"There were errors processing your request: Invalid value "
                              f"'{value}' for operator '{op}'", {"query": [tok]})
            n = int(value)
            attr = {"conversation_id": "conversation_id",
                    "in_reply_to_tweet_id": "in_reply_to_tweet_id",
                    "quotes_of_tweet_id": "quote_tweet_id"}[op]
            return lambda p: getattr(p, attr) == n
        if op == "is":
            checks: dict[str, Predicate] = {
                "retweet": lambda p: False,
                "reply": lambda p: p.in_reply_to_tweet_id is not None,
                "quote": lambda p: p.quote_tweet_id is not None,
                "verified": lambda p: self.fake._user(p.author_id).verified,
            }
            if value in checks:
                return checks[value]
        if op == "has":
            keys = {"mentions": "mentions", "hashtags": "hashtags", "links": "urls"}
            if value in keys:
                key = keys[value]
                return lambda p: bool(p.entities.get(key))
        if op == "lang":
            return lambda p: value == "en"
        raise invalid(f"There were errors processing your request: Reference to invalid "
                      f"operator '{tok}'", {"query": [tok]})


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


# -- the fake --------------------------------------------------------------------------------------


@dataclass
class _Request:
    method: str
    endpoint: str
    params: dict[str, str]
    path_params: dict[str, str]
    body: Any
    user: XUser | None
    principal: str
    call: Call


class FakeX(Observable):
    _what = "the fake X"

    def __init__(self, *, clock: Callable[[], float] = time.time,
                 limits: Limits | dict[str, tuple[int, float]] | None = None,
                 brand_id: int = BRAND_ID, brand_username: str = BRAND_USERNAME,
                 brand_name: str = "Helpforce", consumer_key: str = CONSUMER_KEY,
                 consumer_secret: str = CONSUMER_SECRET, bearer_token: str = BEARER_TOKEN,
                 reply_restriction: bool = False, duplicate_window: float = DAY) -> None:
        self.clock = clock
        if limits is None:
            limits = Limits()
        elif isinstance(limits, dict):
            limits = Limits.of(limits)
        self.limits: Limits = limits
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.bearer_token = bearer_token
        #: X's 2026 self-serve rule: reply only to posts that mentioned or quoted you
        self.reply_restriction = reply_restriction
        #: how long the same text by the same user counts as a duplicate (X does not say)
        self.duplicate_window = duplicate_window
        self.users: dict[int, XUser] = {}
        #: every tweet in order of creation (deleted ones flagged)
        self.tweets: list[Post] = []
        self._by_id: dict[int, Post] = {}
        #: every DM event, in order
        self.dms: list[DmEvent] = []
        #: access token -> (user id, token secret)
        self._oauth_tokens: dict[str, tuple[int, str]] = {}
        self._credentials: dict[int, Credentials] = {}
        #: bearer token -> user id (None: app-only)
        self._bearers: dict[str, int | None] = {bearer_token: None}
        self._last_id = 0
        #: requests by endpoint key ("GET /2/users/:id/mentions"), answered or not
        self.calls: Counter[str] = Counter()
        #: each request in order
        self.requests: list[Call] = []
        #: answers by HTTP status (0: dropped), injected faults included
        self.statuses: Counter[int] = Counter()
        #: 429s served because a limit was exceeded (injected faults not counted)
        self.rate_limited = 0
        self.rate_limited_by: Counter[str] = Counter()
        #: exceptions raised by the fake's own handlers (answered 500): a test bug or a fake bug
        self.server_errors: list[BaseException] = []
        self.faults: list[Fault] = []
        #: (endpoint, principal, "window"|"daily") -> [window start, calls]
        self._windows: dict[tuple[str, str, str], list[float]] = {}
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        self.port = 0
        self._routes: list[tuple[str, re.Pattern[str], str, str, Callable[..., Any]]] = []
        self._build_routes()
        self.brand = self.user(brand_id, brand_username, brand_name)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> FakeX:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            await close_server(self._server, self._conns)
            self._server = None

    async def __aenter__(self) -> FakeX:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What replaces ``https://api.twitter.com``."""
        return f"http://127.0.0.1:{self.port}"

    # -- people and credentials --------------------------------------------------------------------

    def user(self, user_id: int, username: str, name: str = "", *,
             accepts_dms_from_anyone: bool = True, **attrs: Any) -> XUser:
        """Add (or replace) a person; ``attrs``: other :class:`XUser` fields."""
        if not re.fullmatch(r"\w{1,15}", username):
            raise ValueError(f"not an X user name: {username!r}")
        u = XUser(user_id, username, name or username, accepts_dms_from_anyone,
                  created_at=attrs.pop("created_at", self.clock() - 365 * DAY), **attrs)
        self.users[user_id] = u
        return u

    def user_by_username(self, username: str) -> XUser | None:
        low = username.lower()
        return next((u for u in self.users.values() if u.username.lower() == low), None)

    def _user(self, user_id: int) -> XUser:
        return self.users[user_id]

    def token_for(self, user_id: int) -> Credentials:
        """OAuth 1.0a credentials acting as ``user_id`` (the same ones until revoked)."""
        if user_id not in self.users:
            raise KeyError(f"no user {user_id}")
        creds = self._credentials.get(user_id)
        if creds is None:
            token = f"{user_id}-{secrets.token_hex(12)}"
            secret = secrets.token_hex(16)
            self._oauth_tokens[token] = (user_id, secret)
            creds = Credentials(self.consumer_key, self.consumer_secret, token, secret)
            self._credentials[user_id] = creds
        return creds

    def bearer_for(self, user_id: int) -> str:
        """An OAuth 2.0 user-context access token (``AsyncClient(bearer_token=...)``)."""
        token = f"fake-oauth2-{user_id}-{secrets.token_hex(8)}"
        self._bearers[token] = user_id
        return token

    def revoke(self, user_id: int) -> None:
        """The user's tokens stop working (401), as when access is revoked."""
        creds = self._credentials.pop(user_id, None)
        if creds is not None:
            self._oauth_tokens.pop(creds.access_token, None)
        for token, uid in list(self._bearers.items()):
            if uid == user_id:
                del self._bearers[token]

    def allow_dms(self, recipient_id: int, sender_id: int) -> None:
        """``sender_id`` may DM ``recipient_id`` even if it does not accept DMs from anyone."""
        self._user(recipient_id).dm_allowed_from.add(sender_id)

    def can_dm(self, sender_id: int, recipient_id: int) -> bool:
        recipient = self.users.get(recipient_id)
        if recipient is None or sender_id == recipient_id:
            return False
        if recipient.accepts_dms_from_anyone or sender_id in recipient.dm_allowed_from:
            return True
        return any(d.sender_id == recipient_id and d.recipient_id == sender_id for d in self.dms)

    # -- ids -------------------------------------------------------------------------------------

    def snowflake(self) -> int:
        """A new id: X's layout (ms since its epoch << 22), strictly increasing."""
        candidate = (int(self.clock() * 1000) - TWEPOCH_MS) << 22
        self._last_id = max(candidate, self._last_id + 1)
        return self._last_id

    # -- what people do ----------------------------------------------------------------------------

    def tweet(self, author_id: int, text: str, *, reply_to: int | None = None,
              quote: int | None = None, exclude_reply_user_ids: Iterable[int] = ()) -> int:
        """``author_id`` posts ``text`` (a reply to ``reply_to``, quoting ``quote``); returns
        the tweet's id. No limits, duplicate or length checks: people do what they do."""
        return self._create_post(self._user(author_id), text, reply_to, quote,
                                 exclude_reply_user_ids, via_api=False).id

    def delete(self, tweet_id: int) -> None:
        """Its author deletes the tweet: gone from timelines, search and lookups."""
        self._by_id[tweet_id].deleted = True
        self._notify()

    def dm(self, sender_id: int, recipient_id: int, text: str) -> DmEvent:
        """``sender_id`` sends a DM (PermissionError if the recipient does not accept it)."""
        if not self.can_dm(sender_id, recipient_id):
            raise PermissionError(f"user {recipient_id} does not accept DMs from {sender_id}")
        return self._create_dm(sender_id, recipient_id, text, via_api=False)

    def get(self, tweet_id: int) -> Post:
        return self._by_id[tweet_id]

    def replies_to(self, tweet_id: int) -> list[Post]:
        return [p for p in self.tweets if p.in_reply_to_tweet_id == tweet_id and not p.deleted]

    def _create_dm(self, sender_id: int, recipient_id: int, text: str, *,
                   via_api: bool) -> DmEvent:
        event = DmEvent(self.snowflake(), sender_id, recipient_id, text, self.clock(), via_api)
        self.dms.append(event)
        self._notify()
        return event

    def _reply_users(self, author: XUser, target: Post, exclude: Iterable[int]) -> list[XUser]:
        excluded = set(exclude) | {author.id}
        out: list[XUser] = []
        for uid in [target.author_id, *target.mentioned_ids]:
            if uid not in excluded and uid in self.users and self.users[uid] not in out:
                out.append(self.users[uid])
        return out[:50]

    def _compose(self, author: XUser, body: str, target: Post | None,
                 exclude: Iterable[int]) -> tuple[str, int]:
        """(the text X shows, where its counted part starts): a reply gets the @handles of
        the replied-to author and of the users that tweet mentions (less ``exclude`` and the
        replier) in front, unless they already lead ``body``; leading handles that are all
        reply handles do not count against the limit."""
        if target is None:
            return body, 0
        handles = [u.username for u in self._reply_users(author, target, exclude)]
        wanted = {h.lower() for h in handles}
        run = _LEADING_MENTIONS_RE.match(body)
        present = {h.lower() for h in _MENTION_RE.findall(run.group() if run else "")}
        text = "".join(f"@{h} " for h in handles if h.lower() not in present) + body
        lead = _LEADING_MENTIONS_RE.match(text)
        lead_run = lead.group() if lead else ""
        if lead_run and {h.lower() for h in _MENTION_RE.findall(lead_run)} <= wanted:
            return text, len(lead_run)
        return text, len(text) - len(body)

    def _create_post(self, author: XUser, body: str, reply_to: int | None, quote: int | None,
                     exclude: Iterable[int], *, via_api: bool) -> Post:
        target = self._by_id.get(reply_to) if reply_to is not None else None
        if reply_to is not None and (target is None or target.deleted):
            raise _forbidden(REPLY_GONE)
        text, display_start = self._compose(author, body, target, exclude)
        tid = self.snowflake()
        post = Post(
            id=tid, author_id=author.id, text=text, body=body, created_at=self.clock(),
            conversation_id=target.conversation_id if target is not None else tid,
            in_reply_to_tweet_id=target.id if target is not None else None,
            in_reply_to_user_id=target.author_id if target is not None else None,
            quote_tweet_id=quote, entities=self._entities(text), display_start=display_start,
            via_api=via_api)
        self.tweets.append(post)
        self._by_id[tid] = post
        self._notify()
        return post

    def _entities(self, text: str) -> dict[str, list[dict[str, Any]]]:
        ents: dict[str, list[dict[str, Any]]] = {}
        mentions = []
        for m in _MENTION_RE.finditer(text):
            u = self.user_by_username(m.group(1))
            if u is not None:
                mentions.append({"start": m.start(), "end": m.end(), "username": u.username,
                                 "id": str(u.id)})
        if mentions:
            ents["mentions"] = mentions
        tags = [{"start": m.start(), "end": m.end(), "tag": m.group(1)}
                for m in _HASHTAG_RE.finditer(text)]
        if tags:
            ents["hashtags"] = tags
        urls = []
        for m in _URL_RE.finditer(text):
            url = m.group().rstrip(".,;:!?)")
            short = f"https://t.co/{secrets.token_urlsafe(7)[:10]}"
            display = re.sub(r"^https?://(www\.)?", "", url)
            urls.append({"start": m.start(), "end": m.start() + len(url), "url": short,
                         "expanded_url": url,
                         "display_url": display if len(display) <= 26 else display[:25] + "…"})
        if urls:
            ents["urls"] = urls
        return ents

    # -- faults ----------------------------------------------------------------------------------

    def fail(self, endpoint: str, status: int = 503, *, times: int = 1, drop: bool = False,
             applied: bool | None = None, user_id: int | None = None, detail: str = "",
             reset_in: float | None = None) -> Fault:
        """The next ``times`` calls of ``endpoint`` (an endpoint key, ``"*"`` for any; only
        ``user_id``'s if given) are answered ``status`` (429: with rate-limit headers, reset
        ``reset_in`` seconds ahead) or, with ``drop``, get no answer. ``applied``: the call
        takes effect first (default: True for drops, False otherwise)."""
        fault = Fault(endpoint, status, times, drop, drop if applied is None else applied,
                      user_id, detail, reset_in)
        self.faults.append(fault)
        return fault

    def _fault_for(self, endpoint: str, user_id: int | None) -> Fault | None:
        for fault in self.faults:
            if fault.times <= 0 or fault.endpoint not in (endpoint, "*"):
                continue
            if fault.user_id is not None and fault.user_id != user_id:
                continue
            fault.times -= 1
            return fault
        return None

    # -- rate limits -------------------------------------------------------------------------------

    def _state(self, endpoint: str, principal: str, kind: str, seconds: float) -> list[float]:
        now = self.clock()
        key = (endpoint, principal, kind)
        state = self._windows.get(key)
        if state is None or now >= state[0] + seconds:
            state = self._windows[key] = [now, 0]
        return state

    def remaining(self, endpoint: str, principal: int | str) -> int:
        """Calls left in the current window of ``endpoint`` for a user id (or "app")."""
        limit, seconds = self.limits.window(endpoint)
        state = self._state(endpoint, str(principal), "window", seconds)
        return max(0, limit - int(state[1]))

    def _limit_headers(self, endpoint: str, principal: str) -> dict[str, str]:
        limit, seconds = self.limits.window(endpoint)
        state = self._state(endpoint, principal, "window", seconds)
        headers = {"x-rate-limit-limit": str(limit),
                   "x-rate-limit-remaining": str(max(0, limit - int(state[1]))),
                   "x-rate-limit-reset": str(int(state[0] + seconds + 0.999))}
        daily = self.limits.daily.get(endpoint)
        if daily is not None and principal != "app":
            d = self._state(endpoint, principal, "daily", DAY)
            headers.update({"x-user-limit-24hour-limit": str(daily),
                            "x-user-limit-24hour-remaining": str(max(0, daily - int(d[1]))),
                            "x-user-limit-24hour-reset": str(int(d[0] + DAY + 0.999))})
        return headers

    def _take(self, endpoint: str, principal: str) -> bool:
        """Count one call against the limits; False if one of them is exhausted."""
        limit, seconds = self.limits.window(endpoint)
        state = self._state(endpoint, principal, "window", seconds)
        daily = self.limits.daily.get(endpoint) if principal != "app" else None
        d = self._state(endpoint, principal, "daily", DAY) if daily is not None else None
        if self.limits.enforce and (
                state[1] >= limit or (d is not None and daily is not None and d[1] >= daily)):
            return False
        state[1] += 1
        if d is not None:
            d[1] += 1
        return True

    # -- reading what the clients did --------------------------------------------------------------

    @property
    def posted(self) -> list[Post]:
        """Tweets created through the API, in order."""
        return [p for p in self.tweets if p.via_api]

    @property
    def sent_dms(self) -> list[DmEvent]:
        """DMs created through the API, in order."""
        return [d for d in self.dms if d.via_api]

    def calls_of(self, endpoint: str, user_id: int | None = None) -> list[Call]:
        return [c for c in self.requests
                if c.endpoint == endpoint and (user_id is None or c.user_id == user_id)]

    async def wait_tweet(self, where: Callable[[Post], bool] = lambda p: True, *,
                         after: int = 0, timeout: float = TIMEOUT) -> Post:
        """The first tweet created through the API (index >= ``after`` in :attr:`posted`)
        that matches ``where``."""
        def find() -> Post | None:
            return next((p for p in self.posted[after:] if where(p)), None)

        found: Post = await self.wait_until(find, timeout)
        return found

    async def wait_dm(self, where: Callable[[DmEvent], bool] = lambda d: True, *,
                      after: int = 0, timeout: float = TIMEOUT) -> DmEvent:
        """The first DM sent through the API (index >= ``after`` in :attr:`sent_dms`) that
        matches ``where``."""
        def find() -> DmEvent | None:
            return next((d for d in self.sent_dms[after:] if where(d)), None)

        found: DmEvent = await self.wait_until(find, timeout)
        return found

    # -- payloads ----------------------------------------------------------------------------------

    def _user_payload(self, u: XUser, fields: set[str], viewer: XUser | None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": str(u.id), "name": u.name, "username": u.username}
        if "created_at" in fields:
            out["created_at"] = iso(u.created_at)
        if "description" in fields:
            out["description"] = u.description
        if "protected" in fields:
            out["protected"] = u.protected
        if "verified" in fields:
            out["verified"] = u.verified
        if "verified_type" in fields:
            out["verified_type"] = "blue" if u.verified else "none"
        if "profile_image_url" in fields:
            out["profile_image_url"] = f"https://pbs.twimg.com/profile_images/{u.id}/a_normal.jpg"
        if "url" in fields:
            out["url"] = ""
        if "public_metrics" in fields:
            out["public_metrics"] = {
                "followers_count": 0, "following_count": 0, "listed_count": 0, "like_count": 0,
                "tweet_count": sum(1 for p in self.tweets if p.author_id == u.id
                                   and not p.deleted)}
        if "most_recent_tweet_id" in fields:
            mine = [p for p in self.tweets if p.author_id == u.id and not p.deleted]
            if mine:
                out["most_recent_tweet_id"] = str(mine[-1].id)
        if "receives_your_dm" in fields and viewer is not None:
            out["receives_your_dm"] = self.can_dm(viewer.id, u.id)
        return out

    def _tweet_payload(self, p: Post, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": str(p.id), "text": p.text,
                               "edit_history_tweet_ids": [str(p.id)]}
        if "author_id" in fields:
            out["author_id"] = str(p.author_id)
        if "conversation_id" in fields:
            out["conversation_id"] = str(p.conversation_id)
        if "created_at" in fields:
            out["created_at"] = iso(p.created_at)
        if "in_reply_to_user_id" in fields and p.in_reply_to_user_id is not None:
            out["in_reply_to_user_id"] = str(p.in_reply_to_user_id)
        if "referenced_tweets" in fields:
            refs = []
            if p.in_reply_to_tweet_id is not None:
                refs.append({"type": "replied_to", "id": str(p.in_reply_to_tweet_id)})
            if p.quote_tweet_id is not None:
                refs.append({"type": "quoted", "id": str(p.quote_tweet_id)})
            if refs:
                out["referenced_tweets"] = refs
        if "entities" in fields and p.entities:
            out["entities"] = json.loads(json.dumps(p.entities))
        if "display_text_range" in fields:
            out["display_text_range"] = [p.display_start, len(p.text)]
        if "lang" in fields:
            out["lang"] = "en"
        if "possibly_sensitive" in fields:
            out["possibly_sensitive"] = False
        if "reply_settings" in fields:
            out["reply_settings"] = "everyone"
        if "edit_controls" in fields:
            out["edit_controls"] = {"edits_remaining": 5, "is_edit_eligible": False,
                                    "editable_until": iso(p.created_at + 3600)}
        if "public_metrics" in fields:
            live = [q for q in self.tweets if not q.deleted]
            out["public_metrics"] = {
                "retweet_count": 0, "like_count": 0, "bookmark_count": 0,
                "impression_count": 0,
                "reply_count": sum(1 for q in live if q.in_reply_to_tweet_id == p.id),
                "quote_count": sum(1 for q in live if q.quote_tweet_id == p.id)}
        return out

    def _dm_payload(self, d: DmEvent, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": str(d.id), "event_type": "MessageCreate", "text": d.text}
        if "created_at" in fields:
            out["created_at"] = iso(d.created_at)
        if "sender_id" in fields:
            out["sender_id"] = str(d.sender_id)
        if "dm_conversation_id" in fields:
            out["dm_conversation_id"] = d.conversation_id
        if "referenced_tweets" in fields:
            refs = [{"id": m} for m in _STATUS_URL_RE.findall(d.text)]
            if refs:
                out["referenced_tweets"] = refs
        return out

    def _tweets_answer(self, req: _Request, posts: list[Post]) -> dict[str, Any]:
        """``data`` and ``includes`` for ``posts`` as the request's fields/expansions ask."""
        fields = _csv(req.params, "tweet.fields", TWEET_FIELDS)
        ufields = _csv(req.params, "user.fields", USER_FIELDS)
        expansions = _csv(req.params, "expansions", TWEET_EXPANSIONS)
        out: dict[str, Any] = {}
        if posts:
            out["data"] = [self._tweet_payload(p, fields) for p in posts]
        user_ids: list[int] = []
        ref_posts: list[Post] = []

        def want_user(uid: int | None) -> None:
            if uid is not None and uid in self.users and uid not in user_ids:
                user_ids.append(uid)

        for p in posts:
            if "author_id" in expansions:
                want_user(p.author_id)
            if "in_reply_to_user_id" in expansions:
                want_user(p.in_reply_to_user_id)
            if "entities.mentions.username" in expansions:
                for uid in p.mentioned_ids:
                    want_user(uid)
            if {"referenced_tweets.id", "referenced_tweets.id.author_id"} & expansions:
                for ref in (p.in_reply_to_tweet_id, p.quote_tweet_id):
                    q = self._by_id.get(ref) if ref is not None else None
                    if q is not None and not q.deleted and q not in ref_posts:
                        ref_posts.append(q)
        if "referenced_tweets.id.author_id" in expansions:
            for q in ref_posts:
                want_user(q.author_id)
        includes: dict[str, Any] = {}
        if user_ids:
            includes["users"] = [self._user_payload(self.users[u], ufields, req.user)
                                 for u in user_ids]
        if ref_posts and "referenced_tweets.id" in expansions:
            includes["tweets"] = [self._tweet_payload(q, fields) for q in ref_posts]
        if includes:
            out["includes"] = includes
        return out

    # -- the HTTP server ---------------------------------------------------------------------------

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
                if len(parts) < 3:
                    break
                method, target = parts[0].upper(), parts[1]
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = h.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                body = await reader.readexactly(length) if length else b""
                try:
                    status, extra, payload = await self._dispatch(method, target, headers, body)
                except _Drop:
                    break
                data = json.dumps(payload).encode()
                head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                        "Content-Type: application/json; charset=utf-8\r\n"
                        f"Content-Length: {len(data)}\r\n")
                head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                close = headers.get("connection", "").lower() == "close"
                head += "Connection: close\r\n\r\n" if close else "Connection: keep-alive\r\n\r\n"
                writer.write(head.encode("latin-1") + data)
                await writer.drain()
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # stopped: this task is the connection's top level, nothing awaits it
        finally:
            self._conns.discard(task)
            writer.close()

    def _build_routes(self) -> None:
        seg = r"([^/]+)"
        table: list[tuple[str, str, str, Callable[..., Any]]] = [
            ("GET", "/2/users/me", "", self._api_me),
            ("GET", f"/2/users/by/username/{seg}", "username", self._api_user_by_username),
            ("GET", f"/2/users/{seg}/mentions", "id", self._api_mentions),
            ("GET", f"/2/users/{seg}", "id", self._api_user),
            ("GET", "/2/tweets/search/recent", "", self._api_search),
            ("GET", "/2/tweets", "", self._api_tweets),
            ("POST", "/2/tweets", "", self._api_create_tweet),
            ("GET", f"/2/tweets/{seg}", "id", self._api_tweet),
            ("DELETE", f"/2/tweets/{seg}", "id", self._api_delete_tweet),
            ("GET", "/2/dm_events", "", self._api_dm_events),
            ("GET", f"/2/dm_conversations/with/{seg}/dm_events", "participant_id",
             self._api_dm_events),
            ("GET", f"/2/dm_conversations/{seg}/dm_events", "dm_conversation_id",
             self._api_dm_events),
            ("POST", f"/2/dm_conversations/with/{seg}/messages", "participant_id",
             self._api_send_dm),
            ("POST", f"/2/dm_conversations/{seg}/messages", "dm_conversation_id",
             self._api_send_dm),
        ]
        for method, pattern, param, handler in table:
            endpoint = f"{method} {pattern.replace(seg, ':' + param)}"
            self._routes.append((method, re.compile(pattern), endpoint, param, handler))

    def _route(self, method: str, path: str) -> tuple[str, dict[str, str], Callable[..., Any]]:
        for m, pattern, endpoint, name, handler in self._routes:
            match = pattern.fullmatch(path)
            if m == method and match:
                params = {name: urllib.parse.unquote(match.group(1))} if name else {}
                return endpoint, params, handler
        raise problem(404, "Not Found Error", f"Sorry, {method} {path} does not exist.",
                      "https://api.twitter.com/2/problems/resource-not-found")

    def _authenticate(self, header: str) -> tuple[XUser | None, str, str]:
        """(acting user, principal, auth kind) or 401."""
        unauthorized = problem(401, "Unauthorized", "Unauthorized")
        scheme, _, rest = header.partition(" ")
        if scheme == "Bearer":
            if rest not in self._bearers:
                raise unauthorized
            uid = self._bearers[rest]
            if uid is None:
                return None, "app", "bearer-app"
            return self._user(uid), str(uid), "bearer-user"
        if scheme == "OAuth":
            fields = {k: urllib.parse.unquote(v)
                      for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
            if not all(fields.get(k) for k in
                       ("oauth_consumer_key", "oauth_token", "oauth_signature")):
                raise unauthorized
            if fields["oauth_consumer_key"] != self.consumer_key:
                raise unauthorized
            entry = self._oauth_tokens.get(fields["oauth_token"])
            if entry is None or entry[0] not in self.users:
                raise unauthorized
            return self._user(entry[0]), str(entry[0]), "oauth1"
        raise unauthorized

    async def _dispatch(self, method: str, target: str, headers: dict[str, str],
                        raw: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
        parts = urllib.parse.urlsplit(target)
        params = {k: v[-1] for k, v in
                  urllib.parse.parse_qs(parts.query, keep_blank_values=True).items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        call = Call(method, "", parts.path, params, body, None, "none", at=self.clock())
        self.requests.append(call)
        extra: dict[str, str] = {}
        try:
            endpoint, path_params, handler = self._route(method, parts.path)
            call.endpoint = endpoint
            self.calls[endpoint] += 1
            user, principal, call.auth = self._authenticate(headers.get("authorization", ""))
            call.user_id = user.id if user is not None else None
            req = _Request(method, endpoint, params, path_params, body, user, principal, call)
            fault = self._fault_for(endpoint, call.user_id)
            if fault is not None:
                if fault.applied:
                    self._take(endpoint, principal)
                    await self._handle(handler, req)
                if fault.drop:
                    raise _Drop()
                extra = self._limit_headers(endpoint, principal)
                if fault.status == 429:
                    extra["x-rate-limit-remaining"] = "0"
                    if fault.reset_in is not None:
                        extra["x-rate-limit-reset"] = str(int(self.clock() + fault.reset_in))
                raise problem(fault.status, _REASONS.get(fault.status, "Error"),
                              fault.detail or _REASONS.get(fault.status, "Error"))
            if not self._take(endpoint, principal):
                self.rate_limited += 1
                self.rate_limited_by[endpoint] += 1
                extra = self._limit_headers(endpoint, principal)
                raise problem(429, "Too Many Requests", "Too Many Requests")
            extra = self._limit_headers(endpoint, principal)
            status, payload = await self._handle(handler, req)
        except _Drop:
            call.status = 0
            self.statuses[0] += 1
            raise
        except ApiError as exc:
            call.status = exc.status
            self.statuses[exc.status] += 1
            return exc.status, extra, exc.body
        call.status = status
        self.statuses[status] += 1
        return status, extra, payload

    async def _handle(self, handler: Callable[..., Any],
                      req: _Request) -> tuple[int, dict[str, Any]]:
        try:
            result: tuple[int, dict[str, Any]] = await handler(req)
        except ApiError:
            raise
        except Exception as exc:  # a bug in the fake or a malformed test request
            self.server_errors.append(exc)
            raise problem(500, "Internal Server Error", repr(exc)) from exc
        return result

    # -- request helpers -----------------------------------------------------------------------

    def _acting(self, req: _Request) -> XUser:
        if req.user is None:
            raise problem(
                403, "Unsupported Authentication",
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint."
                "  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 "
                "User Context].", "https://api.twitter.com/2/problems/unsupported-authentication")
        return req.user

    def _check_params(self, req: _Request, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for name in req.params:
            if name not in allowed:
                raise invalid(f"The query parameter [{name}] is not one of "
                              f"[{','.join(sorted(allowed))}]", {name: [req.params[name]]})

    # -- endpoints: users --------------------------------------------------------------------------

    async def _api_me(self, req: _Request) -> tuple[int, dict[str, Any]]:
        me = self._acting(req)
        self._check_params(req, ("expansions", "tweet.fields", "user.fields"))
        _csv(req.params, "expansions", USER_EXPANSIONS)
        _csv(req.params, "tweet.fields", TWEET_FIELDS)
        return 200, {"data": self._user_payload(
            me, _csv(req.params, "user.fields", USER_FIELDS), me)}

    async def _api_user(self, req: _Request) -> tuple[int, dict[str, Any]]:
        raw = req.path_params["id"]
        uid = _id(raw, "id")
        return self._user_answer(req, self.users.get(uid), "id", raw)

    async def _api_user_by_username(self, req: _Request) -> tuple[int, dict[str, Any]]:
        name = req.path_params["username"]
        if not re.fullmatch(r"\w{1,15}", name):
            raise invalid(f"The `username` query parameter value [{name}] does not match "
                          r"^[A-Za-z0-9_]{1,15}$", {"username": [name]})
        return self._user_answer(req, self.user_by_username(name), "username", name)

    def _user_answer(self, req: _Request, u: XUser | None, parameter: str,
                     value: str) -> tuple[int, dict[str, Any]]:
        self._check_params(req, ("expansions", "tweet.fields", "user.fields"))
        _csv(req.params, "expansions", USER_EXPANSIONS)
        _csv(req.params, "tweet.fields", TWEET_FIELDS)
        fields = _csv(req.params, "user.fields", USER_FIELDS)
        if u is None:
            return 200, {"errors": [_not_found("user", parameter, value)]}
        return 200, {"data": self._user_payload(u, fields, req.user)}

    # -- endpoints: timelines and search ---------------------------------------------------------

    def _page(self, req: _Request, posts: list[Post], token_param: str, lo: int, hi: int,
              default: int) -> tuple[int, dict[str, Any]]:
        """Filter ``posts`` (newest first) by ids and times, then one page of them."""
        max_results = _int_param(req.params, "max_results", lo, hi, default)
        since = _opt_id(req.params, "since_id")
        until = _opt_id(req.params, "until_id")
        start = _opt_time(req.params, "start_time")
        end = _opt_time(req.params, "end_time")
        below = _decode_token(req.params, token_param)
        selected = [p for p in posts
                    if (since is None or p.id > since) and (until is None or p.id < until)
                    and (start is None or p.created_at >= start)
                    and (end is None or p.created_at < end)
                    and (below is None or p.id < below)]
        page = selected[:max_results]
        out = self._tweets_answer(req, page)
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"] = str(page[0].id)
            meta["oldest_id"] = str(page[-1].id)
        if len(selected) > len(page):
            meta["next_token"] = _encode_token(page[-1].id)
        out["meta"] = meta
        return 200, out

    async def _api_mentions(self, req: _Request) -> tuple[int, dict[str, Any]]:
        self._check_params(req, ("end_time", "expansions", "max_results", "media.fields",
                                 "pagination_token", "place.fields", "poll.fields", "since_id",
                                 "start_time", "tweet.fields", "until_id", "user.fields"))
        raw = req.path_params["id"]
        uid = _id(raw, "id")
        if uid not in self.users:
            return 200, {"errors": [_not_found("user", "id", raw)]}
        timeline = [p for p in reversed(self.tweets)
                    if not p.deleted and uid in p.mentioned_ids][:MENTIONS_KEPT]
        return self._page(req, timeline, "pagination_token", 5, 100, 10)

    async def _api_search(self, req: _Request) -> tuple[int, dict[str, Any]]:
        self._check_params(req, ("end_time", "expansions", "max_results", "media.fields",
                                 "next_token", "place.fields", "poll.fields", "query",
                                 "since_id", "sort_order", "start_time", "tweet.fields",
                                 "until_id", "user.fields"))
        text = req.params.get("query", "")
        if not text:
            raise invalid("The `query` query parameter can not be empty", {"query": [""]})
        if len(text) > 512:
            raise invalid(f"There were errors processing your request: Rule text exceeds the "
                          f"maximum length of 512 characters (got {len(text)})",
                          {"query": [text]})
        oldest = self.clock() - SEARCH_DAYS * DAY
        for name in ("since_id", "until_id"):
            value = _opt_id(req.params, name)
            if value is not None and snowflake_time(value) < oldest:
                raise invalid(f"Invalid '{name}':'{value}'. '{name}' must be a tweet id "
                              f"created after {iso(oldest)}.", {name: [str(value)]})
        predicate = _Query(self, text).predicate
        found = [p for p in reversed(self.tweets)
                 if not p.deleted and p.created_at >= oldest and predicate(p)]
        return self._page(req, found, "next_token", 10, 100, 10)

    async def _api_tweet(self, req: _Request) -> tuple[int, dict[str, Any]]:
        self._check_params(req, ("expansions", "tweet.fields", "user.fields", *EXTRA_FIELDS))
        raw = req.path_params["id"]
        p = self._by_id.get(_id(raw, "id"))
        if p is None or p.deleted:
            _csv(req.params, "tweet.fields", TWEET_FIELDS)
            return 200, {"errors": [_not_found("tweet", "id", raw)]}
        out = self._tweets_answer(req, [p])
        out["data"] = out["data"][0]
        return 200, out

    async def _api_tweets(self, req: _Request) -> tuple[int, dict[str, Any]]:
        self._check_params(req, ("ids", "expansions", "tweet.fields", "user.fields",
                                 *EXTRA_FIELDS))
        raw = [s for s in req.params.get("ids", "").split(",") if s]
        if not 1 <= len(raw) <= 100:
            raise invalid(f"The `ids` query parameter value [{req.params.get('ids', '')}] is "
                          "not between 1 and 100", {"ids": [req.params.get("ids", "")]})
        found: list[Post] = []
        errors = []
        for s in raw:
            p = self._by_id.get(_id(s, "ids"))
            if p is None or p.deleted:
                errors.append(_not_found("tweet", "ids", s))
            else:
                found.append(p)
        out = self._tweets_answer(req, found)
        if errors:
            out["errors"] = errors
        return 200, out

    # -- endpoints: posting ----------------------------------------------------------------------

    async def _api_create_tweet(self, req: _Request) -> tuple[int, dict[str, Any]]:
        me = self._acting(req)
        body = req.body if isinstance(req.body, dict) else {}
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise invalid("Post text is required and must not be empty (no media given).",
                          {"text": [str(text)]})
        reply = body.get("reply") or {}
        reply_to = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        exclude = reply.get("exclude_reply_user_ids", []) if isinstance(reply, dict) else []
        reply_id = _id(str(reply_to), "reply.in_reply_to_tweet_id") if reply_to else None
        quote = body.get("quote_tweet_id")
        quote_id = _id(str(quote), "quote_tweet_id") if quote else None
        if quote_id is not None:
            q = self._by_id.get(quote_id)
            if q is None or q.deleted:
                raise _forbidden(QUOTE_GONE)
        if reply_id is not None:
            target = self._by_id.get(reply_id)
            if target is None or target.deleted:
                raise _forbidden(REPLY_GONE)
            if self.reply_restriction and not self._engaged(me, target):
                raise _forbidden(REPLY_RESTRICTED)
        excluded = [int(u) for u in exclude]
        target = self._by_id.get(reply_id) if reply_id is not None else None
        full, start = self._compose(me, text, target, excluded)
        if weighted_length(full[start:], "x") > MAX_TWEET_LENGTH:
            raise invalid(TOO_LONG, {"text": [text]})
        since = self.clock() - self.duplicate_window
        if any(p.author_id == me.id and not p.deleted and p.text == full
               and p.created_at >= since for p in self.tweets):
            raise _forbidden(DUPLICATE)
        post = self._create_post(me, text, reply_id, quote_id, excluded, via_api=True)
        return 201, {"data": {"id": str(post.id), "text": post.text,
                              "edit_history_tweet_ids": [str(post.id)]}}

    def _engaged(self, me: XUser, target: Post) -> bool:
        """X 2026: may ``me`` reply to ``target`` (its author mentioned or quoted ``me``)?"""
        if target.author_id == me.id or me.id in target.mentioned_ids:
            return True
        quoted = self._by_id.get(target.quote_tweet_id) if target.quote_tweet_id else None
        return quoted is not None and quoted.author_id == me.id

    async def _api_delete_tweet(self, req: _Request) -> tuple[int, dict[str, Any]]:
        me = self._acting(req)
        p = self._by_id.get(_id(req.path_params["id"], "id"))
        if p is None or p.deleted:
            return 200, {"data": {"deleted": False}}
        if p.author_id != me.id:
            raise _forbidden("You are not allowed to delete a Tweet that you did not create.")
        self.delete(p.id)
        return 200, {"data": {"deleted": True}}

    # -- endpoints: direct messages ----------------------------------------------------------------

    def _conversation_peer(self, me: XUser, conversation: str) -> int:
        ids = conversation.split("-")
        if len(ids) != 2 or not all(s.isdigit() for s in ids) or str(me.id) not in ids:
            raise invalid(f"The `dm_conversation_id` query parameter value [{conversation}] is "
                          "not valid", {"dm_conversation_id": [conversation]})
        a, b = (int(s) for s in ids)
        return b if a == me.id else a

    async def _api_dm_events(self, req: _Request) -> tuple[int, dict[str, Any]]:
        me = self._acting(req)
        self._check_params(req, ("dm_event.fields", "event_types", "expansions", "max_results",
                                 "media.fields", "pagination_token", "tweet.fields",
                                 "user.fields"))
        peer: int | None = None
        if "participant_id" in req.path_params:
            peer = _id(req.path_params["participant_id"], "participant_id")
        elif "dm_conversation_id" in req.path_params:
            peer = self._conversation_peer(me, req.path_params["dm_conversation_id"])
        fields = _csv(req.params, "dm_event.fields", DM_EVENT_FIELDS)
        expansions = _csv(req.params, "expansions", DM_EXPANSIONS)
        ufields = _csv(req.params, "user.fields", USER_FIELDS)
        tfields = _csv(req.params, "tweet.fields", TWEET_FIELDS)
        types = _csv(req.params, "event_types",
                     {"MessageCreate", "ParticipantsJoin", "ParticipantsLeave"})
        max_results = _int_param(req.params, "max_results", 1, 100, 100)
        below = _decode_token(req.params, "pagination_token")
        oldest = self.clock() - DM_DAYS * DAY
        events = [d for d in reversed(self.dms)
                  if me.id in (d.sender_id, d.recipient_id) and d.created_at >= oldest
                  and (peer is None or peer in (d.sender_id, d.recipient_id))
                  and (not types or "MessageCreate" in types)
                  and (below is None or d.id < below)]
        page = events[:max_results]
        out: dict[str, Any] = {}
        if page:
            out["data"] = [self._dm_payload(d, fields) for d in page]
        user_ids: list[int] = []
        for d in page:
            wanted = []
            if "sender_id" in expansions:
                wanted.append(d.sender_id)
            if "participant_ids" in expansions:
                wanted.extend(d.participant_ids)
            for uid in wanted:
                if uid in self.users and uid not in user_ids:
                    user_ids.append(uid)
        includes: dict[str, Any] = {}
        if user_ids:
            includes["users"] = [self._user_payload(self.users[u], ufields, me)
                                 for u in user_ids]
        if "referenced_tweets.id" in expansions:
            refs = [self._by_id[int(m)] for d in page for m in _STATUS_URL_RE.findall(d.text)
                    if int(m) in self._by_id and not self._by_id[int(m)].deleted]
            if refs:
                includes["tweets"] = [self._tweet_payload(p, tfields) for p in refs]
        if includes:
            out["includes"] = includes
        meta: dict[str, Any] = {"result_count": len(page)}
        if len(events) > len(page):
            meta["next_token"] = _encode_token(page[-1].id)
        out["meta"] = meta
        return 200, out

    async def _api_send_dm(self, req: _Request) -> tuple[int, dict[str, Any]]:
        me = self._acting(req)
        if "participant_id" in req.path_params:
            peer = _id(req.path_params["participant_id"], "participant_id")
        else:
            peer = self._conversation_peer(me, req.path_params["dm_conversation_id"])
        body = req.body if isinstance(req.body, dict) else {}
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise invalid("Either `text` or `attachments` must be provided.",
                          {"text": [str(text)]})
        if len(text) > MAX_DM_LENGTH:
            raise invalid(f"The `text` field is longer than {MAX_DM_LENGTH} characters.",
                          {"text": [text[:40]]})
        if peer == me.id:
            raise invalid("You cannot send a message to yourself.",
                          {"participant_id": [str(peer)]})
        if peer not in self.users:
            raise invalid(f"The `participant_id` value [{peer}] is not a user.",
                          {"participant_id": [str(peer)]})
        if not self.can_dm(me.id, peer):
            raise _forbidden(DM_CLOSED)
        event = self._create_dm(me.id, peer, text, via_api=True)
        return 201, {"data": {"dm_conversation_id": event.conversation_id,
                              "dm_event_id": str(event.id)}}


# -- parameter parsing -----------------------------------------------------------------------------


def _csv(params: dict[str, str], name: str, allowed: Iterable[str]) -> set[str]:
    raw = params.get(name, "")
    values = {v.strip() for v in raw.split(",") if v.strip()}
    allowed = set(allowed)
    for v in sorted(values):
        if v not in allowed:
            raise invalid(f"The `{name}` query parameter value [{v}] is not one of "
                          f"[{','.join(sorted(allowed))}]", {name: [raw]})
    return values


def _id(raw: str, name: str) -> int:
    if not re.fullmatch(r"[0-9]{1,19}", raw):
        raise invalid(f"The `{name}` query parameter value [{raw}] does not match "
                      "^[0-9]{1,19}$", {name: [raw]})
    return int(raw)


def _opt_id(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    return None if raw is None else _id(raw, name)


def _opt_time(params: dict[str, str], name: str) -> float | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise invalid(f"Invalid '{name}':'{raw}'. '{name}' must be in the format "
                      "YYYY-MM-DDTHH:mm:ssZ", {name: [raw]}) from None


def _int_param(params: dict[str, str], name: str, lo: int, hi: int, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise invalid(f"The `{name}` query parameter value [{raw}] is not between {lo} and "
                      f"{hi}", {name: [raw]})
    return int(raw)


_TOKEN_PREFIX = "7140dibdnow9c7btw4"


def _encode_token(below_id: int) -> str:
    """An opaque pagination token: the page continues below this id."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    n = below_id
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return _TOKEN_PREFIX + (out or "0")


def _decode_token(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.startswith(_TOKEN_PREFIX):
        raise invalid(f"The `{name}` query parameter value [{raw}] is not valid",
                      {name: [raw]})
    try:
        return int(raw[len(_TOKEN_PREFIX):], 36)
    except ValueError:
        raise invalid(f"The `{name}` query parameter value [{raw}] is not valid",
                      {name: [raw]}) from None


__all__ = [
    "API_BASE", "BEARER_TOKEN", "BRAND_ID", "BRAND_USERNAME", "CONSUMER_KEY", "CONSUMER_SECRET",
    "DEFAULT_DAILY", "DEFAULT_WINDOWS", "ApiError", "Call", "Clock", "Credentials", "DmEvent",
    "Fault", "FakeX", "Limits", "Post", "XUser", "dm_conversation_id", "iso", "problem",
    "rewriting_session", "snowflake_time",
]
