"""Injected time. The desk, outbox and timers read the clock through this protocol so that
tests can move time forward without sleeping."""

from __future__ import annotations

import asyncio
import heapq
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when told to; sleepers wake when time passes their deadline."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._changed = asyncio.Condition()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        deadline = self._now + max(0.0, seconds)
        async with self._changed:
            await self._changed.wait_for(lambda: self._now >= deadline)

    async def advance(self, seconds: float) -> None:
        self._now += seconds
        async with self._changed:
            self._changed.notify_all()
        # let woken sleepers run
        for _ in range(3):
            await asyncio.sleep(0)


class VirtualClock:
    """Simulated time: it stands still until :meth:`advance_to` moves it.

    Each :meth:`sleep` registers a sleeper with its deadline; :meth:`next_deadline` tells the
    driver (the simulator) when the next one is due, and :meth:`advance_to` sets the time and
    wakes every sleeper due by then, in deadline order (ties: in the order they went to
    sleep). A cancelled sleeper is simply forgotten.
    """

    def __init__(self, start: float) -> None:
        self._now = start
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._live = 0

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._heap, (self._now + seconds, self._seq, future))
        self._live += 1
        future.add_done_callback(self._forget)
        await future

    def _forget(self, future: asyncio.Future[None]) -> None:
        self._live -= 1
        if len(self._heap) > 1024 and len(self._heap) > 4 * self._live:
            # many sleepers were cancelled (woken by something else): drop them
            self._heap = [entry for entry in self._heap if not entry[2].done()]
            heapq.heapify(self._heap)

    @property
    def sleepers(self) -> int:
        """How many sleepers wait now."""
        return self._live

    def next_deadline(self) -> float | None:
        """The earliest deadline of a waiting sleeper, or None if nobody sleeps."""
        heap = self._heap
        while heap and heap[0][2].done():
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def advance_to(self, t: float) -> int:
        """Move time to ``t`` (never back) and wake the sleepers due by then, earliest first;
        returns how many were woken. They run once the caller yields to the event loop."""
        if t < self._now:
            raise ValueError(f"time cannot go back ({t} < {self._now})")
        self._now = t
        woken = 0
        heap = self._heap
        while heap and heap[0][0] <= t:
            _, _, future = heapq.heappop(heap)
            if not future.done():
                future.set_result(None)
                woken += 1
        return woken
