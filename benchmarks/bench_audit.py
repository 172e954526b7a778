#!/usr/bin/env python
"""What the audit trail and the reports cost.

    python benchmarks/bench_audit.py [--events N] [--json]

1. the hash chain on the desk's path: µs per event appended by the store's
   :class:`~helpforce.store.chain.Chain` (an offer: nothing sealed; a customer's message:
   its account sealed with a salted hash), best of 5;
2. ``audit verify``: N events written through the real store (group commits of 200), then
   verified; events/s;
3. ``purge`` of all of them and a second ``verify``;
4. ``report``: a simulated launch day (config/scenarios/launch-day.yaml: 410 questions)
   reported as JSON and as HTML with charts (when matplotlib is installed).

The desk's own throughput with and without the chain: ``benchmarks/bench_desk.py`` (compare
runs of the same commit with and without this change; see the issue-9 notes).
Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

from helpforce.audit import verify
from helpforce.purge import purge
from helpforce.store import Store, Tx
from helpforce.store.chain import Chain

REPO = Path(__file__).resolve().parent.parent

OFFER = {"question_id": 12345, "at": 1_800_000_000.125, "kind": "offered", "actor": None,
         "platform": "local", "data": json.dumps(
             {"channels": ["local:staff"], "staff": ["s00001", "s00002", "s00003", "s00004",
                                                     "s00005"], "wave": 1, "audience": 3000},
             sort_keys=True)}
RECEIVED = {"question_id": 12345, "at": 1_800_000_000.125, "kind": "received",
            "actor": "telegram:123456789", "platform": "telegram", "data": json.dumps(
                {"message_id": "-100123:4567", "visibility": "public", "tags": ["orders"],
                 "language": "en", "language_source": "detected", "route": "default"},
                sort_keys=True)}


def micro() -> dict[str, float]:
    chain = Chain()
    out = {}
    for name, row in (("offer_us", OFFER), ("customer_message_us", RECEIVED)):
        n = 100_000
        best = min(timeit.repeat(lambda r=row: chain.append(r), number=n, repeat=5))
        out[name] = round(best / n * 1e6, 2)
    return out


async def log_figures(workdir: Path, events: int) -> dict[str, Any]:
    path = workdir / "audit.db"
    started = time.perf_counter()
    async with Store(path) as store:
        async def step(tx: Tx, base: int) -> None:
            qid = tx.new_id("questions")
            tx.insert("questions", {
                "id": qid, "platform": "telegram", "customer_id": str(base),
                "customer_handle": f"c{base}", "conversation": "help", "visibility": "public",
                "root_message": f"m{base}", "state": "resolved", "created_at": 1000.0,
                "updated_at": 1000.0, "resolved_at": 1000.0})
            for i in range(4):
                row = RECEIVED if i == 0 else OFFER
                tx.insert("events", {**row, "question_id": qid, "at": 1000.0 + i})

        futures = [store.submit(lambda tx, b=b: step(tx, b)) for b in range(events // 4)]
        await asyncio.gather(*futures)
    written = time.perf_counter() - started
    async with Store(path, readonly=True) as store:
        t = time.perf_counter()
        verdict = await verify(store)
        verify_s = time.perf_counter() - t
    assert verdict.ok, verdict.problems[:3]
    async with Store(path) as store:
        t = time.perf_counter()
        result = await purge(store, older_than=60.0, now=time.time())
        purge_s = time.perf_counter() - t
    async with Store(path, readonly=True) as store:
        t = time.perf_counter()
        after = await verify(store)
        verify2_s = time.perf_counter() - t
    assert after.ok and after.redacted == result.events
    n = verdict.events
    return {"events": n, "write_s": round(written, 2),
            "verify_s": round(verify_s, 2), "verify_events_per_s": round(n / verify_s),
            "purge_s": round(purge_s, 2), "purged_questions": len(result.questions),
            "redacted_events": result.events, "verify_after_purge_s": round(verify2_s, 2)}


async def report_figures(workdir: Path) -> dict[str, Any]:
    import datetime as dt

    from helpforce.adapters.local.scenario import load_scenario
    from helpforce.adapters.local.simulate import (
        SimOptions,
        factories,
        load_sim_config,
        simulate,
    )
    from helpforce.report import Period, build

    config = load_sim_config(REPO / "config")
    scenario = load_scenario(REPO / "config" / "scenarios" / "launch-day.yaml",
                             roster=config.roster, factories=factories())
    db = workdir / "launch.db"
    await simulate(scenario, config, SimOptions(db=str(db), timeline=0))
    start = dt.datetime.fromisoformat("2026-11-27T00:00:00-06:00").timestamp()
    period = Period(start, start + 86400, config.routing.timezone)
    async with Store(db, readonly=True) as store:
        t = time.perf_counter()
        report = await build(store, config, period, start + 2 * 86400)
        build_s = time.perf_counter() - t
    out: dict[str, Any] = {"questions": report["questions"], "build_s": round(build_s, 3)}
    try:
        from helpforce.report_html import render

        t = time.perf_counter()
        page = render(report)
        out["html_s"] = round(time.perf_counter() - t, 3)
        out["html_bytes"] = len(page.encode())
    except Exception as exc:  # matplotlib missing: say so, keep the other figures
        out["html"] = str(exc)
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hf-audit-") as tmp:
        return {"chain": micro(), "log": await log_figures(Path(tmp), args.events),
                "report": await report_figures(Path(tmp))}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000,
                    help="events written, verified and purged (default 200000)")
    ap.add_argument("--json", action="store_true", help="one JSON object")
    args = ap.parse_args()
    result = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    c, lg, r = result["chain"], result["log"], result["report"]
    print(f"chain append: {c['offer_us']} µs per event, {c['customer_message_us']} µs with a "
          "sealed part (best of 5)")
    print(f"audit verify: {lg['events']} events in {lg['verify_s']} s "
          f"({lg['verify_events_per_s']:,} events/s); written in {lg['write_s']} s")
    print(f"purge: {lg['purged_questions']} questions, {lg['redacted_events']} events "
          f"redacted in {lg['purge_s']} s; verify afterwards {lg['verify_after_purge_s']} s, OK")
    html = (f"HTML with charts {r['html_s']} s ({r['html_bytes'] // 1024} KiB)"
            if "html_s" in r else f"HTML: {r.get('html')}")
    print(f"report over a simulated launch day ({r['questions']} questions): "
          f"{r['build_s']} s; {html}")


if __name__ == "__main__":
    main()
