#!/usr/bin/env python
"""Outbound Discord messages per second against Discord's limits, enforced by the fake.

    python benchmarks/bench_discord.py [--channels N] [--dms N] [--channel N] [--backlog N]
                                       [--mix N] [--ceiling N] [--scenarios LIST] [--per-second R]
                                       [--burst B] [--per-chat R|none] [--json]

Each scenario gets a fresh loopback Discord (tests/fakes/discord.py: gateway + REST) enforcing
Discord's limits (``Limits()``: at most 50 requests in any second overall; 5 message sends per
5 s into one channel and 5 edits per 5 s, fixed windows that start with their first request,
announced in X-RateLimit-* headers; a request over one is answered 429 with a retry_after), a
fresh store on a temporary file (WAL, synchronous=FULL, as the daemon's), and the real Outbox,
PlatformLimiter (built from ``DiscordSettings().rate_limit``, the shipped defaults, as App
builds it) and DiscordAdapter (discord.py over aiohttp, logged in and connected to the fake's
gateway, so the bot's own messages come back to it as MESSAGE_CREATE as on Discord). N outbox
rows are committed at once, then the outbox's dispatcher starts; a scenario ends when every
row is recorded sent.

Scenarios (default sizes keep the whole run near a minute):

* ``channels``: N guild text channels, one message each: one request a message, bound by
  50 requests/s overall;
* ``dms``: N users, one DM each. discord.py opens a DM channel (POST /users/@me/channels)
  before the first message to a user and keeps the last 128 it opened: two requests a message,
  so 25 messages/s under the 50 requests/s;
* ``channel``: N messages into one channel: 5 per 5 s. Default 11: Discord's best (5 at once
  every 5 s) is exactly 1/s measured first to last;
* ``backlog``: N messages into one busy channel committed first, then one message to each of
  ``--channels`` other channels: what a busy channel costs the others (their last message's
  seconds from the start), since discord.py holds a send that empties a channel's bucket;
* ``mix``: N messages at once, interleaved: into many channels, one busy channel (sized to
  take ~3/4 of the time the whole needs at 50 requests/s, or at the limiter's rate if that is
  lower) and one DM each to new users (a fifth, as a wave of offers to staff beyond
  discord.py's 128 cached DM channels would be); allowed = 50 requests/s x messages per
  request; each kind is also reported;
* ``ceiling``: N channels with every limit off (fake and limiter): what the outbox, store
  and discord.py manage, the headroom above Discord's 50/s.

Per scenario: achieved messages/s = (n - 1) / (last arrival - first arrival) at the fake, and
the requests/s that took (every request the fake let through meanwhile, DM channels included);
the allowed rate and the percentage of it; 429s answered by the fake (and by which limit); the
busiest second of requests and the busiest 5 s of one channel the fake saw; and discord.py's
own rate-limit handling, which hides both from the outbox: how often it found a channel's bucket
exhausted and held the send until the window's reset (``waits``, from its log), how often it
was answered 429 and retried by itself, and the longest ``adapter.send``. Figures, not
pass/fail: the target is >= 90 % of the allowed rate with zero 429s. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import outbound  # noqa: E402
from fakes.discord import TOKEN, FakeDiscord, Limits  # noqa: E402
from outbound import busiest, fmt, pct, rate, wait_for  # noqa: E402

from helpforce.adapters.discord import DiscordAdapterFactory, DiscordSettings  # noqa: E402
from helpforce.adapters.discord.adapter import DiscordAdapter, reset_urls  # noqa: E402
from helpforce.clock import SystemClock  # noqa: E402
from helpforce.config.schema import RateLimit  # noqa: E402
from helpforce.models import Inbound, Outgoing, Visibility  # noqa: E402
from helpforce.outbox import Outbox  # noqa: E402
from helpforce.ratelimit import PlatformLimiter  # noqa: E402
from helpforce.store import Store, Tx  # noqa: E402

ENV_NAME = "HF_BENCH_DISCORD_TOKEN"
SCENARIOS = ("ceiling", "channels", "dms", "channel", "backlog", "mix")
SEND = "POST /channels/{channel_id}/messages"
#: what Discord allows (the fake's ``Limits()``): requests/s overall, sends per window per channel
GLOBAL = float(Limits().global_per_second or 50)
PER_CHANNEL, WINDOW = Limits().routes[SEND]
CHANNEL_RATE = PER_CHANNEL / WINDOW
#: discord.py's log lines for its own rate-limit handling (discord/http.py, 2.x)
_DPY_WAIT = "has been exhausted. Pre-emptively rate limiting"
_DPY_429 = "responded with 429. Retrying"

#: a message's target: ("channel", index of a guild text channel) or ("dm", index of a user)
Target = tuple[str, int]


@dataclass
class Plan:
    """What one scenario sends, in commit order."""

    name: str
    targets: list[Target]
    #: messages/s Discord allows for this traffic (None: unlimited)
    allowed: float | None
    limits: Limits | None
    rate_limit: RateLimit
    #: kinds of traffic reported separately: name -> (targets, allowed msgs/s or None)
    kinds: dict[str, tuple[set[Target], float | None]] = field(default_factory=dict)


def requests_for(targets: Sequence[Target]) -> int:
    """Requests Discord sees for ``targets``: one a message, and one more for the first DM to
    each user (every scenario's users are new, and fewer than discord.py's 128 cached)."""
    return len(targets) + len({t for t in targets if t[0] == "dm"})


def plans(args: argparse.Namespace, rate_limit: RateLimit) -> list[Plan]:
    out: list[Plan] = []
    for name in args.scenarios:
        if name == "ceiling":
            off = RateLimit(per_second=1e6, burst=10**6, per_chat_per_second=None)
            out.append(Plan(name, [("channel", i) for i in range(args.ceiling)], None, None,
                            off))
        elif name == "channels":
            out.append(Plan(name, [("channel", i) for i in range(args.channels)], GLOBAL,
                            Limits(), rate_limit))
        elif name == "dms":
            targets = [("dm", i) for i in range(args.dms)]
            out.append(Plan(name, targets, GLOBAL * len(targets) / requests_for(targets),
                            Limits(), rate_limit))
        elif name == "channel":
            out.append(Plan(name, [("channel", 0)] * args.channel, CHANNEL_RATE, Limits(),
                            rate_limit))
        elif name == "backlog":
            # committed first: the busy channel's backlog, then one message to each of the others
            others = [("channel", 1 + i) for i in range(args.channels)]
            out.append(Plan(name, [("channel", 0)] * args.backlog + others, None, Limits(),
                            rate_limit, {
                                "busy channel": ({("channel", 0)}, CHANNEL_RATE),
                                "other channels": (set(others), GLOBAL - CHANNEL_RATE),
                            }))
        elif name == "mix":
            n_dms = args.mix // 5
            # the time the whole takes at Discord's 50 requests/s, or at the limiter's rate
            # if that is lower; the busy channel's messages fit in ~3/4 of it (a backlog, but
            # not the tail that the overall rate would measure)
            seconds = max((args.mix + n_dms) / GLOBAL, args.mix / rate_limit.per_second)
            n_busy = max(2, int(0.75 * seconds * CHANNEL_RATE) + 1)
            n_many = max(0, args.mix - n_busy - n_dms)
            many = [("channel", 1 + i) for i in range(n_many)]
            dms = [("dm", i) for i in range(n_dms)]
            # interleaved in commit order, as a day's traffic would be
            mixed: list[Target] = list(many)
            for k, dm in enumerate(dms):
                mixed.insert(k * len(mixed) // n_dms, dm)
            for k in range(n_busy):
                mixed.insert(k * len(mixed) // n_busy, ("channel", 0))
            out.append(Plan(name, mixed, GLOBAL * len(mixed) / requests_for(mixed),
                            Limits(), rate_limit, {
                                # many channels and new DMs share what is left of 50/s
                                "many channels": (set(many), None),
                                "new DMs": (set(dms), None),
                                "busy channel": ({("channel", 0)}, CHANNEL_RATE),
                            }))
    return out


class DiscordPyLog(logging.Handler):
    """Counts discord.py's own rate-limit handling from its log (without printing it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.waits = 0
        self.retried_429 = 0

    def emit(self, record: logging.LogRecord) -> None:
        msg = str(record.msg)
        if _DPY_WAIT in msg:
            self.waits += 1
        elif _DPY_429 in msg:
            self.retried_429 += 1

    def __enter__(self) -> DiscordPyLog:
        logger = logging.getLogger("discord.http")
        self._saved = (logger.level, logger.propagate)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("discord.http")
        logger.removeHandler(self)
        logger.setLevel(self._saved[0])
        logger.propagate = self._saved[1]


