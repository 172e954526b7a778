"""The scenario file of ``helpforce simulate``: a day at the desk, written by a manager.

.. code-block:: yaml

    start: 2026-11-27T09:00:00-06:00        # virtual clock start (with its UTC offset)
    until: 12h                               # optional: stop then, whatever is still open
    roster: night-roster.yaml                # optional: instead of the deployment's roster
    staff:                                   # how roster members behave, by staff id
      default: {claims_after: 60s, answers_after: 3m}
      jdoe: {claims_after: 20s, answers_after: 2m, resolves_after: 10m}
      kim: {claims_after: null}              # never claims
    questions:
      - {at: 0s, platform: x, customer: "@alice", text: "My new TV won't turn on"}
      - {at: 45s, platform: telegram, customer: "1001", text: "Is the store open on Sunday?"}
      - {at: 10m, platform: x, customer: "@fan", text: "Pre-orders?", repeat: 200, every: 3s}
    events:
      - {at: 1h, staff: jdoe, status: away}  # jdoe types /away
      - {at: 2h, roster: other-roster.yaml}  # the roster file is replaced
      - {at: 3h, remove_staff: kim}          # kim leaves the roster

Times (``at``, ``until``) are durations after ``start`` (``45s``, ``3m``, ``2h``) or times
with a UTC offset. Problems are reported as ``FILE:LINE:COL: field: message``, like
``helpforce check`` does for the configuration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from helpforce.config.loader import located
from helpforce.config.schema import (
    Duration,
    Problem,
    Roster,
    UserIdValidator,
    parse_duration,
    problems_error,
    problems_from_errors,
)
from helpforce.config.yamlpos import (
    ConfigError,
    ConfigErrors,
    YamlPath,
    load_yaml_file,
)

#: the platforms a question may appear to come from (the simulator stands in for each)
PLATFORMS = ("x", "telegram", "discord", "local")
Platform = Literal["x", "telegram", "discord", "local"]
Status = Literal["on", "away", "off", "auto"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _parse_at(value: Any) -> Any:
    """A duration after ``start`` (seconds as float), or a moment with a UTC offset."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise problems_error([Problem((), "give the time with its UTC offset, e.g. "
                                               "2026-11-27T13:00:00-06:00")])
        return value
    if isinstance(value, dt.date):
        raise problems_error([Problem((), f"expected a time of day too, got {value}")])
    if isinstance(value, str) and "T" in value:
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return _parse_at(moment)
    return parse_duration(value)


#: ``45s``, ``3m``, ``2h`` after start, or ``2026-11-27T13:00:00-06:00``
At = Annotated[float | dt.datetime, BeforeValidator(_parse_at)]


class Behaviour(_Frozen):
    """How one staff member (or everyone, under ``default``) acts when offered a question."""

    #: after a question is offered to them (or escalated to them), they claim it; null: never
    claims_after: Duration | None = 60.0
    #: after claiming, they answer; null: they claim and never answer (the lease runs out)
    answers_after: Duration | None = 180.0
    #: after answering, they resolve; null: they leave it answered
    resolves_after: Duration | None = None

    def over(self, base: Behaviour) -> Behaviour:
        """This behaviour, with what it does not set taken from ``base``."""
        given = {k: getattr(self, k) for k in self.model_fields_set}
        return base.model_copy(update=given)


