"""The X adapter on its own against the loopback X API (tests/fakes/x.py), with the real tweepy:
how each of X's answers is classified for the outbox, budgets and 429s, malformed payloads,
refused credentials, and the settings. The desk is stood in for by a sink that records what it
is handed (the adapter's contract: a batch and the cursor that confirms it).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

pytest.importorskip("tweepy")
pytest.importorskip("aiohttp", minversion="3.12")

from fakes.x import BRAND_ID, FakeX, Limits  # noqa: E402
from fakes.x import Clock as FakeClock  # noqa: E402
from waiting import until  # noqa: E402

from helpforce.adapter import (  # noqa: E402
    NotNow,
    PermanentError,
    UncertainError,
    Unreachable,
)
from helpforce.adapters.x import XAdapterFactory, XSettings  # noqa: E402
from helpforce.adapters.x.adapter import XAdapter  # noqa: E402
from helpforce.clock import SystemClock  # noqa: E402
from helpforce.config.yamlpos import ConfigErrors  # noqa: E402
from helpforce.models import Inbound, Outgoing, Visibility  # noqa: E402

ALICE, BOB = 1001, 1003
MENTIONS = "GET /2/users/:id/mentions"
POST = "POST /2/tweets"
DM_SEND = "POST /2/dm_conversations/with/:participant_id/messages"
TIMEOUT = 10.0


def env_for(x: FakeX) -> dict[str, str]:
    keys = x.token_for(BRAND_ID)
    return {"HELPFORCE_X_CONSUMER_KEY": keys.consumer_key,
            "HELPFORCE_X_CONSUMER_SECRET": keys.consumer_secret,
            "HELPFORCE_X_ACCESS_TOKEN": keys.access_token,
            "HELPFORCE_X_ACCESS_TOKEN_SECRET": keys.access_token_secret}


class Sink:
    """Records batches and cursors, as the desk would commit them."""

    def __init__(self) -> None:
        self.batches: list[list[Inbound]] = []
        self.cursor: str | None = None

    async def __call__(self, batch: Sequence[Inbound], cursor: str | None) -> None:
        self.batches.append(list(batch))
        self.cursor = cursor

    @property
    def inbound(self) -> list[Inbound]:
        return [e for b in self.batches for e in b]


async def started(x: FakeX, sink: Sink, cursor: str | None = None,
                  env: dict[str, str] | None = None, clock: Any = None,
                  **settings: Any) -> XAdapter:
    s = XSettings(api_base=x.base_url, poll_interval=3600, **settings)
    adapter = XAdapterFactory().create(s, clock=clock or SystemClock(), env=env or env_for(x))
    assert isinstance(adapter, XAdapter)
    await adapter.start(sink, cursor)
    await until(lambda: adapter.status() != "connecting", TIMEOUT)
    return adapter


async def read(adapter: XAdapter) -> None:
    ticket = adapter.poll_now()
    await until(lambda: adapter.reads >= ticket, TIMEOUT)


@pytest.fixture
async def x() -> AsyncIterator[FakeX]:
    async with FakeX() as fake:
        fake.user(ALICE, "alice", "Alice")
        fake.user(BOB, "bob", "Bob", accepts_dms_from_anyone=False)
        yield fake
        assert not fake.server_errors


@pytest.fixture
async def adapter(x: FakeX) -> AsyncIterator[XAdapter]:
    a = await started(x, Sink())
    yield a
    await a.stop()


def reply(text: str, to: int, **kw: Any) -> Outgoing:
    return Outgoing("x", str(to), text, Visibility.PUBLIC, reply_to=str(to), **kw)


# -- out: how X's answers are classified --------------------------------------------------------


async def test_a_reply_is_posted_in_the_customers_conversation(
    x: FakeX, adapter: XAdapter
) -> None:
    asked = x.tweet(ALICE, "@helpforce hello")
    result = await adapter.send(reply("Hi Alice! ^JD", asked))
    post = x.get(int(result.platform_message_id))
    assert post.author_id == BRAND_ID and post.in_reply_to_tweet_id == asked
    assert post.conversation_id == asked and post.body == "Hi Alice! ^JD"


async def test_permanent_refusals_say_why(x: FakeX, adapter: XAdapter) -> None:
    asked = x.tweet(ALICE, "@helpforce hello")
    await adapter.send(reply("Thanks for writing! ^JD", asked))
    with pytest.raises(PermanentError, match="duplicate"):
        await adapter.send(reply("Thanks for writing! ^JD", asked))
    gone = x.tweet(ALICE, "@helpforce oops")
    x.delete(gone)
    with pytest.raises(PermanentError, match="deleted"):
        await adapter.send(reply("On it ^JD", gone))
    posts = x.calls[POST]
    with pytest.raises(PermanentError, match="too long"):
        await adapter.send(reply("é" * 200 + " 😀" * 50, asked))
    assert x.calls[POST] == posts  # refused before asking X: 280 weighted characters


async def test_a_dm_to_someone_who_does_not_accept_them_is_unreachable(
    x: FakeX, adapter: XAdapter
) -> None:
    with pytest.raises(Unreachable):
        await adapter.send(Outgoing("x", f"dm:{BOB}", "Hi Bob", Visibility.PRIVATE,
                                    dm_user=str(BOB)))
    result = await adapter.send(Outgoing("x", f"dm:{ALICE}", "Hi Alice", Visibility.PRIVATE,
                                         dm_user=str(ALICE)))
    assert result.platform_message_id.startswith("dm:")
    assert x.sent_dms[-1].recipient_id == ALICE and x.sent_dms[-1].text == "Hi Alice"


async def test_server_errors_and_a_lost_answer_are_uncertain(
    x: FakeX, adapter: XAdapter
) -> None:
    # X may fail a request after it posted: a send has no idempotency key, so a 5xx is not
    # safe to repeat (it would post twice, or fail as a duplicate of a public answer)
    asked = x.tweet(ALICE, "@helpforce hello")
    x.fail(POST, 503, applied=True)
    with pytest.raises(UncertainError):
        await adapter.send(reply("One moment ^JD", asked))
    assert [p.body for p in x.posted] == ["One moment ^JD"]
    x.fail(POST, 503)
    with pytest.raises(UncertainError):
        await adapter.send(reply("One more moment ^JD", asked))
    x.fail(POST, drop=True)  # X posts it, and the answer is lost on the way
    with pytest.raises(UncertainError):
        await adapter.send(reply("One moment please ^JD", asked))
    assert [p.body for p in x.posted] == ["One moment ^JD", "One moment please ^JD"]


async def test_a_spent_budget_or_a_429_sets_the_message_aside_until_the_reset(
    x: FakeX,
) -> None:
    sink = Sink()
    adapter = await started(x, sink, budgets={"dm_send": {"requests": 2, "per": "15m"}})
    try:
        dm = Outgoing("x", f"dm:{ALICE}", "Hi", Visibility.PRIVATE, dm_user=str(ALICE))
        from dataclasses import replace
        await adapter.send(replace(dm, text="one"))
        await adapter.send(replace(dm, text="two"))
        with pytest.raises(NotNow) as spent:
            await adapter.send(replace(dm, text="three"))
        assert 800 < spent.value.retry_after <= 900
        assert x.calls[DM_SEND] == 2  # the third never reached X
        # X says 429 (another client spent it): wait for X's reset, do not retry before
        asked = x.tweet(ALICE, "@helpforce hello")
        x.fail(POST, 429, reset_in=120)
        with pytest.raises(NotNow) as told:
            await adapter.send(reply("Hello ^JD", asked))
        assert 100 < told.value.retry_after <= 121
        with pytest.raises(NotNow):
            await adapter.send(reply("Hello ^JD", asked))
        assert x.calls[POST] == 1
    finally:
        await adapter.stop()


# -- in ------------------------------------------------------------------------------------------


async def test_the_first_read_notes_where_x_stands_then_new_posts_come_in_order(
    x: FakeX,
) -> None:
    x.tweet(ALICE, "@helpforce an old one")
    sink = Sink()
    adapter = await started(x, sink)
    try:
        assert sink.inbound == []  # a new deployment does not answer old posts
        one = x.tweet(ALICE, "@helpforce one")
        two = x.tweet(BOB, "@helpforce two")
        x.dm(ALICE, BRAND_ID, "a private word")
        await read(adapter)
        public = [(e.message_id, e.text) for e in sink.inbound
                  if e.visibility is Visibility.PUBLIC]
        assert public == [(str(one), "@helpforce one"), (str(two), "@helpforce two")]
        private = [e for e in sink.inbound if e.visibility is Visibility.PRIVATE]
        assert [(e.text, e.conversation) for e in private] == [("a private word",
                                                                 f"dm:{ALICE}")]
        state = json.loads(sink.cursor or "{}")
        assert state["mentions"] == str(two)
    finally:
        await adapter.stop()


async def test_a_reply_without_the_brands_handle_is_found_in_the_followed_conversation(
    x: FakeX,
) -> None:
    sink = Sink()
    adapter = await started(x, sink)
    try:
        asked = x.tweet(ALICE, "@helpforce my TV is broken")
        await read(adapter)
        # someone answers Alice without mentioning the brand: no mention, only search finds it
        answer = x.tweet(BOB, "mine did that too, unplug it", reply_to=asked,
                         exclude_reply_user_ids=[BRAND_ID])
        assert BRAND_ID not in x.get(answer).mentioned_ids
        await read(adapter)
        found = [e for e in sink.inbound if e.message_id == str(answer)]
        assert found and found[0].conversation == str(asked)
        assert found[0].reply_to == str(asked) and found[0].text == "mine did that too, unplug it"
    finally:
        await adapter.stop()


async def test_a_429_on_a_read_waits_for_the_reset_and_loses_nothing(x: FakeX) -> None:
    sink = Sink()
    adapter = await started(x, sink)
    try:
        x.fail(MENTIONS, 429, reset_in=600)
        one = x.tweet(ALICE, "@helpforce one")
        await read(adapter)
        assert adapter.status() == "connected" and sink.inbound == []
        assert adapter.budgets["mentions"].delay() > 500
        adapter.budgets["mentions"].blocked_until = 0  # as if the reset had come
        await read(adapter)
        assert [e.message_id for e in sink.inbound] == [str(one)]
    finally:
        await adapter.stop()


async def test_malformed_posts_are_skipped_and_the_rest_come_in(
    x: FakeX, adapter: XAdapter
) -> None:
    users = {str(ALICE): "alice"}
    good = {"id": "1800000000000000001", "author_id": str(ALICE), "text": "fine",
            "conversation_id": "1800000000000000001"}
    bad = [{"id": "x"}, {"author_id": str(ALICE)}, {"id": "12", "author_id": None}]
    out = adapter._posts([good, *bad], users, follow=False)
    assert [e.message_id for e in out] == ["1800000000000000001"]
    assert adapter.skipped == 3


async def test_refused_credentials_are_reported_by_name(x: FakeX) -> None:
    env = env_for(x)
    x.revoke(BRAND_ID)  # the brand's access token is no longer valid
    sink = Sink()
    adapter = await started(x, sink, env=env)
    try:
        assert adapter.status().startswith("failing: X refused the brand account's credentials")
        assert "HELPFORCE_X_ACCESS_TOKEN" in adapter.status()
    finally:
        await adapter.stop()


# -- settings ------------------------------------------------------------------------------------


def test_settings_and_secrets_are_checked_with_clear_messages() -> None:
    with pytest.raises(ValueError, match="HELPFORCE_X_ACCESS_TOKEN_SECRET"):
        XAdapterFactory().create(XSettings(), clock=SystemClock(), env={
            "HELPFORCE_X_CONSUMER_KEY": "k", "HELPFORCE_X_CONSUMER_SECRET": "s",
            "HELPFORCE_X_ACCESS_TOKEN": "t"})
    factory = XAdapterFactory()
    assert factory.validate_user_id(1456987230145698304) == "1456987230145698304"
    with pytest.raises(ValueError, match="handles change hands"):
        factory.validate_user_id("@agent1834")
    with pytest.raises(Exception, match="staff channel"):
        XSettings(staff_channel="123")
    assert Limits  # the fake's limits are X's published ones by default


def test_x_settings_errors_point_at_the_file_and_line(tmp_path: Any) -> None:
    from helpforce.config import load_config

    (tmp_path / "helpforce.yaml").write_text(
        "platforms:\n  x:\n    budgets:\n      post: {requests: 0}\n")
    with pytest.raises(ConfigErrors) as err:
        load_config(tmp_path, env={}, factories={"x": XAdapterFactory()})
    assert "helpforce.yaml:4" in str(err.value) and "requests" in str(err.value)


async def test_a_source_that_keeps_failing_does_not_keep_the_others_from_being_read(
    x: FakeX,
) -> None:
    # an app without DM access: every read of DMs is refused; mentions still come in
    x.user(ALICE, "alice")
    x.fail("GET /2/dm_events", 403, times=10**6, detail="not permitted to access DMs")
    sink = Sink()
    adapter = await started(x, sink)
    try:
        await read(adapter)  # the first read of mentions notes where X stands
        asked = x.tweet(ALICE, "@helpforce my order is late")
        await read(adapter)
        assert str(asked) in [e.message_id for e in sink.inbound]
        assert adapter.status().startswith("failing: dms: ")
    finally:
        await adapter.stop()


class _Clock:
    """The adapter's clock, on the fake's: days pass when the test says so."""

    def __init__(self, fake: FakeClock) -> None:
        self.fake = fake

    def now(self) -> float:
        return self.fake()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(min(max(seconds, 0.0), 0.05))


async def test_a_search_quiet_for_more_than_7_days_still_finds_new_posts() -> None:
    # search/recent answers 400 to a since_id older than its 7 days: the adapter asks from 7
    # days ago at the oldest (nothing older can be read there)
    clock = FakeClock()
    async with FakeX(clock=clock, limits={}) as x:
        x.user(ALICE, "alice")
        x.tweet(ALICE, "acmetv is great")
        sink = Sink()
        adapter = await started(x, sink, clock=_Clock(clock), dms=False, mentions=False,
                                follow_conversations=0, searches=("acmetv",))
        try:
            await read(adapter)  # notes where the search stands
            clock.advance(8 * 86400)
            post = x.tweet(ALICE, "acmetv broke after the update")
            await read(adapter)
            assert [e.message_id for e in sink.inbound] == [str(post)]
            assert adapter.status() == "connected"
        finally:
            await adapter.stop()


async def test_a_backlog_longer_than_a_budget_window_gets_through_a_window_at_a_time() -> None:
    # 250 DMs are three pages of 100; the budget allows two reads per 15 minutes: the sweep
    # that had to wait goes on from its third page in the next window
    clock = FakeClock()
    async with FakeX(clock=clock, limits={}) as x:
        x.user(ALICE, "alice")
        x.allow_dms(BRAND_ID, ALICE)
        sink = Sink()
        adapter = await started(x, sink, clock=_Clock(clock), mentions=False,
                                follow_conversations=0,
                                budgets={"dm_events": {"requests": 2, "per": "15m"}})
        try:
            await read(adapter)  # notes where the DMs stand
            for i in range(250):
                x.dm(ALICE, BRAND_ID, f"message {i}")
                clock.advance(1)
            windows = 0
            while len(sink.inbound) < 250 and windows < 6:
                clock.advance(901)
                windows += 1
                await read(adapter)
            assert [e.text for e in sink.inbound] == [f"message {i}" for i in range(250)]
            assert windows == 2
        finally:
            await adapter.stop()