async def run(plan: Plan, workdir: Path) -> dict[str, Any]:
    async with FakeDiscord(limits=plan.limits) as dc:
        guild = dc.guild("Bench")
        n_channels = 1 + max((i for kind, i in plan.targets if kind == "channel"), default=-1)
        n_users = 1 + max((i for kind, i in plan.targets if kind == "dm"), default=-1)
        channels = [dc.text_channel(guild, f"help-{i}").id for i in range(n_channels)]
        users = [dc.member(guild, f"user{i}").id for i in range(n_users)]
        settings = DiscordSettings(token_env=ENV_NAME, api_base=dc.api_base,
                                   gateway_url=dc.gateway_url, guild_ready_timeout=0.05,
                                   rate_limit=plan.rate_limit)
        adapter = DiscordAdapterFactory().create(settings, clock=SystemClock(),
                                                 env={ENV_NAME: TOKEN})
        assert isinstance(adapter, DiscordAdapter)
        clock = SystemClock()
        rl = settings.rate_limit
        # as App._start builds it
        limiter = PlatformLimiter(rl.per_second, rl.burst, rl.per_chat_per_second, clock,
                                  per_group_per_minute=rl.per_group_per_minute,
                                  in_flight=rl.in_flight)
        durations: list[float] = []
        adapter.send = timed(adapter.send, durations)  # type: ignore[method-assign, unused-ignore]
        store = Store(workdir / f"{plan.name}.db")
        await store.open()
        done = asyncio.Event()
        sent = 0

        def on_sent(platform: str, oid: int) -> None:
            nonlocal sent
            sent += 1
            if sent == len(plan.targets):
                done.set()

        async def sink(batch: Sequence[Inbound], cursor: str | None) -> None:
            return None  # the bot's own messages, echoed by the gateway: nothing to do

        outbox = Outbox(store, {"discord": adapter}, {"discord": limiter}, clock,
                        on_sent=on_sent)
        with DiscordPyLog() as dpy:
            try:
                await adapter.start(sink, None)
                await until(lambda: adapter.status() == "connected", 10.0)
                await enqueue(store, plan.targets, channels, users, clock.now())
                started = time.monotonic()
                await outbox.start(drain=0)
                # at the limiter's rate, and the busiest channel at its rate (with a margin)
                most = max(Counter(plan.targets).values())
                expected = max(len(plan.targets) / min(plan.allowed or math.inf,
                                                       plan.rate_limit.per_second),
                               most / (0.5 * CHANNEL_RATE))
                await wait_for(done, lambda: outbox.failures > 0, timeout=2 * expected + 60)
            finally:
                await outbox.stop(drain=0)
                await adapter.stop()
                await store.close()
                reset_urls()
        by_channel = {str(c): ("channel", i) for i, c in enumerate(channels)}
        for ch in dc.channels.values():
            if ch.is_dm and ch.recipient_id in users:
                by_channel[str(ch.id)] = ("dm", users.index(ch.recipient_id))
        arrivals = [(at, by_channel.get(major)) for at, key, major in dc.let_through
                    if key == SEND]
        times = [at for at, _ in arrivals]
        requests = [at for at, key, _ in dc.let_through
                    if times and times[0] <= at <= times[-1]
                    and not key.split(" ", 1)[1].startswith(("/interactions/", "/webhooks/"))]
        achieved = rate(times)
        per_channel: dict[Any, list[float]] = {}
        for at, target in arrivals:
            per_channel.setdefault(target, []).append(at)
        result: dict[str, Any] = {
            "scenario": plan.name,
            "messages": len(plan.targets),
            "delivered": sent,
            "channels": len(set(plan.targets)),
            "seconds_first_to_last": round(times[-1] - times[0], 2) if times else None,
            "seconds_from_start": round(times[-1] - started, 2) if times else None,
            "achieved_per_s": round(achieved, 3) if achieved else None,
            "allowed_per_s": round(plan.allowed, 3) if plan.allowed else None,
            "percent_of_allowed": pct(achieved, plan.allowed),
            "requests": len(requests),
            "requests_per_s": round((len(requests) - 1) / (times[-1] - times[0]), 2)
            if len(times) > 1 and times[-1] > times[0] else None,
            "rejected_429": dc.rejected_429,
            "rejected_by": dict(dc.rejected_by),
            "busiest_1s_requests": busiest(requests, 1.0),
            "busiest_5s_one_channel": max((busiest(t, WINDOW) for t in per_channel.values()),
                                          default=0),
            "discordpy_bucket_waits": dpy.waits,
            "discordpy_429_retries": dpy.retried_429,
            "longest_send_s": round(max(durations), 3) if durations else None,
            "outbox_retries": outbox.retries,
            "outbox_failures": outbox.failures,
        }
        if plan.kinds:
            result["by_kind"] = {}
            for kind, (targets, kind_allowed) in plan.kinds.items():
                kt = [at for at, target in arrivals if target in targets]
                r = rate(kt)
                result["by_kind"][kind] = {
                    "messages": len(kt), "achieved_per_s": round(r, 3) if r else None,
                    "seconds_from_start": round(kt[-1] - started, 2) if kt else None,
                    "allowed_per_s": round(kind_allowed, 3) if kind_allowed else None,
                    "percent_of_allowed": pct(r, kind_allowed),
                }
        return result


