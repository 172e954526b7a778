"""Who is offered a question: available staff who match its tags and language, fairly.

The :class:`Router` keeps, per configuration, pools of the staff who are available now, keyed
by (skill or ``*``, language or ``*``), each ordered from longest idle to most recently
offered. Availability (shift, quiet hours, the status staff set themselves) is worked out per
person with the instant it next changes, and a heap of those instants moves people in and out
of the pools only when something changes: a question costs a scan of the front of one or two
pools, never a pass over the whole roster.

Fair distribution: least loaded first (open claims waiting for their answer), then longest
idle (longest since last offered a question). A staff member at ``max_open_claims`` is skipped.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass

from helpforce.adapter import Capabilities
from helpforce.config.routing import Fallback, Route
from helpforce.config.schema import Roster, StaffMember
from helpforce.models import Role
from helpforce.schedule import availability

#: statuses staff set for themselves; ``auto`` follows their shifts
STATUSES = ("on", "away", "off", "auto")

_ANY = "*"
_LEADS = "@leads"

PoolKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Target:
    """A staff member and where to notify them directly."""

    staff: StaffMember
    platform: str
    user_id: str


@dataclass(frozen=True, slots=True)
class Pick:
    targets: tuple[Target, ...]
    #: which fallback found them (None: they match skill and language)
    fallback: str | None = None


def notify_target(
    s: StaffMember, capabilities: Mapping[str, Capabilities],
    refused: Container[tuple[str, str]] = (),
) -> Target | None:
    """Where ``s`` is notified directly: the first of their ``notify`` platforms that runs,
    else any of their accounts on a running platform that can send private messages; an
    account known to refuse private messages (``refused``: they never started the bot, or
    closed their DMs) is passed over."""
    for platform in s.notify:
        if platform in capabilities and platform in s.accounts \
                and (platform, s.accounts[platform]) not in refused:
            return Target(s, platform, s.accounts[platform])
    for platform, user_id in s.accounts.items():
        if platform in capabilities and capabilities[platform].dms \
                and (platform, user_id) not in refused:
            return Target(s, platform, user_id)
    return None


class Router:
    def __init__(
        self,
        roster: Roster,
        capabilities: Mapping[str, Capabilities],
        statuses: Mapping[str, str] | None = None,
        last_offered: Mapping[str, float] | None = None,
        refused: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.roster = roster
        self.capabilities = capabilities
        self.status: dict[str, str] = dict(statuses or {})
        #: staff id -> when last offered a question (in memory: a restart starts everyone level)
        self.last_offered: dict[str, float] = dict(last_offered or {})
        #: (platform, user id) of staff accounts that refused a private message
        self.refused: set[tuple[str, str]] = set(refused)
        self._targets: dict[str, Target | None] = {
            s.id: notify_target(s, capabilities, self.refused) for s in roster.staff
        }
        self._keys: dict[str, tuple[PoolKey, ...]] = {
            s.id: self._pool_keys(s) for s in roster.staff
        }
        self._pools: dict[PoolKey, OrderedDict[str, StaffMember]] = {}
        #: staff id -> (available now, quiet now) as last worked out
        self._state: dict[str, tuple[bool, bool]] = {}
        self._heap: list[tuple[float, str]] = []
        self._until: dict[str, float] = {}
        self._started = False

    # -- availability ------------------------------------------------------------------------

    @staticmethod
    def _pool_keys(s: StaffMember) -> tuple[PoolKey, ...]:
        keys: list[PoolKey] = [(_ANY, _ANY)]
        keys += [(_ANY, lang) for lang in s.languages]
        for skill in s.skills:
            keys.append((skill, _ANY))
            keys += [(skill, lang) for lang in s.languages]
        if s.role in (Role.LEAD, Role.MANAGER):
            keys.append((_LEADS, _ANY))
        return tuple(keys)

    def _evaluate(self, s: StaffMember, now: float) -> tuple[bool, bool, float]:
        status = self.status.get(s.id, "auto")
        a = availability(s, now)
        if status == "on":
            on = True
        elif status in ("away", "off"):
            on = False
        else:
            on = a.on_shift
        return on, a.quiet, a.until

    def _refresh(self, s: StaffMember, now: float) -> None:
        on, quiet, until = self._evaluate(s, now)
        was = self._state.get(s.id, (False, False))[0]
        self._state[s.id] = (on, quiet)
        if on and not was:
            for key in self._keys[s.id]:
                pool = self._pools.setdefault(key, OrderedDict())
                pool[s.id] = s
                # back among the longest idle, where their last offer puts them
                self._place(pool, s.id)
        elif was and not on:
            for key in self._keys[s.id]:
                self._pools.get(key, OrderedDict()).pop(s.id, None)
        self._until[s.id] = until
        if until != math.inf:
            heapq.heappush(self._heap, (until, s.id))

    def _place(self, pool: OrderedDict[str, StaffMember], staff_id: str) -> None:
        """Move ``staff_id`` (just appended) back past everyone offered a question after its
        own last offer, keeping ``pool`` ordered from longest idle to most recently offered."""
        mine = self.last_offered.get(staff_id, -math.inf)
        later: list[str] = []
        for other in reversed(pool):
            if other == staff_id:
                continue
            if self.last_offered.get(other, -math.inf) > mine:
                later.append(other)
            else:
                break
        for other in reversed(later):
            pool.move_to_end(other)

    def advance(self, now: float) -> None:
        """Bring availability up to ``now`` (only people whose state may have changed)."""
        if not self._started:
            self._started = True
            for s in self.roster.staff:
                self._refresh(s, now)
            return
        while self._heap and self._heap[0][0] <= now:
            until, staff_id = heapq.heappop(self._heap)
            if self._until.get(staff_id) != until:
                continue  # superseded
            member = self.roster.get(staff_id)
            if member is not None:
                self._refresh(member, now)

    def set_status(self, staff_id: str, status: str, now: float) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self.status[staff_id] = status
        s = self.roster.get(staff_id)
        if s is not None and self._started:
            self._refresh(s, now)

    def is_available(self, s: StaffMember, now: float) -> bool:
        self.advance(now)
        return self._state.get(s.id, (False, False))[0]

    def is_quiet(self, s: StaffMember, now: float) -> bool:
        self.advance(now)
        return self._state.get(s.id, (False, False))[1]

    def reach_changed(self, platform: str, user_id: str, reachable: bool) -> None:
        """A private message to this account got through (or was refused): notify its
        owner there again (or elsewhere, or not at all)."""
        key = (platform, user_id)
        s = self.roster.by_account(platform, user_id)
        if s is None or reachable == (key not in self.refused):
            return  # a customer, or nothing new
        if reachable:
            self.refused.discard(key)
        else:
            self.refused.add(key)
        self._targets[s.id] = notify_target(s, self.capabilities, self.refused)

    def target(self, s: StaffMember) -> Target | None:
        return self._targets.get(s.id)

    # -- choosing ----------------------------------------------------------------------------

    def _keys_for(self, tags: Iterable[str], language: str, how: str | None) -> list[PoolKey]:
        tags = list(tags)
        if how == Fallback.LEADS.value:
            return [(_LEADS, _ANY)]
        if how == Fallback.ANY_SKILL.value:
            return [(_ANY, language)]
        if how == Fallback.ANY_LANGUAGE.value:
            return [(t, _ANY) for t in tags] if tags else [(_ANY, _ANY)]
        return [(t, language) for t in tags] if tags else [(_ANY, language)]

    def audience(self, now: float, tags: Iterable[str], language: str) -> list[StaffMember]:
        """Everyone available now who matches: who sees a staff-channel post as theirs."""
        self.advance(now)
        seen: dict[str, StaffMember] = {}
        for key in self._keys_for(tags, language, None):
            seen.update(self._pools.get(key, {}))
        return list(seen.values())

    def pick(
        self,
        now: float,
        tags: Sequence[str],
        language: str,
        n: int,
        loads: Mapping[str, int],
        exclude: Iterable[str] = (),
        fallback: Sequence[Fallback] = (),
        notify: bool = True,
    ) -> Pick:
        """The ``n`` best available staff for a question, trying ``fallback`` in order when
        nobody matches. With ``notify``, only people who can be notified directly now (an
        account on a running platform, not in quiet hours)."""
        self.advance(now)
        if n <= 0:
            return Pick(())
        excluded = set(exclude)
        for how in (None, *[f.value for f in fallback]):
            found = self._best(self._keys_for(tags, language, how), n, loads, excluded, notify)
            if found:
                return Pick(tuple(found), how)
        return Pick(())

    def _best(
        self, keys: list[PoolKey], n: int, loads: Mapping[str, int], excluded: set[str],
        notify: bool,
    ) -> list[Target]:
        # per pool, scan from the longest idle; n people with no open claim end the scan, as
        # nobody further back can beat them. The best n overall are among each pool's best n.
        ranked: dict[str, tuple[int, float, int, Target]] = {}
        order = 0
        for key in keys:
            free = 0
            for staff_id, s in self._pools.get(key, {}).items():
                if staff_id in excluded or staff_id in ranked:
                    continue
                load = loads.get(staff_id, 0)
                if load >= s.max_open_claims:
                    continue
                target = self._targets.get(staff_id)
                if notify and (target is None or self._state[staff_id][1]):
                    continue
                if target is None:
                    target = Target(s, "", "")
                order += 1
                ranked[staff_id] = (load, self.last_offered.get(staff_id, -math.inf), order,
                                    target)
                if load == 0:
                    free += 1
                    if free >= n:
                        break
        best = heapq.nsmallest(n, ranked.values(), key=lambda r: (r[0], r[1], r[2]))
        return [r[3] for r in best]

    def offered(self, staff_ids: Iterable[str], now: float) -> None:
        """Record offers: these people go to the back of their pools."""
        for staff_id in staff_ids:
            self.last_offered[staff_id] = now
            for key in self._keys.get(staff_id, ()):
                pool = self._pools.get(key)
                if pool is not None and staff_id in pool:
                    pool.move_to_end(staff_id)

    def unoffered(self, before: Mapping[str, float | None]) -> None:
        """Undo :meth:`offered` (the step that made the offers was rolled back): each person
        gets back their last offer time, and their place in their pools."""
        for staff_id, last in before.items():
            if last is None:
                self.last_offered.pop(staff_id, None)
            else:
                self.last_offered[staff_id] = last
            for key in self._keys.get(staff_id, ()):
                pool = self._pools.get(key)
                if pool is not None and staff_id in pool:
                    member = pool.pop(staff_id)
                    pool[staff_id] = member
                    self._place(pool, staff_id)

    def leads(self, now: float, language: str, n: int, loads: Mapping[str, int]) -> list[Target]:
        """Leads and managers to escalate to: available ones outside quiet hours first
        (speaking the language, least loaded, longest idle); else leads off shift but not in
        quiet hours; else, so that an escalation is never silent, any lead who can be
        notified at all."""
        self.advance(now)

        def notifiable(s: StaffMember) -> bool:
            return self._targets.get(s.id) is not None

        def quiet(s: StaffMember) -> bool:
            return self._state.get(s.id, (False, False))[1]

        pool: Mapping[str, StaffMember] = self._pools.get((_LEADS, _ANY), {})
        tiers = (
            [s for s in pool.values() if notifiable(s) and not quiet(s)],
            [s for s in self.roster.leads() if notifiable(s) and not quiet(s)],
            [s for s in self.roster.leads() if notifiable(s)],
        )
        ranked = next((t for t in tiers if t), [])
        ranked.sort(key=lambda s: (language not in s.languages, loads.get(s.id, 0),
                                   self.last_offered.get(s.id, -math.inf)))
        out: list[Target] = []
        for s in ranked[:n]:
            target = self._targets[s.id]
            assert target is not None
            out.append(target)
        return out


def wave_size(route: Route, notify_limit: int) -> int:
    return notify_limit if route.wave_size is None else route.wave_size
