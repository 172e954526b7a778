"""The typed, frozen form of the three configuration files.

Validation that needs the installed adapters (which platforms exist, what a user id looks
like there) reads them from the validation context (``context={"factories": {...}}``) and
falls back to :func:`helpforce.adapter.discover_factories`.

Checks that span several values (a duplicate staff id, the same account on two people) raise
one pydantic error carrying a list of :class:`Problem` s, each with its own location, so that
the loader can point at every offending line; :func:`problems_from_errors` unpacks them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any, Protocol

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from helpforce.config.timespec import ClockTime, Days, TimeWindow, TimeZone
from helpforce.config.yamlpos import YamlPath, render_path
from helpforce.models import Role

# --- problems with locations ------------------------------------------------------------

#: pydantic error type of an error that carries a list of located problems in ``ctx``
PROBLEMS = "helpforce_problems"


@dataclass(frozen=True, slots=True)
class Problem:
    """One error at ``loc`` (relative to where it was raised until unpacked)."""

    loc: YamlPath
    message: str
    #: point at the mapping key rather than its value (unknown names)
    at_key: bool = False
    #: False when ``loc`` comes from pydantic and may hold internal segments (union members)
    exact: bool = True
    #: a required setting that is absent: ``loc[-1]`` names it, its parent holds the position
    missing: bool = False


def problems_error(problems: Sequence[Problem]) -> PydanticCustomError:
    """The error to raise from a validator for several located problems at once."""
    summary = "; ".join(f"{render_path(p.loc) or '(here)'}: {p.message}" for p in problems)
    return PydanticCustomError(PROBLEMS, "{summary}", {"summary": summary, "problems": problems})


def _error(kind: str, message: str) -> PydanticCustomError:
    # the message goes through ctx so that braces in it are not taken as a template
    return PydanticCustomError(f"helpforce_{kind}", "{message}", {"message": message})


_SCALARS = (str, int, float, bool)
_SHOULD = re.compile(r"^(Input|String|List|Tuple|Dictionary|Value) should ")
_PLAIN = {
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected text",
    "dict_type": "expected a mapping (key: value lines)",
    "model_type": "expected a mapping (key: value lines)",
    "model_attributes_type": "expected a mapping (key: value lines)",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
}


def _describe(err: ErrorDetails, loc: YamlPath) -> Problem:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "missing":
        return Problem(loc, "required setting is missing", exact=False, missing=True)
    if kind == "extra_forbidden":
        return Problem(loc, f"unknown setting '{loc[-1]}'", at_key=True, exact=False)
    if kind.startswith("helpforce_"):
        return Problem(loc, err["msg"], exact=False)
    if kind == "enum":
        message = f"expected one of {ctx.get('expected', '')}"
    else:
        message = _PLAIN.get(kind) or _SHOULD.sub("must ", err["msg"])
    if value is None:
        message += ", got an empty value"
    elif isinstance(value, _SCALARS):
        message += f", got {value!r}"
    if kind == "string_type" and isinstance(value, bool):
        message += " (YAML reads unquoted yes/no/on/off/true/false as true or false: quote it)"
    return Problem(loc, message, exact=False)


def problems_from_errors(errors: Iterable[ErrorDetails], prefix: YamlPath = ()) -> list[Problem]:
    """Flatten pydantic errors (and the problem lists inside them) into :class:`Problem` s."""
    out: list[Problem] = []
    for err in errors:
        loc = (*prefix, *err["loc"])
        if err["type"] == PROBLEMS:
            out.extend(replace(p, loc=(*loc, *p.loc)) for p in err.get("ctx", {})["problems"])
        else:
            out.append(_describe(err, loc))
    return out


# --- adapters as seen from validation ---------------------------------------------------


class UserIdValidator(Protocol):
    """The part of :class:`helpforce.adapter.AdapterFactory` that validation uses."""

    @property
    def settings_model(self) -> type[BaseModel]: ...

    def validate_user_id(self, value: Any) -> str: ...


def _factories(info: ValidationInfo) -> Mapping[str, UserIdValidator]:
    ctx = info.context
    if isinstance(ctx, Mapping) and "factories" in ctx:
        found: Mapping[str, UserIdValidator] = ctx["factories"]
        return found
    from helpforce.adapter import discover_factories

    return discover_factories()


def _unknown_platform(name: str, factories: Mapping[str, Any]) -> Problem:
    installed = ", ".join(sorted(factories)) or "none"
    return Problem((name,), f"unknown platform '{name}' (installed: {installed})", at_key=True)


# --- durations --------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smhd]?)")
_UNIT_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """Seconds from ``30``, ``0.5``, ``"30s"``, ``"15m"``, ``"1.5h"`` or ``"7d"``."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value.strip().lower())):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise _error("duration", f"expected a duration like 30s, 15m, 24h or 7d, got {value!r}")
    return seconds