def timed(send: Callable[[Outgoing], Awaitable[Any]],
          durations: list[float]) -> Callable[[Outgoing], Awaitable[Any]]:
    """``send``, recording how long each call took (discord.py's bucket waits happen inside)."""
    async def wrapper(out: Outgoing) -> Any:
        t0 = time.monotonic()
        try:
            return await send(out)
        finally:
            durations.append(time.monotonic() - t0)
    return wrapper


async def enqueue(store: Store, targets: list[Target], channels: list[int], users: list[int],
                  now: float) -> None:
    async def step(tx: Tx) -> None:
        for n, (kind, i) in enumerate(targets):
            oid = tx.new_id("outbox")
            text = f"Bench message {n}: your order has shipped."
            if kind == "dm":
                out = Outgoing("discord", f"dm:{users[i]}", text, Visibility.PRIVATE,
                               dm_user=str(users[i]))
            else:
                out = Outgoing("discord", str(channels[i]), text, Visibility.PUBLIC)
            out = replace(out, key=f"hf{oid}")
            tx.insert("outbox", {
                "id": oid, "key": out.key, "platform": "discord", "message_row": None,
                "question_id": None, "payload": json.dumps(out.to_json()), "state": "pending",
                "attempts": 0, "due_at": now, "created_at": now,
            })

    await store.transaction(step)


