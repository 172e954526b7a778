#!/usr/bin/env python
"""Outbound X posts and DMs against X's limits, enforced by the fake, in virtual time.

    python benchmarks/bench_x.py [--posts N] [--dms N] [--json]

X's limits are per 15 minutes (POST /2/tweets 100, DM sends 15) and per 24 hours (DMs 1,440),
so the run uses virtual time: one :class:`~helpforce.clock.VirtualClock` is the clock of the
real Outbox, PlatformLimiter (from ``XSettings().rate_limit``), XAdapter (tweepy AsyncClient
over aiohttp, really talking HTTP to the loopback fake) and of the fake X itself
(tests/fakes/x.py, ``Limits()``: X's published per-user limits, fixed windows from the first
call, 429 beyond). When the outbox has nothing it can send now, the clock jumps to the next
due time: hours of X's windows take seconds.

N replies (each to its own customer's post) and M DMs are committed at once with the
adapter's default budgets (``XBudgets()``: the same published limits). Reported, for posts and
DMs: messages per full 15-minute window from the first send (X allows 100 and 15), the
percentage of the allowed rate over the whole run, 429s answered by the fake, the rows the
outbox set aside because a budget was spent (``NotNow``), and the wall time. Figures, not
pass/fail: the target is >= 90 % of the allowed rate with zero 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fakes.x import BRAND_ID, FakeX  # noqa: E402
from outbound import code_version  # noqa: E402

from helpforce.adapters.x import XSettings  # noqa: E402
from helpforce.adapters.x.adapter import Credentials, XAdapter  # noqa: E402
from helpforce.clock import VirtualClock  # noqa: E402
from helpforce.models import Outgoing, Visibility  # noqa: E402
from helpforce.outbox import Outbox  # noqa: E402
from helpforce.ratelimit import PlatformLimiter  # noqa: E402
from helpforce.store import Store, Tx  # noqa: E402

WINDOW = 900.0
POST = "POST /2/tweets"
DM_SEND = "POST /2/dm_conversations/with/:participant_id/messages"


async def _nothing(batch: Any, cursor: str | None) -> None:
    del batch, cursor


def per_window(times: list[float]) -> list[int]:
    """Sends in each 15-minute window from the first, full windows only."""
    if not times:
        return []
    start = times[0]
    n = math.floor((times[-1] - start) / WINDOW) + 1
    counts = [0] * n
    for t in times:
        counts[min(n - 1, int((t - start) // WINDOW))] += 1
    return counts[:-1] if len(counts) > 1 else counts


def achieved(times: list[float], limit: int) -> tuple[float | None, float]:
    """(messages per 15 minutes over the run, % of the allowed): n messages need at least
    ceil(n / limit) windows, the last one partly; the run's span against that minimum."""
    n = len(times)
    if n < 2:
        return None, 0.0
    best = (math.ceil(n / limit) - 1) * WINDOW  # the last window's sends go at its start
    span = times[-1] - times[0]
    rate = n / max(span + WINDOW, 1e-9) * WINDOW if span else float(n)
    return round(rate, 1), round(100.0 * (best + WINDOW) / (span + WINDOW), 1)


