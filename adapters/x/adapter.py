"""The adapter between the desk and X's API v2 (tweepy 4.17's AsyncClient, OAuth 1.0a user
context of the brand account).

In: X has no push for a self-serve app, so one task polls, each source when it is due:

* ``mentions`` — GET /2/users/:id/mentions since the last id seen (every page of a sweep, so
  the cursor never passes a post that was not read);
* ``dms`` — GET /2/dm_events, newest first, down to the last event seen;
* ``follow`` — GET /2/tweets/search/recent for ``conversation_id:`` of conversations a
  customer started lately: replies that do not mention the brand (staff answering from their
  own accounts, customers going on);
* ``search:N`` — the configured outreach searches (posts about the brand without an @).

A source is read every ``poll_interval``, or more slowly when its budget says so; a budget is
never exceeded (budget.py). The cursor is one JSON object holding each source's last id and
the followed conversations; it is handed to the desk with the batch it confirms, and the
first read of a source only notes where it stands (a new deployment does not answer a week
of old posts). Posts are ids (``"1456..."``); a private message is ``"dm:<event id>"`` in the
conversation ``"dm:<user id>"``. The brand's own posts and messages are not read back.

Out: a public message is a post replying to ``reply_to`` (X puts the replied-to handles in
front by itself); a private one is a DM. A deep link (``Outgoing.deep_link``) is X's DM
compose link to the brand account: a customer who does not accept DMs from us can open it.
Errors: a spent budget or a 429 sets the message aside until the reset (``NotNow``); a
connection that could not be made is transient; 403 on a DM is ``Unreachable``; duplicate
content, a deleted post, too long are permanent; a 5xx, or a connection lost after the
request went out, is uncertain (X may have posted it, and has no idempotency key).

A source that fails backs off alone (the others are read on time; ``status()`` names it); a
sweep that waits for its budget part-way goes on from its next page; search/recent is asked
from 7 days ago at the oldest (it refuses an older ``since_id``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import tweepy
from tweepy.asynchronous import AsyncClient

from helpforce.adapter import (
    AdapterError,
    Capabilities,
    InboundSink,
    NotNow,
    PermanentError,
    SendResult,
    TransientError,
    UncertainError,
    Unreachable,
)
from helpforce.clock import Clock
from helpforce.models import Account, Inbound, Outgoing, Visibility
from helpforce.policies.length import weighted_length

from . import MAX_QUERY, PLATFORM, XBudget, XSettings
from .budget import Budget
from .session import api_session

log = logging.getLogger(__name__)

MAX_TEXT = 280
TWEET_FIELDS = ["author_id", "conversation_id", "created_at", "referenced_tweets",
                "in_reply_to_user_id"]
DM_FIELDS = ["id", "text", "event_type", "created_at", "sender_id", "dm_conversation_id"]
_ID = re.compile(r"[1-9][0-9]{0,19}")
#: the @handles X puts in front of a reply
_LEADING_HANDLES = re.compile(r"^(?:@\w{1,15}\s+)+")
_BACKOFF_MAX = 300.0


@dataclass(frozen=True)
class Credentials:
    """The brand account's OAuth 1.0a user context (from the environment, never YAML)."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    def __repr__(self) -> str:
        return "Credentials(<hidden>)"


class _Wait(Exception):
    """A budget is spent: ask again in ``seconds``."""

    def __init__(self, budget: str, seconds: float) -> None:
        super().__init__(f"{budget} budget spent for {seconds:.0f} s")
        self.budget = budget
        self.seconds = seconds


