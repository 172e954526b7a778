"""Discord: customers ask in the brand server's help channels (text or forum), by DM, or by
mentioning the bot; staff claim with buttons and answer. Built on discord.py (the ``discord``
extra), imported only when an adapter is created, so ``helpforce check`` works without it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from helpforce.config.schema import PlatformSettings, RateLimit

if TYPE_CHECKING:
    from helpforce.adapter import Adapter
    from helpforce.clock import Clock

PLATFORM = "discord"

#: a Discord id: a snowflake, 64 bits written in decimal (17-20 digits today)
_SNOWFLAKE = re.compile(r"[1-9][0-9]{14,20}")


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("helpforce_discord", "{message}", {"message": message})


def _snowflake(value: Any, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _SNOWFLAKE.fullmatch(value.strip()):
        raise ValueError(
            f"expected a Discord {what} id (a snowflake, e.g. '284719305617395712'), "
            f"got {value!r}"
        )
    return value.strip()


class DiscordSettings(PlatformSettings):
    """``platforms.discord`` in helpforce.yaml."""

    #: the NAME of the environment variable holding the bot token
    token_env: str = "HELPFORCE_DISCORD_TOKEN"
    #: the REST API (a Discord-compatible server, or a test's loopback fake)
    api_base: str = "https://discord.com/api/v10"
    #: the gateway websocket
    gateway_url: str = "wss://gateway.discord.gg/"
    #: channels where customers ask (text channels, or forum channels: each post a question)
    help_channels: tuple[str, ...] = ()
    #: the staff channel where each new question is posted once with Claim / Details buttons
    staff_channel: str | None = None
    #: a staff message starting with this stays an internal note
    note_prefix: str = Field(default="//", min_length=1, max_length=8)
    #: seconds discord.py waits for the guilds after READY
    guild_ready_timeout: float = Field(default=2.0, ge=0, le=60)
    #: Discord allows 50 requests/s overall and 5 sends per 5 s into one channel. The limiter
    #: counts requests: a send that had to open a DM channel or a thread first says so and is
    #: charged for it (the adapter remembers every DM channel it opened, so that is once per
    #: user and process). 49/s with burst 1 keeps the busiest second under 50 (48 measured).
    #: 0.8/s per chat: 4 in a 5-s window, so discord.py never holds a send, and the whole
    #: outbox, until the window resets as it does at 0.92/s or more (see
    #: benchmarks/bench_discord.py). Up to 8 sends on their way at once, so round trips
    #: overlap (one chat's sends still go one after another)
    rate_limit: RateLimit = RateLimit(per_second=49.0, burst=1, per_chat_per_second=0.8,
                                      in_flight=8)

    @field_validator("help_channels", mode="before")
    @classmethod
    def _channels(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            try:
                return tuple(_snowflake(v, "channel") for v in value)
            except ValueError as exc:
                raise _error(str(exc)) from None
        return value

    @field_validator("staff_channel", mode="before")
    @classmethod
    def _staff_channel(cls, value: Any) -> Any:
        if value is None:
            return None
        try:
            return _snowflake(value, "channel")
        except ValueError as exc:
            raise _error(str(exc)) from None

    @field_validator("api_base")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise _error(f"expected an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("gateway_url")
    @classmethod
    def _ws(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise _error(f"expected a ws(s) URL, got {value!r}")
        return value


class DiscordAdapterFactory:
    platform = PLATFORM
    settings_model = DiscordSettings

    def create(self, settings: PlatformSettings, *, clock: Clock, env: dict[str, str]) -> Adapter:
        if not isinstance(settings, DiscordSettings):
            raise TypeError("discord: expected DiscordSettings")
        token = env.get(settings.token_env, "")
        if not token:
            raise ValueError(
                f"discord: environment variable {settings.token_env} (the bot token) is not set"
            )
        from .adapter import DiscordAdapter

        return DiscordAdapter(settings, token, clock)

    def validate_user_id(self, value: Any) -> str:
        if isinstance(value, str) and value.strip().startswith(("@", "<@")):
            raise ValueError(
                f"expected a Discord user id, got {value!r}: names change hands, so staff are "
                "known by their account's id (Developer Mode -> right-click -> Copy User ID)"
            )
        return _snowflake(value, "user")


__all__ = ["PLATFORM", "DiscordAdapterFactory", "DiscordSettings"]