async def run(posts: int, dms: int) -> dict[str, Any]:
    clock = VirtualClock(time.time())
    async with FakeX(clock=clock.now) as x:
        customers = [2000 + i for i in range(max(posts, dms))]
        for uid in customers:
            x.user(uid, f"c{uid}")
        asks = [x.tweet(uid, "@helpforce help please") for uid in customers[:posts]]
        keys = x.token_for(BRAND_ID)
        settings = XSettings(api_base=x.base_url, mentions=False, dms=False,
                             follow_conversations=0)
        adapter = XAdapter(settings, Credentials(
            keys.consumer_key, keys.consumer_secret, keys.access_token,
            keys.access_token_secret), clock)
        rl = settings.rate_limit
        limiter = PlatformLimiter(rl.per_second, rl.burst, rl.per_chat_per_second, clock,
                                  per_group_per_minute=rl.per_group_per_minute)
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "bench.db")
            await store.open()
            outbox = Outbox(store, {"x": adapter}, {"x": limiter}, clock)
            try:
                await adapter.start(_nothing, None)
                while adapter.brand_id is None:
                    await asyncio.sleep(0.01)
                outs = [Outgoing("x", str(t), f"Answer {i} for you ^JD", Visibility.PUBLIC,
                                 reply_to=str(t)) for i, t in enumerate(asks)]
                outs += [Outgoing("x", f"dm:{u}", f"Private answer {i} ^JD",
                                  Visibility.PRIVATE, dm_user=str(u))
                         for i, u in enumerate(customers[:dms])]

                async def step(tx: Tx) -> None:
                    now = clock.now()
                    for out in outs:
                        oid = tx.new_id("outbox")
                        tx.insert("outbox", {
                            "id": oid, "key": f"hf{oid}", "platform": "x",
                            "message_row": None, "question_id": None,
                            "payload": json.dumps({**out.to_json(), "key": f"hf{oid}"}),
                            "state": "pending", "attempts": 0, "due_at": now,
                            "created_at": now,
                        })

                # started first: a start drains due rows before it returns, and here only the
                # loop below moves the clock
                await outbox.start()
                wall = time.perf_counter()
                await store.transaction(step)
                outbox.wake("x")
                while len(x.posted) < posts or len(x.sent_dms) < dms:
                    while not outbox.idle:
                        await asyncio.sleep(0.001)
                    if len(x.posted) >= posts and len(x.sent_dms) >= dms:
                        break
                    due = clock.next_deadline()
                    if due is None:
                        await asyncio.sleep(0.01)
                        continue
                    clock.advance_to(max(due, clock.now()))
                    await asyncio.sleep(0)
                wall = time.perf_counter() - wall
            finally:
                await outbox.stop(drain=0)
                await adapter.stop()
                await store.close()
        post_times = sorted(p.created_at for p in x.posted)
        dm_times = sorted(d.created_at for d in x.sent_dms)
        result: dict[str, Any] = {"wall_seconds": round(wall, 2), "rate_limited": x.rate_limited,
                                  "set_aside": outbox.deferred, "failures": outbox.failures}
        for name, times, limit, calls in (("posts", post_times, 100, x.calls[POST]),
                                          ("dms", dm_times, 15, x.calls[DM_SEND])):
            per15, share = achieved(times, limit)
            result[name] = {
                "messages": len(times), "requests": calls,
                "virtual_minutes": round((times[-1] - times[0]) / 60, 1) if times else 0,
                "per_window": per_window(times), "allowed_per_window": limit,
                "per_15_min": per15, "pct_allowed": share,
            }
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=350)
    parser.add_argument("--dms", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    result = asyncio.run(run(args.posts, args.dms))
    result["code"] = code_version()
    if args.json:
        print(json.dumps(result))
        return
    print(f"command: python benchmarks/bench_x.py --posts {args.posts} --dms {args.dms}")
    print(f"code {result['code']}; X's limits enforced by the fake: 100 posts and 15 DMs per "
          "15 min per user (fixed windows), 1,440 DMs per 24 h; adapter budgets: the same")
    for name in ("posts", "dms"):
        r = result[name]
        print(f"{name:5}: {r['messages']} sent in {r['virtual_minutes']} virtual minutes "
              f"({r['requests']} requests); per full 15-min window {r['per_window']} of "
              f"{r['allowed_per_window']} allowed; {r['pct_allowed']} % of the allowed rate")
    print(f"429s: {result['rate_limited']}; rows set aside for a spent budget: "
          f"{result['set_aside']}; failures: {result['failures']}; wall time "
          f"{result['wall_seconds']} s")


if __name__ == "__main__":
    main()