class XAdapter:
    platform = PLATFORM

    def __init__(self, settings: XSettings, credentials: Credentials, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.capabilities = Capabilities(
            dms=True, dm_link_fallback=True, reshare=settings.reshare != "off",
            idempotent_send=False, max_text=MAX_TEXT,
        )
        self._credentials = credentials
        b = settings.budgets
        self.budgets = {
            name: Budget(name, getattr(b, name).windows(), clock)
            for name in ("mentions", "dm_events", "search", "post", "dm_send")
        }
        # tweepy logs each request's headers (the OAuth header) and JSON body (customer
        # texts) at DEBUG
        tweepy_log = logging.getLogger("tweepy")
        if tweepy_log.level < logging.INFO:
            tweepy_log.setLevel(logging.INFO)
        self.client: AsyncClient | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sink: InboundSink | None = None
        self._task: asyncio.Task[None] | None = None
        self._state = "stopped"
        self.brand_id: str | None = None
        self.brand_username = ""
        #: the cursor as last committed by the desk
        self._committed: dict[str, Any] = {}
        #: conversation id -> when a customer last posted in it (see ``follow``)
        self._followed: dict[str, float] = {}
        #: source -> when it is next read
        self._due: dict[str, float] = {}
        #: sources whose last read failed: (failures in a row, why)
        self._failing: dict[str, tuple[int, str]] = {}
        #: listings whose sweep waits for its budget part-way: what was read so far
        self._sweeps: dict[str, tuple[list[dict[str, Any]], dict[str, str], str | None,
                                      str]] = {}
        self._wake = asyncio.Event()
        #: posts and events that could not be normalised (logged by id, then skipped)
        self.skipped = 0
        #: poll_now tickets handed out, and the last one whose read is done
        self._asked = 0
        self.reads = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def status(self) -> str:
        return self._state

    async def start(self, sink: InboundSink, cursor: str | None) -> None:
        self._sink = sink
        self._committed = _parse_cursor(cursor)
        self._followed = {str(k): float(v) for k, v in
                          (self._committed.get("follow") or {}).items()}
        self._session = api_session(self.settings.api_base, self.settings.request_timeout)
        client = AsyncClient(
            consumer_key=self._credentials.consumer_key,
            consumer_secret=self._credentials.consumer_secret,
            access_token=self._credentials.access_token,
            access_token_secret=self._credentials.access_token_secret,
            return_type=aiohttp.ClientResponse,
        )
        client.session = self._session
        self.client = client
        self._state = "connecting"
        self._task = asyncio.create_task(self._run(), name="x-poller")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        self._state = "stopped"

    def poll_now(self) -> int:
        """Read every source at once (tests, and an operator's nudge); returns a ticket:
        once :attr:`reads` reaches it, a read that began after this call is committed."""
        now = self.clock.now()
        for source in self._due:
            self._due[source] = now
        self._asked += 1
        self._wake.set()
        return self._asked

    # -- in ----------------------------------------------------------------------------------

    def _sources(self) -> list[str]:
        out = []
        if self.settings.mentions:
            out.append("mentions")
        if self.settings.dms:
            out.append("dms")
        if self.settings.follow_conversations > 0 and self.settings.max_followed > 0:
            out.append("follow")
        out.extend(f"search:{i}" for i in range(len(self.settings.searches)))
        return out

    def _interval(self, source: str) -> float:
        """How often ``source`` is read: the setting, or slower if its budget needs it (the
        searches share theirs)."""
        name = _budget_of(source)
        budget: XBudget = getattr(self.settings.budgets, name)
        share = 1
        if name == "search":
            share = sum(1 for s in self._due if _budget_of(s) == "search") or 1
        return float(max(self.settings.poll_interval, budget.per / budget.requests * share))

    async def _run(self) -> None:
        failures = 0
        for source in self._sources():
            self._due.setdefault(source, self.clock.now())
        while True:
            try:
                if self.brand_id is None:
                    await self._login()
                ticket = self._asked
                due = sorted(s for s, t in self._due.items() if t <= self.clock.now())
                for source in due:
                    try:
                        await self._read(source)
                        self._due[source] = self.clock.now() + self._interval(source)
                        self._failing.pop(source, None)
                    except _Wait as wait:
                        log.info("x: %s waits %.0f s (%s)", source, wait.seconds, wait)
                        self._due[source] = self.clock.now() + wait.seconds
                    except (asyncio.CancelledError, tweepy.Unauthorized):
                        raise
                    except Exception as exc:
                        # this source alone backs off: the others are read on time (an app
                        # without DM access must not keep mentions from being read)
                        n = self._failing[source][0] + 1 if source in self._failing else 1
                        self._failing[source] = (n, _describe(exc))
                        delay = min(_BACKOFF_MAX, 2.0 ** min(n, 10)) * random.uniform(0.5, 1)
                        self._due[source] = self.clock.now() + delay
                        log.warning("x: reading %s failed (%s); again in %.0f s", source,
                                    _describe(exc), delay)
                self._state = "connected" if not self._failing else "failing: " + "; ".join(
                    f"{s}: {why}" for s, (_, why) in sorted(self._failing.items()))
                self.reads = ticket
                failures = 0
            except asyncio.CancelledError:
                raise
            except tweepy.Unauthorized:
                self._state = ("failing: X refused the brand account's credentials (check "
                               f"{self.settings.access_token_env} and the other X secrets)")
                log.error("x: %s", self._state)
                failures += 1
            except Exception as exc:  # network trouble, X's 5xx, a surprise: keep polling
                self._state = f"failing: {_describe(exc)}"
                log.warning("x: reading failed (%s)", _describe(exc))
                failures += 1
            if failures:
                delay = min(_BACKOFF_MAX, 2.0 ** min(failures, 10)) * random.uniform(0.5, 1.0)
            else:
                delay = max(0.0, min(self._due.values(), default=self.clock.now() + 60)
                            - self.clock.now())
            await self._sleep(delay)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _login(self) -> None:
        assert self.client is not None
        me = await self._json(await self.client.get_me(user_fields=["username"]))
        data = me.get("data") or {}
        if not _ID.fullmatch(str(data.get("id", ""))):
            raise PermanentError("X's users/me answer has no user id")
        self.brand_id = str(data["id"])
        self.brand_username = str(data.get("username", ""))
        log.info("x: reading as the brand account %s", self.brand_id)

    async def _read(self, source: str) -> None:
        if source == "mentions":
            await self._read_mentions()
        elif source == "dms":
            await self._read_dms()
        elif source == "follow":
            await self._read_followed()
        elif source.startswith("search:"):
            await self._read_search(source, int(source.split(":", 1)[1]))

    async def _call(self, budget: str, fn: Callable[..., Awaitable[Any]], **kwargs: Any
                    ) -> dict[str, Any]:
        """One request within ``budget``; raises _Wait when it is spent (or X says so)."""
        b = self.budgets[budget]
        wait = b.delay()
        if wait > 0:
            raise _Wait(budget, wait)
        b.take()
        try:
            response = await fn(**kwargs)
        except tweepy.TooManyRequests as exc:
            raise _Wait(budget, b.refused_until(_reset(exc.response.headers))) from None
        remaining, reset = _limit_headers(response.headers)
        b.told(remaining, reset)
        return await self._json(response)

    async def _json(self, response: Any) -> dict[str, Any]:
        body = await response.json()
        if not isinstance(body, dict):
            raise TransientError(f"X answered {type(body).__name__}, not a JSON object")
        return body

    async def _pages(self, budget: str, fn: Callable[..., Awaitable[Any]],
                     token_param: str, stop: Callable[[list[dict[str, Any]]], bool] | None = None,
                     **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, str], str | None]:
        """Every page of a listing (newest first): its items, the users of its includes, and
        the newest id (``meta.newest_id``, or the first item's).

        A sweep that must wait for its budget part-way goes on from where it stopped when it
        is read again with the same arguments (the pages read so far are kept): a backlog
        longer than one budget window still gets through, a window at a time."""
        key = json.dumps([budget, token_param, sorted((k, str(v)) for k, v in kwargs.items())])
        items: list[dict[str, Any]] = []
        users: dict[str, str] = {}
        newest: str | None = None
        token: str | None = None
        if key in self._sweeps:
            items, users, newest, token = self._sweeps.pop(key)
        while True:
            try:
                page = await self._call(budget, fn, **kwargs,
                                        **({token_param: token} if token else {}))
            except _Wait:
                if token is not None:
                    if len(self._sweeps) >= MAX_SWEEPS:
                        self._sweeps.clear()
                    self._sweeps[key] = (items, users, newest, token)
                raise
            data = page.get("data") or []
            if not isinstance(data, list):
                data = []
            meta = page.get("meta") or {}
            if newest is None:
                newest = meta.get("newest_id") or (data[0].get("id") if data else None)
            for u in (page.get("includes") or {}).get("users") or []:
                if isinstance(u, dict) and "id" in u:
                    users[str(u["id"])] = str(u.get("username", ""))
            items.extend(d for d in data if isinstance(d, dict))
            token = meta.get("next_token")
            if not token or (stop is not None and stop(data)):
                return items, users, None if newest is None else str(newest)

    async def _read_mentions(self) -> None:
        assert self.client is not None and self.brand_id is not None
        since = self._committed.get("mentions")
        if since is None:
            # first read: note where the timeline stands; older mentions are not questions
            page = await self._call("mentions", self.client.get_users_mentions,
                                    id=self.brand_id, max_results=5, user_auth=True)
            newest = (page.get("meta") or {}).get("newest_id")
            await self._deliver([], mentions=str(newest) if newest else "")
            return
        tweets, users, newest = await self._pages(
            "mentions", self.client.get_users_mentions, "pagination_token",
            id=self.brand_id, max_results=100, user_auth=True,
            expansions=["author_id"], tweet_fields=TWEET_FIELDS, user_fields=["username"],
            **({"since_id": since} if since else {}),
        )
        await self._deliver(self._posts(tweets, users, follow=True),
                            mentions=newest or since)

    async def _read_dms(self) -> None:
        assert self.client is not None
        last = self._committed.get("dms")
        if last is None:
            page = await self._call("dm_events", self.client.get_direct_message_events,
                                    event_types="MessageCreate", max_results=1,
                                    dm_event_fields=DM_FIELDS, user_auth=True)
            data = page.get("data") or []
            newest = data[0].get("id") if data and isinstance(data[0], dict) else None
            await self._deliver([], dms=str(newest) if newest else "")
            return

        def older(page: list[dict[str, Any]]) -> bool:
            return any(_int(d.get("id")) <= _int(last) for d in page)

        events, users, newest = await self._pages(
            "dm_events", self.client.get_direct_message_events, "pagination_token", stop=older,
            event_types="MessageCreate", max_results=100, dm_event_fields=DM_FIELDS,
            expansions=["sender_id"], user_fields=["username"], user_auth=True,
        )
        fresh = [e for e in events if _int(e.get("id")) > _int(last)]
        batch = []
        for event in reversed(fresh):
            inbound = self._dm(event, users)
            if inbound is not None:
                batch.append(inbound)
        top = max((_int(e.get("id")) for e in fresh), default=_int(last))
        await self._deliver(batch, dms=str(top) if top else last)

    async def _read_followed(self) -> None:
        assert self.client is not None
        now = self.clock.now()
        keep = self.settings.follow_conversations
        self._followed = {c: t for c, t in self._followed.items() if now - t <= keep}
        if not self._followed:
            return
        exclude = f" -from:{self.brand_username}" if self.brand_username else ""
        since = self._committed.get("follow_since")
        posts: list[Inbound] = []
        newest = _int(since)
        for query in _conversation_queries(sorted(self._followed), exclude):
            tweets, users, top = await self._pages(
                "search", self.client.search_recent_tweets, "next_token", query=query,
                max_results=100, expansions=["author_id"], tweet_fields=TWEET_FIELDS,
                user_fields=["username"], user_auth=True, **self._search_since(since),
            )
            posts.extend(self._posts(tweets, users, follow=False))
            newest = max(newest, _int(top))
        posts.sort(key=lambda i: _int(i.message_id))
        await self._deliver(posts, follow_since=str(newest) if newest else since)

    async def _read_search(self, source: str, index: int) -> None:
        assert self.client is not None
        query = self.settings.searches[index]
        exclude = f" -from:{self.brand_username}" if self.brand_username else ""
        full = f"({query}){exclude} -is:retweet"
        since = self._committed.get(source)
        if since is None:
            page = await self._call("search", self.client.search_recent_tweets, query=full,
                                    max_results=10, user_auth=True)
            newest = (page.get("meta") or {}).get("newest_id")
            await self._deliver([], **{source: str(newest) if newest else ""})
            return
        tweets, users, newest = await self._pages(
            "search", self.client.search_recent_tweets, "next_token", query=full,
            max_results=100, expansions=["author_id"], tweet_fields=TWEET_FIELDS,
            user_fields=["username"], user_auth=True, **self._search_since(since),
        )
        await self._deliver(self._posts(tweets, users, follow=True),
                            **{source: newest or since})

    def _search_since(self, since: str | None) -> dict[str, str]:
        """``since_id`` for search/recent, which answers 400 to one older than its 7 days:
        at least the id of a post made 7 days ago (less a margin). Nothing older can be
        read there anyway; a quiet search or a long-followed conversation keeps working."""
        if not since:
            return {}
        oldest = snowflake_at(self.clock.now() - SEARCH_WINDOW + 600)
        return {"since_id": str(max(_int(since), oldest))}

    def _posts(self, tweets: Sequence[dict[str, Any]], users: dict[str, str], *,
               follow: bool) -> list[Inbound]:
        """Posts as inbound messages, oldest first; the brand's own and reposts left out."""
        out = []
        for t in reversed(tweets):
            try:
                inbound = self._post(t, users)
            except (KeyError, TypeError, ValueError) as exc:
                self.skipped += 1
                log.warning("x: post %s skipped: malformed (%s)", t.get("id"), type(exc).__name__)
                continue
            if inbound is None:
                continue
            out.append(inbound)
            if follow and self.settings.follow_conversations > 0:
                self._follow(inbound.conversation)
        return out

    def _post(self, t: dict[str, Any], users: dict[str, str]) -> Inbound | None:
        tid, author = str(t["id"]), str(t["author_id"])
        if not _ID.fullmatch(tid) or not _ID.fullmatch(author):
            raise ValueError("id")
        if author == self.brand_id:
            return None
        refs = {str(r.get("type")): str(r.get("id")) for r in t.get("referenced_tweets") or []
                if isinstance(r, dict)}
        if "retweeted" in refs:
            return None  # a repost says nothing new
        text = str(t.get("text") or "")
        if "replied_to" in refs:
            # X puts the replied-to handles in front; what was said follows them
            text = _LEADING_HANDLES.sub("", text, count=1) or text
        return Inbound(
            platform=PLATFORM, message_id=tid,
            author=Account(PLATFORM, author, users.get(author, "")),
            conversation=str(t.get("conversation_id") or tid), visibility=Visibility.PUBLIC,
            text=text, reply_to=refs.get("replied_to"), at=_time(t.get("created_at")),
        )

    def _dm(self, event: dict[str, Any], users: dict[str, str]) -> Inbound | None:
        try:
            eid, sender = str(event["id"]), str(event["sender_id"])
            if not _ID.fullmatch(eid) or not _ID.fullmatch(sender):
                raise ValueError("id")
        except (KeyError, TypeError, ValueError) as exc:
            self.skipped += 1
            log.warning("x: DM event %s skipped: malformed (%s)", event.get("id"),
                        type(exc).__name__)
            return None
        if sender == self.brand_id or event.get("event_type", "MessageCreate") != "MessageCreate":
            return None
        return Inbound(
            platform=PLATFORM, message_id=f"dm:{eid}",
            author=Account(PLATFORM, sender, users.get(sender, "")),
            conversation=f"dm:{sender}", visibility=Visibility.PRIVATE,
            text=str(event.get("text") or ""), at=_time(event.get("created_at")),
        )

    def _follow(self, conversation: str) -> None:
        if not _ID.fullmatch(conversation):
            return
        if conversation not in self._followed:
            # read it from its start: replies older than the last search are not missed
            since = self._committed.get("follow_since")
            if since and _int(since) >= _int(conversation):
                self._committed["follow_since"] = str(_int(conversation) - 1)
        self._followed[conversation] = self.clock.now()
        while len(self._followed) > self.settings.max_followed:
            del self._followed[min(self._followed, key=self._followed.__getitem__)]

    async def _deliver(self, batch: list[Inbound], **cursor: Any) -> None:
        """Hand a batch to the desk with the cursor that confirms it; kept once committed."""
        assert self._sink is not None
        state = {**self._committed, **cursor, "follow": dict(self._followed)}
        await self._sink(batch, json.dumps(state, sort_keys=True))
        self._committed = state

    # -- out ---------------------------------------------------------------------------------

    async def send(self, out: Outgoing) -> SendResult:
        if self.client is None:
            raise TransientError("not started")
        if out.edit_of:
            raise PermanentError("helpforce does not edit posts on X")
        text = out.text.strip()
        if not text:
            raise PermanentError("empty message")
        if out.deep_link:
            if not self.brand_id:
                raise TransientError("the brand account is not known yet (not logged in)")
            text = f"{text} {dm_link(self.brand_id)}"
        private = out.dm_user is not None or out.conversation.startswith("dm:")
        if not private and weighted_length(text, PLATFORM) > MAX_TEXT:
            raise PermanentError(f"post too long ({weighted_length(text, PLATFORM)} weighted "
                                 f"characters; X allows {MAX_TEXT})")
        try:
            if private:
                return await self._send_dm(out, text)
            return await self._post_reply(out, text)
        except _Wait as wait:
            raise NotNow(str(wait), wait.seconds) from None
        except AdapterError:
            raise
        except tweepy.HTTPException as exc:
            raise _classify(exc, private) from exc
        except aiohttp.ClientConnectorError as exc:
            raise TransientError(f"network: {_describe(exc)}") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # the request went out: it may have been posted (X has no idempotency key)
            raise UncertainError(f"network after sending: {_describe(exc)}") from exc

    async def _send_dm(self, out: Outgoing, text: str) -> SendResult:
        assert self.client is not None
        user = out.dm_user or out.conversation.removeprefix("dm:")
        if not _ID.fullmatch(user):
            raise PermanentError(f"not an X user id: {user!r}")
        body = await self._call("dm_send", self.client.create_direct_message,
                                participant_id=user, text=text, user_auth=True)
        event = (body.get("data") or {}).get("dm_event_id")
        if not event:
            raise UncertainError("X's answer to a DM has no event id")
        return SendResult(f"dm:{event}")

    async def _post_reply(self, out: Outgoing, text: str) -> SendResult:
        assert self.client is not None
        kwargs: dict[str, Any] = {"text": text, "user_auth": True}
        if out.reply_to and _ID.fullmatch(out.reply_to):
            kwargs["in_reply_to_tweet_id"] = out.reply_to
        if out.quote and _ID.fullmatch(out.quote):
            kwargs["quote_tweet_id"] = out.quote
        body = await self._call("post", self.client.create_tweet, **kwargs)
        tid = (body.get("data") or {}).get("id")
        if not tid:
            raise UncertainError("X's answer to a post has no id")
        if _ID.fullmatch(out.conversation) and self.settings.follow_conversations > 0:
            self._follow(out.conversation)
        return SendResult(str(tid))


