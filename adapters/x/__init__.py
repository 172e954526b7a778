"""X (Twitter): customers mention the brand's account or write to it privately; staff answer
through the brand's account (signed with their initials) or from their own registered
accounts. Built on tweepy's AsyncClient (the ``x`` extra), imported only when an adapter is
created, so ``helpforce check`` works without it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from helpforce.config.schema import Duration, PlatformSettings, RateLimit

if TYPE_CHECKING:
    from helpforce.adapter import Adapter
    from helpforce.clock import Clock

PLATFORM = "x"

#: an X user id: a number (up to 19 digits); handles change hands, ids never do
_USER_ID = re.compile(r"[1-9][0-9]{0,19}")
#: X's search query length limit on the self-serve tiers
MAX_QUERY = 512


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("helpforce_x", "{message}", {"message": message})


class XBudget(BaseModel):
    """Requests allowed to one X endpoint: ``requests`` per ``per``, and at most ``daily``
    in 24 hours. Set them to the tier in use: X's published per-user limits differ by tier
    and change; helpforce never asks more than this."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests: int = Field(ge=1)
    per: Duration = 900.0
    daily: int | None = Field(default=None, ge=1)

    def windows(self) -> list[tuple[int, float]]:
        out = [(self.requests, self.per)]
        if self.daily is not None:
            out.append((self.daily, 86_400.0))
        return out


class XBudgets(BaseModel):
    """``platforms.x.budgets``: one budget per endpoint helpforce calls. The defaults are X's
    published per-user limits of 2026 (POST /2/tweets 100 / 15 min; mentions 300 / 15 min;
    DM sends 15 / 15 min and 1,440 / 24 h); older tiers were far tighter (Basic: mentions
    10 / 15 min)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: GET /2/users/:id/mentions (each page is a request)
    mentions: XBudget = XBudget(requests=300)
    #: GET /2/dm_events
    dm_events: XBudget = XBudget(requests=15)
    #: GET /2/tweets/search/recent (followed conversations and outreach searches)
    search: XBudget = XBudget(requests=300)
    #: POST /2/tweets (replies, re-shares)
    post: XBudget = XBudget(requests=100)
    #: POST /2/dm_conversations/with/:id/messages
    dm_send: XBudget = XBudget(requests=15, daily=1440)


class XSettings(PlatformSettings):
    """``platforms.x`` in helpforce.yaml."""

    #: NAMEs of the environment variables holding the brand account's OAuth 1.0a user
    #: context: the app's consumer key and secret, the account's access token and secret
    consumer_key_env: str = "HELPFORCE_X_CONSUMER_KEY"
    consumer_secret_env: str = "HELPFORCE_X_CONSUMER_SECRET"
    access_token_env: str = "HELPFORCE_X_ACCESS_TOKEN"
    access_token_secret_env: str = "HELPFORCE_X_ACCESS_TOKEN_SECRET"
    #: X's API (a proxy, or a test's loopback fake)
    api_base: str = "https://api.twitter.com"
    #: read mentions of the brand account
    mentions: bool = True
    #: read private messages to the brand account
    dms: bool = True
    #: proactive outreach: search queries for posts about the brand that do not @mention it
    #: (e.g. ``'"Acme TV" -is:retweet'``, ``"#acmehelp"``); each match becomes a question
    searches: tuple[str, ...] = ()
    #: conversations a customer started are searched for replies that do not mention the
    #: brand (staff answering from their own accounts without it, customers going on) for
    #: this long after their last post; 0 turns it off
    follow_conversations: Duration = 7200.0
    #: at most this many conversations are followed at once (the oldest are dropped)
    max_followed: int = Field(default=200, ge=0, le=5000)
    #: seconds between two reads of one source; slower when its budget says so
    poll_interval: Duration = 60.0
    #: staff answers from their own accounts are re-shared by the brand's account with
    #: credit (a quote post: "Answered by Jordan (^JD) from our team"); off: recorded only
    reshare: Literal["off", "quote"] = "off"
    #: seconds one API call may take
    request_timeout: float = Field(default=15.0, gt=0)
    budgets: XBudgets = XBudgets()
    #: the outbox's pace; X's budgets (``budgets``) are kept by the adapter itself, which
    #: sets a message aside when its kind's budget is spent
    rate_limit: RateLimit = RateLimit(per_second=1.0, burst=5, per_chat_per_second=None)

    @field_validator("api_base")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise _error(f"expected an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("searches")
    @classmethod
    def _queries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for q in value:
            if not q.strip():
                raise _error("a search query is empty")
            if len(q) > MAX_QUERY - 40:
                raise _error(f"search query too long ({len(q)} characters; X allows "
                             f"{MAX_QUERY} with helpforce's own terms): {q[:40]!r}...")
        return value

    @model_validator(mode="after")
    def _staff_channel(self) -> XSettings:
        if self.staff_channel is not None:
            raise _error("X has no staff channel: staff claim and answer from another "
                         "platform's staff channel or by replying from their own accounts")
        return self


class XAdapterFactory:
    platform = PLATFORM
    settings_model = XSettings

    def create(self, settings: PlatformSettings, *, clock: Clock, env: dict[str, str]) -> Adapter:
        if not isinstance(settings, XSettings):
            raise TypeError("x: expected XSettings")
        secrets = {}
        for field in ("consumer_key_env", "consumer_secret_env", "access_token_env",
                      "access_token_secret_env"):
            name = getattr(settings, field)
            value = env.get(name, "")
            if not value:
                raise ValueError(f"x: environment variable {name} ({field[:-4].replace('_', ' ')}"
                                 " of the brand account) is not set")
            secrets[field[:-4]] = value
        from .adapter import Credentials, XAdapter

        return XAdapter(settings, Credentials(**secrets), clock)

    def validate_user_id(self, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip().startswith("@"):
            raise ValueError(
                f"expected an X user id, got {value!r}: handles change hands, so staff are "
                "known by their account's numeric id (GET /2/users/by/username/NAME shows it)"
            )
        if not isinstance(value, str) or not _USER_ID.fullmatch(value.strip()):
            raise ValueError(f"expected an X user id (a number, e.g. '1456987230145698304'), "
                             f"got {value!r}")
        return value.strip()


__all__ = ["PLATFORM", "XAdapterFactory", "XBudget", "XBudgets", "XSettings"]
