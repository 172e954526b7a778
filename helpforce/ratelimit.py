"""Rate limits that keep the outbox under each platform's published limits up front.

A :class:`PlatformLimiter` combines token buckets; every message the outbox sends (a new one
or an edit) takes one token from each bucket that applies to it:

* the platform-wide bucket (``per_second``, ``burst`` banked);
* the chat's bucket (``per_chat_per_second``, one banked), when the platform has that limit;
* the group's bucket (``per_group_per_minute``), on top of the chat's, for a message into a
  group or channel: Telegram allows about one message a second into any chat but only 20 a
  minute into one group.

A pause told by the platform (a 429's retry-after) holds everything until it ends.
"""

from __future__ import annotations

from helpforce.clock import Clock

#: buckets kept per kind (chats, groups); at the cap, the ones that have refilled are forgotten
MAX_BUCKETS = 10_000

#: tokens a group's bucket banks. One: a quiet group's message goes at once and a busy group's
#: go one every 60/per_group_per_minute seconds (3 s at Telegram's 20/min), the full rate. A
#: bucket that banked b messages would let b + per_group_per_minute through in some minute (b
#: at once, then the rate), and Telegram counts per minute: more than 20 in one minute is a
#: 429 whose retry-after holds every chat of the bot, not only that group. The per-chat bucket
#: (about 1/s) already spaces a group's messages; a group that is short of its limit gains
#: nothing from a burst that the next minute would have to pay back.
GROUP_BURST = 1

#: a token short by less than this counts as there: refilling by float arithmetic leaves
#: 0.9999999999999998 where 1 is due, and a wait of 1e-17 s does not move a clock at 1.8e9 s
#: (a virtual clock would never get there; a real one would spin)
EPSILON = 1e-9


#: a wait shorter than this is none: a float clock at 1.8e9 s moves in steps of ~2.4e-7 s, so
#: sleeping it would not move a virtual clock at all
TIME_DUST = 1e-6


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` banked."""

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self._tokens = float(burst)
        self._at = clock.now()

    def _refill(self) -> None:
        now = self.clock.now()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def delay(self) -> float:
        """Seconds until a token is available (0 if one is now)."""
        self._refill()
        return 0.0 if self._tokens >= 1 - EPSILON else (1 - self._tokens) / self.rate

    def take(self) -> None:
        self._refill()
        self._tokens -= 1

    def charge(self, tokens: int) -> None:
        """Take ``tokens`` more (the balance may go below zero: the wait grows with it)."""
        self._refill()
        self._tokens -= tokens

    def restart(self) -> None:
        """Count the last take as made now: what refilled since then is dropped."""
        self._at = self.clock.now()

    def full(self) -> bool:
        """True once it has refilled to its burst: a new bucket would be the same."""
        self._refill()
        return self._tokens >= self.burst - EPSILON


class PlatformLimiter:
    """A platform-wide bucket, one bucket per chat and one per group, and a pause told by the
    platform.

    ``chat`` is the outbox's chat key (the private chat's user, else the conversation);
    ``group`` says the message goes into a group or channel, which also takes from that chat's
    group bucket when ``per_group_per_minute`` is set.
    """

    def __init__(
        self, per_second: float, burst: int, per_chat_per_second: float | None, clock: Clock,
        *, per_group_per_minute: float | None = None, in_flight: int = 1,
    ) -> None:
        self.clock = clock
        #: how many sends the outbox may have on their way at once (see RateLimit.in_flight)
        self.in_flight = max(1, in_flight)
        self.global_bucket = TokenBucket(per_second, burst, clock)
        self.per_chat = per_chat_per_second
        self.per_group = per_group_per_minute
        self._chats: dict[str, TokenBucket] = {}
        self._groups: dict[str, TokenBucket] = {}
        self.paused_until = 0.0
        #: seconds spent waiting, for benchmarks and metrics
        self.waited = 0.0

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock.now() + seconds)

    def _bucket(
        self, buckets: dict[str, TokenBucket], key: str, rate: float, burst: int
    ) -> TokenBucket:
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= MAX_BUCKETS:
                _forget_full(buckets)
            bucket = buckets[key] = TokenBucket(rate, burst, self.clock)
        return bucket

    def _own(self, chat: str, group: bool) -> list[TokenBucket]:
        own: list[TokenBucket] = []
        if self.per_chat is not None:
            own.append(self._bucket(self._chats, chat, self.per_chat, 1))
        if group and self.per_group is not None:
            own.append(self._bucket(self._groups, chat, self.per_group / 60, GROUP_BURST))
        return own

    def chat_ready_in(self, chat: str, group: bool = False) -> float:
        """Seconds until ``chat``'s own limits (per chat; per group when ``group``) let a
        message go, leaving out what every chat shares (the platform-wide rate, a pause): what
        tells a chat that must wait from one that may go."""
        return max((b.delay() for b in self._own(chat, group)), default=0.0)

    def ready_in(self, chat: str, group: bool = False) -> float:
        """Seconds until a message to ``chat`` (into a group when ``group``) may go (0: now)."""
        wait = max(self.paused_for(), self.global_bucket.delay())
        return max(wait, self.chat_ready_in(chat, group))

    def paused_for(self) -> float:
        """Seconds left of a pause told by the platform (0: none). A sleep until its end can
        wake a hair before it (a clock adds the wait to its own reading): that is no wait."""
        paused = self.paused_until - self.clock.now()
        return paused if paused > TIME_DUST else 0.0

    def take(self, chat: str, group: bool = False) -> None:
        """A message to ``chat`` goes now (call :meth:`answered` when the platform answers)."""
        self.global_bucket.take()
        for bucket in self._own(chat, group):
            bucket.take()

    def charge(self, requests: int) -> None:
        """A send made ``requests`` more requests than its message (opening a DM channel
        first, say): they count against the platform-wide rate, so the next sends wait for
        them. Charged after the fact, since only the adapter knows whether it had to."""
        if requests > 0:
            self.global_bucket.charge(requests)

    def answered(self, chat: str, group: bool = False) -> None:
        """The platform answered the message just taken for ``chat``: its chat's and group's
        limits count it from now. The platform counts a message when it arrives, somewhere
        between our request and its answer; with one message a second into a chat and no
        burst, counting from the request would let the next arrive less than a second after
        it whenever this request took longer than the next one (429s, seen against the
        benchmark's fake). Counting from the answer costs each chat one round trip per
        message. The platform-wide bucket keeps counting from the request: over its window
        (30 messages) the outbox's own time between sends is the margin, and a round trip
        per message would cost a tenth of the rate."""
        for bucket in self._own(chat, group):
            bucket.restart()


def _forget_full(buckets: dict[str, TokenBucket]) -> None:
    """Keep memory bounded: forget the buckets that have refilled (nothing is lost: a new one
    starts full). If that frees less than half (more chats are busy at once than the cap's
    half, beyond what a platform-wide rate of a few dozen a second can cause), forget all."""
    for key in [k for k, b in buckets.items() if b.full()]:
        del buckets[key]
    if len(buckets) >= MAX_BUCKETS // 2:
        buckets.clear()
