#!/usr/bin/env python
"""How fast ``helpforce simulate`` plays a big day: figures, not pass/fail.

    python benchmarks/bench_simulate.py [--staff 3000] [--questions 10000] [--hours 10]
                                        [--json] [--profile] [--sql]

In a temporary directory it writes a deployment (the example's helpforce.yaml, policies.yaml
and routing.yaml, and a generated roster.yaml of ``--staff`` people with local accounts, a mix
of skills and languages, some on shifts) and a scenario of ``--questions`` questions spread
evenly over ``--hours`` hours across X, Telegram, Discord and the local platform, with a few
quick staff, a few who never claim and one who goes away mid-day. It then runs the simulator
as ``helpforce simulate --json`` does and prints the wall time, questions per second, and the
run's own summary (how many answered, first-response percentiles).

``--sql`` also times every statement the store runs inside SQLite (a wrapper around the
connection: the run gets a little slower) and reports statements, commits and SQLite's seconds
per question: the part of the run that the real store costs whatever the Python around it does.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import platform as py_platform
import pstats
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

SKILLS = ["billing", "orders", "tv", "appliances", "computing", "mobile"]
TEXTS = [
    "My new TV won't turn on after the update",
    "Where is my order? It said delivery yesterday",
    "I was charged twice for the same headphones",
    "The washer shows an error and won't drain",
    "My laptop fan is really loud since the update",
    "My phone won't charge with the cable in the box",
    "Is the store open on Sunday?",
    "Do you price match other shops on Black Friday?",
    "Can I change the delivery address of my order?",
    "The soundbar has a delay compared to the picture on the tv",
]
PLATFORMS = [("x", "@cust"), ("telegram", "7"), ("discord", "@disc"), ("local", "loc")]


def write_roster(path: Path, staff: int, rng: random.Random) -> list[str]:
    lines = ["staff:"]
    ids = []
    for i in range(staff):
        sid = f"s{i:05d}"
        ids.append(sid)
        role = "lead" if i % 50 == 0 else "agent"
        skills = rng.sample(SKILLS, 2)
        langs = ["en"] + (["es"] if i % 7 == 0 else []) + (["fr"] if i % 11 == 0 else [])
        lines += [
            f"  - id: {sid}",
            f"    name: Staff {i}",
            f"    initials: S{i % 1000}",
            f"    role: {role}",
            f"    skills: [{', '.join(skills)}]",
            f"    languages: [{', '.join(langs)}]",
            f"    accounts: {{local: staff-{i}}}",
            "    notify: [local]",
        ]
        if i % 3 == 1:  # a third work the day shift only
            lines += ["    timezone: America/Chicago",
                      "    shifts: [{days: daily, from: '8:00', to: '20:00'}]"]
    path.write_text("\n".join(lines) + "\n")
    return ids


def write_scenario(
    path: Path, ids: list[str], questions: int, hours: float, resolve: str | None = None
) -> None:
    every = hours * 3600 / questions
    per = questions // len(PLATFORMS)
    lines = [
        "start: 2026-11-27T09:00:00-06:00",
        "staff:",
        "  default: {claims_after: 60s, answers_after: 3m"
        + (f", resolves_after: {resolve}}}" if resolve else "}"),
    ]
    lines += [f"  {sid}: {{claims_after: 20s, answers_after: 2m}}" for sid in ids[1:40:3]]
    lines += [f"  {sid}: {{claims_after: null}}" for sid in ids[2:40:3]]
    lines.append("questions:")
    for k, (platform, customer) in enumerate(PLATFORMS):
        n = per if k < len(PLATFORMS) - 1 else questions - per * (len(PLATFORMS) - 1)
        text = TEXTS[k % len(TEXTS)]
        lines.append(f"  - {{at: {k * every:.3f}s, platform: {platform}, customer: "
                     f"'{customer}', text: {json.dumps(text)}, repeat: {n}, "
                     f"every: {every * len(PLATFORMS):.3f}s}}")
    lines += ["events:", f"  - {{at: {hours / 2:.2f}h, staff: {ids[3]}, status: away}}"]
    path.write_text("\n".join(lines) + "\n")


class SqlTimer:
    """Times each statement the simulator's store runs inside SQLite."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.statements = 0
        self.commits = 0

    @classmethod
    def install(cls) -> SqlTimer:
        from helpforce.adapters.local import simulate

        timer = cls()

        class Timed(sqlite3.Connection):
            def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
                t = time.perf_counter()
                try:
                    return super().execute(sql, *args)
                finally:
                    timer.seconds += time.perf_counter() - t
                    timer.statements += 1
                    timer.commits += sql == "COMMIT"

            def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
                rows = list(rows)
                t = time.perf_counter()
                try:
                    return super().executemany(sql, rows)
                finally:
                    timer.seconds += time.perf_counter() - t
                    timer.statements += len(rows)

        connect = simulate._inline_connect

        def timed_connect(database: Any, **kwargs: Any) -> Any:
            return connect(database, factory=Timed, **kwargs)

        simulate._inline_connect = timed_connect  # type: ignore[assignment]
        return timer

    def figures(self, questions: int) -> dict[str, Any]:
        per = max(questions, 1)
        return {"seconds_in_sqlite": round(self.seconds, 2), "statements": self.statements,
                "statements_per_question": round(self.statements / per, 1),
                "commits_per_question": round(self.commits / per, 2),
                "ms_in_sqlite_per_question": round(1000 * self.seconds / per, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--staff", type=int, default=3000)
    ap.add_argument("--questions", type=int, default=10_000)
    ap.add_argument("--hours", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--resolve-after", metavar="DURATION",
                    help="staff also resolve this long after answering (default: they do not)")
    ap.add_argument("--json", action="store_true", help="one JSON object")
    ap.add_argument("--profile", action="store_true", help="cProfile the run; top functions")
    ap.add_argument("--sql", action="store_true",
                    help="time the statements run inside SQLite (per question)")
    args = ap.parse_args()

    sys.path.insert(0, str(ROOT))
    from helpforce.adapters.local.scenario import load_scenario
    from helpforce.adapters.local.simulate import (
        SimOptions,
        Simulator,
        factories,
        load_sim_config,
    )

    tmp = Path(tempfile.mkdtemp(prefix="helpforce-bench-sim-"))
    try:
        rng = random.Random(args.seed)
        cfg_dir = tmp / "config"
        cfg_dir.mkdir()
        for name in ("helpforce.yaml", "policies.yaml", "routing.yaml"):
            if (ROOT / "config" / name).exists():
                shutil.copy(ROOT / "config" / name, cfg_dir / name)
        ids = write_roster(cfg_dir / "roster.yaml", args.staff, rng)
        scenario_path = tmp / "day.yaml"
        write_scenario(scenario_path, ids, args.questions, args.hours, args.resolve_after)

        t0 = time.perf_counter()
        config = load_sim_config(cfg_dir)
        scenario = load_scenario(scenario_path, roster=config.roster, factories=factories())
        load_s = time.perf_counter() - t0

        sql = SqlTimer.install() if args.sql else None
        sim = Simulator(scenario, config, SimOptions(timeline=0))
        cpu0 = time.process_time()
        t1 = time.perf_counter()
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        report = asyncio.run(sim.run())
        if profiler is not None:
            profiler.disable()
        wall = time.perf_counter() - t1
        cpu = time.process_time() - cpu0
        s = report["summary"]
        result: dict[str, Any] = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": {"cpus": os.cpu_count(), "python": py_platform.python_version(),
                        "sqlite": sqlite3.sqlite_version,
                        "load_avg_at_start": os.getloadavg()[0]},
            "staff": args.staff,
            "questions": s["questions"],
            "load_config_and_scenario_s": round(load_s, 2),
            "simulate_wall_s": round(wall, 2),
            "simulate_cpu_s": round(cpu, 2),
            "questions_per_s": round(s["questions"] / wall, 1) if wall else None,
            "settles": s["simulation"]["settles"],
            "desk_batches": s["simulation"]["batches"],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "virtual_day": [s["start"], s["end"]],
            "answered": s["answered"],
            "unanswered": s["unanswered"],
            "escalated": s["escalated"],
            "first_response_p50_s": s["first_response"]["p50_s"],
            "first_response_p90_s": s["first_response"]["p90_s"],
            "sla_met_percent": s["sla"]["met_percent"],
            "deliveries": s["deliveries"],
        }
        if sql is not None:
            result["sql"] = sql.figures(s["questions"])
        if args.json:
            print(json.dumps(result, sort_keys=True))
        else:
            for k, v in result.items():
                print(f"{k:>28}: {v}")
        if profiler is not None:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(35)
            stats.sort_stats("tottime").print_stats(25)
            print(out.getvalue())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
