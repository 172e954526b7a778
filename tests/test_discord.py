"""Discord end to end: the real App, store and outbox, the real discord.py, and Discord faked on
127.0.0.1 (tests/fakes/discord.py: gateway + REST). No fixed sleeps: every wait is on a
condition, with a timeout.

People: Jordan (lead, ^JD) and Priya (agent, ^PR) are on the roster with their Discord ids;
Alice and Bob are customers (Bob does not accept DMs); Mallory is in the server, not on the
roster.
"""

from __future__ import annotations

import shutil
import sqlite3
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop (3.11)
    pytest.importorskip("discord")

from fakes.discord import TOKEN, FakeDiscord, Message  # noqa: E402
from waiting import until  # noqa: E402

from conftest import EXAMPLE_CONFIG  # noqa: E402
from helpforce.adapters.discord import DiscordAdapterFactory, DiscordSettings  # noqa: E402
from helpforce.adapters.discord.adapter import DiscordAdapter, reset_urls  # noqa: E402
from helpforce.app import App  # noqa: E402
from helpforce.clock import SystemClock  # noqa: E402
from helpforce.config import load_config  # noqa: E402
from helpforce.models import Event, Outgoing, Visibility  # noqa: E402
from helpforce.queries import show_question  # noqa: E402

ENV = {"HF_DISCORD_TOKEN": TOKEN}
JORDAN, PRIYA = 200000000000000101, 200000000000000102
ALICE, BOB, MALLORY = 300000000000000201, 300000000000000202, 300000000000000203
ALICE_TG = 2001  # Alice's Telegram account, for the question asked on another platform
TIMEOUT = 10.0

ROSTER = f"""\
staff:
  - id: jdiaz
    name: Jordan Diaz
    initials: JD
    role: lead
    accounts: {{discord: "{JORDAN}"}}
    notify: [discord]
  - id: praman
    name: Priya Raman
    initials: PR
    accounts: {{discord: "{PRIYA}"}}
    notify: [discord]
"""


@dataclass
class Server:
    fake: FakeDiscord
    guild: Any
    help: Any
    staff: Any
    lounge: Any
    forum: Any = None


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with FakeDiscord(heartbeat_interval=0.5) as fake:
        guild = fake.guild("Acme")
        srv = Server(fake, guild, fake.text_channel(guild, "help"),
                     fake.text_channel(guild, "staff"), fake.text_channel(guild, "lounge"),
                     fake.forum_channel(guild, "support-forum"))
        fake.member(guild, fake.user("jordan", user_id=JORDAN))
        fake.member(guild, fake.user("priya", user_id=PRIYA))
        fake.member(guild, fake.user("alice", user_id=ALICE))
        fake.member(guild, fake.user("bob", user_id=BOB, allows_dms=False))
        fake.member(guild, fake.user("mallory", user_id=MALLORY))
        try:
            yield srv
        finally:
            reset_urls()


def write_config(directory: Path, srv: Server) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "helpforce.yaml").write_text(f"""\
desk:
  brand: acme
platforms:
  discord:
    token_env: HF_DISCORD_TOKEN
    api_base: {srv.fake.api_base}
    gateway_url: {srv.fake.gateway_url}
    help_channels: ["{srv.help.id}"{f', "{srv.forum.id}"' if srv.forum else ""}]
    staff_channel: "{srv.staff.id}"
    guild_ready_timeout: 0.05
    rate_limit: {{per_second: 500, burst: 500, per_chat_per_second: null}}
""")
    (directory / "roster.yaml").write_text(ROSTER)
    shutil.copy(EXAMPLE_CONFIG / "policies.yaml", directory / "policies.yaml")
    return directory


