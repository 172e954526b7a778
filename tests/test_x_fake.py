"""The fake X API v2 (tests/fakes/x.py) driven by the real, unmodified tweepy AsyncClient."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

pytest.importorskip("tweepy")
# ClientSession(middlewares=...) is aiohttp 3.12's
pytest.importorskip("aiohttp", minversion="3.12")

import aiohttp  # noqa: E402
import tweepy  # noqa: E402
from fakes.x import (  # noqa: E402
    BRAND_ID,
    DAY,
    DM_CLOSED,
    DUPLICATE,
    REPLY_GONE,
    TOO_LONG,
    Clock,
    FakeX,
    dm_conversation_id,
    rewriting_session,
)
from tweepy.asynchronous import AsyncClient  # noqa: E402
from yarl import URL  # noqa: E402

ALICE = 1001
AGENT = 1002
BOB = 1003
MENTIONS = "GET /2/users/:id/mentions"
DM_SEND = "POST /2/dm_conversations/with/:participant_id/messages"


@contextlib.asynccontextmanager
async def x_client(x: FakeX, user_id: int | None = None, *, bearer: str | None = None,
                   return_type: Any = tweepy.Response,
                   middlewares: Sequence[Any] = ()) -> AsyncIterator[AsyncClient]:
    """A real AsyncClient acting as ``user_id`` (OAuth 1.0a) and/or with ``bearer``, whose
    requests reach the fake through a rewriting session."""
    keys = x.token_for(user_id).as_kwargs() if user_id is not None else {}
    async with rewriting_session(x.base_url, middlewares=middlewares) as session:
        client = AsyncClient(bearer_token=bearer, return_type=return_type, **keys)
        client.session = session
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def x(clock: Clock) -> AsyncIterator[FakeX]:
    async with FakeX(clock=clock) as fake:
        fake.user(ALICE, "alice", "Alice")
        fake.user(AGENT, "agent1834", "Agent 1834")
        fake.user(BOB, "bob", "Bob", accepts_dms_from_anyone=False)
        yield fake
        assert not fake.server_errors


async def test_get_me_and_user_lookups(x: FakeX) -> None:
    async with x_client(x, BRAND_ID) as brand:
        me = await brand.get_me(user_fields=["created_at", "protected"])
        assert isinstance(me.data, tweepy.User)
        assert (me.data.id, me.data.username, me.data.name) == (BRAND_ID, "helpforce",
                                                                "Helpforce")
        assert me.data.created_at is not None and me.data.protected is False

        alice = await brand.get_user(username="ALICE", user_auth=True,
                                     user_fields=["receives_your_dm"])
        assert alice.data.id == ALICE and alice.data.data["receives_your_dm"] is True
        bob = await brand.get_user(id=BOB, user_auth=True, user_fields=["receives_your_dm"])
        assert bob.data.data["receives_your_dm"] is False

        missing = await brand.get_user(id=999, user_auth=True)
        assert missing.data is None
        assert missing.errors[0]["title"] == "Not Found Error"
        assert missing.errors[0]["detail"] == "Could not find user with id: [999]."

        with pytest.raises(tweepy.BadRequest) as err:
            await brand.get_me(user_fields=["no_such_field"])
        assert "user.fields" in err.value.api_messages[0]
    assert x.calls["GET /2/users/me"] == 2
    assert x.calls["GET /2/users/:id"] == 2
    assert x.calls["GET /2/users/by/username/:username"] == 1


async def test_mentions_pages_then_since_id(x: FakeX, clock: Clock) -> None:
    for i in range(250):
        x.tweet(ALICE if i % 2 else AGENT, f"@helpforce question {i}")
        clock.advance(1)
    x.tweet(ALICE, "not a mention of the brand")
    fields = ["author_id", "created_at", "conversation_id"]
    async with x_client(x, BRAND_ID) as brand:
        seen: list[tweepy.Tweet] = []
        token = None
        pages = 0
        while True:
            page = await brand.get_users_mentions(
                BRAND_ID, user_auth=True, max_results=100, pagination_token=token,
                expansions=["author_id"], tweet_fields=fields)
            pages += 1
            seen += page.data
            assert {t.author_id for t in page.data} <= {u.id for u in page.includes["users"]}
            assert page.meta["result_count"] == len(page.data)
            assert page.meta["newest_id"] == str(page.data[0].id)
            assert page.meta["oldest_id"] == str(page.data[-1].id)
            token = page.meta.get("next_token")
            if token is None:
                break
        assert pages == 3 and len(seen) == 250
        ids = [t.id for t in seen]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 250
        assert seen[0].text == "@helpforce question 249"
        assert seen[-1].text == "@helpforce question 0"
        assert all(t.conversation_id == t.id and t.created_at is not None for t in seen)

        for i in range(3):
            x.tweet(ALICE, f"@helpforce more {i}")
        new = await brand.get_users_mentions(BRAND_ID, user_auth=True, since_id=ids[0],
                                             max_results=100)
        assert [t.text for t in new.data] == [f"@helpforce more {i}" for i in (2, 1, 0)]
        assert new.meta["result_count"] == 3 and "next_token" not in new.meta

        empty = await brand.get_users_mentions(BRAND_ID, user_auth=True,
                                               since_id=new.data[0].id)
        assert empty.data is None and empty.meta == {"result_count": 0}
    async with x_client(x, BRAND_ID, return_type=dict) as raw:
        body = await raw.get_users_mentions(BRAND_ID, user_auth=True, since_id=new.data[0].id)
        assert "data" not in body and body["meta"] == {"result_count": 0}
    assert x.calls[MENTIONS] == 6 and x.rate_limited == 0


async def test_mentions_keep_the_latest_800(x: FakeX) -> None:
    first = [x.tweet(ALICE, f"@helpforce n{i}") for i in range(810)]
    async with x_client(x, BRAND_ID) as brand:
        seen: list[int] = []
        token = None
        while True:
            page = await brand.get_users_mentions(BRAND_ID, user_auth=True, max_results=100,
                                                  pagination_token=token)
            seen += [t.id for t in page.data]
            token = page.meta.get("next_token")
            if token is None:
                break
        assert len(seen) == 800 and seen[-1] == first[10]
        with pytest.raises(tweepy.BadRequest) as err:
            await brand.get_users_mentions(BRAND_ID, user_auth=True, max_results=4)
        assert err.value.api_messages == [
            "The `max_results` query parameter value [4] is not between 5 and 100"]


async def test_search_recent(x: FakeX, clock: Clock) -> None:
    root = x.tweet(ALICE, "@helpforce my TV is broken #help")
    async with x_client(x, AGENT) as agent:
        r = await agent.create_tweet(text="Sorry! Try a restart #twelpforce",
                                     in_reply_to_tweet_id=root)
    reply = int(r.data["id"])
    follow_up = x.tweet(ALICE, "still broken", reply_to=reply)
    other = x.tweet(BOB, "@helpforce my radio is broken")

    async with x_client(x, bearer=x.bearer_token) as app:
        async def ids(query: str, **kw: Any) -> list[int]:
            res = await app.search_recent_tweets(query, **kw)
            return [t.id for t in res.data or []]

        conv = await app.search_recent_tweets(
            f"conversation_id:{root}", expansions=["author_id"],
            tweet_fields=["conversation_id", "in_reply_to_user_id", "author_id"])
        assert [t.id for t in conv.data] == [follow_up, reply, root]
        assert {t.conversation_id for t in conv.data} == {root}
        assert [t.in_reply_to_user_id for t in conv.data] == [AGENT, ALICE, None]
        assert {u.username for u in conv.includes["users"]} == {"alice", "agent1834"}

        assert await ids("broken from:alice -is:retweet") == [follow_up, root]
        assert await ids("#twelpforce OR from:bob") == [other, reply]
        assert await ids("to:alice") == [reply]
        assert await ids("@agent1834") == [follow_up]
        assert await ids("(radio OR TV) -from:bob") == [root]
        assert await ids('"my radio"') == [other]
        assert await ids("broken", since_id=root, max_results=10) == [other, follow_up]

        many = [x.tweet(BOB, f"spam {i} #help") for i in range(15)]
        first = await app.search_recent_tweets("#help -from:alice", max_results=10)
        assert [t.id for t in first.data] == many[::-1][:10]
        rest = await app.search_recent_tweets("#help -from:alice", max_results=10,
                                              next_token=first.meta["next_token"])
        assert [t.id for t in rest.data] == many[4::-1] and "next_token" not in rest.meta

        with pytest.raises(tweepy.BadRequest) as err:
            await app.search_recent_tweets("-is:retweet")
        assert "non-negation" in err.value.api_messages[0]
        with pytest.raises(tweepy.BadRequest):
            await app.search_recent_tweets("nosuch:operator")

        clock.advance(8 * DAY)
        old = await app.search_recent_tweets(f"conversation_id:{root}")
        assert old.data is None and old.meta["result_count"] == 0
        with pytest.raises(tweepy.BadRequest) as err:
            await app.search_recent_tweets("broken", since_id=root)
        assert "since_id" in err.value.api_messages[0]
    assert {c.auth for c in x.calls_of("GET /2/tweets/search/recent")} == {"bearer-app"}
    # the timeline is not limited to seven days
    async with x_client(x, BRAND_ID) as brand:
        mentions = await brand.get_users_mentions(BRAND_ID, user_auth=True)
        assert root in [t.id for t in mentions.data]


async def test_reply_threads_and_conversation_ids(x: FakeX) -> None:
    root = x.tweet(ALICE, "@helpforce @agent1834 my TV is broken")
    async with x_client(x, AGENT) as agent:
        resp = await agent.create_tweet(text="Have you tried turning it off and on? #twelpforce",
                                        in_reply_to_tweet_id=root)
        # the replied-to author and the users it mentioned, less the replier, lead the text
        assert resp.data["text"] == ("@alice @helpforce Have you tried turning it off and on? "
                                     "#twelpforce")
        assert resp.data["edit_history_tweet_ids"] == [resp.data["id"]]
        narrow = await agent.create_tweet(text="DM us your order number",
                                          in_reply_to_tweet_id=root,
                                          exclude_reply_user_ids=[BRAND_ID])
        assert narrow.data["text"] == "@alice DM us your order number"
    post = await x.wait_tweet(lambda t: t.in_reply_to_tweet_id == root)
    assert post.id == int(resp.data["id"]) and post.author_id == AGENT
    assert post.conversation_id == root and post.in_reply_to_user_id == ALICE
    assert post.hashtags == ["twelpforce"] and post.mentioned_ids == [ALICE, BRAND_ID]

    answer = x.tweet(ALICE, "Yes, still broken", reply_to=post.id)
    assert x.get(answer).text == "@agent1834 @helpforce Yes, still broken"
    async with x_client(x, BRAND_ID) as brand:
        got = await brand.get_tweet(
            answer, user_auth=True, expansions=["referenced_tweets.id", "author_id"],
            tweet_fields=["conversation_id", "in_reply_to_user_id", "referenced_tweets",
                          "entities", "author_id", "display_text_range"])
        t = got.data
        assert (t.conversation_id, t.in_reply_to_user_id, t.author_id) == (root, AGENT, ALICE)
        assert [(r.type, r.id) for r in t.referenced_tweets] == [("replied_to", post.id)]
        assert [m["username"] for m in t.entities["mentions"]] == ["agent1834", "helpforce"]
        assert t.data["display_text_range"] == [len("@agent1834 @helpforce "), len(t.text)]
        assert [q.id for q in got.includes["tweets"]] == [post.id]

        both = await brand.get_tweets([root, 12345, answer], user_auth=True)
        assert [q.id for q in both.data] == [root, answer]
        assert both.errors[0]["resource_id"] == "12345"

        mentions = await brand.get_users_mentions(BRAND_ID, user_auth=True)
        assert [m.id for m in mentions.data] == [answer, post.id, root]

        quoted = await brand.create_tweet(text="Great answer, via @agent1834",
                                          quote_tweet_id=post.id)
        q = await brand.get_tweet(quoted.data["id"], user_auth=True,
                                  tweet_fields=["referenced_tweets", "conversation_id"])
        assert [(r.type, r.id) for r in q.data.referenced_tweets] == [("quoted", post.id)]
        assert q.data.conversation_id == q.data.id  # a quote starts its own conversation


async def test_duplicate_content_is_forbidden(x: FakeX, clock: Clock) -> None:
    text = "We're on it! #twelpforce"
    async with x_client(x, AGENT) as agent, x_client(x, ALICE) as alice:
        first = await agent.create_tweet(text=text)
        with pytest.raises(tweepy.Forbidden) as err:
            await agent.create_tweet(text=text)
        assert err.value.api_messages == [DUPLICATE]
        assert str(err.value) == f"403 Forbidden\n{DUPLICATE}"
        assert err.value.response.status == 403

        await alice.create_tweet(text=text)  # another user: fine
        a = x.tweet(ALICE, "@helpforce one")
        b = x.tweet(BOB, "@helpforce two")
        await agent.create_tweet(text=text, in_reply_to_tweet_id=a)  # "@alice ..."
        await agent.create_tweet(text=text, in_reply_to_tweet_id=b)  # "@bob ...": not a dup
        with pytest.raises(tweepy.Forbidden):
            await agent.create_tweet(text=text, in_reply_to_tweet_id=a)

        deleted = await agent.delete_tweet(first.data["id"])
        assert deleted.data == {"deleted": True}
        again = await agent.create_tweet(text=text)
        clock.advance(DAY + 1)
        later = await agent.create_tweet(text=text)
    assert int(again.data["id"]) < int(later.data["id"])
    assert x.get(int(first.data["id"])).deleted
    assert [p.author_id for p in x.posted] == [AGENT, ALICE, AGENT, AGENT, AGENT, AGENT]


async def test_too_long_counts_weighted_characters(x: FakeX) -> None:
    customer = x.tweet(ALICE, "@helpforce hi")
    async with x_client(x, AGENT) as agent:
        await agent.create_tweet(text="a" * 280)
        with pytest.raises(tweepy.BadRequest) as err:
            await agent.create_tweet(text="b" * 281)
        assert err.value.api_messages == [TOO_LONG]
        assert str(err.value).startswith("400 Bad Request\nYour Tweet text is too long.")
        await agent.create_tweet(text="😀" * 140)              # emoji weigh 2
        with pytest.raises(tweepy.BadRequest):
            await agent.create_tweet(text="😃" * 141)
        await agent.create_tweet(text="c" * 250 + " https://example.com/" + "d" * 200)  # 23
        # the auto-populated "@alice @helpforce " in front of a reply does not count
        r = await agent.create_tweet(text="e" * 280, in_reply_to_tweet_id=customer)
        assert r.data["text"] == "@alice @helpforce " + "e" * 280
    assert len(x.posted) == 4


async def test_reply_to_deleted_or_unknown_tweet(x: FakeX) -> None:
    gone = x.tweet(ALICE, "@helpforce help")
    x.delete(gone)
    async with x_client(x, AGENT) as agent:
        for target in (gone, 424242):
            with pytest.raises(tweepy.Forbidden) as err:
                await agent.create_tweet(text="On it", in_reply_to_tweet_id=target)
            assert err.value.api_messages == [REPLY_GONE]
        lookup = await agent.get_tweet(gone, user_auth=True)
        assert lookup.data is None and lookup.errors[0]["resource_type"] == "tweet"
        theirs = x.tweet(ALICE, "mine, not yours")
        with pytest.raises(tweepy.Forbidden):
            await agent.delete_tweet(theirs)
    assert x.posted == [] and not x.get(theirs).deleted


async def test_reply_restriction_of_2026() -> None:
    async with FakeX(reply_restriction=True) as x:
        x.user(ALICE, "alice")
        x.user(AGENT, "agent1834")
        asked = x.tweet(ALICE, "@helpforce is my warranty still valid?")
        async with x_client(x, AGENT) as agent, x_client(x, BRAND_ID) as brand:
            with pytest.raises(tweepy.Forbidden) as err:
                await agent.create_tweet(text="Yes it is", in_reply_to_tweet_id=asked)
            assert "not been mentioned" in err.value.api_messages[0]
            await brand.create_tweet(text="Yes it is", in_reply_to_tweet_id=asked)
        assert [p.author_id for p in x.posted] == [BRAND_ID]


async def test_direct_messages_both_ways(x: FakeX) -> None:
    x.dm(ALICE, BRAND_ID, "My order never arrived")
    conversation = dm_conversation_id(ALICE, BRAND_ID)
    async with x_client(x, BRAND_ID) as brand:
        inbox = await brand.get_direct_message_events(
            dm_event_fields=["sender_id", "created_at", "dm_conversation_id"],
            expansions=["sender_id"], event_types="MessageCreate")
        (event,) = inbox.data
        assert isinstance(event, tweepy.DirectMessageEvent)
        assert (event.event_type, event.text, event.sender_id) == (
            "MessageCreate", "My order never arrived", ALICE)
        assert event.dm_conversation_id == conversation == f"{ALICE}-{BRAND_ID}"
        assert event.created_at is not None
        assert [u.username for u in inbox.includes["users"]] == ["alice"]

        sent = await brand.create_direct_message(participant_id=ALICE, text="Which order?")
        dm = await x.wait_dm(lambda d: d.recipient_id == ALICE)
        assert dm.text == "Which order?" and dm.sender_id == BRAND_ID
        assert sent.data == {"dm_conversation_id": conversation, "dm_event_id": str(dm.id)}

        with pytest.raises(tweepy.Forbidden) as err:
            await brand.create_direct_message(participant_id=BOB, text="Hi Bob")
        assert err.value.api_messages == [DM_CLOSED]
        x.dm(BOB, BRAND_ID, "hello?")  # Bob writes first: now the brand may answer
        await brand.create_direct_message(participant_id=BOB, text="Hi Bob")

    async with x_client(x, ALICE) as alice:
        thread = await alice.get_direct_message_events(participant_id=BRAND_ID,
                                                       dm_event_fields=["sender_id"])
        assert [(e.sender_id, e.text) for e in thread.data] == [
            (BRAND_ID, "Which order?"), (ALICE, "My order never arrived")]
        mine = await alice.get_direct_message_events()
        assert len(mine.data) == 2  # Bob's conversation is not Alice's
        await alice.create_direct_message(dm_conversation_id=conversation, text="#123")
    assert [d.text for d in x.sent_dms] == ["Which order?", "Hi Bob", "#123"]
    assert x.statuses[403] == 1


async def test_rate_limit_429_then_reset(x: FakeX, clock: Clock) -> None:
    x.limits.windows[MENTIONS] = (2, 900.0)
    start = clock()
    async with x_client(x, BRAND_ID) as brand, x_client(x, AGENT) as agent:
        for _ in range(2):
            await brand.get_users_mentions(BRAND_ID, user_auth=True)
        clock.advance(10)
        with pytest.raises(tweepy.TooManyRequests) as err:
            await brand.get_users_mentions(BRAND_ID, user_auth=True)
        headers = err.value.response.headers
        assert int(headers["x-rate-limit-reset"]) == err.value.reset_time == int(start + 900)
        assert (headers["x-rate-limit-limit"], headers["x-rate-limit-remaining"]) == ("2", "0")
        assert "retry-after" not in headers
        assert err.value.api_messages == ["Too Many Requests"]

        await agent.get_users_mentions(BRAND_ID, user_auth=True)  # a budget of its own
        clock.advance(890)
        await brand.get_users_mentions(BRAND_ID, user_auth=True)  # a new window
    assert x.calls[MENTIONS] == 5
    assert x.rate_limited == 1 and x.rate_limited_by == {MENTIONS: 1}
    assert x.remaining(MENTIONS, BRAND_ID) == 1


async def test_budget_headers_and_daily_caps(x: FakeX, clock: Clock) -> None:
    async with x_client(x, AGENT, return_type=aiohttp.ClientResponse) as agent:
        first = await agent.create_tweet(text="one")
        second = await agent.create_tweet(text="two")
        assert first.status == second.status == 201
        assert first.headers["x-rate-limit-limit"] == "100"
        assert [first.headers["x-rate-limit-remaining"],
                second.headers["x-rate-limit-remaining"]] == ["99", "98"]
        assert int(second.headers["x-rate-limit-reset"]) == int(clock() + 900)
    assert x.remaining("POST /2/tweets", AGENT) == 98

    x.limits.daily[DM_SEND] = 2
    async with x_client(x, BRAND_ID) as brand:
        for i in range(2):
            await brand.create_direct_message(participant_id=ALICE, text=f"dm {i}")
        clock.advance(901)  # the 15-minute window is fresh, the day is not
        with pytest.raises(tweepy.TooManyRequests) as err:
            await brand.create_direct_message(participant_id=ALICE, text="dm 2")
        headers = err.value.response.headers
        assert headers["x-user-limit-24hour-remaining"] == "0"
        assert headers["x-rate-limit-remaining"] == "15"
        assert int(headers["x-user-limit-24hour-reset"]) > err.value.reset_time
    assert x.rate_limited_by == {DM_SEND: 1} and len(x.sent_dms) == 2


async def test_faults(x: FakeX, clock: Clock) -> None:
    async with x_client(x, AGENT) as agent:
        x.fail("GET /2/users/me", 503)
        with pytest.raises(tweepy.TwitterServerError) as err:
            await agent.get_me()
        assert err.value.response.status == 503

        x.fail("POST /2/tweets", drop=True)  # posted, but the answer is lost
        with pytest.raises(aiohttp.ClientError):
            await agent.create_tweet(text="lost answer")
        assert x.posted[-1].text == "lost answer"

        x.fail("POST /2/tweets", 503, applied=True)
        with pytest.raises(tweepy.TwitterServerError):
            await agent.create_tweet(text="maybe posted")
        assert x.posted[-1].text == "maybe posted"

        x.fail("*", 429, reset_in=60, user_id=AGENT, times=2)
        for _ in range(2):
            with pytest.raises(tweepy.TooManyRequests) as limited:
                await agent.get_me()
            assert limited.value.reset_time == int(clock() + 60)
        me = await agent.get_me()
        assert me.data.id == AGENT
    assert x.rate_limited == 0 and x.statuses[429] == 2
    assert x.statuses[0] == 1 and x.statuses[503] == 2
    assert len(x.posted) == 2


async def test_authentication(x: FakeX) -> None:
    async with x_client(x) as anonymous:  # no credentials at all: "Bearer None"
        with pytest.raises(tweepy.Unauthorized) as err:
            await anonymous.get_user(username="alice")
        assert err.value.api_messages == ["Unauthorized"]

    keys = x.token_for(AGENT).as_kwargs()
    async with rewriting_session(x.base_url) as session:
        for change in ({"access_token": f"{AGENT}-not-issued"},
                       {"consumer_key": "someone-elses-app"}):
            client = AsyncClient(**{**keys, **change})
            client.session = session
            with pytest.raises(tweepy.Unauthorized):
                await client.get_me()

        raw = await session.get("https://api.twitter.com/2/users/me")
        assert raw.status == 401
        assert await raw.json() == {"title": "Unauthorized", "detail": "Unauthorized",
                                    "type": "about:blank", "status": 401}
        assert "x-rate-limit-limit" not in raw.headers
        raw.release()

    async with x_client(x, AGENT) as agent:
        assert (await agent.get_me()).data.id == AGENT
        x.revoke(AGENT)
        with pytest.raises(tweepy.Unauthorized):
            await agent.get_me()

    async with x_client(x, bearer=x.bearer_token) as app:
        with pytest.raises(tweepy.Forbidden) as forbidden:
            await app.get_me(user_auth=False)
        assert "OAuth 2.0 Application-Only is forbidden" in forbidden.value.api_messages[0]
        with pytest.raises(tweepy.Forbidden):
            await app.create_tweet(text="hello", user_auth=False)
    async with x_client(x, bearer=x.bearer_for(ALICE)) as oauth2_user:
        me = await oauth2_user.get_me(user_auth=False)
        assert me.data.id == ALICE
    assert x.statuses[401] == 5 and x.posted == []


async def test_session_rewriting_stays_on_loopback(x: FakeX) -> None:
    seen: list[URL] = []

    async def record(req: aiohttp.ClientRequest,
                     handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
        seen.append(req.url)
        return await handler(req)

    async with rewriting_session(x.base_url, middlewares=[record]) as session:
        client = AsyncClient(**x.token_for(AGENT).as_kwargs())
        client.session = session
        await client.get_me()
        await client.search_recent_tweets("from:alice OR #help", user_auth=True,
                                          tweet_fields=["author_id"])
        await client.create_tweet(text="hello")
        # tweepy neither closes nor replaces a session that was set
        assert client.session is session and not session.closed
        with pytest.raises(aiohttp.InvalidURL):
            await session.get("https://example.com/")
    assert len(seen) == 3
    assert {(u.scheme, u.host, u.port) for u in seen} == {("http", "127.0.0.1", x.port)}
    assert [u.path for u in seen] == ["/2/users/me", "/2/tweets/search/recent", "/2/tweets"]
    search = x.calls_of("GET /2/tweets/search/recent")[0]
    # the OAuth-signed query (":" percent-encoded by tweepy) arrives intact
    assert search.params == {"query": "from:alice OR #help", "tweet.fields": "author_id"}
    assert search.auth == "oauth1" and search.user_id == AGENT
