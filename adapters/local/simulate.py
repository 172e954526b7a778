"""``helpforce simulate``: a day at the desk in seconds.

The real desk, routing, store, timers and outbox run on a :class:`~helpforce.clock.VirtualClock`.
Each platform a scenario's questions come from (X, Telegram, Discord, local) is played by a
local platform with that platform's capabilities (X: 280 characters, no buttons; Telegram and
X: no idempotent sends) and rate limits (see :data:`STAND_INS`; ``platforms.<name>.rate_limit``
in helpforce.yaml overrides them). Customers' questions arrive as public (or private) messages
on those platforms; staff act as people do, from their own roster accounts: a private message
to the bot with ``/claim N``, ``/answer N text``, ``/resolve N``, ``/away``.

It is a discrete-event simulation. A heap holds what the scenario and the simulated staff
will do, and when. When everything is quiescent (the store has nothing queued, every outbox
dispatcher and the timer loop wait for the clock, no task is ready to run), the clock jumps
to the earliest of: the next scenario or staff action, and the next sleeper's deadline (a
timer: an offer wave, a claim lease, an SLA deadline; an outbox retry or rate-limit wait).
Things due at the same instant go to the desk in one batch per platform. The day ends when
nothing is planned, no timer is set and nothing waits to be sent, or at ``until`` (default:
a day after the last question or event).

Staff react to what the desk records (its observers are called after each commit):

* offered to them directly (``offered``, any wave) or escalated to them (``escalated``
  ``to``): they claim ``claims_after`` later if they are still on the roster, available and
  below their claim limit, and nobody claimed it in the meantime (the staff-channel post
  then says who has it);
* posted in a staff channel: of the staff who see it as theirs (available, matching the
  question's tags and language) the few quickest claimers (``channel_claimers``, by
  ``claims_after``; ties broken by the router's fairness: least loaded, longest idle) try, as
  above. Scheduling every member of a 3,000-strong audience would only produce refusals;
* at most ``racers`` of them claim one question at the same instant (one wins, the others
  are told who has it; more would add nothing but refusals);
* having claimed: they answer ``answers_after`` later, and resolve ``resolves_after`` after
  that (if set). A claim that ran out (lease) or was taken back is left to others;
* when they have room again (they answered, came on shift, said /on, lost a race) and some
  question waits unclaimed, they take the oldest one that is theirs (matching them, or any
  escalated one for a lead), ``claims_after`` later: the queue staff see with /queue.

The store runs its real SQL and transactions, with two differences for a throwaway
database: SQLite is called on the event loop's thread instead of aiosqlite's worker thread
(the hop costs more than most statements, and a day makes hundreds of thousands of them one
after another), and commits are not synced to disk (``synchronous=OFF``).

Customer texts never go to the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import heapq
import itertools
import logging
import math
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TextIO, TypeVar

import aiosqlite
from pydantic import ConfigDict

from helpforce.adapter import Adapter, Capabilities, InboundSink
from helpforce.adapters.local import LocalAdapterFactory, LocalSettings
from helpforce.adapters.local.adapter import LocalAdapter
from helpforce.adapters.local.platform import LocalPlatform
from helpforce.adapters.local.scenario import Arrival, Change, Scenario
from helpforce.app import App
from helpforce.clock import VirtualClock
from helpforce.config import Config, PlatformSettings, RateLimit, StaffMember, load_config
from helpforce.config.schema import Roster, UserIdValidator
from helpforce.models import Account, Event, EventKind, Inbound, InboundKind, Visibility
from helpforce.routing import Router
from helpforce.schedule import availability

log = logging.getLogger(__name__)
T = TypeVar("T")


# -- the stand-in platforms -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StandIn:
    capabilities: Capabilities
    rate_limit: RateLimit
    #: where a public question is written when the scenario does not say
    public_place: str
    #: a question is private unless the scenario says otherwise
    private_by_default: bool = False


#: What each real platform allows (docs/platforms.md). X: POST /2/tweets 100 per 15 minutes
#: per user; Telegram: ~30 messages/s overall, ~1/s per chat; Discord: ~50 requests/s overall,
#: ~5 per 5 s per channel.
STAND_INS: dict[str, StandIn] = {
    "x": StandIn(
        Capabilities(buttons=False, edits=False, threads=True, dms=True, deep_links=False,
                     idempotent_send=False, max_text=280),
        RateLimit(per_second=100 / 900, burst=100, per_chat_per_second=None),
        public_place="mentions",
    ),
    "telegram": StandIn(
        Capabilities(buttons=True, edits=True, threads=False, dms=True, deep_links=True,
                     idempotent_send=False, max_text=4096),
        RateLimit(per_second=30, burst=1, per_chat_per_second=1.0, per_group_per_minute=20),
        public_place="group", private_by_default=True,
    ),
    "discord": StandIn(
        Capabilities(buttons=True, edits=True, threads=True, dms=True, deep_links=False,
                     idempotent_send=True, max_text=2000),
        RateLimit(per_second=50, burst=50, per_chat_per_second=1.0),
        public_place="help",
    ),
    "local": StandIn(LocalAdapter.capabilities, LocalSettings().rate_limit, public_place="help"),
}


class _StandInSettings(PlatformSettings):
    """``platforms.<name>`` of a real platform, read by the simulator: its staff channel and
    rate limit count; its secrets and connection settings are not needed (nothing connects)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


def _settings_model(platform: str) -> type[PlatformSettings]:
    limit = STAND_INS[platform].rate_limit

    class Settings(_StandInSettings):
        rate_limit: RateLimit = limit

    Settings.__name__ = Settings.__qualname__ = f"{platform.capitalize()}StandInSettings"
    return Settings


