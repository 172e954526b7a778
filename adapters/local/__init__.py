"""The local platform: embedded, no network, no token. The demo and the tests run on it."""

from __future__ import annotations

import re
from typing import Any

from helpforce.adapter import Adapter
from helpforce.adapters.local.adapter import PLATFORM, LocalAdapter
from helpforce.adapters.local.platform import BotMessage, LocalPlatform
from helpforce.clock import Clock
from helpforce.config.schema import PlatformSettings, RateLimit

_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class LocalSettings(PlatformSettings):
    """``platforms.local`` in helpforce.yaml."""

    staff_channel: str | None = "staff"
    #: channels customers write in
    public_channels: tuple[str, ...] = ("help",)
    #: a directory shared with other processes (``inbox.jsonl`` in, ``sent.jsonl`` out);
    #: unset: in memory, for the demo and tests
    spool: str | None = None
    #: the bot's own user id; its messages are ignored
    bot_id: str = "helpforce-bot"
    #: the local platform has no real limits: generous defaults
    rate_limit: RateLimit = RateLimit(per_second=5000, burst=5000, per_chat_per_second=None)


class LocalAdapterFactory:
    platform = PLATFORM
    settings_model = LocalSettings

    def create(
        self, settings: PlatformSettings, *, clock: Clock, env: dict[str, str],
        local: LocalPlatform | None = None,
    ) -> Adapter:
        assert isinstance(settings, LocalSettings)
        platform = local or LocalPlatform(settings.spool)
        return LocalAdapter(platform, clock, bot_id=settings.bot_id)

    def validate_user_id(self, value: Any) -> str:
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not _USER_ID.fullmatch(text):
            raise ValueError(f"expected a local user id (letters, digits, _.:-), got {value!r}")
        return text


__all__ = ["BotMessage", "LocalAdapter", "LocalAdapterFactory", "LocalPlatform", "LocalSettings"]