# -- helpers ---------------------------------------------------------------------------------


def dm_link(brand_id: str) -> str:
    """X's link that opens a private conversation with the brand account."""
    return f"https://x.com/messages/compose?recipient_id={brand_id}"


def _budget_of(source: str) -> str:
    if source == "mentions":
        return "mentions"
    if source == "dms":
        return "dm_events"
    return "search"


def _conversation_queries(conversations: Sequence[str], suffix: str) -> list[str]:
    """``(conversation_id:A OR conversation_id:B ...)`` queries within X's length limit."""
    queries: list[str] = []
    terms: list[str] = []
    for c in conversations:
        term = f"conversation_id:{c}"
        if terms and len(" OR ".join([*terms, term])) + len(suffix) + 2 > MAX_QUERY:
            queries.append(f"({' OR '.join(terms)}){suffix}")
            terms = []
        terms.append(term)
    if terms:
        queries.append(f"({' OR '.join(terms)}){suffix}")
    return queries


def _parse_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        log.warning("x: saved cursor is not JSON; starting from now")
        return {}
    return state if isinstance(state, dict) else {}


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _limit_headers(headers: Any) -> tuple[int | None, float | None]:
    """``x-rate-limit-remaining`` and the reset; a spent 24-hour cap wins."""
    day_left = headers.get("x-user-limit-24hour-remaining")
    if day_left is not None and _int(day_left) <= 0:
        return 0, _float(headers.get("x-user-limit-24hour-reset"))
    remaining = headers.get("x-rate-limit-remaining")
    return (None if remaining is None else _int(remaining),
            _float(headers.get("x-rate-limit-reset")))


