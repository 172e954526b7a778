"""Request budgets per X endpoint: never exceeded, whatever the order of calls.

X counts requests per endpoint and user in fixed 15-minute windows (and some per 24 hours),
and answers 429 beyond them. A :class:`Budget` keeps the times of the requests it allowed
in the last window and lets one more through only while fewer than ``requests`` were made in
any window of ``per`` seconds ending now: a sliding window is at least as strict as any of
X's fixed windows, wherever they start. What X says in its answers tightens it further: when
``x-rate-limit-remaining`` reaches 0 (another client on the same account spent it) or X
answers 429, nothing is asked before the reset X gives.
"""

from __future__ import annotations

from collections import deque

from helpforce.clock import Clock


class Window:
    """At most ``requests`` in any ``per`` seconds."""

    def __init__(self, requests: int, per: float) -> None:
        if requests < 1 or per <= 0:
            raise ValueError(f"a budget needs requests >= 1 and per > 0, got {requests}/{per}")
        self.requests = requests
        self.per = per
        self._times: deque[float] = deque()

    def delay(self, now: float) -> float:
        times = self._times
        while times and times[0] <= now - self.per:
            times.popleft()
        if len(times) < self.requests:
            return 0.0
        return times[0] + self.per - now

    def take(self, now: float) -> None:
        self._times.append(now)

    def used(self, now: float) -> int:
        self.delay(now)
        return len(self._times)


class Budget:
    """One endpoint's budget: its windows (15 minutes, 24 hours) and X's own word on it."""

    def __init__(self, name: str, windows: list[tuple[int, float]], clock: Clock) -> None:
        self.name = name
        self.clock = clock
        self.windows = [Window(r, p) for r, p in windows]
        #: no request before this (X said so: remaining 0, or a 429)
        self.blocked_until = 0.0
        #: requests made, and how often X answered 429 all the same
        self.made = 0
        self.refused = 0

    def delay(self) -> float:
        """Seconds until a request may be made (0: now)."""
        now = self.clock.now()
        return max([self.blocked_until - now, 0.0, *(w.delay(now) for w in self.windows)])

    def take(self) -> None:
        now = self.clock.now()
        for w in self.windows:
            w.take(now)
        self.made += 1

    def told(self, remaining: int | None, reset: float | None) -> None:
        """What X's ``x-rate-limit-remaining`` / ``-reset`` headers said after a request."""
        if remaining is not None and remaining <= 0 and reset is not None:
            self.blocked_until = max(self.blocked_until, reset)

    def refused_until(self, reset: float | None, fallback: float = 60.0) -> float:
        """X answered 429: block until its reset (or ``fallback`` seconds when it gave
        none); returns the seconds to wait."""
        self.refused += 1
        now = self.clock.now()
        until = reset if reset is not None and reset > now else now + fallback
        self.blocked_until = max(self.blocked_until, until)
        return self.blocked_until - now