async def until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not met within {timeout:.0f} s")
        await asyncio.sleep(0.01)


def machine() -> dict[str, Any]:
    import aiohttp
    import discord

    return outbound.machine(**{"discord.py": discord.__version__,
                               "aiohttp": aiohttp.__version__})


def table(report: dict[str, Any]) -> str:
    lines = [f"command: {report['command']}",
             "machine: " + ", ".join(f"{k} {v}" for k, v in report["machine"].items()),
             f"limiter: {report['rate_limit']}",
             f"fake enforces: {GLOBAL:g} requests in any 1 s overall, {PER_CHANNEL} sends per "
             f"{WINDOW:g} s per channel (fixed windows, announced in X-RateLimit-* headers; "
             "429 + retry_after over them)", ""]
    head = (f"{'scenario':<9} {'msgs':>5} {'seconds':>8} {'achieved/s':>11} {'allowed/s':>10}"
            f" {'% allowed':>10} {'429s':>5} {'req/s':>6} {'max req/1s':>10}"
            f" {'max ch/5s':>9} {'dpy waits':>9} {'max send':>9}  notes")
    lines += [head, "-" * len(head)]
    for r in report["scenarios"]:
        notes = []
        if r["rejected_by"]:
            notes.append(f"429 by {r['rejected_by']}")
        if r["discordpy_429_retries"]:
            notes.append(f"discord.py retried {r['discordpy_429_retries']} 429s")
        if r["delivered"] != r["messages"]:
            notes.append(f"delivered {r['delivered']}")
        lines.append(
            f"{r['scenario']:<9} {r['messages']:>5} {fmt(r['seconds_first_to_last']):>8} "
            f"{fmt(r['achieved_per_s']):>11} {fmt(r['allowed_per_s'], 'none'):>10} "
            f"{fmt(r['percent_of_allowed']):>10} {r['rejected_429']:>5} "
            f"{fmt(r['requests_per_s']):>6} {r['busiest_1s_requests']:>10} "
            f"{r['busiest_5s_one_channel']:>9} {r['discordpy_bucket_waits']:>9} "
            f"{fmt(r['longest_send_s']):>9}  {'; '.join(notes)}")
        for kind, k in r.get("by_kind", {}).items():
            lines.append(f"  {kind:<14} {k['messages']:>4} {'':>8} {fmt(k['achieved_per_s']):>11}"
                         f" {fmt(k['allowed_per_s'], 'shared'):>10}"
                         f" {fmt(k['percent_of_allowed']):>10}"
                         f"  (last {fmt(k['seconds_from_start'])} s after the start)")
    lines += ["", "dpy waits: times discord.py found a channel's bucket exhausted and held the "
              "send until its reset (no 429, but the outbox waits too)",
              f"total wall time: {report['wall_s']} s; target: >= 90 % of allowed, 0 429s"]
    return "\n".join(lines)