class StandInFactory:
    """Validates a real platform's settings and roster user ids, and builds its stand-in."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.settings_model = _settings_model(platform)

    def validate_user_id(self, value: Any) -> str:
        if isinstance(value, bool):
            raise ValueError(f"expected a user id, got {value!r}")
        text = str(value).strip() if isinstance(value, int | str) else None
        if self.platform == "discord":
            if text is None or not (text.isdigit() and 15 <= len(text) <= 21):
                raise ValueError(f"expected a Discord user id (a snowflake), got {value!r}")
            return text
        if text is None or not text.isdigit():
            raise ValueError(f"expected a numeric user id, got {value!r}")
        return text

    def create(self, settings: PlatformSettings, *, clock: Any, env: dict[str, str]) -> Adapter:
        return StandInAdapter(self.platform, LocalPlatform(), clock)


def factories() -> dict[str, UserIdValidator]:
    """The adapters as the simulator sees them: local, and a stand-in for each real one."""
    out: dict[str, UserIdValidator] = {"local": LocalAdapterFactory()}
    for platform in ("x", "telegram", "discord"):
        out[platform] = StandInFactory(platform)
    return out


def load_sim_config(config_dir: Path) -> Config:
    """The deployment's configuration, with X, Telegram and Discord validated as stand-ins
    (no secrets needed). Raises ConfigErrors."""
    return load_config(config_dir, env={}, factories=factories())


class StandInAdapter(LocalAdapter):
    """A local platform playing ``platform``: its capabilities, nothing read from it (the
    simulator hands the desk its messages directly)."""

    def __init__(self, platform: str, local: LocalPlatform, clock: Any) -> None:
        super().__init__(local, clock)
        self.platform = platform
        self.capabilities = STAND_INS[platform].capabilities

    async def start(self, sink: InboundSink, cursor: str | None) -> None:
        self.local.open_for_bot()
        self._state = "connected"


def with_stand_ins(config: Config, platforms: Iterable[str]) -> Config:
    """``config`` with every platform the scenario uses enabled (a platform helpforce.yaml
    does not mention gets its stand-in's defaults: no staff channel, its rate limit)."""
    current = dict(config.settings.platforms)
    changed = False
    for p in sorted(set(platforms)):
        if p not in current:
            model = factories()[p].settings_model
            settings = model.model_validate({})
            assert isinstance(settings, PlatformSettings)
            current[p] = settings
            changed = True
        elif not current[p].enabled:
            current[p] = current[p].model_copy(update={"enabled": True})
            changed = True
    if not changed:
        return config
    settings = config.settings.model_copy(update={"platforms": current})
    return dataclasses.replace(config, settings=settings)


# -- who is available and matches (as the desk sees it) --------------------------------------


def _matches(s: StaffMember, tags: Sequence[str], language: str) -> bool:
    """Whether a staff-channel post is for ``s``: their language, and a skill among the tags
    (any, when the question has none): the router's own test for its audience."""
    return language in s.languages and (not tags or not set(tags).isdisjoint(s.skills))


# -- what happened to each question -----------------------------------------------------------


@dataclass(slots=True)
class QuestionRecord:
    id: int
    at: float
    platform: str = ""
    customer: str = ""
    source: int | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    route: str | None = None
    #: (staff id, when, wave, the fallback that found them)
    offered: list[tuple[str, float, int, str | None]] = field(default_factory=list)
    posted: list[tuple[str, float, int | None]] = field(default_factory=list)
    claims: list[tuple[str, float]] = field(default_factory=list)
    refused: int = 0
    #: claims at an instant when ``racers`` others already tried (they would be refused)
    skipped: int = 0
    answers: list[tuple[str, float]] = field(default_factory=list)
    escalations: list[tuple[list[str], float, str]] = field(default_factory=list)
    #: staff whose claim ran out (lease) or was taken back: they leave it to others
    lost: set[str] = field(default_factory=set)
    #: claims planned by staff who picked it from the waiting questions, not yet tried
    picking: int = 0
    #: who holds it while it waits for their answer (counts against their claim limit)
    holder: str | None = None
    #: who claimed it last, whether or not they still hold it
    claimed_by: str | None = None
    claimed_at: float | None = None
    resolved_at: float | None = None
    state: str = "new"
    delivered_at: float | None = None


@dataclass(slots=True)
class _Action:
    at: float
    seq: int
    kind: str = field(compare=False)
    staff: str | None = field(default=None, compare=False)
    qid: int | None = field(default=None, compare=False)
    arrival: Arrival | None = field(default=None, compare=False)
    change: Change | None = field(default=None, compare=False)
    #: a claim of a question picked from the waiting ones
    pick: bool = field(default=False, compare=False)


#: kinds of events the text timeline shows
_TIMELINE = frozenset({
    EventKind.RECEIVED, EventKind.OFFERED, EventKind.CLAIMED, EventKind.CLAIM_REFUSED,
    EventKind.ANSWERED, EventKind.ESCALATED, EventKind.RESOLVED, EventKind.RELEASED,
    EventKind.LEASE_EXPIRED, EventKind.WARNED, EventKind.STATUS, EventKind.CONFIG_CHANGED,
    EventKind.TAKEN_OVER, EventKind.TRANSFERRED,
})

class _InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose SQLite calls run on the event loop's thread.

    The store, its SQL and its transactions are unchanged; only the hop to aiosqlite's worker
    thread (and back, ~100-150 µs each on a small machine) is skipped: a simulated day makes
    hundreds of thousands of them, one after the other, and nothing else waits meanwhile.
    """

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if args and args[0] == "PRAGMA synchronous=FULL":
            # a throwaway database: no commit needs to survive a power cut
            args = ("PRAGMA synchronous=OFF", *args[1:])
        return fn(*args, **kwargs)

    # the statements the store runs, without aiosqlite's wrappers around each call (a
    # coroutine, a Result and a partial per statement): an awaitable that is already done

    def execute(  # type: ignore[override]
        self, sql: str, parameters: Any = None
    ) -> _Done[aiosqlite.Cursor]:
        return _Done(aiosqlite.Cursor(self, self._live().execute(sql, parameters or ())))

    def execute_fetchall(  # type: ignore[override]
        self, sql: str, parameters: Any = None
    ) -> _Done[list[sqlite3.Row]]:
        return _Done(self._live().execute(sql, parameters or ()).fetchall())

    def executemany(  # type: ignore[override]
        self, sql: str, parameters: Any
    ) -> _Done[aiosqlite.Cursor]:
        return _Done(aiosqlite.Cursor(self, self._live().executemany(sql, parameters)))

    def _live(self) -> sqlite3.Connection:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return self._connection

    async def _connect(self) -> aiosqlite.Connection:
        if self._connection is None:
            self._connection = self._connector()
            # a day's database outgrows SQLite's default 2 MB page cache
            self._connection.execute("PRAGMA cache_size=-32768")
        return self


class _Done(Generic[T]):
    """An awaitable (and async context manager, as aiosqlite's results are) of a value that
    is already there."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, T]:
        return self.value
        yield  # a generator that returns at once

    async def __aenter__(self) -> T:
        return self.value

    async def __aexit__(self, *exc: object) -> None:
        close = getattr(self.value, "close", None)
        if close is not None:
            await close()


def _inline_connect(database: str | Path, *, iter_chunk_size: int = 64,
                    **kwargs: Any) -> aiosqlite.Connection:
    def connector() -> sqlite3.Connection:
        conn: sqlite3.Connection = sqlite3.connect(str(database), **kwargs)
        return conn

    return _InlineConnection(connector, iter_chunk_size)


@contextlib.contextmanager
def inline_sqlite() -> Iterator[None]:
    """While open, stores opened in this process run SQLite on the event loop's thread."""
    original = aiosqlite.connect
    aiosqlite.connect = _inline_connect
    try:
        yield
    finally:
        aiosqlite.connect = original


ANSWER_TEXT = "Thanks for asking! Here is what to do next."
#: seconds a customer takes to open a link to a private chat (Telegram's Start) once posted
OPENS_LINK_AFTER = 30.0


@dataclass
class SimOptions:
    #: keep the database here (for ``helpforce questions show``); default: a temporary one
    db: str | None = None
    #: staff-channel posts: how many of the quickest available matching staff try to claim
    channel_claimers: int = 3
    #: at most this many staff try to claim one question at the same instant; the others
    #: would only be told it is taken (counted, not sent)
    racers: int = 2
    #: timeline events kept for the text output (0: none)
    timeline: int = 200


class Simulator:
    def __init__(self, scenario: Scenario, config: Config, options: SimOptions | None = None):
        self.scenario = scenario
        self.options = options or SimOptions()
        if scenario.roster is not None:
            config = dataclasses.replace(config, roster=scenario.roster)
        self.config = with_stand_ins(config, scenario.platforms)
        self.clock = VirtualClock(scenario.start)
        self.questions: dict[int, QuestionRecord] = {}
        self.timeline: list[Event] = []
        self.timeline_dropped = 0
        self.loads: dict[str, int] = {}
        self.claimed: dict[str, int] = {}
        self.answered: dict[str, int] = {}
        self.settles = 0
        #: platform events the desk could not handle (recorded by it, with their reason)
        self.unhandled = 0
        self.batches = 0
        #: (when, sequence, action): tuples, so the heap compares in C
        self._heap: list[tuple[float, int, _Action]] = []
        self._seq = itertools.count()
        self._mids = itertools.count(1)
        self._arrivals: dict[str, Arrival] = {}
        self._app: App | None = None
        self._roster_for: Roster | None = None
        self._quick: list[StaffMember] = []
        self._quick_ids: set[str] = set()
        self._ended_at = scenario.start
        self._rows: dict[str, Any] = {}
        self.platforms: dict[str, Adapter] = {}
        self._racing: dict[int, int] = {}
        #: questions nobody holds and nobody answered yet, oldest first
        self.waiting: dict[int, QuestionRecord] = {}
        #: staff id -> when their availability (shift) next changes, as last planned
        self._shift_check: dict[str, float] = {}

    # -- scheduling ------------------------------------------------------------------------------

    def _push(self, at: float, kind: str, **kw: Any) -> None:
        seq = next(self._seq)
        heapq.heappush(self._heap, (at, seq, _Action(at, seq, kind, **kw)))

    def _behaviour_sorted(self, roster: Roster) -> None:
        """Staff quicker to claim than the default, quickest first (for staff-channel posts)."""
        default = self.scenario.default.claims_after
        quick = []
        for s in roster.staff:
            after = self.scenario.behaviour(s.id).claims_after
            if after is not None and (default is None or after < default):
                quick.append((after, s))
        quick.sort(key=lambda item: item[0])
        self._quick = [s for _, s in quick]
        self._quick_ids = {s.id for s in self._quick}

    def _plan_claim(self, staff_id: str, qid: int, at: float) -> None:
        after = self.scenario.behaviour(staff_id).claims_after
        if after is not None:
            self._push(at + after, "claim", staff=staff_id, qid=qid)

    def _router(self) -> Router:
        app = self._app
        assert app is not None and app.desk is not None
        return app.desk.router

    def _language(self, rec: QuestionRecord) -> str:
        app = self._app
        assert app is not None and app.desk is not None
        return rec.language or app.desk.config.routing.languages.default

    def _plan_channel_claims(self, rec: QuestionRecord, at: float, skip: set[str]) -> None:
        """Of the staff who see a staff-channel post as theirs (available, matching), the
        quickest few claim: first those quicker than the default (few, by their speed), then
        default ones in the router's order (least loaded, longest idle)."""
        n = self.options.channel_claimers
        if n <= 0:
            return
        router = self._router()
        language = self._language(rec)
        default = self.scenario.default.claims_after
        found: list[tuple[float, str]] = []
        for s in self._quick:
            if len(found) == n:
                break
            if (s.id not in skip and self.loads.get(s.id, 0) < s.max_open_claims
                    and _matches(s, rec.tags, language) and router.is_available(s, at)):
                after = self.scenario.behaviour(s.id).claims_after
                assert after is not None
                found.append((after, s.id))
        if len(found) < n and default is not None:
            pick = router.pick(at, rec.tags, language, n - len(found), self.loads,
                               exclude=skip | self._quick_ids, notify=False)
            for t in pick.targets:
                if self.scenario.behaviour(t.staff.id).claims_after == default:
                    found.append((default, t.staff.id))
        for after, staff_id in found:
            self._push(at + after, "claim", staff=staff_id, qid=rec.id)

    def _free(self, staff_id: str, now: float) -> None:
        """``staff_id`` may have room for more (they answered, came on shift, said /on): if
        they are available, they take the oldest waiting question that is theirs (matching
        them, or any escalated one for a lead), ``claims_after`` later."""
        app = self._app
        assert app is not None and app.desk is not None
        staff = app.desk.config.roster.get(staff_id)
        after = self.scenario.behaviour(staff_id).claims_after
        if (staff is None or after is None or not self.waiting
                or self.loads.get(staff_id, 0) >= staff.max_open_claims
                or not self._router().is_available(staff, now)):
            return
        lead = staff.role.value in ("lead", "manager")
        for n, rec in enumerate(self.waiting.values()):
            if n >= 200:
                break
            if rec.picking or staff_id in rec.lost:
                continue
            if _matches(staff, rec.tags, self._language(rec)) or (lead and rec.escalations):
                rec.picking += 1
                self._push(now + after, "claim", staff=staff_id, qid=rec.id, pick=True)
                return

    def _plan_shift_checks(self, roster: Roster, now: float) -> None:
        """Look again at each person with shifts when their shift starts or ends."""
        for s in roster.staff:
            if not s.shifts:
                continue
            until = availability(s, now).until
            if until != math.inf and self._shift_check.get(s.id) != until:
                self._shift_check[s.id] = until
                self._push(until, "shift", staff=s.id)

    # -- what the desk records ---------------------------------------------------------------

    def _record(self, qid: int, at: float) -> QuestionRecord:
        rec = self.questions.get(qid)
        if rec is None:
            rec = self.questions[qid] = QuestionRecord(qid, at)
        return rec

    def _unhold(self, rec: QuestionRecord) -> None:
        if rec.holder is not None:
            self.loads[rec.holder] = max(0, self.loads.get(rec.holder, 0) - 1)
            rec.holder = None

    def on_event(self, e: Event) -> None:
        """The desk's observer: record, and plan what the simulated staff do next."""
        if self.options.timeline and e.kind in _TIMELINE:
            if len(self.timeline) < self.options.timeline:
                self.timeline.append(e)
            else:
                self.timeline_dropped += 1
        d = e.data
        if e.kind is EventKind.CONFIG_CHANGED:
            self._reconfigure()
            return
        if e.question_id is None:
            if e.kind is EventKind.ESCALATED and "could not be handled" in str(d.get("reason")):
                self.unhandled += 1
            return
        rec = self._record(e.question_id, e.at)
        kind = e.kind
        if kind is EventKind.RECEIVED:
            arrival = self._arrivals.pop(str(d.get("message_id")), None)
            rec.platform = e.platform or ""
            if arrival is not None:
                rec.customer, rec.source = arrival.customer, arrival.source
            tags = d.get("tags")
            rec.tags = [str(t) for t in tags] if isinstance(tags, list) else []
            rec.language = d.get("language") if isinstance(d.get("language"), str) else None
            rec.route = d.get("route") if isinstance(d.get("route"), str) else None
            self.waiting[rec.id] = rec
        elif kind is EventKind.MOVED_TO_DM and d.get("via") == "link":
            # the customer presses Start in the link posted for them a little later
            self._push(e.at + OPENS_LINK_AFTER, "open_link", qid=rec.id)
        elif kind is EventKind.OFFERED:
            staff = [str(s) for s in d.get("staff", [])]
            wave = int(d.get("wave", 1))
            fallback = d.get("fallback") if isinstance(d.get("fallback"), str) else None
            for staff_id in staff:
                rec.offered.append((staff_id, e.at, wave, fallback))
                if rec.claimed_at is None or rec.holder is None:
                    self._plan_claim(staff_id, rec.id, e.at)
            channels = d.get("channels", [])
            audience = d.get("audience")
            for channel in channels:
                rec.posted.append((str(channel), e.at,
                                   int(audience) if isinstance(audience, int) else None))
            if channels:
                self._plan_channel_claims(rec, e.at, set(staff) | rec.lost)
        elif kind is EventKind.CLAIMED and e.actor:
            self._unhold(rec)
            rec.holder = rec.claimed_by = e.actor
            rec.claimed_at = e.at
            rec.claims.append((e.actor, e.at))
            self.waiting.pop(rec.id, None)
            self.loads[e.actor] = self.loads.get(e.actor, 0) + 1
            self.claimed[e.actor] = self.claimed.get(e.actor, 0) + 1
            after = self.scenario.behaviour(e.actor).answers_after
            if after is not None:
                self._push(e.at + after, "answer", staff=e.actor, qid=rec.id)
        elif kind is EventKind.CLAIM_REFUSED:
            rec.refused += 1
            if e.actor:
                self._free(e.actor, e.at)
        elif kind is EventKind.ANSWERED and e.actor and not d.get("duplicate"):
            rec.answers.append((e.actor, e.at))
            self.waiting.pop(rec.id, None)
            self.answered[e.actor] = self.answered.get(e.actor, 0) + 1
            if rec.holder == e.actor:
                self._unhold(rec)
            if self.waiting:
                self._free(e.actor, e.at)
            after = self.scenario.behaviour(e.actor).resolves_after
            if after is not None and len(rec.answers) == 1:
                self._push(e.at + after, "resolve", staff=e.actor, qid=rec.id)
        elif kind is EventKind.ESCALATED:
            to = [str(s) for s in d.get("to", []) or []]
            rec.escalations.append((to, e.at, str(d.get("reason", ""))))
            for staff_id in to:
                self._plan_claim(staff_id, rec.id, e.at)
        elif kind in (EventKind.RELEASED, EventKind.LEASE_EXPIRED):
            if rec.holder is not None:
                rec.lost.add(rec.holder)
            self._unhold(rec)
            if not rec.answers and rec.resolved_at is None:
                self.waiting[rec.id] = rec
        elif kind in (EventKind.TRANSFERRED, EventKind.TAKEN_OVER):
            self._unhold(rec)
            taker = d.get("to_staff") or (e.actor if kind is EventKind.TAKEN_OVER else None)
            if isinstance(taker, str):
                rec.holder = rec.claimed_by = taker
                self.loads[taker] = self.loads.get(taker, 0) + 1
        elif kind is EventKind.RESOLVED:
            self._unhold(rec)
            self.waiting.pop(rec.id, None)
            rec.resolved_at = e.at

    def _reconfigure(self) -> None:
        app = self._app
        if app is None or app.desk is None or app.desk.config.roster is self._roster_for:
            return
        self._roster_for = app.desk.config.roster
        self._behaviour_sorted(self._roster_for)
        self._plan_shift_checks(self._roster_for, self.clock.now())

    # -- driving the desk --------------------------------------------------------------------

    def _quiet(self) -> bool:
        app = self._app
        assert app is not None and app.store is not None
        if not app.store.idle:
            return False
        if app.outbox is not None and not app.outbox.idle:
            return False
        timers = getattr(app, "timers", None)
        return timers is None or bool(timers.idle)

    async def _settle(self) -> None:
        """Return once nothing can happen without the clock moving: the store, the outbox and
        the timer loop say they are idle, and no task is ready to run (a woken sleeper takes
        a few turns of the event loop to reach the code that would clear those flags)."""
        self.settles += 1
        loop = asyncio.get_running_loop()
        # the event loop's queue of ready callbacks (CPython's asyncio; elsewhere, looking a
        # few more turns stands in for it)
        ready: Sized | None = getattr(loop, "_ready", None)
        calm = 0
        while True:
            await asyncio.sleep(0)
            if not self._quiet():
                calm = 0
            elif ready is not None:
                if not ready:
                    return
            else:
                calm += 1
                if calm >= 8:
                    return

    def _staff_inbound(self, staff: StaffMember, text: str, now: float) -> Inbound | None:
        desk = self._app.desk if self._app else None
        assert desk is not None
        caps = desk.capabilities
        where: tuple[str, str] | None = None
        for platform in staff.notify:
            if platform in caps and platform in staff.accounts:
                where = (platform, staff.accounts[platform])
                break
        if where is None:
            for platform, user_id in staff.accounts.items():
                if platform in caps:
                    where = (platform, user_id)
                    break
        if where is None:
            return None
        platform, user_id = where
        return Inbound(
            platform=platform, message_id=f"sim{next(self._mids)}",
            author=Account(platform, user_id, staff.initials.lower()),
            conversation=f"dm:{user_id}", visibility=Visibility.PRIVATE, text=text, at=now,
        )

    async def _open_link(self, qid: int, now: float) -> Inbound | None:
        """The customer of question ``qid`` opens the private chat with the link they got."""
        app = self._app
        assert app is not None and app.store is not None
        row = await app.store.fetchone(
            "SELECT d.token, d.platform, d.customer_id, q.customer_handle FROM deep_links d "
            "JOIN questions q ON q.id = d.question_id "
            "WHERE d.question_id = ? AND d.opened_at IS NULL ORDER BY d.created_at DESC LIMIT 1",
            (qid,),
        )
        if row is None:
            return None
        token, platform, user_id, handle = (str(v) for v in row)
        return Inbound(
            platform=platform, message_id=f"sim{next(self._mids)}",
            author=Account(platform, user_id, handle), conversation=f"dm:{user_id}",
            visibility=Visibility.PRIVATE, text=f"/start {token}", kind=InboundKind.START,
            data=token, at=now,
        )

    def _customer_inbound(self, a: Arrival, now: float) -> Inbound:
        stand_in = STAND_INS[a.platform]
        user_id = a.customer.lstrip("@") or a.customer
        mid = f"sim{next(self._mids)}"
        self._arrivals[mid] = a
        if a.private:
            conversation = a.channel or f"dm:{user_id}"
            visibility = Visibility.PRIVATE
        else:
            conversation = a.channel or stand_in.public_place
            visibility = Visibility.PUBLIC
        return Inbound(
            platform=a.platform, message_id=mid, author=Account(a.platform, user_id, user_id),
            conversation=conversation, visibility=visibility, text=a.text, at=now,
        )

    async def _apply(self, change: Change) -> None:
        app = self._app
        assert app is not None and app.desk is not None
        desk = app.desk
        now = self.clock.now()
        if change.kind == "status":
            staff = desk.config.roster.get(change.staff or "")
            if staff is not None:
                inbound = self._staff_inbound(staff, f"/{change.status}", now)
                if inbound is not None:
                    await desk.ingest(inbound.platform, [inbound], None)
            return
        roster = desk.config.roster
        if change.kind == "remove_staff":
            roster = Roster(staff=tuple(s for s in roster.staff if s.id != change.staff))
        elif change.roster is not None:
            roster = change.roster
        config = dataclasses.replace(desk.config, roster=roster)
        apply_config = getattr(desk, "apply_config", None)
        if apply_config is None:
            raise RuntimeError("this desk cannot apply a roster change (Desk.apply_config)")
        await apply_config(config)
        self._reconfigure()

    async def _dispatch(self, now: float) -> None:
        app = self._app
        assert app is not None and app.desk is not None
        due: list[_Action] = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        for action in due:
            if action.change is not None and action.change.kind != "status":
                await self._apply(action.change)
        batches: dict[str, list[Inbound]] = {}
        self._racing.clear()
        for action in due:
            inbound: Inbound | None = None
            if action.arrival is not None:
                inbound = self._customer_inbound(action.arrival, now)
            elif action.change is not None:
                if action.change.kind == "status":
                    await self._apply(action.change)
                    if action.change.status in ("on", "auto") and action.change.staff:
                        self._free(action.change.staff, now)
                continue
            elif action.kind == "shift" and action.staff:
                self._shift_check.pop(action.staff, None)
                roster = app.desk.config.roster
                member = roster.get(action.staff)
                if member is not None:
                    self._plan_shift_checks(Roster(staff=(member,)), now)
                    self._free(action.staff, now)
                continue
            elif action.kind == "open_link" and action.qid is not None:
                inbound = await self._open_link(action.qid, now)
            else:
                inbound = self._staff_action(action, now)
            if inbound is not None:
                batches.setdefault(inbound.platform, []).append(inbound)
        if not batches:
            return
        desk = app.desk
        calls = []
        for platform, batch in batches.items():
            for i in range(0, len(batch), 256):
                calls.append(desk.ingest(platform, batch[i:i + 256], None))
        self.batches += len(calls)
        await asyncio.gather(*calls)

    def _staff_action(self, action: _Action, now: float) -> Inbound | None:
        app = self._app
        assert app is not None and app.desk is not None and action.qid is not None
        staff = app.desk.config.roster.get(action.staff or "")
        if staff is None:
            return None  # no longer on the roster
        rec = self.questions.get(action.qid)
        qid = action.qid
        if action.kind == "claim":
            if action.pick and rec is not None:
                rec.picking -= 1
            inbound = self._claim(action, staff, rec, now)
            if inbound is None and action.pick:
                self._free(staff.id, now)  # look for another one
            return inbound
        if action.kind == "answer":
            return self._staff_inbound(staff, f"/answer {qid} {ANSWER_TEXT}", now)
        if action.kind == "resolve":
            return self._staff_inbound(staff, f"/resolve {qid}", now)
        return None

    def _claim(
        self, action: _Action, staff: StaffMember, rec: QuestionRecord | None, now: float
    ) -> Inbound | None:
        qid = action.qid
        assert qid is not None
        tries = self._racing.get(qid, 0)
        if tries >= self.options.racers:
            if rec is not None:
                rec.skipped += 1
            return None
        if rec is not None and (rec.holder is not None and rec.claimed_at is not None
                                and rec.claimed_at < now or rec.answers
                                or rec.resolved_at is not None):
            return None  # taken (or done) meanwhile: the staff-channel post says so
        if self.loads.get(staff.id, 0) >= staff.max_open_claims or (
                rec is not None and staff.id in rec.lost):
            return None
        if not self._router().is_available(staff, now):
            return None
        inbound = self._staff_inbound(staff, f"/claim {qid}", now)
        if inbound is not None:
            self._racing[qid] = tries + 1
        return inbound

    async def _done(self) -> bool:
        """Nothing planned, no timer set, nothing left to send."""
        app = self._app
        assert app is not None and app.store is not None
        try:
            row = await app.store.fetchone("SELECT COUNT(*) FROM timers")
            if row is not None and row[0]:
                return False
        except sqlite3.OperationalError:
            pass  # no timers table (an older schema)
        row = await app.store.fetchone(
            "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')"
        )
        return row is None or not row[0]

    def _until(self) -> float:
        sc = self.scenario
        if sc.until is not None:
            return sc.start + sc.until
        last = max([a.at for a in sc.arrivals] + [c.at for c in sc.changes] + [0.0])
        return sc.start + last + 24 * 3600.0

    async def run(self) -> dict[str, Any]:
        """Run the scenario; returns the report (see :meth:`report`)."""
        started = time.monotonic()
        tmp: str | None = None
        db = self.options.db
        if db is None:
            shm = Path("/dev/shm")
            tmp = tempfile.mkdtemp(prefix="helpforce-sim-",
                                   dir=str(shm) if shm.is_dir() else None)
            db = str(Path(tmp) / "simulate.db")
        try:
            with inline_sqlite():
                await self._run(db)
            self._read_back(db)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        report = self.report()
        report["summary"]["wall_seconds"] = round(time.monotonic() - started, 3)
        if self.options.db is not None:
            report["summary"]["database"] = self.options.db
        return report

    async def _run(self, db: str) -> None:
        config = self.config
        adapters: dict[str, Adapter] = {
            p: StandInAdapter(p, LocalPlatform(), self.clock)
            for p in config.enabled_platforms() if p in STAND_INS
        }
        self.platforms = adapters
        for a in self.scenario.arrivals:
            self._push(self.scenario.start + a.at, "arrival", arrival=a)
        for c in self.scenario.changes:
            self._push(self.scenario.start + c.at, "change", change=c)
        until = self._until()
        app = App(config, db_path=db, clock=self.clock, adapters=adapters, env={},
                  observers=[self.on_event])
        self._app = app
        async with app:
            assert app.store is not None
            self._reconfigure()
            clock = self.clock
            while True:
                await self._settle()
                t_action = self._heap[0][0] if self._heap else math.inf
                deadline = clock.next_deadline()
                t_clock = deadline if deadline is not None else math.inf
                if not self._heap and await self._done():
                    break
                t = min(t_action, t_clock)
                if t > until:
                    clock.advance_to(max(until, clock.now()))
                    break
                clock.advance_to(max(t, clock.now()))
                if t_action <= t:
                    await self._dispatch(t)
            self._ended_at = clock.now()
            await self._settle()
            await app.stop(drain=0)

    # -- the report ----------------------------------------------------------------------------

    def _read_back(self, db: str) -> None:
        """Final states and deliveries, from the database the run left behind."""
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            for qid, state in conn.execute("SELECT id, state FROM questions"):
                self._record(int(qid), self.scenario.start).state = str(state)
            for qid, at in conn.execute(
                "SELECT question_id, MIN(at) FROM events WHERE kind = 'delivered' "
                "AND question_id IS NOT NULL GROUP BY question_id"
            ):
                if qid in self.questions:
                    self.questions[qid].delivered_at = float(at)
            deliveries: dict[str, dict[str, Any]] = {}
            for platform, state, n, worst in conn.execute(
                "SELECT platform, state, COUNT(*), MAX(COALESCE(sent_at, ?) - created_at) "
                "FROM outbox GROUP BY platform, state", (self._ended_at,)
            ):
                d = deliveries.setdefault(str(platform), {
                    "sent": 0, "waiting": 0, "held": 0, "failed": 0, "longest_wait_s": 0.0})
                # held: private messages waiting for a customer to open the private chat
                key = {"sent": "sent", "pending": "waiting", "sending": "waiting",
                       "held": "held"}.get(str(state), "failed")
                d[key] += int(n)
                d["longest_wait_s"] = round(max(d["longest_wait_s"], float(worst or 0)), 3)
            self._rows["deliveries"] = deliveries
        finally:
            conn.close()

    def iso(self, t: float | None) -> str | None:
        if t is None:
            return None
        return dt.datetime.fromtimestamp(round(t, 3), self.scenario.tz).isoformat(
            timespec="milliseconds" if t % 1 else "seconds")

    def _sla_target(self, rec: QuestionRecord) -> float | None:
        routing = getattr(self.config, "routing", None)
        if routing is None:
            return None
        route = None
        for r in routing.routes:
            if r.name == rec.route:
                route = r
                break
        if route is None:
            route = routing.route_for(rec.platform, frozenset(rec.tags), rec.language or "")
        target = route.first_response
        return float(target) if target is not None else None

    def report(self) -> dict[str, Any]:
        iso = self.iso
        questions = []
        waits: list[float] = []
        with_target = met = 0
        states: dict[str, int] = {}
        for qid in sorted(self.questions):
            rec = self.questions[qid]
            first = rec.answers[0] if rec.answers else None
            if first is not None:
                waits.append(first[1] - rec.at)
            target = self._sla_target(rec)
            if target is not None:
                with_target += 1
                if first is not None and first[1] - rec.at <= target:
                    met += 1
            states[rec.state] = states.get(rec.state, 0) + 1
            questions.append({
                "id": rec.id,
                "platform": rec.platform,
                "customer": rec.customer,
                "at": iso(rec.at),
                "tags": rec.tags,
                "language": rec.language,
                "route": rec.route,
                "offered": [{"staff": s, "at": iso(t), "wave": w, "fallback": f}
                            for s, t, w, f in rec.offered],
                "posted": [{"channel": c, "at": iso(t), "audience": n}
                           for c, t, n in rec.posted],
                "claimed_by": rec.claimed_by,
                "claimed_at": iso(rec.claimed_at),
                "claims": [{"staff": s, "at": iso(t)} for s, t in rec.claims],
                "claims_refused": rec.refused,
                "claims_not_sent": rec.skipped,
                "answered_by": first[0] if first else None,
                "answered_at": iso(first[1]) if first else None,
                "answers": len(rec.answers),
                "first_response_s": round(first[1] - rec.at, 3) if first else None,
                "delivered_at": iso(rec.delivered_at),
                "escalations": [{"to": to, "at": iso(t), "why": why}
                                for to, t, why in rec.escalations],
                "resolved_at": iso(rec.resolved_at),
                "state": rec.state,
            })
        waits.sort()
        per_staff = {
            s: {"claimed": self.claimed.get(s, 0), "answered": self.answered.get(s, 0)}
            for s in sorted(set(self.claimed) | set(self.answered))
        }
        n = len(questions)
        answered = sum(1 for q in questions if q["answers"])
        summary: dict[str, Any] = {
            "scenario": str(self.scenario.path),
            "start": iso(self.scenario.start),
            "end": iso(self._ended_at),
            "questions": n,
            "offered": sum(1 for q in questions if q["offered"] or q["posted"]),
            "claimed": sum(1 for q in questions if q["claims"]),
            "unhandled_events": self.unhandled,
            "answered": answered,
            "unanswered": n - answered,
            "escalated": sum(1 for q in questions if q["escalations"]),
            "resolved": states.get("resolved", 0),
            "states": dict(sorted(states.items())),
            "first_response": {
                "p50_s": _percentile(waits, 50),
                "p90_s": _percentile(waits, 90),
                "max_s": round(waits[-1], 3) if waits else None,
            },
            "sla": {
                "questions_with_target": with_target,
                "met": met,
                "met_percent": round(100.0 * met / with_target, 1) if with_target else None,
            },
            "per_staff": per_staff,
            "deliveries": self._rows.get("deliveries", {}),
            "simulation": {"settles": self.settles, "batches": self.batches},
        }
        return {"questions": questions, "summary": summary}


def _percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return None
    k = max(0, math.ceil(p / 100 * len(values)) - 1)
    return round(values[k], 3)


# -- the command's text output ----------------------------------------------------------------


def _clock(sim: Simulator, t: float) -> str:
    moment = dt.datetime.fromtimestamp(t, sim.scenario.tz)
    start = dt.datetime.fromtimestamp(sim.scenario.start, sim.scenario.tz)
    days = (moment.date() - start.date()).days
    return ("" if days == 0 else f"+{days}d ") + moment.strftime("%H:%M:%S")


def _line(e: Event) -> str | None:
    d = e.data
    who = e.actor or ""
    if e.kind is EventKind.RECEIVED:
        extra = []
        if d.get("tags"):
            extra.append("tags " + ",".join(map(str, d["tags"])))
        if d.get("language"):
            extra.append(f"language {d['language']}")
        if d.get("route"):
            extra.append(f"route {d['route']}")
        return f"question on {e.platform}" + (f" ({'; '.join(extra)})" if extra else "")
    if e.kind is EventKind.OFFERED:
        parts = []
        if d.get("staff"):
            parts.append("offered to " + ", ".join(map(str, d["staff"])))
        if d.get("channels"):
            audience = d.get("audience")
            seen = f" (seen by {audience} available)" if isinstance(audience, int) else ""
            parts.append("posted in " + ", ".join(map(str, d["channels"])) + seen)
        wave = f"wave {d['wave']}: " if d.get("wave") else ""
        return wave + ("; ".join(parts) or "offered")
    if e.kind is EventKind.CLAIMED:
        return f"claimed by {who}"
    if e.kind is EventKind.CLAIM_REFUSED:
        return f"{who} too late (held by {d.get('held_by')})"
    if e.kind is EventKind.ANSWERED:
        return f"answered by {who}" + (" (again, refused)" if d.get("duplicate") else "")
    if e.kind is EventKind.ESCALATED:
        to = d.get("to")
        return f"ESCALATED: {d.get('reason')}" + (f" -> {', '.join(to)}" if to else "")
    if e.kind is EventKind.RESOLVED:
        return f"resolved by {who}"
    if e.kind is EventKind.WARNED:
        to = ", ".join(map(str, d.get("to", []))) or "?"
        if d.get("reason") == "lease":
            return f"{to} warned: their claim runs out in {_span(d.get('seconds_left'))}"
        return f"{to} warned: {d.get('reason')}"
    if e.kind is EventKind.LEASE_EXPIRED:
        return f"{d.get('staff', '?')} did not answer in time: the claim ran out"
    if e.kind is EventKind.RELEASED:
        why = f" ({d['reason']})" if d.get("reason") else ""
        return f"released by {who or d.get('staff', '?')}{why}"
    if e.kind is EventKind.STATUS:
        return f"{who} is now {d.get('status')}"
    if e.kind is EventKind.CONFIG_CHANGED:
        parts = [f"{label} {', '.join(map(str, d[key]))}"
                 for key, label in (("staff_added", "added"), ("staff_removed", "removed"),
                                    ("staff_changed", "changed"))
                 if d.get(key)]
        return "roster changed" + (f": {'; '.join(parts)}" if parts else "")
    return f"{e.kind.value}" + (f" ({who})" if who else "")


def print_report(sim: Simulator, report: dict[str, Any], out: TextIO) -> None:
    s = report["summary"]
    print(f"helpforce simulate {s['scenario']}: {s['start']} to {s['end']}", file=out)
    print("", file=out)
    for e in sim.timeline:
        text = _line(e)
        if text is None:
            continue
        q = f"#{e.question_id}" if e.question_id is not None else ""
        print(f"{_clock(sim, e.at):>12}  {q:>6}  {text}", file=out)
    if sim.timeline_dropped:
        print(f"{'':>12}  {'':>6}  ... {sim.timeline_dropped} more events (--json for all "
              "questions)", file=out)
    fr = s["first_response"]
    sla = s["sla"]
    print("", file=out)
    print("Summary", file=out)
    print(f"  questions {s['questions']} · claimed {s['claimed']} · answered {s['answered']} · "
          f"unanswered {s['unanswered']} · escalated {s['escalated']} · resolved "
          f"{s['resolved']}", file=out)
    print("  final states: " + ", ".join(f"{k} {v}" for k, v in s["states"].items()), file=out)
    if fr["p50_s"] is not None:
        print(f"  first response: p50 {_span(fr['p50_s'])}, p90 {_span(fr['p90_s'])}, "
              f"longest {_span(fr['max_s'])}", file=out)
    if sla["met_percent"] is not None:
        print(f"  first-response target met: {sla['met']} of {sla['questions_with_target']} "
              f"({sla['met_percent']}%)", file=out)
    else:
        print("  first-response target: none set in routing.yaml", file=out)
    for platform, d in sorted(s["deliveries"].items()):
        held = (f", {d['held']} held until the customer opens the private chat"
                if d.get("held") else "")
        print(f"  {platform}: {d['sent']} messages sent, {d['waiting']} still waiting{held}, "
              f"{d['failed']} failed; longest wait {_span(d['longest_wait_s'])}", file=out)
    busiest = sorted(s["per_staff"].items(), key=lambda kv: (-kv[1]["answered"], kv[0]))
    if busiest:
        shown = ", ".join(f"{k} {v['claimed']}/{v['answered']}" for k, v in busiest[:15])
        more = f" and {len(busiest) - 15} more" if len(busiest) > 15 else ""
        print(f"  staff (claimed/answered): {shown}{more}", file=out)
    if s["unhandled_events"]:
        print(f"  WARNING: the desk could not handle {s['unhandled_events']} messages (see the "
              "log above)", file=out)
    if s.get("database"):
        print(f"  database kept: {s['database']} (helpforce questions show N --db ...)",
              file=out)
    print(f"  simulated in {s['wall_seconds']}s", file=out)


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


async def simulate(
    scenario: Scenario, config: Config, options: SimOptions | None = None,
    on_ready: Callable[[Simulator], None] | None = None,
) -> tuple[Simulator, dict[str, Any]]:
    sim = Simulator(scenario, config, options)
    if on_ready is not None:
        on_ready(sim)
    report = await sim.run()
    return sim, report


__all__ = [
    "STAND_INS",
    "QuestionRecord",
    "SimOptions",
    "Simulator",
    "StandInAdapter",
    "StandInFactory",
    "factories",
    "load_sim_config",
    "print_report",
    "simulate",
    "with_stand_ins",
]