class Question(_Frozen):
    at: At
    platform: Platform
    #: the customer as that platform names them: a handle (``@alice``) or a user id
    customer: str = Field(min_length=1)
    text: str = Field(min_length=1)
    #: the chat or channel it is written in [default: the platform's public place; a private
    #: chat with the bot on Telegram]
    channel: str | None = None
    #: written privately to the bot [default: true on Telegram, else false]
    private: bool | None = None
    #: this many questions (from customers numbered 1..N after the name), ``every`` apart
    repeat: int = Field(default=1, ge=1, le=1_000_000)
    every: Duration = 0.0

    @field_validator("customer", mode="before")
    @classmethod
    def _customer(cls, value: Any) -> Any:
        # telegram: 1001 unquoted is a number in YAML
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Event(_Frozen):
    """One change during the day: exactly one of ``remove_staff``, ``roster`` or
    ``staff`` + ``status``."""

    at: At
    #: this staff member leaves the roster (their claims are offered again)
    remove_staff: str | None = None
    #: the roster is replaced by this file (relative to the scenario file)
    roster: str | None = None
    #: this staff member sets their status (types /on, /away, /off or /auto)
    staff: str | None = None
    status: Status | None = None

    @model_validator(mode="after")
    def _one(self) -> Event:
        given = [k for k in ("remove_staff", "roster", "staff") if getattr(self, k) is not None]
        if len(given) != 1:
            raise problems_error([Problem((), "give exactly one of remove_staff, roster, or "
                                               "staff with status")])
        if (self.staff is None) != (self.status is None):
            missing = "status" if self.status is None else "staff"
            raise problems_error([Problem((missing,), "required setting is missing")])
        return self


class ScenarioModel(_Frozen):
    start: dt.datetime
    until: At | None = None
    #: play the day with this roster file (relative to the scenario) instead of the
    #: deployment's roster.yaml
    roster: str | None = None
    staff: dict[str, Behaviour] = Field(default_factory=dict)
    questions: tuple[Question, ...]
    events: tuple[Event, ...] = ()

    @field_validator("questions")
    @classmethod
    def _some(cls, value: tuple[Question, ...]) -> tuple[Question, ...]:
        if not value:
            raise problems_error([Problem((), "give at least one question")])
        return value

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> Any:
        moment = _parse_at(value) if isinstance(value, dt.datetime | str) else value
        if not isinstance(moment, dt.datetime):
            raise problems_error([Problem((), "expected a date and time with its UTC offset, "
                                               "e.g. 2026-11-27T09:00:00-06:00")])
        return moment


@dataclass(frozen=True, slots=True)
class Arrival:
    """One customer question, expanded from the scenario (``repeat``)."""

    at: float
    platform: str
    customer: str
    text: str
    channel: str | None
    private: bool
    #: where it came from in the scenario: index into ``questions``
    source: int


@dataclass(frozen=True, slots=True)
class Change:
    at: float
    #: "remove_staff", "roster" or "status"
    kind: str
    staff: str | None = None
    status: str | None = None
    roster: Roster | None = None
    #: the roster file as the scenario names it
    file: str | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    path: Path
    start: float
    tz: dt.tzinfo
    #: seconds after start, or None: after the last thing planned, a day for the timers
    until: float | None
    default: Behaviour
    behaviours: dict[str, Behaviour]
    arrivals: tuple[Arrival, ...]
    changes: tuple[Change, ...]
    #: platforms the questions come from
    platforms: frozenset[str]
    #: the roster the day starts with, when the scenario brings its own
    roster: Roster | None = None
    #: that roster's file, as the scenario names it
    roster_file: str | None = None

    def behaviour(self, staff_id: str) -> Behaviour:
        return self.behaviours.get(staff_id, self.default)




def _seconds(at: float | dt.datetime, start: dt.datetime) -> float:
    if isinstance(at, dt.datetime):
        return (at - start).total_seconds()
    return at


