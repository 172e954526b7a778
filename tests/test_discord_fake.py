"""The fake Discord (tests/fakes/discord.py), proven with the real discord.py 2.x Client."""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop (3.11)
    discord = pytest.importorskip("discord")

import aiohttp  # noqa: E402  (after the importorskip: it comes with discord.py)
from discord.gateway import DiscordWebSocket  # noqa: E402
from discord.http import Route  # noqa: E402
from fakes.discord import (  # noqa: E402
    APPLICATION_ID,
    BOT_ID,
    MESSAGE_CONTENT,
    PRIVATE_THREAD,
    FakeDiscord,
    Limits,
    Message,
)

WAIT = 5.0


@dataclass
class World:
    guild: Any
    help: Any
    staff: Any
    forum: Any
    alice: Any
    bob: Any  # does not accept DMs
    carol: Any  # shares no guild with the bot


def populate(fake: FakeDiscord) -> World:
    guild = fake.guild("Helpforce")
    return World(
        guild=guild,
        help=fake.text_channel(guild, "help"),
        staff=fake.text_channel(guild, "staff"),
        forum=fake.forum_channel(guild, "questions"),
        alice=fake.member(guild, "alice"),
        bob=fake.member(guild, "bob", allows_dms=False),
        carol=fake.user("carol"),
    )


@contextlib.asynccontextmanager
async def discord_fake(**options: Any) -> AsyncIterator[tuple[FakeDiscord, World]]:
    async with FakeDiscord(heartbeat_interval=0.5, **options) as fake:
        world = populate(fake)
        with fake.patch_discord():
            yield fake, world


@pytest.fixture
async def fake_world() -> AsyncIterator[tuple[FakeDiscord, World]]:
    async with discord_fake() as pair:
        yield pair


class Bot(discord.Client):
    """A plain discord.py client that records what it receives."""

    def __init__(self, *, content: bool = True, **kwargs: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = content
        intents.members = True
        super().__init__(intents=intents, guild_ready_timeout=0.05, **kwargs)
        self.seen: list[discord.Message] = []
        self.edits: list[discord.RawMessageUpdateEvent] = []
        self.ready_count = 0
        self.resumed_count = 0
        self._changed = asyncio.Event()

    def _poke(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)
        self._poke()

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        self.edits.append(payload)
        self._poke()

    async def on_ready(self) -> None:
        self.ready_count += 1
        self._poke()

    async def on_resumed(self) -> None:
        self.resumed_count += 1
        self._poke()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False
                                   ) -> None:
        pass  # discord.py sleeps 5 s here before every IDENTIFY but the first

    def seen_ids(self) -> list[int]:
        return [m.id for m in self.seen]

    async def until(self, condition: Callable[[], Any], timeout: float = WAIT) -> Any:
        async with asyncio.timeout(timeout):
            while not (value := condition()):
                await self._changed.wait()
            return value


