"""What the outbound benchmarks (bench_telegram.py, bench_discord.py) share: rates from send
times, waiting for the outbox to finish, and which code was measured."""

from __future__ import annotations

import asyncio
import json
import os
import platform as py_platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def busiest(times: list[float], window: float) -> int:
    """The most events in any window ``(t - window, t]`` (``times`` sorted)."""
    most, first = 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - window:
            first += 1
        most = max(most, last - first + 1)
    return most


def rate(times: list[float]) -> float | None:
    """Events per second from the first to the last."""
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and \
        times[-1] > times[0] else None


def pct(achieved: float | None, allowed: float | None) -> float | None:
    return round(100 * achieved / allowed, 1) if achieved and allowed else None


def fmt(value: Any, none: str = "-") -> str:
    return none if value is None else f"{value:g}" if isinstance(value, float) else str(value)


async def wait_for(done: asyncio.Event, failed: Callable[[], bool], timeout: float) -> None:
    """Until ``done`` is set; an error if the outbox gave up on a message or time ran out."""
    deadline = time.monotonic() + timeout
    while not done.is_set():
        if failed():
            raise RuntimeError("the outbox gave up on a message (see the log)")
        if time.monotonic() > deadline:
            raise TimeoutError(f"not delivered within {timeout:.0f} s")
        try:
            await asyncio.wait_for(done.wait(), 0.5)
        except TimeoutError:
            pass


def code_version() -> str:
    """The commit and whether product files differ from it (others may be editing them)."""
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "helpforce", "adapters"],
            capture_output=True, text=True, timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + (" + uncommitted changes" if dirty.strip() else " (clean)")


def machine(**libraries: str) -> dict[str, Any]:
    """The machine and the code measured, with the client libraries' versions."""
    return {"cpus": os.cpu_count(), "python": py_platform.python_version(),
            "sqlite": sqlite3.sqlite_version, **libraries,
            "load_avg_at_start": round(os.getloadavg()[0], 2), "code": code_version()}


def run_all(
    plans: Iterable[Any], run: Callable[[Any, Path], Awaitable[dict[str, Any]]],
    rate_limit: Any, machine_info: dict[str, Any], table: Callable[[dict[str, Any]], str],
    *, as_json: bool, prefix: str,
) -> int:
    """Run each scenario in its own event loop and work directory; print the report."""
    report: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info,
        "rate_limit": rate_limit.model_dump(),
        "scenarios": [],
    }
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        for plan in plans:
            report["scenarios"].append(asyncio.run(run(plan, workdir)))
            if not as_json:
                print(f"... {plan.name} done", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, sort_keys=True) if as_json else table(report))
    return 0
