"""The timer loop: runs the desk's due timers (offer waves, claim leases, SLA deadlines).

Deadlines live in the store's ``timers`` table, so a restart resumes them. The loop sleeps on
the injected clock until the earliest due time, or until the desk sets an earlier one
(:meth:`TimerLoop.wake`), then asks the desk to fire what is due in one store step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable

from helpforce.clock import Clock

log = logging.getLogger(__name__)


class TimerLoop:
    def __init__(
        self,
        clock: Clock,
        next_due: Callable[[], Awaitable[float | None]],
        fire_due: Callable[[float], Awaitable[int]],
        *,
        retry_after: float = 5.0,
    ) -> None:
        self.clock = clock
        self._next_due = next_due
        self._fire_due = fire_due
        self._retry_after = retry_after
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = False
        self._known_due = math.inf
        self.fired = 0

    @property
    def idle(self) -> bool:
        """True while waiting with nothing due now."""
        return self._idle and not self._wake.is_set()

    def wake(self, due_at: float | None = None) -> None:
        """A timer was set (or changed): look again if it may be earlier than the one awaited."""
        if due_at is None or due_at < self._known_due:
            self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="helpforce.timers")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            # until the new earliest due time is known, any wake counts (a timer committed
            # while it is being read must not be slept through)
            self._known_due = math.inf
            try:
                due = await self._next_due()
                now = self.clock.now()
                if due is not None and due <= now:
                    self._idle = False
                    self.fired += await self._fire_due(now)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                # a broken timer must not stop the others: it is retried after a pause
                log.exception("timers: firing due timers failed; retrying")
                due = self.clock.now() + self._retry_after
            self._known_due = math.inf if due is None else due
            self._idle = True
            waiter = asyncio.ensure_future(self._wake.wait())
            sleeper = asyncio.ensure_future(
                self.clock.sleep(due - self.clock.now() if due is not None else 24 * 3600.0)
            )
            try:
                await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                sleeper.cancel()
                self._idle = False
