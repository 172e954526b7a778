#!/usr/bin/env python
"""Outbound Telegram messages per second against Telegram's limits, enforced by the fake.

    python benchmarks/bench_telegram.py [--private N] [--chat N] [--group N] [--mix N]
                                        [--ceiling N] [--scenarios LIST] [--burst B]
                                        [--no-group-limit] [--latency S] [--in-flight N]
                                        [--json]

Each scenario gets a fresh loopback Bot API (tests/fakes/telegram.py) enforcing Telegram's
published limits (``Limits()``: at most 30 messages in any second overall, 1 in any second
into one chat, 20 in any 60 s into one group; a call over one is answered 429 with a
retry_after), a fresh store on a temporary file (WAL, synchronous=FULL, as the daemon's), and
the real Outbox, PlatformLimiter (built from ``TelegramSettings().rate_limit``, the shipped
defaults, as App builds it) and TelegramAdapter (python-telegram-bot over HTTPX). N outbox
rows are committed at once, then the outbox's dispatcher starts; a scenario ends when every
row is recorded sent.

Scenarios (default sizes keep the whole run near 1.5 minutes; the group's alone is 1 minute):

* ``private``: N private chats, one message each: bound by 30/s overall;
* ``chat``: N messages into one private chat: 1/s;
* ``group``: N messages into one group: 20/min. Default 21, one minute: the 21st is the first
  message that a 60-second window could count as one too many;
* ``mix``: N messages at once, interleaved: into many private chats, one private chat and one
  group, the last two sized to take ~3/4 of the N/30 seconds the whole needs at 30/s; each
  kind is also reported against its own limit (the private chats' is what the other two
  leave of the 30/s);
* ``ceiling``: N private chats with every limit off (fake and limiter): what the outbox,
  store and python-telegram-bot manage, the headroom above Telegram's 30/s.

``--latency S`` makes the fake take S seconds to answer each call (a round trip to Telegram's
servers; loopback has none), and ``--in-flight N`` sets how many sends the outbox keeps on
their way at once (default: the shipped ``rate_limit.in_flight``); one at a time, a round trip
of S allows at most 1/S messages a second.

Per scenario: achieved messages/s = (n - 1) / (last arrival - first arrival) at the fake; the
allowed rate and the percentage of it; 429s answered by the fake (and by which limit); the
busiest window the fake saw (messages in any 1 s, in any 60 s for a group). Figures, not
pass/fail: the target is >= 90 % of the allowed rate with zero 429s. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import outbound  # noqa: E402
from fakes.telegram import TOKEN, FakeTelegram, Limits  # noqa: E402
from outbound import busiest, fmt, pct, rate, wait_for  # noqa: E402

from helpforce.adapters.telegram import TelegramAdapterFactory, TelegramSettings  # noqa: E402
from helpforce.clock import SystemClock  # noqa: E402
from helpforce.config.schema import RateLimit  # noqa: E402
from helpforce.models import Outgoing, Visibility  # noqa: E402
from helpforce.outbox import Outbox  # noqa: E402
from helpforce.ratelimit import PlatformLimiter  # noqa: E402
from helpforce.store import Store, Tx  # noqa: E402

ENV_NAME = "HF_BENCH_TELEGRAM_TOKEN"
GROUP = -1007770001
ONE_CHAT = 5000
FIRST_USER = 100_000
SCENARIOS = ("ceiling", "private", "chat", "group", "mix")
#: seconds the fake takes to answer each call (--latency)
LATENCY = 0.0


@dataclass
class Plan:
    """What one scenario sends: (chat id, is it a group) per message, in commit order."""

    name: str
    targets: list[tuple[int, bool]]
    #: messages/s Telegram allows for this traffic (None: unlimited)
    allowed: float | None
    limits: Limits | None
    rate_limit: RateLimit
    #: kinds of traffic reported separately: name -> (chat ids, allowed msgs/s)
    kinds: dict[str, tuple[set[int], float]] = field(default_factory=dict)


def plans(args: argparse.Namespace, rate_limit: RateLimit) -> list[Plan]:
    users = [FIRST_USER + i for i in range(max(args.private, args.ceiling, args.mix))]
    per_group = (rate_limit.per_group_per_minute or 0) / 60 or 20 / 60
    chat_rate = rate_limit.per_chat_per_second or 1.0
    out: list[Plan] = []
    for name in args.scenarios:
        if name == "ceiling":
            off = RateLimit(per_second=1e6, burst=10**6, per_chat_per_second=None)
            out.append(Plan(name, [(u, False) for u in users[:args.ceiling]], None,
                            Limits(None, None, None), off))
        elif name == "private":
            out.append(Plan(name, [(u, False) for u in users[:args.private]],
                            rate_limit.per_second, Limits(), rate_limit))
        elif name == "chat":
            out.append(Plan(name, [(ONE_CHAT, False)] * args.chat, chat_rate, Limits(),
                            rate_limit))
        elif name == "group":
            out.append(Plan(name, [(GROUP, True)] * args.group, 20 / 60, Limits(),
                            rate_limit))
        elif name == "mix":
            # the one chat's and the group's messages fit in ~3/4 of the time the private
            # chats take, so that the overall rate is not a tail of the slowest kind
            seconds = args.mix / rate_limit.per_second
            n_chat = max(2, int(0.75 * seconds * chat_rate) + 1)
            n_group = max(2, int(0.75 * seconds * per_group) + 1)
            n_private = max(0, args.mix - n_chat - n_group)
            # interleaved in commit order, as a day's traffic would be
            targets: list[tuple[int, bool]] = [(u, False) for u in users[:n_private]]
            for k in range(n_chat):
                targets.insert(k * len(targets) // n_chat, (ONE_CHAT, False))
            for k in range(n_group):
                targets.insert(k * len(targets) // n_group, (GROUP, True))
            out.append(Plan(name, targets, rate_limit.per_second, Limits(), rate_limit, {
                # what the one chat and the group leave of the overall rate
                "private chats": (set(users[:n_private]),
                                  rate_limit.per_second - chat_rate - per_group),
                "one chat": ({ONE_CHAT}, chat_rate),
                "one group": ({GROUP}, 20 / 60),
            }))
    return out


async def run(plan: Plan, workdir: Path) -> dict[str, Any]:
    async with FakeTelegram(limits=plan.limits) as tg:
        tg.latency = LATENCY
        for chat, group in set(plan.targets):
            if group:
                tg.group(chat, "Bench group")
            else:
                tg.user(chat, f"User{chat}")
        settings = TelegramSettings(token_env=ENV_NAME, base_url=tg.base_url,
                                    base_file_url=tg.base_file_url, rate_limit=plan.rate_limit)
        adapter = TelegramAdapterFactory().create(settings, clock=SystemClock(),
                                                  env={ENV_NAME: TOKEN})
        clock = SystemClock()
        rl = settings.rate_limit
        # as App._start builds it
        limiter = PlatformLimiter(rl.per_second, rl.burst, rl.per_chat_per_second, clock,
                                  per_group_per_minute=rl.per_group_per_minute,
                                  in_flight=rl.in_flight)
        db = workdir / f"{plan.name}.db"
        store = Store(db)
        await store.open()
        done = asyncio.Event()
        sent = 0

        def on_sent(platform: str, oid: int) -> None:
            nonlocal sent
            sent += 1
            if sent == len(plan.targets):
                done.set()

        outbox = Outbox(store, {"telegram": adapter}, {"telegram": limiter}, clock,
                        on_sent=on_sent)
        await enqueue(store, plan.targets, clock.now())
        started = time.monotonic()
        await outbox.start(drain=0)
        expected = len(plan.targets) / plan.allowed if plan.allowed else 10.0
        try:
            await wait_for(done, lambda: outbox.failures > 0, timeout=2 * expected + 60)
        finally:
            await outbox.stop(drain=0)
            await adapter.stop()
            await store.close()
        arrivals = [(at, int(chat)) for at, method, chat in tg.let_through
                    if method == "sendMessage"]
        times = [at for at, _ in arrivals]
        achieved = rate(times)
        result: dict[str, Any] = {
            "scenario": plan.name,
            "messages": len(plan.targets),
            "delivered": sent,
            "chats": len({c for c, _ in plan.targets}),
            "seconds_first_to_last": round(times[-1] - times[0], 2) if times else None,
            "seconds_from_start": round(times[-1] - started, 2) if times else None,
            "achieved_per_s": round(achieved, 3) if achieved else None,
            "allowed_per_s": round(plan.allowed, 3) if plan.allowed else None,
            "percent_of_allowed": pct(achieved, plan.allowed),
            "rejected_429": tg.rejected_429,
            "rejected_by": dict(tg.rejected_by),
            "outbox_retries": outbox.retries,
            "outbox_failures": outbox.failures,
            "busiest_1s": busiest(times, 1.0),
            "most_in_flight": tg.max_in_progress,
        }
        groups = [at for at, chat in arrivals if chat < 0]
        if groups:
            result["busiest_60s_one_group"] = busiest(groups, 60.0)
        if plan.kinds:
            result["by_kind"] = {}
            for kind, (chats, allowed) in plan.kinds.items():
                kt = [at for at, chat in arrivals if chat in chats]
                r = rate(kt)
                result["by_kind"][kind] = {
                    "messages": len(kt), "achieved_per_s": round(r, 3) if r else None,
                    "allowed_per_s": round(allowed, 3), "percent_of_allowed": pct(r, allowed),
                }
        return result


async def enqueue(store: Store, targets: list[tuple[int, bool]], now: float) -> None:
    async def step(tx: Tx) -> None:
        for n, (chat, group) in enumerate(targets):
            oid = tx.new_id("outbox")
            out = Outgoing("telegram", str(chat), f"Bench message {n}: your order has shipped.",
                           Visibility.PUBLIC if group else Visibility.PRIVATE)
            out = replace(out, key=f"hf{oid}")
            tx.insert("outbox", {
                "id": oid, "key": out.key, "platform": "telegram", "message_row": None,
                "question_id": None, "payload": json.dumps(out.to_json()), "state": "pending",
                "attempts": 0, "due_at": now, "created_at": now,
            })

    await store.transaction(step)


def machine() -> dict[str, Any]:
    import telegram

    return outbound.machine(python_telegram_bot=telegram.__version__)


def table(report: dict[str, Any]) -> str:
    lines = [f"command: {report['command']}",
             "machine: " + ", ".join(f"{k} {v}" for k, v in report["machine"].items()),
             f"limiter: {report['rate_limit']}",
             "fake enforces: 30 in any 1 s overall, 1 in any 1 s per chat, "
             "20 in any 60 s per group (429 + retry_after over them); "
             f"each call takes {LATENCY:g} s (--latency)", ""]
    head = (f"{'scenario':<10} {'msgs':>5} {'seconds':>8} {'achieved/s':>11} {'allowed/s':>10}"
            f" {'% allowed':>10} {'429s':>5} {'busiest 1s':>11} {'in flight':>9}  notes")
    lines += [head, "-" * len(head)]
    for r in report["scenarios"]:
        notes = []
        if "busiest_60s_one_group" in r:
            notes.append(f"group's busiest 60 s: {r['busiest_60s_one_group']}")
        if r["rejected_by"]:
            notes.append(f"429 by {r['rejected_by']}")
        if r["delivered"] != r["messages"]:
            notes.append(f"delivered {r['delivered']}")
        lines.append(
            f"{r['scenario']:<10} {r['messages']:>5} {fmt(r['seconds_first_to_last']):>8} "
            f"{fmt(r['achieved_per_s']):>11} {fmt(r['allowed_per_s'], 'none'):>10} "
            f"{fmt(r['percent_of_allowed']):>10} {r['rejected_429']:>5} {r['busiest_1s']:>11}"
            f" {r['most_in_flight']:>9}"
            f"  {'; '.join(notes)}")
        for kind, k in r.get("by_kind", {}).items():
            lines.append(f"  {kind:<14} {k['messages']:>5} {'':>8} {fmt(k['achieved_per_s']):>11}"
                         f" {fmt(k['allowed_per_s']):>10} {fmt(k['percent_of_allowed']):>10}")
    lines += ["", f"total wall time: {report['wall_s']} s; target: >= 90 % of allowed, 0 429s"]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--private", type=int, default=180, help="messages to as many private chats")
    ap.add_argument("--chat", type=int, default=8, help="messages into one private chat")
    ap.add_argument("--group", type=int, default=21, help="messages into one group (3 s each)")
    ap.add_argument("--mix", type=int, default=240, help="messages in the mixed scenario")
    ap.add_argument("--ceiling", type=int, default=200, help="messages with every limit off")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help=f"comma-separated, from {','.join(SCENARIOS)}")
    ap.add_argument("--burst", type=int, help="override the limiter's platform-wide burst")
    ap.add_argument("--no-group-limit", action="store_true",
                    help="run without the limiter's per-group limit (to see the 429s)")
    ap.add_argument("--latency", type=float, default=0.0, metavar="S",
                    help="seconds the fake takes to answer each call (a round trip)")
    ap.add_argument("--in-flight", type=int, metavar="N",
                    help="sends on their way at once (default: the shipped setting)")
    ap.add_argument("--json", action="store_true", help="one JSON object")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        build_parser().error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    logging.basicConfig(level=logging.ERROR)
    rate_limit = TelegramSettings().rate_limit
    if args.burst is not None:
        rate_limit = rate_limit.model_copy(update={"burst": args.burst})
    if args.no_group_limit:
        rate_limit = rate_limit.model_copy(update={"per_group_per_minute": None})
    if args.in_flight is not None:
        rate_limit = rate_limit.model_copy(update={"in_flight": args.in_flight})
    global LATENCY
    LATENCY = args.latency
    return outbound.run_all(plans(args, rate_limit), run, rate_limit, machine(), table,
                            as_json=args.json, prefix="helpforce-bench-tg-")


if __name__ == "__main__":
    sys.exit(main())
