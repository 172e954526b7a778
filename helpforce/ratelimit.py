"""Rate limits that keep the outbox under each platform's published limits up front."""

from __future__ import annotations

from helpforce.clock import Clock


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
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def take(self) -> None:
        self._refill()
        self._tokens -= 1


class PlatformLimiter:
    """A platform-wide bucket plus one bucket per chat, and a pause told by the platform."""

    def __init__(
        self, per_second: float, burst: int, per_chat_per_second: float | None, clock: Clock
    ) -> None:
        self.clock = clock
        self.global_bucket = TokenBucket(per_second, burst, clock)
        self.per_chat = per_chat_per_second
        self._chats: dict[str, TokenBucket] = {}
        self.paused_until = 0.0
        #: seconds spent waiting, for benchmarks and metrics
        self.waited = 0.0

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock.now() + seconds)

    def _chat(self, chat: str) -> TokenBucket | None:
        if self.per_chat is None:
            return None
        bucket = self._chats.get(chat)
        if bucket is None:
            if len(self._chats) > 10_000:
                self._chats.clear()
            bucket = self._chats[chat] = TokenBucket(self.per_chat, 1, self.clock)
        return bucket

    def ready_in(self, chat: str) -> float:
        """Seconds until a message to ``chat`` may go (0: now)."""
        wait = max(0.0, self.paused_until - self.clock.now(), self.global_bucket.delay())
        bucket = self._chat(chat)
        return max(wait, bucket.delay() if bucket else 0.0)

    def take(self, chat: str) -> None:
        self.global_bucket.take()
        bucket = self._chat(chat)
        if bucket:
            bucket.take()