#: A length of time in YAML (``30s``, ``15m``, ``24h``, ``7d`` or seconds), as float seconds.
Duration = Annotated[float, BeforeValidator(parse_duration)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- helpforce.yaml ---------------------------------------------------------------------


class WeeklySummarySettings(Frozen):
    """``desk.weekly_summary``: a short text with the last seven days' figures, sent to the
    leads and managers once a week, at ``at`` on ``day`` in routing.yaml's timezone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: Days = frozenset({0})
    at: ClockTime = 9 * 60

    @field_validator("day")
    @classmethod
    def _one_day(cls, value: frozenset[int]) -> frozenset[int]:
        if len(value) != 1:
            raise _error("day", "expected one day of the week, e.g. mon")
        return value


class DeskSettings(Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: shown in customer-facing texts
    brand: str = Field(default="helpforce", min_length=1)
    #: a follow-up on a resolved question within this window reopens it
    reopen_window: Duration = 24 * 3600.0
    #: direct notifications per new question (bounded fan-out)
    notify_limit: int = Field(default=5, ge=0, le=50)
    #: appended to answers; ``{initials}`` becomes the answering staff member's initials
    signature: str = " ^{initials}"
    #: off unless set: the week's figures for leads (see WeeklySummarySettings)
    weekly_summary: WeeklySummarySettings | None = None

    @field_validator("signature")
    @classmethod
    def _signature(cls, value: str) -> str:
        ok = "{initials}" in value
        try:
            value.format(initials="AB")
        except (KeyError, IndexError, ValueError):
            ok = False
        if not ok:
            raise _error(
                "signature",
                "must contain {initials} and no other {placeholder} "
                f"(write {{{{ and }}}} for literal braces), got {value!r}",
            )
        return value


class StorageSettings(Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: the SQLite database; a relative path is relative to the current directory
    path: str = Field(default="var/helpforce.db", min_length=1)


class OutboxSettings(Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: sends of one message before it is given up on
    max_attempts: int = Field(default=8, ge=1)
    #: first retry delay; doubles on each attempt
    backoff_base: Duration = 0.5
    #: ceiling of the retry delay
    backoff_max: Duration = 300.0

    @model_validator(mode="after")
    def _backoff_order(self) -> OutboxSettings:
        if self.backoff_max < self.backoff_base:
            raise problems_error([Problem(("backoff_max",), "must not be less than backoff_base")])
        return self


class RateLimit(Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: overall sends per second for this platform
    per_second: float = Field(default=30.0, gt=0)
    #: sends allowed at once before the per-second rate applies
    burst: int = Field(default=30, ge=1)
    #: sends per second into one chat; None = no per-chat limit
    per_chat_per_second: float | None = Field(default=1.0, gt=0)
    #: sends per minute into one group or channel (a public message, not a private one), on
    #: top of the per-chat limit; edits count too. None = no per-group limit
    per_group_per_minute: float | None = Field(default=None, gt=0)
    #: sends on their way at once. More than one overlaps the platform's round trips (a
    #: dispatcher waiting for each answer in turn sends at most one message per round trip);
    #: one chat's messages still go one after another, in order. 1 for a platform whose
    #: adapter cannot take concurrent sends
    in_flight: int = Field(default=1, ge=1, le=64)


_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
#: what a ``*_env`` field that holds no variable name is told (its value is not repeated)
NOT_AN_ENV_NAME = ("expected the name of an environment variable (capital letters, digits "
                   "and _, like HELPFORCE_TELEGRAM_TOKEN), got something else, not shown "
                   "here: it may be a secret, and secrets never go in YAML")


class PlatformSettings(Frozen):
    """``platforms.<name>`` in helpforce.yaml; adapters subclass it with their own settings.

    A field whose name ends in ``_env`` holds the NAME of an environment variable that holds
    a secret; the secret itself never goes in YAML.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    #: where every new question is posted once for staff to see
    staff_channel: str | None = None
    rate_limit: RateLimit = RateLimit()

    def env_fields(self) -> dict[str, str]:
        """``{field name: environment variable name}`` for every ``*_env`` field that is set."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name.endswith("_env") and isinstance(value, str):
                out[name] = value
        return out

    @model_validator(mode="after")
    def _env_names(self) -> PlatformSettings:
        problems = []
        for name, value in self.env_fields().items():
            if not _ENV_NAME.fullmatch(value):
                # the value may be a pasted secret (an X consumer key is 25 letters and
                # digits): never echoed, since errors are logged and sent to managers
                problems.append(Problem((name,), NOT_AN_ENV_NAME))
        if problems:
            raise problems_error(problems)
        return self


class HelpforceSettings(Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid")

    desk: DeskSettings = DeskSettings()
    storage: StorageSettings = StorageSettings()
    outbox: OutboxSettings = OutboxSettings()
    #: platform name -> that adapter's settings model (a PlatformSettings subclass)
    platforms: dict[str, PlatformSettings]

    @field_validator("platforms", mode="before")
    @classmethod
    def _platform_models(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            return value
        factories = _factories(info)
        problems: list[Problem] = []
        out: dict[str, PlatformSettings] = {}
        for name, raw in value.items():
            factory = factories.get(name)
            if factory is None:
                problems.append(_unknown_platform(name, factories))
                continue
            model = factory.settings_model
            if not issubclass(model, PlatformSettings):
                raise TypeError(f"{name}: settings_model must subclass PlatformSettings")
            try:
                out[name] = model.model_validate({} if raw is None else raw, context=info.context)
            except ValidationError as exc:
                problems.extend(problems_from_errors(exc.errors(), (name,)))
        if problems:
            raise problems_error(problems)
        return out

    @model_validator(mode="after")
    def _one_enabled(self) -> HelpforceSettings:
        if not self.enabled_platforms():
            raise problems_error(
                [Problem(("platforms",), "no platform is enabled; enable at least one")]
            )
        return self

    def enabled_platforms(self) -> dict[str, PlatformSettings]:
        return {name: p for name, p in self.platforms.items() if p.enabled}


# --- roster.yaml ------------------------------------------------------------------------

_STAFF_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
_INITIALS = re.compile(r"[^\W_]{1,4}")


class StaffMember(Frozen):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str = Field(min_length=1)
    initials: str
    role: Role = Role.AGENT
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ("en",)
    max_open_claims: int = Field(default=5, ge=1)
    #: platform -> the platform's immutable user id (never a handle)
    accounts: dict[str, str] = Field(default_factory=dict)
    #: platforms on which this person gets direct notifications; each needs an account
    notify: tuple[str, ...] = ()
    #: the time zone their shifts and quiet hours are written in
    timezone: TimeZone = "UTC"
    #: when they are on shift; none = always (unless they say they are away or off)
    shifts: tuple[TimeWindow, ...] = ()
    #: no direct notifications in these windows (they may still claim from the staff channel)
    quiet_hours: tuple[TimeWindow, ...] = ()

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        if isinstance(value, str) and not _STAFF_ID.fullmatch(value):
            raise _error(
                "staff_id",
                "expected lowercase letters, digits, '.', '_' or '-' (at most 32, starting "
                f"with a letter or digit), got {value!r}",
            )
        return value

    @field_validator("initials", mode="before")
    @classmethod
    def _initials(cls, value: Any) -> Any:
        if isinstance(value, str) and not _INITIALS.fullmatch(value):
            raise _error("initials", f"expected 1 to 4 letters or digits, got {value!r}")
        return value

    @field_validator("accounts", mode="before")
    @classmethod
    def _accounts(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, dict):
            return value
        factories = _factories(info)
        problems: list[Problem] = []
        out: dict[str, str] = {}
        for platform, user_id in value.items():
            factory = factories.get(platform)
            if factory is None:
                problems.append(_unknown_platform(platform, factories))
                continue
            try:
                out[platform] = factory.validate_user_id(user_id)
            except (ValueError, TypeError) as exc:
                problems.append(Problem((platform,), str(exc)))
        if problems:
            raise problems_error(problems)
        return out

    @model_validator(mode="after")
    def _notify_has_accounts(self) -> StaffMember:
        problems = [
            Problem(("notify", i), f"no {platform} account under accounts to notify")
            for i, platform in enumerate(self.notify)
            if platform not in self.accounts
        ]
        if problems:
            raise problems_error(problems)
        return self


class Roster(Frozen):
    """Everyone who answers questions, with O(1) lookups by id and by platform account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    staff: tuple[StaffMember, ...]

    _by_id: dict[str, StaffMember] = PrivateAttr(default_factory=dict)
    _by_account: dict[tuple[str, str], StaffMember] = PrivateAttr(default_factory=dict)
    _leads: tuple[StaffMember, ...] = PrivateAttr(default=())

    def model_post_init(self, context: Any, /) -> None:
        self._leads = tuple(m for m in self.staff if m.role in (Role.LEAD, Role.MANAGER))
        for member in self.staff:
            self._by_id.setdefault(member.id, member)
            for platform, user_id in member.accounts.items():
                self._by_account.setdefault((platform, user_id), member)

    @model_validator(mode="after")
    def _unique(self) -> Roster:
        problems: list[Problem] = []
        ids: dict[str, int] = {}
        accounts: dict[tuple[str, str], int] = {}
        for i, member in enumerate(self.staff):
            if member.id in ids:
                message = f"duplicate staff id '{member.id}' (also staff[{ids[member.id]}])"
                problems.append(Problem(("staff", i, "id"), message))
            ids.setdefault(member.id, i)
            for platform, user_id in member.accounts.items():
                other = accounts.setdefault((platform, user_id), i)
                if other != i:
                    problems.append(
                        Problem(
                            ("staff", i, "accounts", platform),
                            f"{platform} account {user_id} already belongs to "
                            f"staff[{other}] ({self.staff[other].id})",
                        )
                    )
        if problems:
            raise problems_error(problems)
        return self

    def get(self, staff_id: str) -> StaffMember | None:
        return self._by_id.get(staff_id)

    def by_account(self, platform: str, user_id: str) -> StaffMember | None:
        return self._by_account.get((platform, user_id))

    def leads(self) -> tuple[StaffMember, ...]:
        """Staff who may take escalations: leads and managers (the roster is frozen)."""
        return self._leads


# --- policies.yaml ----------------------------------------------------------------------


def _default_packs() -> dict[str, dict[str, Any]]:
    return {"privacy": {}}


class PolicySettings(Frozen):
    """Kept permissive beyond the top-level keys: the policy engine validates the rest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: policy pack name -> its parameters
    packs: dict[str, dict[str, Any]] = Field(default_factory=_default_packs)
    #: managers' own rules, validated by the policy engine
    rules: tuple[dict[str, Any], ...] = ()

    @field_validator("packs", mode="before")
    @classmethod
    def _empty_params(cls, value: Any) -> Any:
        # ``privacy:`` with nothing under it means "with default parameters"
        if isinstance(value, dict):
            return {k: {} if v is None else v for k, v in value.items()}
        return value