def load_scenario(
    path: Path,
    *,
    roster: Roster | None = None,
    factories: dict[str, UserIdValidator] | None = None,
) -> Scenario:
    """Read and check a scenario file; raises :class:`ConfigErrors` listing every problem.

    With ``roster``, staff ids the scenario names must be on it (or on a roster file an
    event brings in); roster files named by events are validated with ``factories``.
    """
    shown = str(path)
    doc = load_yaml_file(path, shown)
    if doc.errors:
        raise ConfigErrors(doc.errors)
    try:
        model = ScenarioModel.model_validate({} if doc.data is None else doc.data)
    except ValidationError as exc:
        found = [located(p, doc.positions, shown) for p in problems_from_errors(exc.errors())]
        raise ConfigErrors(sorted(found, key=lambda e: (e.line, e.col))) from None
    problems: list[Problem] = []
    errors: list[ConfigError] = []
    start = model.start

    def when(at: float | dt.datetime, loc: YamlPath) -> float:
        seconds = _seconds(at, start)
        if seconds < 0:
            problems.append(Problem(loc, "is before start"))
        return seconds

    arrivals: list[Arrival] = []
    for i, q in enumerate(model.questions):
        first = when(q.at, ("questions", i, "at"))
        for n in range(q.repeat):
            customer = q.customer if q.repeat == 1 else f"{q.customer}{n + 1}"
            private = q.private if q.private is not None else q.platform == "telegram"
            arrivals.append(Arrival(first + n * q.every, q.platform, customer, q.text,
                                    q.channel, private, i))
    own_roster = None
    if model.roster is not None:
        own_roster = _load_roster(path.parent / model.roster, model.roster, factories, errors)
        if own_roster is not None:
            roster = own_roster
    known = {s.id for s in roster.staff} if roster is not None else None
    changes: list[Change] = []
    for i, e in enumerate(model.events):
        at = when(e.at, ("events", i, "at"))
        if e.roster is not None:
            loaded = _load_roster(path.parent / e.roster, e.roster, factories, errors)
            if loaded is not None:
                changes.append(Change(at, "roster", roster=loaded, file=e.roster))
                if known is not None:
                    known |= {s.id for s in loaded.staff}
        elif e.remove_staff is not None:
            changes.append(Change(at, "remove_staff", staff=e.remove_staff))
            if known is not None and e.remove_staff not in known:
                problems.append(Problem(("events", i, "remove_staff"),
                                        f"no staff member '{e.remove_staff}' on the roster"))
        else:
            changes.append(Change(at, "status", staff=e.staff, status=e.status))
            if known is not None and e.staff not in known:
                problems.append(Problem(("events", i, "staff"),
                                        f"no staff member '{e.staff}' on the roster"))
    if known is not None:
        for staff_id in model.staff:
            if staff_id != "default" and staff_id not in known:
                problems.append(Problem(("staff", staff_id),
                                        f"no staff member '{staff_id}' on the roster",
                                        at_key=True))
    until = None
    if model.until is not None:
        until = when(model.until, ("until",))
    errors.extend(located(p, doc.positions, shown) for p in problems)
    if errors:
        raise ConfigErrors(sorted(errors, key=lambda e: (e.file != shown, e.line, e.col)))
    default = model.staff.get("default", Behaviour()).over(Behaviour())
    behaviours = {k: b.over(default) for k, b in model.staff.items() if k != "default"}
    arrivals.sort(key=lambda a: a.at)  # stable: same instant keeps the file's order
    changes.sort(key=lambda c: c.at)
    assert start.tzinfo is not None
    return Scenario(
        path=path, start=start.timestamp(), tz=start.tzinfo, until=until, default=default,
        behaviours=behaviours, arrivals=tuple(arrivals), changes=tuple(changes),
        platforms=frozenset(a.platform for a in arrivals), roster=own_roster,
        roster_file=model.roster,
    )


def _load_roster(
    path: Path, shown_name: str, factories: dict[str, UserIdValidator] | None,
    errors: list[ConfigError],
) -> Roster | None:
    shown = str(path)
    doc = load_yaml_file(path, shown)
    if doc.errors:
        errors.extend(doc.errors)
        return None
    context = {"factories": factories} if factories is not None else None
    try:
        return Roster.model_validate({} if doc.data is None else doc.data, context=context)
    except ValidationError as exc:
        problems = problems_from_errors(exc.errors())
        errors.extend(located(p, doc.positions, shown) for p in problems)
        return None


def describe(problems: Iterable[ConfigError]) -> str:
    return "\n".join(str(p) for p in problems)


__all__ = [
    "PLATFORMS",
    "Arrival",
    "Behaviour",
    "Change",
    "Scenario",
    "ScenarioModel",
    "load_scenario",
    "located",
]
