"""Telegram: customers write to the bot (private chats, groups it is in); staff claim with an
inline button and answer by replying. Built on python-telegram-bot (the ``telegram`` extra),
which is imported only when an adapter is created, so ``helpforce check`` works without it.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from helpforce.config.schema import NOT_AN_ENV_NAME, PlatformSettings, RateLimit

if TYPE_CHECKING:
    from helpforce.adapter import Adapter
    from helpforce.clock import Clock

PLATFORM = "telegram"

_NUMERIC = re.compile(r"[1-9][0-9]{0,19}")
_CHAT = re.compile(r"-?[1-9][0-9]{0,19}|@[A-Za-z][A-Za-z0-9_]{3,31}")
#: Telegram's rule for a webhook's secret token
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _error(message: str) -> PydanticCustomError:
    # the message goes through ctx so that braces in it are not taken as a template
    return PydanticCustomError("helpforce_telegram", "{message}", {"message": message})


class TelegramWebhookSettings(BaseModel):
    """``platforms.telegram.webhook``: Telegram POSTs each update to us instead of being
    polled. helpforce serves plain HTTP on ``listen``:``port``; put a TLS-terminating reverse
    proxy in front (Telegram posts only to https URLs, on ports 443, 80, 88 or 8443)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: the public https URL Telegram posts to (http only for 127.0.0.1 / localhost). A literal
    #: ``{port}`` in it is replaced by the port listened on (with ``port: 0``: tests)
    url: str
    #: the address the server listens on (the reverse proxy forwards to it)
    listen: str = "127.0.0.1"
    #: 0: any free port
    port: int = Field(default=8443, ge=0, le=65535)
    #: the path Telegram's requests arrive on (never the bot token: the secret token header
    #: authenticates them)
    path: str = "/telegram"
    #: the NAME of the environment variable holding the secret token Telegram sends back in
    #: every request (1-256 characters of A-Z a-z 0-9 _ -)
    secret_token_env: str = "HELPFORCE_TELEGRAM_WEBHOOK_SECRET"
    #: simultaneous deliveries Telegram may make (Telegram allows 1-100). 1 by default:
    #: updates then arrive one after another, in order (an edit after its message, a
    #: customer's second message after their first); each waits only for one desk commit
    max_connections: int = Field(default=1, ge=1, le=100)

    @field_validator("url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip()
        try:
            parts = urllib.parse.urlsplit(value.replace("{port}", "8443"))
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise _error(f"expected a URL like 'https://help.example.com/telegram', "
                         f"got {value!r}") from None
        if parts.scheme not in ("http", "https") or not host:
            raise _error(f"expected a URL like 'https://help.example.com/telegram', "
                         f"got {value!r}")
        if parts.scheme == "http" and host not in _LOOPBACK:
            raise _error(f"Telegram posts updates only to https URLs (http is allowed for "
                         f"127.0.0.1 and localhost, e.g. in tests), got {value!r}")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or any(c in value for c in "?# \t\n"):
            raise _error(f"expected a path like '/telegram', got {value!r}")
        return value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        if not value.strip():
            raise _error("expected an address to listen on, like '127.0.0.1'")
        return value.strip()

    @field_validator("secret_token_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.fullmatch(value):
            raise _error(NOT_AN_ENV_NAME)
        return value


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
    #: None: long polling (the default); set: Telegram POSTs updates to our server
    webhook: TelegramWebhookSettings | None = None
    #: Telegram's published limits: ~30 messages/s overall, ~1/s into one chat, 20/min into
    #: one group. Burst 1: Telegram counts per second, and 30 banked on top of 30/s would send
    #: up to 60 in the first second of a backlog (429s: see benchmarks/bench_telegram.py).
    #: Up to 8 sends on their way at once: at 30/s, round trips up to ~250 ms still leave
    #: the rate limit as the bound (one at a time, a 100 ms round trip allows 10/s)
    rate_limit: RateLimit = RateLimit(
        per_second=30.0, burst=1, per_chat_per_second=1.0, per_group_per_minute=20,
        in_flight=8,
    )

    def env_fields(self) -> dict[str, str]:
        """The token's variable, and the webhook secret's when a webhook is set (so that
        ``helpforce check`` reports it missing too)."""
        out = super().env_fields()
        if self.webhook is not None:
            out["webhook.secret_token_env"] = self.webhook.secret_token_env
        return out

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
        secret: str | None = None
        if settings.webhook is not None:
            secret = _webhook_secret(settings.webhook, token, env)
        from .adapter import TelegramAdapter

        return TelegramAdapter(settings, token, clock, webhook_secret=secret)

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


def _webhook_secret(hook: TelegramWebhookSettings, token: str, env: dict[str, str]) -> str:
    """The webhook's secret token from the environment, checked (never shown)."""
    var = hook.secret_token_env
    secret = env.get(var, "")
    if not secret:
        raise ValueError(
            f"telegram: environment variable {var} (the webhook's secret token) is not set"
        )
    if not _SECRET.fullmatch(secret):
        raise ValueError(
            f"telegram: environment variable {var} (the webhook's secret token) must be 1-256 "
            "characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)"
        )
    _, _, token_secret = token.partition(":")
    if any(t and t in where for t in (token, token_secret) for where in (hook.url, hook.path)):
        raise ValueError(
            "telegram: webhook.url and webhook.path must not contain the bot token (the "
            f"secret token in {var} authenticates Telegram's requests)"
        )
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise ValueError(
            "telegram: webhook mode needs aiohttp: pip install 'helpforce[telegram]'"
        ) from None
    return secret


__all__ = ["PLATFORM", "TelegramAdapterFactory", "TelegramSettings", "TelegramWebhookSettings"]