def _per_chat(value: str) -> float | None:
    return None if value.lower() in ("none", "null", "off") else float(value)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--channels", type=int, default=300, help="messages to as many channels")
    ap.add_argument("--dms", type=int, default=120,
                    help="DMs to as many new users (two requests each)")
    ap.add_argument("--channel", type=int, default=11, help="messages into one channel")
    ap.add_argument("--backlog", type=int, default=11,
                    help="the backlog scenario's messages into its busy channel")
    ap.add_argument("--mix", type=int, default=300, help="messages in the mixed scenario")
    ap.add_argument("--ceiling", type=int, default=300, help="messages with every limit off")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help=f"comma-separated, from {','.join(SCENARIOS)}")
    ap.add_argument("--per-second", type=float, help="override the limiter's platform-wide rate")
    ap.add_argument("--burst", type=int, help="override the limiter's platform-wide burst")
    ap.add_argument("--per-chat", type=_per_chat, default=argparse.SUPPRESS,
                    help="override the limiter's per-chat rate ('none': off)")
    ap.add_argument("--json", action="store_true", help="one JSON object")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        build_parser().error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore", DeprecationWarning)  # discord.py imports audioop
    rate_limit = DiscordSettings().rate_limit
    update: dict[str, Any] = {}
    if args.per_second is not None:
        update["per_second"] = args.per_second
    if args.burst is not None:
        update["burst"] = args.burst
    if hasattr(args, "per_chat"):
        update["per_chat_per_second"] = args.per_chat
    rate_limit = rate_limit.model_copy(update=update)
    return outbound.run_all(plans(args, rate_limit), run, rate_limit, machine(), table,
                            as_json=args.json, prefix="helpforce-bench-dc-")


if __name__ == "__main__":
    sys.exit(main())