@contextlib.asynccontextmanager
async def running(bot: Bot, fake: FakeDiscord) -> AsyncIterator[Bot]:
    """Run ``bot`` against the fake until it is ready (READY + GUILD_CREATEs); close it after."""
    async with bot:
        task = asyncio.create_task(bot.start(fake.token))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({task, ready}, timeout=WAIT,
                                     return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if task in done:
                task.result()
            raise TimeoutError("discord.py did not get ready")
        try:
            yield bot
        finally:
            await bot.close()
            await asyncio.wait_for(task, WAIT)


def channel_of(bot: Bot, channel_id: int) -> Any:
    channel = bot.get_channel(channel_id)
    assert channel is not None
    return channel


# -- login and the cache ----------------------------------------------------------------------


async def test_login_ready_and_guild_cache(fake_world: tuple[FakeDiscord, World]) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        assert bot.user is not None and bot.user.id == BOT_ID
        assert bot.application_id == APPLICATION_ID
        assert bot.application_flags.gateway_message_content_limited
        guild = bot.get_guild(w.guild.id)
        assert guild is not None and guild.name == "Helpforce"
        assert isinstance(guild.get_channel(w.help.id), discord.TextChannel)
        assert isinstance(guild.get_channel(w.forum.id), discord.ForumChannel)
        member = guild.get_member(w.alice.id)
        assert member is not None and member.name == "alice"
        assert guild.me.guild_permissions.administrator
        await fake.wait_until(lambda: fake.frames_of(1))  # a heartbeat, answered with op 11

    assert [c.route for c in fake.calls[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    assert fake.identifies[0]["intents"] == bot.intents.value
    assert fake.connections[0].path == "/" and fake.connections[0].query["v"] == "10"
    assert fake.connections[0].kind == "identify"
    await fake.wait_until(lambda: fake.connections[0].closed_at is not None)
    assert fake.connections[0].closed_by == "client"
    # Client.close() asks for 1000, but its reader task, woken by the close, sends 4000 first:
    # on the wire the session stays resumable (only a 1000/1001 close ends it, as on Discord)
    assert fake.connections[0].close_code in (1000, 4000)
    assert Route.BASE == fake.api_base  # restored only when patch_discord() exits


async def test_patch_discord_restores_the_base_urls() -> None:
    before = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        with fake.patch_discord():
            assert Route.BASE == fake.api_base
            assert str(DiscordWebSocket.DEFAULT_GATEWAY) == fake.gateway_url
    assert (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY) == before


async def test_answers_are_exactly_application_json_with_rate_limit_headers(
    fake_world: tuple[FakeDiscord, World],
) -> None:
    fake, _ = fake_world
    async with aiohttp.ClientSession() as http:
        auth = {"Authorization": f"Bot {fake.token}"}
        async with http.get(fake.api_base + "/users/@me", headers=auth) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/json"
            for name in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
                assert f"X-RateLimit-{name}" in resp.headers
            assert (await resp.json())["id"] == str(BOT_ID)
        async with http.get(fake.api_base + "/users/@me") as resp:
            assert resp.status == 401
            assert resp.headers["Content-Type"] == "application/json"
        async with http.get(fake.api_base + "/nowhere", headers=auth) as resp:
            assert resp.status == 404


async def test_a_wrong_token_is_a_login_failure(fake_world: tuple[FakeDiscord, World]) -> None:
    fake, _ = fake_world
    async with Bot() as bot:
        with pytest.raises(discord.LoginFailure):
            await bot.login("not-the-token")


# -- messages in ------------------------------------------------------------------------------


async def test_guild_message_and_dm_arrive_with_content(
    fake_world: tuple[FakeDiscord, World],
) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        said = fake.user_says(w.alice.id, w.help.id, "My TV is broken")
        got = await bot.until(lambda: next((m for m in bot.seen if m.id == said.id), None))
        assert got.content == "My TV is broken"
        assert got.channel.id == w.help.id and got.guild.id == w.guild.id
        assert got.author.id == w.alice.id

        dm = fake.user_dms(w.alice.id, "a private question")
        got = await bot.until(lambda: next((m for m in bot.seen if m.id == dm.id), None))
        assert isinstance(got.channel, discord.DMChannel) and got.guild is None
        assert got.content == "a private question"

        reply = fake.user_says(w.alice.id, w.help.id, "also this", reference=said)
        got = await bot.until(lambda: next((m for m in bot.seen if m.id == reply.id), None))
        assert got.reference is not None and got.reference.message_id == said.id


@pytest.mark.parametrize("how", ["intent not requested", "intent not granted"])
async def test_without_message_content_guild_messages_are_empty(how: str) -> None:
    granted = how != "intent not granted"
    async with discord_fake(message_content_granted=granted) as (fake, w):
        async with running(Bot(content=granted is False), fake) as bot:
            plain = fake.user_says(w.alice.id, w.help.id, "secret words")
            mention = fake.user_says(w.alice.id, w.help.id, f"<@{BOT_ID}> help me")
            dm = fake.user_dms(w.alice.id, "in private")
            await bot.until(lambda: dm.id in bot.seen_ids())
            by_id = {m.id: m for m in bot.seen}
            assert by_id[plain.id].content == ""
            assert by_id[mention.id].content == f"<@{BOT_ID}> help me"  # mentions keep it
            assert by_id[dm.id].content == "in private"  # so do DMs
            if not granted:  # REST hides it too when the app is not approved for it
                history = [m async for m in channel_of(bot, w.help.id).history(limit=5)]
                assert {m.id: m.content for m in history}[plain.id] == ""
        requested = fake.identifies[0]["intents"] & MESSAGE_CONTENT
        assert bool(requested) == (not granted)


async def test_a_disallowed_privileged_intent_closes_with_4014() -> None:
    async with discord_fake(message_content_granted=False,
                            close_on_disallowed_intents=True) as (fake, _):
        async with Bot() as bot:
            with pytest.raises(discord.PrivilegedIntentsRequired):
                await asyncio.wait_for(bot.start(fake.token), WAIT)
        assert fake.connections[0].close_code == 4014
        assert fake.connections[0].closed_by == "fake"


# -- messages out -------------------------------------------------------------------------------


class ClaimView(discord.ui.View):
    """A persistent view: no timeout, a fixed custom_id (survives restarts)."""

    def __init__(self, answer: str) -> None:
        super().__init__(timeout=None)
        self.answer = answer
        self.errors: list[Exception] = []

    @discord.ui.button(label="Claim", custom_id="claim:q1", style=discord.ButtonStyle.primary)
    async def claim(self, interaction: discord.Interaction, button: discord.ui.Button[Any]
                    ) -> None:
        try:
            if self.answer == "defer":
                await interaction.response.defer()
                await interaction.followup.send("only you see this", ephemeral=True)
            elif self.answer == "message":
                await interaction.response.send_message("claimed by alice")
            else:
                await interaction.response.edit_message(content="claimed by alice", view=None)
        except discord.HTTPException as exc:
            self.errors.append(exc)


@pytest.mark.parametrize(("answer", "callback_type"),
                         [("defer", 6), ("message", 4), ("update", 7)])
async def test_button_press_is_an_interaction_answered_in_time(
    fake_world: tuple[FakeDiscord, World], answer: str, callback_type: int,
) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        view = ClaimView(answer)
        bot.add_view(view)  # persistent: dispatched by custom_id, whatever the message
        await channel_of(bot, w.staff.id).send("Q1: my TV is broken", view=view)
        sent = await fake.wait_sent(lambda m: m.channel_id == w.staff.id)
        assert sent.buttons == [("Claim", "claim:q1")]
        assert sent.components[0]["components"][0]["style"] == 1
        await bot.until(lambda: sent.id in bot.seen_ids())  # the bot sees its own message

        ix = fake.user_presses(w.alice.id, sent, "claim:q1")
        callback = await fake.wait_callback(ix)
        assert callback.type == callback_type and callback.status == 200
        assert callback.delay < 3.0 and ix.answered_in is not None and ix.answered_in < 3.0
        if answer == "defer":
            followup = await fake.wait_sent(lambda m: m.via == "followup")
            assert followup.ephemeral and followup.content == "only you see this"
        elif answer == "message":
            response = await fake.wait_sent(lambda m: m.via == "interaction")
            assert not response.ephemeral and response.content == "claimed by alice"
            seen = await bot.until(lambda: next(
                (m for m in bot.seen if m.id == response.id), None))  # public: dispatched
            assert seen.interaction_metadata is not None
            assert seen.interaction_metadata.user.id == w.alice.id
        else:
            await fake.wait_until(lambda: sent.edits == 1)
            assert sent.content == "claimed by alice" and sent.components == []
        assert view.errors == []
        with pytest.raises(ValueError):
            fake.user_presses(w.alice.id, sent, "no-such-button")


async def test_a_late_interaction_answer_is_unknown_interaction() -> None:
    async with discord_fake(interaction_deadline=0.0) as (fake, w):
        async with running(Bot(), fake) as bot:
            view = ClaimView("defer")
            bot.add_view(view)
            await channel_of(bot, w.staff.id).send("Q2", view=view)
            sent = await fake.wait_sent()
            ix = fake.user_presses(w.alice.id, sent, "claim:q1")
            callback = await fake.wait_callback(ix)
            assert callback.status == 404
            await fake.wait_until(lambda: view.errors)
            assert isinstance(view.errors[0], discord.NotFound)
            assert view.errors[0].code == 10062


async def test_message_edit(fake_world: tuple[FakeDiscord, World]) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        message = await channel_of(bot, w.help.id).send("draft answer")
        await message.edit(content="final answer", embed=discord.Embed(title="Answer"))
        sent = fake.messages[message.id]
        assert sent.content == "final answer" and sent.edits == 1
        assert sent.embeds[0]["title"] == "Answer"
        assert sent.history[0]["content"] == "draft answer"
        await bot.until(lambda: any(e.message_id == message.id for e in bot.edits))
        assert fake.calls_of("PATCH", "/channels/{channel_id}/messages/{message_id}")


async def test_dm_to_a_user_who_blocks_dms_is_forbidden_50007(
    fake_world: tuple[FakeDiscord, World],
) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        alice = await bot.fetch_user(w.alice.id)
        await alice.send("your answer")
        assert fake.sent[-1].channel_id == fake.dm_channel(w.alice.id).id
        for user_id in (w.bob.id, w.carol.id):  # DMs off; no shared guild
            user = await bot.fetch_user(user_id)
            with pytest.raises(discord.Forbidden) as caught:
                await user.send("your answer")
            assert caught.value.code == 50007 and caught.value.status == 403
            assert "Cannot send messages to this user" in caught.value.text


async def test_private_thread_and_adding_a_member(fake_world: tuple[FakeDiscord, World]) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        help_ = channel_of(bot, w.help.id)
        thread = await help_.create_thread(name="case 1", type=discord.ChannelType.private_thread,
                                           invitable=False)
        assert thread.type is discord.ChannelType.private_thread
        model = fake.channels[thread.id]
        assert model.type == PRIVATE_THREAD and model.parent_id == w.help.id
        assert not model.invitable and list(model.members) == [BOT_ID]
        with pytest.raises(ValueError):  # not a member yet
            fake.user_says(w.alice.id, thread.id, "let me in")

        await thread.add_user(discord.Object(w.alice.id))
        assert w.alice.id in model.members
        await bot.until(lambda: bot.get_channel(thread.id))  # THREAD_CREATE reached the cache
        said = fake.user_says(w.alice.id, thread.id, "details, privately")
        got = await bot.until(lambda: next((m for m in bot.seen if m.id == said.id), None))
        assert isinstance(got.channel, discord.Thread) and got.content == "details, privately"
        await thread.send("thanks, looking")
        assert fake.sent_to(thread.id)[0].content == "thanks, looking"


async def test_threads_from_a_message_and_forum_posts(
    fake_world: tuple[FakeDiscord, World],
) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        question = fake.user_says(w.alice.id, w.help.id, "how do I reset it?")
        message = await channel_of(bot, w.help.id).fetch_message(question.id)
        thread = await message.create_thread(name="reset")
        assert thread.id == question.id  # Discord: a thread from a message has its id
        assert fake.messages[question.id].thread_id == thread.id

        forum = channel_of(bot, w.forum.id)
        post = await forum.create_thread(name="Printer on fire", content="what now?")
        assert post.thread.id == post.message.id
        assert fake.channels[post.thread.id].parent_id == w.forum.id
        assert fake.messages[post.message.id].content == "what now?"


# -- faults and limits --------------------------------------------------------------------------


async def test_a_429_with_via_is_retried_by_discord_py(
    fake_world: tuple[FakeDiscord, World],
) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        fault = fake.fail("POST", "/channels/{channel_id}/messages", 429, retry_after=0.05)
        message = await channel_of(bot, w.help.id).send("after a 429")
        assert fault.hits == 1
        posts = fake.calls_of("POST", "/channels/{channel_id}/messages")
        assert [c.status for c in posts] == [429, 200]
        assert posts[0].headers["Via"] == "1.1 google"
        assert [m.id for m in fake.sent_to(w.help.id)] == [message.id]


async def test_a_429_without_via_is_not_retried(fake_world: tuple[FakeDiscord, World]) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        fake.fail("POST", "/channels/*/messages", 429, via=False)
        with pytest.raises(discord.HTTPException) as caught:
            await channel_of(bot, w.help.id).send("banned?")
        assert caught.value.status == 429
        fake.fail("POST", "/channels/*/messages", 403, code=50013)
        with pytest.raises(discord.Forbidden) as forbidden:
            await channel_of(bot, w.help.id).send("no permission")
        assert forbidden.value.code == 50013
        assert fake.sent == []


async def test_nonce_makes_a_repeated_send_return_the_original(
    fake_world: tuple[FakeDiscord, World],
) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        help_ = channel_of(bot, w.help.id)
        fake.fail("POST", "/channels/{channel_id}/messages", drop=True)
        with pytest.raises(aiohttp.ClientError):  # sent, but the answer was lost
            await help_.send("the answer", nonce="outbox-17")
        again = await help_.send("the answer", nonce="outbox-17")
        assert [m.id for m in fake.sent] == [again.id]
        assert fake.calls_of("POST")[-1].body["enforce_nonce"] is True
        other = await help_.send("the answer", nonce="outbox-18")
        assert other.id != again.id and len(fake.sent) == 2


async def test_enforced_limits_discord_py_stays_under_them() -> None:
    limits = Limits(routes={"POST /channels/{channel_id}/messages": (3, 0.3)})
    async with discord_fake(limits=limits) as (fake, w):
        async with running(Bot(), fake) as bot:
            help_ = channel_of(bot, w.help.id)
            started = time.monotonic()
            for n in range(7):
                await help_.send(f"answer {n}")
            elapsed = time.monotonic() - started
        assert fake.rejected_429 == 0 and len(fake.sent_to(w.help.id)) == 7
        assert elapsed >= 0.6  # 7 sends at 3 per 0.3 s: two waits for a reset

        # a client that ignores the headers gets 429s (counted), with Discord's shape
        async with aiohttp.ClientSession() as http:
            url = f"{fake.api_base}/channels/{w.staff.id}/messages"
            auth = {"Authorization": f"Bot {fake.token}"}
            statuses = []
            for n in range(4):
                async with http.post(url, json={"content": f"burst {n}"}, headers=auth) as r:
                    statuses.append(r.status)
                    if r.status == 429:
                        body = await r.json()
                        assert r.headers["Via"] == "1.1 google"
                        assert r.headers["X-RateLimit-Remaining"] == "0"
                        assert 0 < body["retry_after"] <= 0.3 and body["global"] is False
        assert statuses == [200, 200, 200, 429]
        assert fake.rejected_429 == 1


async def test_the_global_limit() -> None:
    async with discord_fake(limits=Limits(global_per_second=3)) as (fake, _):
        async with aiohttp.ClientSession() as http:
            auth = {"Authorization": f"Bot {fake.token}"}
            statuses = []
            for _n in range(4):
                async with http.get(fake.api_base + "/users/@me", headers=auth) as r:
                    statuses.append(r.status)
                    if r.status == 429:
                        assert r.headers["X-RateLimit-Global"] == "true"
                        assert (await r.json())["global"] is True
        assert statuses == [200, 200, 200, 429]
        assert fake.rejected_by["global"] == 1


# -- reconnects ---------------------------------------------------------------------------------


async def test_reconnect_resume_replays_a_missed_message_exactly_once(
    fake_world: tuple[FakeDiscord, World],
) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        before = fake.user_says(w.alice.id, w.help.id, "before")
        await bot.until(lambda: before.id in bot.seen_ids())
        session = fake.session_ids[0]

        assert fake.reconnect() == 1
        missed = fake.user_says(w.alice.id, w.help.id, "while away")
        await bot.until(lambda: bot.resumed_count == 1)
        after = fake.user_says(w.alice.id, w.help.id, "after")
        await bot.until(lambda: after.id in bot.seen_ids())

        ids = bot.seen_ids()
        assert ids.count(before.id) == 1 and ids.count(missed.id) == 1
        assert ids.index(missed.id) < ids.index(after.id)
        assert fake.replayed == [1]
        assert fake.resumes[0]["session_id"] == session
        assert fake.connections[-1].path == "/resume" and fake.connections[-1].kind == "resume"
        assert len(fake.identifies) == 1


async def test_a_dropped_connection_is_resumed(fake_world: tuple[FakeDiscord, World]) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        assert fake.drop_connection() == 1
        missed = fake.user_says(w.alice.id, w.help.id, "during the outage")
        await bot.until(lambda: missed.id in bot.seen_ids())
        await bot.until(lambda: bot.resumed_count == 1)
        assert bot.seen_ids().count(missed.id) == 1
        assert len(fake.identifies) == 1 and len(fake.resumes) == 1


async def test_invalid_session_makes_the_client_identify_again(
    fake_world: tuple[FakeDiscord, World],
) -> None:
    fake, w = fake_world
    async with running(Bot(), fake) as bot:
        first = fake.user_says(w.alice.id, w.help.id, "first")
        await bot.until(lambda: first.id in bot.seen_ids())
        assert fake.invalidate_session() == 1
        lost = fake.user_says(w.alice.id, w.help.id, "lost on the gateway")
        await bot.until(lambda: bot.ready_count == 2)  # a new READY after a new IDENTIFY
        assert len(fake.identifies) == 2 and len(fake.session_ids) == 1
        later = fake.user_says(w.alice.id, w.help.id, "later")
        await bot.until(lambda: later.id in bot.seen_ids())
        assert lost.id not in bot.seen_ids()
        # ... which is why an adapter backfills over REST after a new session
        history = [m async for m in channel_of(bot, w.help.id).history(after=discord.Object(
            first.id))]
        assert [m.id for m in history] == [lost.id, later.id]


async def test_history_after_pages_oldest_first(fake_world: tuple[FakeDiscord, World]) -> None:
    fake, w = fake_world
    said: list[Message] = [fake.user_says(w.alice.id, w.help.id, f"message {n}")
                           for n in range(105)]  # before the client connects: no events
    async with running(Bot(), fake) as bot:
        assert bot.seen == []
        raw = await bot.http.logs_from(w.help.id, 3, after=said[0].id)
        assert [int(m["id"]) for m in raw] == [said[3].id, said[2].id, said[1].id]  # newest 1st
        raw = await bot.http.logs_from(w.help.id, 2)
        assert [int(m["id"]) for m in raw] == [said[104].id, said[103].id]
        raw = await bot.http.logs_from(w.help.id, 2, before=said[50].id)
        assert [int(m["id"]) for m in raw] == [said[49].id, said[48].id]

        help_ = channel_of(bot, w.help.id)
        history = [m async for m in help_.history(after=discord.Object(said[0].id), limit=None)]
        assert [m.id for m in history] == [m.id for m in said[1:]]
        assert history[0].content == "message 1"
        pages = fake.calls_of("GET", "/channels/{channel_id}/messages")[-2:]
        assert [c.query["after"] for c in pages] == [str(said[0].id), str(said[100].id)]