def _reset(headers: Any) -> float | None:
    if _int(headers.get("x-user-limit-24hour-remaining", 1)) <= 0:
        return _float(headers.get("x-user-limit-24hour-reset"))
    return _float(headers.get("x-rate-limit-reset"))


#: sweeps kept waiting for their budget at once (one per listing; a few in practice)
MAX_SWEEPS = 64
#: how far back search/recent reads (seconds)
SEARCH_WINDOW = 7 * 86400
#: X's snowflake epoch (ms): an id's top bits are its milliseconds since then
TWEPOCH_MS = 1288834974657


def snowflake_at(t: float) -> int:
    """The smallest X id of a post made at ``t`` (seconds since the Unix epoch)."""
    return max(0, int(t * 1000) - TWEPOCH_MS) << 22


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _classify(exc: tweepy.HTTPException, private: bool) -> AdapterError:
    message = "; ".join(str(m) for m in exc.api_messages) or _describe(exc)
    status = exc.response.status if exc.response is not None else 0
    if isinstance(exc, tweepy.Forbidden):
        if private:
            return Unreachable(f"X refused the DM: the person does not accept DMs from us "
                               f"({message})")
        if "duplicate" in message.lower():
            return PermanentError(f"X refused a duplicate of a recent post ({message})")
        if "deleted" in message.lower() or "not visible" in message.lower():
            return PermanentError(f"the post replied to was deleted or is not visible "
                                  f"({message})")
        return PermanentError(f"X refused the post ({message})")
    if isinstance(exc, tweepy.Unauthorized):
        return PermanentError(f"X refused the brand account's credentials ({message})")
    if isinstance(exc, tweepy.TwitterServerError) or status >= 500:
        # X can fail a request after it made the post or sent the DM, and a send has no
        # idempotency key: sending it again could say it twice
        return UncertainError(f"X {status} after the request: it may have gone ({message})")
    return PermanentError(f"X {status}: {message}")
