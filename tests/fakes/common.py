"""What the loopback fakes share: waiting on their state without polling, and closing a
streams server with its open connections."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

TIMEOUT = 10.0


class Observable:
    """A fake's state that tests wait on: the fake calls :meth:`_notify` after every change,
    and :meth:`wait_until` wakes only then (no polling)."""

    #: named in the timeout's message
    _what = "the fake"
    _changed: asyncio.Event

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, condition: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        """Wait (without polling) until ``condition()`` is truthy; returns its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = condition()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self._what} did not see the expected change")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass


async def close_server(server: asyncio.Server, connections: Iterable[asyncio.Task[Any]]) -> None:
    """Stop listening, end every open connection's task, and wait until all are gone."""
    server.close()
    tasks = list(connections)
    for task in tasks:
        task.cancel()
    for task in tasks:
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
    await server.wait_closed()
