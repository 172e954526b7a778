"""``routing.yaml``: how questions are tagged and who is offered them, how fast, and when.

Optional: without the file every question takes the default route (offer in waves of
``desk.notify_limit`` and post in the staff channel, no SLA targets, claims leased for 15m).
"""

from __future__ import annotations

import enum
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from helpforce.config.schema import Duration, Problem, problems_error
from helpforce.config.timespec import TimeWindow, TimeZone


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")


def _names(values: tuple[str, ...], what: str) -> tuple[str, ...]:
    out = []
    for v in values:
        v = v.strip().lower()
        if not _NAME.fullmatch(v):
            raise ValueError(f"{what} {v!r}: use lowercase letters, digits, '.', '_' or '-'")
        out.append(v)
    return tuple(out)


class TagRule(Frozen):
    """``{tag: billing, keywords: [refund, invoice], patterns: ['\\bcharged? twice\\b']}``:
    a question whose text holds any keyword (whole words, any case) or matches any pattern
    gets the tag."""

    tag: str
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        return _names((value,), "tag")[0]

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, pattern in enumerate(value):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise problems_error([Problem((i,), f"not a valid pattern: {exc}")]) from None
        return value

    @model_validator(mode="after")
    def _something(self) -> TagRule:
        if not self.keywords and not self.patterns:
            raise problems_error([Problem(("keywords",), "give keywords or patterns")])
        return self


class Channel(Frozen):
    """Where a question came in says what it is about: a brand's separate account or channel
    per product or language (``{platform: local, conversation: help-es, language: es}``)."""

    platform: str
    #: the chat, channel or account the question was written in (as the platform names it)
    conversation: str
    language: str | None = None
    tags: tuple[str, ...] = ()

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _names(value, "tag")


class Languages(Frozen):
    #: the language of a question when neither its channel nor detection says
    default: str = "en"
    #: detect a question's language from its text when its channel does not give one
    detect: bool = True


class Strategy(enum.StrEnum):
    #: post once in the staff channel; every available matching staff member can claim it
    BROADCAST = "broadcast"
    #: notify the best N matches directly, N more every wave_interval while unclaimed
    WAVES = "waves"


class Fallback(enum.StrEnum):
    #: nobody available has the skill: offer to available staff with the language
    ANY_SKILL = "any_skill"
    #: nobody available speaks the language: offer to available staff with the skill
    ANY_LANGUAGE = "any_language"
    #: offer to available leads and managers
    LEADS = "leads"


class Match(Frozen):
    """Every given key must match (a list matches when any item does); empty matches all."""

    platforms: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    def matches(self, platform: str, tags: frozenset[str], language: str) -> bool:
        return (
            (not self.platforms or platform in self.platforms)
            and (not self.tags or not tags.isdisjoint(self.tags))
            and (not self.languages or language in self.languages)
        )


class Route(Frozen):
    name: str = "default"
    match: Match = Match()
    strategy: Strategy = Strategy.WAVES
    #: staff notified per wave; default desk.notify_limit
    wave_size: int | None = Field(default=None, ge=0, le=50)
    wave_interval: Duration = 120.0
    #: waves at most (bounds the direct notifications per question: wave_size * max_waves)
    max_waves: int = Field(default=3, ge=1, le=20)
    #: also post the question in each platform's staff channel
    staff_channel: bool = True
    #: tried in order when no available staff member matches the skill and language
    fallback: tuple[Fallback, ...] = (Fallback.ANY_SKILL, Fallback.LEADS)
    #: first-response target: unclaimed by then escalates to leads; claimed but unanswered
    #: warns the claimer, then leads after escalation_grace
    first_response: Duration | None = None
    #: resolution target: not resolved by then escalates to leads
    resolution: Duration | None = None
    escalation_grace: Duration = 300.0
    #: leads notified directly on an escalation (the staff channel is told too)
    escalate_to: int = Field(default=3, ge=1, le=20)
    #: a claim not answered within this is released and offered again
    lease: Duration | None = 900.0
    #: the claimer is warned this long before the lease runs out
    lease_warning: Duration = 180.0

    @model_validator(mode="after")
    def _lease(self) -> Route:
        if self.lease is not None and self.lease_warning >= self.lease:
            raise problems_error([Problem(("lease_warning",), "must be shorter than lease")])
        if self.wave_interval <= 0:
            raise problems_error([Problem(("wave_interval",), "must be longer than 0s")])
        return self


class RoutingSettings(Frozen):
    #: the zone business_hours are written in
    timezone: TimeZone = "UTC"
    #: when the desk is staffed; outside, customers are told when to expect an answer
    #: (none: always open)
    business_hours: tuple[TimeWindow, ...] = ()
    languages: Languages = Languages()
    channels: tuple[Channel, ...] = ()
    tags: tuple[TagRule, ...] = ()
    #: the first route whose match fits a question is used; a default route is implied last
    routes: tuple[Route, ...] = (Route(),)

    @field_validator("routes")
    @classmethod
    def _default_last(cls, value: tuple[Route, ...]) -> tuple[Route, ...]:
        if not value or value[-1].match != Match():
            taken = {r.name for r in value}
            value = (*value, Route(name="default" if "default" not in taken else "(default)"))
        return value

    @model_validator(mode="after")
    def _names_unique(self) -> RoutingSettings:
        problems: list[Problem] = []
        seen: dict[str, int] = {}
        for i, r in enumerate(self.routes):
            if r.name in seen:
                problems.append(Problem(("routes", i, "name"),
                                        f"duplicate route name '{r.name}'"))
            seen.setdefault(r.name, i)
        if problems:
            raise problems_error(problems)
        return self

    def route_for(self, platform: str, tags: frozenset[str], language: str) -> Route:
        for r in self.routes:
            if r.match.matches(platform, tags, language):
                return r
        return self.routes[-1]

    def channel(self, platform: str, conversation: str) -> Channel | None:
        for c in self.channels:
            if c.platform == platform and c.conversation == conversation:
                return c
        return None


def default_routing() -> RoutingSettings:
    return RoutingSettings()


__all__ = [
    "Channel",
    "Fallback",
    "Languages",
    "Match",
    "Route",
    "RoutingSettings",
    "Strategy",
    "TagRule",
    "default_routing",
]

