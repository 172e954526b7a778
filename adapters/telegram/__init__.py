"""Telegram: customers write to the bot (private chats, groups it is in); staff claim with an
inline button and answer by replying. Built on python-telegram-bot (the ``telegram`` extra),
which is imported only when an adapter is created, so ``helpforce check`` works without it.
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

PLATFORM = "telegram"

_NUMERIC = re.compile(r"[1-9][0-9]{0,19}")
_CHAT = re.compile(r"-?[1-9][0-9]{0,19}|@[A-Za-z][A-Za-z0-9_]{3,31}")


def _error(message: str) -> PydanticCustomError:
    # the message goes through ctx so that braces in it are not taken as a template
    return PydanticCustomError("helpforce_telegram", "{message}", {"message": message})


class TelegramSettings(PlatformSettings):
    """``platforms.telegram`` in helpforce.yaml."""

    #: the NAME of the environment variable holding the bot token (from @BotFather)
    token_env: str = "HELPFORCE_TELEGRAM_TOKEN"
    #: the Bot API endpoint; the token is appended. Change it for a self-hosted Bot API
    #: server (or a test's loopback fake)
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    #: the staff group's chat id (e.g. "-1001234567890") or a public @username
    staff_channel: str | None = None
    #: seconds one getUpdates long poll waits for news
    poll_timeout: float = Field(default=25.0, ge=0, le=50)
    #: updates per getUpdates call (Telegram allows 1-100)
    poll_limit: int = Field(default=100, ge=1, le=100)
    #: seconds a Bot API call may take (a long poll gets poll_timeout on top)
    request_timeout: float = Field(default=10.0, gt=0)
    #: Telegram's published limits: ~30 messages/s overall, ~1/s into one chat
    rate_limit: RateLimit = RateLimit(per_second=30.0, burst=30, per_chat_per_second=1.0)

    @field_validator("staff_channel")
    @classmethod
    def _chat_id(cls, value: str | None) -> str | None:
        if value is not None and not _CHAT.fullmatch(value.strip()):
            raise _error(
                f"expected a chat id like '-1001234567890' or a public '@channel', got {value!r}"
            )
        return value.strip() if value is not None else None

    @field_validator("base_url", "base_file_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise _error(f"expected an http(s) URL, got {value!r}")
        return value


class TelegramAdapterFactory:
    platform = PLATFORM
    settings_model = TelegramSettings

    def create(self, settings: PlatformSettings, *, clock: Clock, env: dict[str, str]) -> Adapter:
        if not isinstance(settings, TelegramSettings):
            raise TypeError("telegram: expected TelegramSettings")
        token = env.get(settings.token_env, "")
        if not token:
            raise ValueError(
                f"telegram: environment variable {settings.token_env} (the bot token) is not set"
            )
        from .adapter import TelegramAdapter

        return TelegramAdapter(settings, token, clock)

    def validate_user_id(self, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        elif isinstance(value, str):
            text = value.strip()
        else:
            raise ValueError(f"expected a numeric user id, got {value!r}")
        if text.startswith("@"):
            raise ValueError(
                f"expected a numeric user id, got {value!r}: a @username can change hands, "
                "so staff are known by the number Telegram gives their account (they can see "
                "it by messaging @userinfobot)"
            )
        if not _NUMERIC.fullmatch(text):
            raise ValueError(f"expected a numeric user id, got {value!r}")
        return text


__all__ = ["PLATFORM", "TelegramAdapterFactory", "TelegramSettings"]
