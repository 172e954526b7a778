"""Discord's per-channel limit end to end: the real App, outbox and discord.py against the
loopback fake enforcing Discord's limits (tests/fakes/discord.py, ``Limits``).

A burst of customer questions makes a burst of staff-channel posts, all into one channel. The
fake's per-channel window is shrunk from 5 s to 0.5 s (5 sends in a window: 10 a second) so
that the test runs in a few seconds; the desk's per-chat limit keeps the shipped default's
ratio to it (0.8/s against 5 per 5 s: 4 in a window).

What the per-chat limit buys on Discord is not the absence of 429s: without it the fake sees
none either, because discord.py reads the X-RateLimit-* headers and, after the send that left
a channel's bucket empty (Remaining 0), holds that send until the window resets. It holds it
inside ``channel.send``, so the outbox's one dispatcher, and every other chat's messages, wait
with it. With the limit a channel's bucket never runs out and nothing is held.
"""

from __future__ import annotations

import shutil
import warnings
from itertools import pairwise
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop (3.11)
    pytest.importorskip("discord")

from fakes.discord import TOKEN, Call, FakeDiscord, Limits  # noqa: E402

from conftest import EXAMPLE_CONFIG  # noqa: E402
from helpforce.adapters.discord import DiscordAdapterFactory  # noqa: E402
from helpforce.adapters.discord.adapter import reset_urls  # noqa: E402
from helpforce.app import App  # noqa: E402
from helpforce.clock import SystemClock  # noqa: E402
from helpforce.config import load_config  # noqa: E402

ENV = {"HF_DISCORD_TOKEN": TOKEN}
JORDAN = 200000000000000101
CUSTOMERS = [300000000000000300 + i for i in range(6)]  # six questions at once
SEND = "/channels/{channel_id}/messages"
#: what the fake enforces: 5 sends (and 5 edits) per 0.5 s per channel, Discord's 5 per 5 s
#: scaled down; the global limit raised so that the burst is tight and only the channel binds
WINDOW = 0.5
FAKE = Limits(global_per_second=200,
              routes={f"POST {SEND}": (5, WINDOW),
                      "PATCH /channels/{channel_id}/messages/{message_id}": (5, WINDOW)})
#: the desk's per-chat rate: the shipped default's 0.8/s against 5 per 5 s, scaled the same
#: way (8/s: 4 in a window)
PER_CHAT = 0.8 * 5 / WINDOW

ROSTER = f"""\
staff:
  - id: jdiaz
    name: Jordan Diaz
    initials: JD
    role: lead
    accounts: {{discord: "{JORDAN}"}}
    notify: [discord]
"""


def write_config(directory: Path, fake: FakeDiscord, help_id: int, staff_id: int,
                 per_chat: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "helpforce.yaml").write_text(f"""\
desk:
  brand: acme
platforms:
  discord:
    token_env: HF_DISCORD_TOKEN
    api_base: {fake.api_base}
    gateway_url: {fake.gateway_url}
    help_channels: ["{help_id}"]
    staff_channel: "{staff_id}"
    guild_ready_timeout: 0.05
    rate_limit: {{per_second: 150, burst: 1, per_chat_per_second: {per_chat}}}
""")
    (directory / "roster.yaml").write_text(ROSTER)
    shutil.copy(EXAMPLE_CONFIG / "policies.yaml", directory / "policies.yaml")
    return directory


async def run_burst(tmp_path: Path, per_chat: str) -> tuple[FakeDiscord, list[Call], int]:
    """Six customers ask at once, against a fresh fake; returns the fake, every REST call it
    answered (with its X-RateLimit-* headers) and the staff channel's id."""
    async with FakeDiscord(heartbeat_interval=0.5, limits=FAKE) as fake:
        guild = fake.guild("Acme")
        help_, staff = fake.text_channel(guild, "help"), fake.text_channel(guild, "staff")
        fake.member(guild, fake.user("jordan", user_id=JORDAN))
        for n, c in enumerate(CUSTOMERS):
            fake.member(guild, fake.user(f"customer{n}", user_id=c))
        factory = DiscordAdapterFactory()
        config_dir = write_config(tmp_path / per_chat, fake, help_.id, staff.id, per_chat)
        config = load_config(config_dir, env=ENV, factories={"discord": factory})
        adapter = factory.create(config.settings.platforms["discord"], clock=SystemClock(),
                                 env=ENV)
        app = App(config, db_path=str(tmp_path / per_chat / "hf.db"),
                  adapters={"discord": adapter}, env=ENV)
        try:
            async with app:
                await fake.wait_until(lambda: adapter.status() == "connected")
                for c in CUSTOMERS:
                    fake.user_says(c, help_.id, f"Customer {c} here: where is my parcel?")
                await fake.wait_until(
                    lambda: sum(m.channel_id == staff.id for m in fake.sent) == len(CUSTOMERS))
        finally:
            reset_urls()
        return fake, list(fake.calls), staff.id


def remaining(call: Call) -> int:
    return int(call.headers.get("X-RateLimit-Remaining", -1))


async def test_a_burst_into_one_channel_keeps_under_its_limit_and_never_holds_the_outbox(
    tmp_path: Path,
) -> None:
    # with the per-chat limit (the shipped default's ratio to Discord's window)
    fake, calls, staff = await run_burst(tmp_path, per_chat=f"{PER_CHAT:g}")
    posts = [c for c in calls if c.path == f"/channels/{staff}/messages" and c.method == "POST"]
    assert len(posts) == len(CUSTOMERS)
    assert fake.rejected_429 == 0, fake.rejected_by
    # at most 4 of the 5 a window allows: no channel's bucket (DMs' included) ever ran out,
    # so discord.py never had to hold a send
    sends = [c for c in calls if c.route == SEND and c.method == "POST"]
    assert min(remaining(c) for c in sends) >= 1
    assert all(b.at - a.at >= 1 / PER_CHAT - 0.01 for a, b in pairwise(posts))

    # without it: still no 429 (discord.py waits on the bucket itself), but the staff channel's
    # fifth post in a window emptied its bucket, and discord.py held that send until the
    # window's reset: nothing at all went to Discord meanwhile, though other chats had
    # messages due (the offers to Jordan by DM, the acknowledgements in the help channel)
    fake, calls, staff = await run_burst(tmp_path, per_chat="null")
    posts = [c for c in calls if c.path == f"/channels/{staff}/messages" and c.method == "POST"]
    assert len(posts) == len(CUSTOMERS)
    assert fake.rejected_429 == 0, fake.rejected_by
    emptied = [c for c in posts if remaining(c) == 0]
    assert emptied, [remaining(c) for c in posts]
    held = emptied[0]
    reset = held.at + float(held.headers["X-RateLimit-Reset-After"])
    after = [c for c in calls if c.at > held.at]
    assert after and after[0].at >= reset - 0.005
    assert reset - held.at > 0.05  # a real wait, not a window that was ending anyway
    assert after[0].path != held.path  # and what waited was another chat's message