class DiscordDesk:
    def __init__(self, config_dir: Path, db_path: Path) -> None:
        factory = DiscordAdapterFactory()
        self.config = load_config(config_dir, env=ENV, factories={"discord": factory})
        settings = self.config.settings.platforms["discord"]
        adapter = factory.create(settings, clock=SystemClock(), env=ENV)
        assert isinstance(adapter, DiscordAdapter)
        self.adapter = adapter
        self.events: list[Event] = []
        self.app = App(self.config, db_path=str(db_path), adapters={"discord": adapter},
                       observers=[self.events.append], env=ENV)

    async def __aenter__(self) -> DiscordDesk:
        await self.app.start()
        await self.until(lambda: self.adapter.status() == "connected")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.stop()

    async def until(self, condition: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        """Wait for a condition on the desk's side (an async or plain callable)."""
        return await until(condition, timeout)

    async def question_where(self, qid: int, check: Callable[[dict[str, Any]], bool]
                             ) -> dict[str, Any]:
        assert self.app.store is not None
        store = self.app.store

        async def probe() -> dict[str, Any] | None:
            q = await show_question(store, qid)
            return q if q is not None and check(q) else None

        found: dict[str, Any] = await self.until(probe)
        return found


@pytest.fixture
async def desk(server: Server, tmp_path: Path) -> AsyncIterator[DiscordDesk]:
    async with DiscordDesk(write_config(tmp_path / "config", server), tmp_path / "hf.db") as d:
        yield d


def kinds(q: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in q["events"]]


def in_channel(channel_id: int, has: str = "") -> Callable[[Message], bool]:
    return lambda m: m.channel_id == channel_id and has in (
        m.content + " ".join(str(e.get("title", "")) + str(e.get("description", ""))
                             for e in m.embeds))


def dm_of(fake: FakeDiscord, user_id: int) -> int:
    return int(fake.dm_channel(user_id).id)


# -- the whole loop ------------------------------------------------------------------------------


async def test_a_help_channel_question_is_claimed_by_button_and_answered_from_a_dm(
    server: Server, desk: DiscordDesk
) -> None:
    fake = server.fake
    asked = fake.user_says(ALICE, server.help.id, "My TV keeps switching off")
    post = await fake.wait_sent(in_channel(server.staff.id, "#1"))
    assert post.embeds and "My TV keeps switching off" in post.embeds[0]["description"]
    assert post.custom_ids == ["claim:1", "details:1"]
    offer = await fake.wait_sent(lambda m: m.channel_id in (dm_of(fake, JORDAN),
                                                            dm_of(fake, PRIYA)))
    assert offer.custom_ids == ["claim:1"]

    press = fake.user_presses(JORDAN, post, "claim:1")
    callback = await fake.wait_callback(press)
    assert callback is not None and press.answered_in is not None and press.answered_in < 3.0
    held = await fake.wait_sent(lambda m: m.channel_id == dm_of(fake, JORDAN)
                                and m.content.startswith("You hold #1"))
    await fake.wait_until(lambda: "claimed by Jordan Diaz (^JD)" in str(post.embeds))
    assert post.custom_ids == []  # the Claim button is gone

    fake.user_says(JORDAN, dm_of(fake, JORDAN), "Hold the power button for ten seconds.",
                   reference=held)
    answer = await fake.wait_sent(in_channel(server.help.id))
    assert answer.content == "Hold the power button for ten seconds. ^JD"
    assert answer.reference == asked.id
    q = await desk.question_where(1, lambda q: "delivered" in kinds(q))
    assert q["claimed_by"] == "jdiaz" and q["platform"] == "discord"


async def test_a_dm_question_is_answered_in_the_dm_and_a_mention_elsewhere_counts(
    server: Server, desk: DiscordDesk
) -> None:
    fake = server.fake
    fake.user_dms(ALICE, "Is the store open on Sunday?")
    post = await fake.wait_sent(in_channel(server.staff.id, "#1"))
    assert "(private)" in post.embeds[0]["title"]
    fake.user_says(PRIYA, server.staff.id, "/answer 1 Yes, 10 to 4.")
    answer = await fake.wait_sent(lambda m: m.channel_id == dm_of(fake, ALICE))
    assert answer.content == "Yes, 10 to 4. ^PR"

    # outside the help channels, only a mention of the bot is a question
    fake.user_says(BOB, server.lounge.id, "nice weather")
    fake.user_says(BOB, server.lounge.id, f"<@{fake.bot.id}> my invoice is wrong")
    post2 = await fake.wait_sent(in_channel(server.staff.id, "#2"))
    assert "my invoice is wrong" in post2.embeds[0]["description"]
    assert "nice weather" not in str([m.embeds for m in fake.sent_to(server.staff.id)])


async def test_someone_not_on_the_roster_pressing_claim_gets_an_ephemeral_refusal(
    server: Server, desk: DiscordDesk
) -> None:
    fake = server.fake
    fake.user_says(ALICE, server.help.id, "Where is my order?")
    post = await fake.wait_sent(in_channel(server.staff.id, "#1"))
    press = fake.user_presses(MALLORY, post, "claim:1")
    refusal = await fake.wait_sent(lambda m: m.interaction_id == press.id or (
        m.webhook_id is not None and m.ephemeral))
    assert refusal.ephemeral and "for our support staff" in refusal.content
    q = await desk.question_where(1, lambda q: "ignored" in kinds(q))
    assert q["claimed_by"] is None and post.custom_ids == ["claim:1", "details:1"]
    assert not fake.sent_to(dm_of(fake, MALLORY))  # nothing by DM: only Mallory saw it


async def test_a_staff_member_who_does_not_accept_dms_is_known_unreachable(
    server: Server, tmp_path: Path
) -> None:
    fake = server.fake
    fake.users[PRIYA].allows_dms = False
    db = tmp_path / "hf.db"
    async with DiscordDesk(write_config(tmp_path / "config", server), db) as d:
        fake.user_says(ALICE, server.help.id, "My TV keeps switching off")
        await fake.wait_sent(in_channel(server.staff.id, "#1"))

        def reach() -> int | None:
            conn = sqlite3.connect(db)
            try:
                row = conn.execute("SELECT reachable FROM dm_reach WHERE user_id = ?",
                                   (str(PRIYA),)).fetchone()
            finally:
                conn.close()
            return None if row is None else int(row[0])

        await d.until(lambda: reach() == 0)


async def test_a_gateway_resume_replays_what_was_missed_once(
    server: Server, desk: DiscordDesk
) -> None:
    fake = server.fake
    fake.user_says(ALICE, server.help.id, "First question")
    await fake.wait_sent(in_channel(server.staff.id, "#1"))
    fake.reconnect()  # op 7: the client RESUMEs; what happens meanwhile is replayed
    fake.user_says(BOB, server.help.id, "Second question")
    await fake.wait_sent(in_channel(server.staff.id, "#2"))
    await desk.until(lambda: fake.connected and desk.adapter.status() == "connected")
    assert len(fake.frames_of(6)) >= 1  # a RESUME, not a new session
    fake.user_says(ALICE, server.help.id, "And one more thing")
    await desk.question_where(1, lambda q: "followup" in kinds(q))
    assert not [m for m in fake.sent_to(server.staff.id) if "#3" in str(m.embeds)]


async def test_after_a_new_session_the_help_channel_is_read_back(
    server: Server, desk: DiscordDesk
) -> None:
    fake = server.fake
    fake.user_says(ALICE, server.help.id, "First question")
    await fake.wait_sent(in_channel(server.staff.id, "#1"))
    await desk.until(lambda: desk.app.store is not None and desk.app.store.cursor("discord"))
    fake.invalidate_session(resumable=False)  # the session is gone: events meanwhile are lost
    fake.user_says(BOB, server.help.id, "Said while the bot was away")
    # discord.py waits 5 s before a second IDENTIFY (Discord's limit); then the backfill
    post = await fake.wait_sent(in_channel(server.staff.id, "#2"), timeout=15)
    assert "Said while the bot was away" in post.embeds[0]["description"]
    assert len(fake.session_ids) == 1


def test_settings_are_validated_with_clear_messages() -> None:
    s = DiscordSettings()
    assert s.token_env == "HELPFORCE_DISCORD_TOKEN" and s.api_base.endswith("/api/v10")
    with pytest.raises(ValueError, match="snowflake"):
        DiscordSettings(staff_channel="staff")
    with pytest.raises(ValueError, match="ws"):
        DiscordSettings(gateway_url="http://example")
    factory = DiscordAdapterFactory()
    assert factory.validate_user_id(284719305617395712) == "284719305617395712"
    with pytest.raises(ValueError, match="Copy User ID"):
        factory.validate_user_id("@jdoe")
    with pytest.raises(ValueError, match="HELPFORCE_DISCORD_TOKEN"):
        factory.create(s, clock=SystemClock(), env={})


async def test_the_claimer_works_in_the_questions_thread_and_notes_stay_internal(
    server: Server, desk: DiscordDesk
) -> None:
    fake = server.fake
    asked = fake.user_says(ALICE, server.help.id, "My order never came")
    post = await fake.wait_sent(in_channel(server.staff.id, "#1"))
    fake.user_presses(PRIYA, post, "claim:1")
    intro = await fake.wait_sent(lambda m: m.channel_id == post.id)  # the thread has its id
    assert intro.content.startswith("#1 · Priya Raman (^PR) holds it")
    assert fake.channels[post.id].is_thread and fake.channels[post.id].parent_id == server.staff.id

    fake.user_says(PRIYA, post.id, "// checked the courier: parcel is lost")
    fake.user_says(PRIYA, post.id, "Sorry! A new one ships today.")
    answer = await fake.wait_sent(in_channel(server.help.id))
    assert answer.content == "Sorry! A new one ships today. ^PR"
    assert answer.reference == asked.id
    q = await desk.question_where(1, lambda q: "delivered" in kinds(q) and "note" in kinds(q))
    assert all("courier" not in m.content for m in fake.sent_to(server.help.id))
    assert q["claimed_by"] == "praman"


async def test_an_answer_from_the_thread_reaches_a_customer_on_telegram(
    server: Server, tmp_path: Path
) -> None:
    pytest.importorskip("telegram")
    from fakes.telegram import TOKEN as TG_TOKEN
    from fakes.telegram import FakeTelegram

    from helpforce.adapters.telegram import TelegramAdapterFactory

    fake = server.fake
    async with FakeTelegram() as tg:
        tg.user(ALICE_TG, "Alice", "alice")
        config_dir = write_config(tmp_path / "config", server)
        settings = config_dir / "helpforce.yaml"
        settings.write_text(settings.read_text() + f"""\
  telegram:
    token_env: HF_TELEGRAM_TOKEN
    base_url: {tg.base_url}
    base_file_url: {tg.base_file_url}
    poll_timeout: 5
    rate_limit: {{per_second: 500, burst: 500, per_chat_per_second: null}}
""")
        env = {**ENV, "HF_TELEGRAM_TOKEN": TG_TOKEN}
        factories = {"discord": DiscordAdapterFactory(), "telegram": TelegramAdapterFactory()}
        config = load_config(config_dir, env=env, factories=factories)
        adapters = {p: f.create(config.settings.platforms[p], clock=SystemClock(), env=env)
                    for p, f in factories.items()}
        app = App(config, db_path=str(tmp_path / "hf.db"), adapters=adapters, env=env)
        async with app:
            tg.user_says(ALICE_TG, "My washer shows E21")
            post = await fake.wait_sent(in_channel(server.staff.id, "#1"))
            assert "telegram" in post.embeds[0]["title"]
            fake.user_presses(JORDAN, post, "claim:1")
            await fake.wait_sent(lambda m: m.channel_id == post.id)
            fake.user_says(JORDAN, post.id, "Clean the drain filter, then restart it.")
            answer = await tg.wait_sent(lambda m: m.chat_id == ALICE_TG)
            assert answer.text == "Clean the drain filter, then restart it. ^JD"


async def test_a_move_to_dm_falls_back_to_a_private_thread_when_dms_are_closed(
    server: Server, desk: DiscordDesk
) -> None:
    fake = server.fake
    fake.user_says(BOB, server.help.id, "I was charged twice")
    post = await fake.wait_sent(in_channel(server.staff.id, "#1"))
    fake.user_presses(PRIYA, post, "claim:1")
    await fake.wait_sent(lambda m: m.channel_id == post.id)
    fake.user_says(PRIYA, post.id, "/dm Which card did you pay with? Last four digits only.")
    # Discord refuses the DM (50007): a private thread with Bob and Priya, said publicly
    note = await fake.wait_sent(in_channel(server.help.id, "private thread"))
    assert "@bob" in note.content
    private = await fake.wait_sent(lambda m: fake.channels[m.channel_id].type == 12)
    assert private.content == "Which card did you pay with? Last four digits only. ^PR"
    thread = fake.channels[private.channel_id]
    assert thread.parent_id == server.help.id and {BOB, PRIYA} <= set(thread.members)
    q = await desk.question_where(1, lambda q: "moved_to_dm" in kinds(q))
    assert "escalated" not in kinds(q)

    # the conversation goes on there, on the same question
    fake.user_says(BOB, thread.id, "It ends in 4417")
    await desk.question_where(1, lambda q: "followup" in kinds(q))
    fake.user_says(PRIYA, post.id, "Thanks, the duplicate is refunded.")
    answer = await fake.wait_sent(lambda m: m.channel_id == thread.id and "refunded" in m.content)
    assert answer.content.endswith("^PR")
    assert len([c for c in fake.channels.values() if c.type == 12]) == 1


async def test_the_private_thread_for_closed_dms_is_used_again_after_a_restart(
    server: Server, tmp_path: Path
) -> None:
    fake = server.fake
    config_dir = write_config(tmp_path / "config", server)
    db = tmp_path / "hf.db"
    async with DiscordDesk(config_dir, db) as d:
        fake.user_says(BOB, server.help.id, "I was charged twice")
        post = await fake.wait_sent(in_channel(server.staff.id, "#1"))
        fake.user_presses(PRIYA, post, "claim:1")
        await fake.wait_sent(lambda m: m.channel_id == post.id)
        fake.user_says(PRIYA, post.id, "/dm Which card did you pay with? Last four digits only.")
        private = await fake.wait_sent(lambda m: fake.channels[m.channel_id].type == 12)
        await d.question_where(1, lambda q: "delivered" in kinds(q))
    # a new process: nothing of the old one's memory is left
    async with DiscordDesk(config_dir, db):
        fake.user_says(PRIYA, post.id, "Thanks, the duplicate is refunded.")
        answer = await fake.wait_sent(lambda m: "refunded" in m.content)
    assert answer.channel_id == private.channel_id
    assert len([c for c in fake.channels.values() if c.type == 12]) == 1


async def test_a_dm_channel_is_opened_once_per_user_and_counted_as_a_request(
    server: Server, desk: DiscordDesk
) -> None:
    """discord.py remembers the last 128 DM channels it opened; the adapter remembers all, and
    tells the outbox when a send had to open one (a second request against the 50/s)."""
    fake = server.fake
    users = [400000000000000000 + i for i in range(130)]
    for i, user in enumerate(users):
        fake.member(server.guild, fake.user(f"user{i}", user_id=user))
    opened = len(fake.calls_of("POST", "/users/@me/channels"))

    def dm(user: int) -> Outgoing:
        return Outgoing("discord", f"dm:{user}", "A new question is waiting",
                        Visibility.PRIVATE, dm_user=str(user))

    first = [(await desk.adapter.send(dm(user))).extra_requests for user in users]
    again = await desk.adapter.send(dm(users[0]))
    assert first == [1] * len(users) and again.extra_requests == 0
    assert len(fake.calls_of("POST", "/users/@me/channels")) - opened == len(users)
    assert len(fake.sent_to(dm_of(fake, users[0]))) == 2


async def test_a_forum_post_is_a_question_answered_in_the_post(
    server: Server, desk: DiscordDesk
) -> None:
    fake = server.fake
    post, first = fake.user_forum_post(ALICE, server.forum, "TV", "My TV keeps switching off")
    offer = await fake.wait_sent(in_channel(server.staff.id, "#1"))
    assert "My TV keeps switching off" in offer.embeds[0]["description"]
    q = await desk.question_where(1, lambda q: q["state"] == "offered")
    assert q["conversation"] == str(server.forum.id) and q["thread"] == str(post.id)
    fake.user_says(PRIYA, server.staff.id, "/answer 1 Hold the power button for ten seconds.")
    answer = await fake.wait_sent(lambda m: m.channel_id == post.id)
    assert answer.content == "Hold the power button for ten seconds. ^PR"
    assert answer.reference == first.id
    # the customer goes on in their post: the same question
    fake.user_says(ALICE, post.id, "That worked, thanks!")
    q = await desk.question_where(1, lambda q: "followup" in kinds(q))
    assert desk.app.store is not None
    assert await show_question(desk.app.store, 2) is None  # no second question


async def test_a_long_answer_goes_out_in_parts_within_discords_2000_characters(
    server: Server, desk: DiscordDesk
) -> None:
    fake = server.fake
    fake.user_dms(ALICE, "How do I set up the sound bar?")
    await fake.wait_sent(in_channel(server.staff.id, "#1"))
    steps = " ".join(f"Step {i}: press and hold the button marked {i} until it blinks."
                     for i in range(1, 60))
    assert len(steps) > 3000
    fake.user_says(PRIYA, server.staff.id, f"/answer 1 {steps}")
    await desk.question_where(1, lambda q: kinds(q).count("delivered") >= 2)
    parts = fake.sent_to(dm_of(fake, ALICE))
    assert len(parts) >= 2 and all(len(p.content) <= 2000 for p in parts)
    assert "Step 59" in parts[-1].content and parts[-1].content.endswith("^PR")
    assert parts[1].reference == parts[0].id  # each part replies to the one before


async def test_a_malformed_event_is_skipped_and_the_adapter_keeps_going(
    server: Server, desk: DiscordDesk
) -> None:
    fake = server.fake
    fake.dispatch("MESSAGE_CREATE", {"id": "not-a-number", "channel_id": str(server.help.id)})
    fake.dispatch("MESSAGE_CREATE", {"channel_id": str(server.help.id), "content": "x" * 5000})
    fake.user_says(ALICE, server.help.id, "A real question after the noise")
    post = await fake.wait_sent(in_channel(server.staff.id, "#1"))
    assert "A real question after the noise" in post.embeds[0]["description"]
    assert desk.adapter.status() == "connected" and desk.adapter.skipped >= 1


async def test_a_missing_message_content_intent_is_explained(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeDiscord(heartbeat_interval=0.5, message_content_granted=False,
                           close_on_disallowed_intents=True) as fake:
        guild = fake.guild("Acme")
        srv = Server(fake, guild, fake.text_channel(guild, "help"),
                     fake.text_channel(guild, "staff"), fake.text_channel(guild, "lounge"))
        try:
            d = DiscordDesk(write_config(tmp_path / "config", srv), tmp_path / "hf.db")
            await d.app.start()
            try:
                await d.until(lambda: "Message Content intent" in d.adapter.status())
            finally:
                await d.app.stop()
        finally:
            reset_urls()
    assert "Privileged Gateway Intents" in caplog.text


async def test_two_adapters_in_one_process_cannot_use_different_urls(
    server: Server, desk: DiscordDesk
) -> None:
    other = DiscordSettings(api_base="http://127.0.0.1:9/api/v10",
                            gateway_url="ws://127.0.0.1:9/")
    adapter = DiscordAdapterFactory().create(other, clock=SystemClock(),
                                             env={"HELPFORCE_DISCORD_TOKEN": TOKEN})

    async def sink(batch: Any, cursor: str | None) -> None:
        pass

    with pytest.raises(RuntimeError, match="process-wide"):
        await adapter.start(sink, None)
    await adapter.stop()


async def test_a_stopped_reply_is_explained_in_the_thread_with_a_button_to_send_the_fix(
    server: Server, desk: DiscordDesk
) -> None:
    fake = server.fake
    fake.user_says(ALICE, server.help.id, "Where is my parcel?")
    post = await fake.wait_sent(in_channel(server.staff.id, "#1"))
    fake.user_presses(JORDAN, post, "claim:1")
    await fake.wait_sent(lambda m: m.channel_id == post.id)
    fake.user_says(JORDAN, post.id, "What's your order number?")
    stopped = await fake.wait_sent(lambda m: m.channel_id == post.id
                                   and m.content.startswith("Not sent (#1)"))
    assert "send:1" in stopped.custom_ids
    assert not fake.sent_to(server.help.id)  # nothing went out in public
    # someone in the staff channel who is not on the roster writes in the thread: ignored
    fake.user_says(MALLORY, post.id, "I'll answer this one!")
    fake.user_presses(JORDAN, stopped, "send:1")
    public = await fake.wait_sent(in_channel(server.help.id))
    assert "order number" not in public.content and "^JD" in public.content
    await desk.until(lambda: any(e.kind.value == "ignored" and e.actor == f"discord:{MALLORY}"
                                 for e in desk.events))
    q = await desk.question_where(1, lambda q: q["claimed_by"] == "jdiaz")
    assert "followup" not in kinds(q)
    assert not [m for m in fake.sent_to(server.help.id) if "answer this one" in m.content]


async def test_a_button_on_a_post_made_before_a_restart_still_works(
    server: Server, tmp_path: Path
) -> None:
    fake = server.fake
    config_dir = write_config(tmp_path / "config", server)
    db = tmp_path / "hf.db"
    async with DiscordDesk(config_dir, db):
        fake.user_says(ALICE, server.help.id, "My TV keeps switching off")
        post = await fake.wait_sent(in_channel(server.staff.id, "#1"))
    # a new process: no view state survives; the button's custom id is all there is
    async with DiscordDesk(config_dir, db) as d:
        press = fake.user_presses(PRIYA, post, "claim:1")
        await fake.wait_callback(press)
        await fake.wait_until(lambda: "claimed by Priya Raman (^PR)" in str(post.embeds))
        q = await d.question_where(1, lambda q: q["claimed_by"] == "praman")
        assert kinds(q).count("received") == 1  # the restart read nothing twice
