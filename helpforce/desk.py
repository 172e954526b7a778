"""The desk: the one place where a question's state changes.

Each inbound batch from an adapter is one store step: the state changes it causes, their
events, the outbox rows they produce and the adapter's cursor are committed together. Staff are
recognised only by (platform, immutable user id) in the roster; anyone else is a customer, even
when they type ``/claim``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from helpforce import reach, texts
from helpforce.adapter import Capabilities
from helpforce.clock import Clock
from helpforce.commands import HELP, Command, UnknownCommand, parse_action, parse_command
from helpforce.config.routing import Route, Strategy
from helpforce.models import (
    CLAIMABLE_STATES,
    CUSTOMER_FACING_KINDS,
    HELD_STATES,
    LOAD_STATES,
    TRANSITIONS,
    Button,
    Event,
    EventKind,
    Inbound,
    InboundKind,
    Outgoing,
    Role,
    State,
    Visibility,
    check_transition,
)
from helpforce.policy import CheckContext, PolicyEngine, Verdict
from helpforce.routing import STATUSES, Router, wave_size
from helpforce.schedule import describe_local, next_open
from helpforce.store import Row, Store, Tx, save_cursor
from helpforce.tagging import Tagger

if TYPE_CHECKING:
    from helpforce.config import Config
    from helpforce.config.schema import StaffMember

log = logging.getLogger(__name__)

Observer = Callable[[Event], None]


@dataclass(slots=True)
class Q:
    """A question row as the desk works on it within one step."""

    id: int
    platform: str
    customer_id: str
    customer_handle: str
    conversation: str
    thread: str | None
    visibility: str
    root_message: str
    state: State
    claimed_by: str | None
    first_answer_at: float | None
    last_answer_by: str | None
    dm_conversation: str | None
    created_at: float
    resolved_at: float | None
    tags: tuple[str, ...] = ()
    language: str | None = None
    route: str | None = None
    #: payload of the link the customer has yet to open; private messages wait for it
    dm_link: str | None = None

    @classmethod
    def from_row(cls, r: Row) -> Q:
        return cls(
            id=r["id"],
            platform=r["platform"],
            customer_id=r["customer_id"],
            customer_handle=r["customer_handle"],
            conversation=r["conversation"],
            thread=r["thread"],
            visibility=r["visibility"],
            root_message=r["root_message"],
            state=State(r["state"]),
            claimed_by=r["claimed_by"],
            first_answer_at=r["first_answer_at"],
            last_answer_by=r["last_answer_by"],
            dm_conversation=r["dm_conversation"],
            created_at=r["created_at"],
            resolved_at=r["resolved_at"],
            tags=tuple(json.loads(r["tags"])),
            language=r["language"],
            route=r["route"],
            dm_link=r["dm_link"],
        )


@dataclass(slots=True)
class _Step:
    """Per-step caches, kept true by the step's own writes."""

    tx: Tx
    now: float
    questions: dict[int, Q] = field(default_factory=dict)
    #: (platform, customer id) -> latest question id (None: known to have none)
    latest: dict[tuple[str, str], int | None] = field(default_factory=dict)
    #: (platform, platform message id) -> (question id, direction, author id)
    messages: dict[tuple[str, str], tuple[int | None, str, str | None]] = field(
        default_factory=dict
    )
    loads: dict[str, int] | None = None
    #: timers to write (insert or replace) before the step ends
    timers: list[dict[str, Any]] = field(default_factory=list)
    #: questions with private messages held in this step (waiting for the customer to open
    #: the private chat)
    held: set[int] = field(default_factory=set)


class Desk:
    def __init__(
        self,
        store: Store,
        config: Config,
        policy: PolicyEngine,
        clock: Clock,
        capabilities: dict[str, Capabilities],
    ) -> None:
        self.store = store
        #: replaced as a whole on a config reload; each step reads it once
        self.config = config
        self.policy = policy
        self.clock = clock
        self.capabilities = capabilities
        self.observers: list[Observer] = []
        self.on_outbox: Callable[[str], None] = lambda platform: None
        #: the outbox's view of messages sent but not yet recorded: (platform, id) -> row
        self.unrecorded: Callable[[str, str], int | None] = lambda platform, pmid: None
        #: set by the App once the outbox has caught up after a restart; until then the
        #: sinks hold platform events back (adapters may already be connected)
        self.ready = asyncio.Event()
        #: told the due time of every timer a committed step set (the timer loop's wake)
        self.on_timer: Callable[[float], None] = lambda due: None
        self.router = Router(config.roster, capabilities)
        self.tagger = Tagger(config.routing, _languages(config))
        self._routing_for = config
        self.reach = reach.ReachCache(
            on_change=lambda p, u, ok: self._routing().reach_changed(p, u, ok))

    async def open(self) -> None:
        """Read what staff said about themselves (/on, /away, /off) before the first step;
        offboard staff who left the roster while the desk was down."""
        for r in await self.store.fetchall("SELECT staff_id, status FROM presence"):
            if r[1] in STATUSES:
                self.router.status[r[0]] = r[1]
        # staff accounts that refused a private message are not notified there
        for r in await self.store.fetchall(
            "SELECT platform, user_id FROM dm_reach WHERE reachable = 0"
        ):
            if self.config.roster.by_account(r[0], r[1]) is not None:
                self.reach.put(r[0], r[1], False)
        # a roster edit made while the daemon was stopped is no live edit: their claims are
        # offered again now, as a reload would have
        gone = sorted({str(r[0]) for r in await self.store.fetchall(
            "SELECT DISTINCT claimed_by FROM questions WHERE state = ? "
            "AND claimed_by IS NOT NULL", (State.CLAIMED.value,),
        )} - {s.id for s in self.config.roster.staff})
        if gone:
            async def offboard(tx: Tx) -> None:
                st = _Step(tx, self.clock.now())
                for staff_id in gone:
                    await self._offboard(st, staff_id)
                await self._write_timers(st)

            await self.store.transaction(offboard)
            log.info("offboarded %d staff no longer on the roster", len(gone))

    def _routing(self) -> Router:
        """The router for the configuration in force (rebuilt when it was replaced)."""
        if self._routing_for is not self.config:
            old = self.router
            self.router = Router(self.config.roster, self.capabilities, old.status,
                                 old.last_offered, old.refused)
            self.tagger = Tagger(self.config.routing, _languages(self.config))
            self._routing_for = self.config
        return self.router

    def _route(self, q: Q) -> Route:
        routing = self.config.routing
        for r in routing.routes:
            if r.name == q.route:
                return r
        # the route was renamed or removed by a reload: match again
        return routing.route_for(q.platform, frozenset(q.tags), q.language or "")

    # -- the inbound sink ------------------------------------------------------------------

    def sink_for(self, platform: str) -> Callable[[Sequence[Inbound], str | None], Any]:
        async def sink(batch: Sequence[Inbound], cursor: str | None) -> None:
            await self.ingest(platform, batch, cursor)

        return sink

    async def ingest(self, platform: str, batch: Sequence[Inbound], cursor: str | None) -> None:
        """Commit a batch of platform events and the cursor that confirms them.

        Waits until the desk is ready (see :attr:`ready`).

        A batch that fails as a whole (a bug meeting a surprising event) is retried one event
        per step, so one bad event is recorded as such and never blocks or loses the others.
        """
        await self.ready.wait()
        if not batch:
            if cursor is not None:
                await self.store.transaction(lambda tx: self._cursor_only(tx, platform, cursor))
            return
        try:
            await self.store.transaction(lambda tx: self._ingest_step(tx, platform, batch, cursor))
            return
        except Exception:
            if len(batch) == 1:
                await self._record_failure(platform, batch[0], cursor)
                return
            log.exception(
                "%s: batch of %d events failed; retrying one by one", platform, len(batch)
            )
        for i, event in enumerate(batch):
            last = i == len(batch) - 1
            try:
                await self.store.transaction(
                    partial(self._ingest_one, platform=platform, event=event,
                            cursor=cursor if last else None)
                )
            except Exception:
                await self._record_failure(platform, event, cursor if last else None)

    async def _ingest_one(
        self, tx: Tx, platform: str, event: Inbound, cursor: str | None
    ) -> None:
        await self._ingest_step(tx, platform, [event], cursor)

    async def _cursor_only(self, tx: Tx, platform: str, cursor: str) -> None:
        await save_cursor(tx, platform, cursor, self.clock.now())

    async def _record_failure(self, platform: str, event: Inbound, cursor: str | None) -> None:
        log.exception("%s: event %s could not be handled", platform, event.message_id)

        async def step(tx: Tx) -> None:
            now = self.clock.now()
            await tx.execute(
                "INSERT OR IGNORE INTO inbound (platform, message_id, received_at) VALUES (?,?,?)",
                (platform, event.message_id, now),
            )
            tx.insert(
                "events",
                {
                    "question_id": None,
                    "at": now,
                    "kind": EventKind.ESCALATED.value,
                    "actor": event.author.key,
                    "platform": platform,
                    "data": json.dumps(
                        {"reason": "event could not be handled", "message_id": event.message_id}
                    ),
                },
            )
            if cursor is not None:
                await save_cursor(tx, platform, cursor, now)

        await self.store.transaction(step)

    async def _ingest_step(
        self, tx: Tx, platform: str, batch: Sequence[Inbound], cursor: str | None
    ) -> None:
        st = _Step(tx, self.clock.now())
        # one query for duplicates of the whole batch
        ids = [e.message_id for e in batch]
        seen = {
            r[0]
            for r in await tx.fetchall(
                f"SELECT message_id FROM inbound WHERE platform = ? AND message_id IN "
                f"({','.join('?' * len(ids))})",
                (platform, *ids),
            )
        }
        fresh: list[Inbound] = []
        for e in batch:
            if e.message_id in seen:
                continue
            seen.add(e.message_id)
            fresh.append(e)
            tx.insert(
                "inbound", {"platform": platform, "message_id": e.message_id, "received_at": st.now}
            )
        await self._prefetch(st, platform, fresh)
        for e in fresh:
            if e.visibility is Visibility.PRIVATE and e.kind is not InboundKind.EDIT and (
                _links(self.capabilities.get(platform, Capabilities()))
                or self.config.roster.by_account(platform, e.author.user_id) is not None
            ):
                # they wrote to us privately: private messages reach them (remembered for
                # staff, and for customers where a bot cannot write first)
                known = self.reach.get(platform, e.author.user_id)
                await reach.mark(tx, self.reach, platform, e.author.user_id, True, st.now)
                if known is not True and e.kind is not InboundKind.START and \
                        self.config.roster.by_account(platform, e.author.user_id) is None:
                    await self._opened_otherwise(st, platform, e.author.user_id,
                                                 e.author.key)
            await self._handle(st, e)
        await self._write_timers(st)
        if cursor is not None:
            await save_cursor(tx, platform, cursor, st.now)

    async def _prefetch(self, st: _Step, platform: str, batch: Sequence[Inbound]) -> None:
        roster = self.config.roster
        customers = {
            e.author.user_id
            for e in batch
            if roster.by_account(platform, e.author.user_id) is None
        }
        replies = {e.reply_to for e in batch if e.reply_to}
        if replies:
            rows = await st.tx.fetchall(
                "SELECT platform_message_id, question_id, direction, author_id FROM messages "
                f"WHERE platform = ? AND platform_message_id IN ({','.join('?' * len(replies))})",
                (platform, *replies),
            )
            for r in rows:
                st.messages[(platform, r[0])] = (r[1], r[2], r[3])
            for pmid in replies:
                st.messages.setdefault((platform, pmid), (None, "", None))
        if customers:
            rows = await st.tx.fetchall(
                "SELECT * FROM questions WHERE id IN (SELECT MAX(id) FROM questions "
                f"WHERE platform = ? AND customer_id IN ({','.join('?' * len(customers))}) "
                "GROUP BY customer_id)",
                (platform, *customers),
            )
            for c in customers:
                st.latest[(platform, c)] = None
            for r in rows:
                q = Q.from_row(r)
                st.questions[q.id] = q
                st.latest[(platform, q.customer_id)] = q.id

    # -- dispatch ----------------------------------------------------------------------------

    async def _handle(self, st: _Step, e: Inbound) -> None:
        staff = self.config.roster.by_account(e.platform, e.author.user_id)
        if e.kind is InboundKind.ACTION:
            await self._action(st, e, staff)
        elif e.kind is InboundKind.START:
            await self._opened(st, e)
        elif e.kind in (InboundKind.EDIT, InboundKind.DELETE):
            # an edit or deletion never rewrites what was received: it is recorded, not applied
            ref = await self._message_ref(st, e.platform, e.reply_to or e.message_id)
            self._event(
                st,
                ref[0] if ref else None,
                EventKind.IGNORED,
                actor=e.author.key,
                platform=e.platform,
                reason=f"customer {e.kind.value} recorded, not applied",
                message_id=e.message_id,
            )
        elif staff is not None:
            await self._staff_message(st, e, staff)
        elif self._is_staff_channel(e):
            # the staff channel is not a place customers ask; someone not on the roster wrote
            self._event(st, None, EventKind.IGNORED, actor=e.author.key, platform=e.platform,
                        reason="message in the staff channel from someone not on the roster",
                        message_id=e.message_id)
        else:
            await self._customer_message(st, e)

    async def _message_ref(
        self, st: _Step, platform: str, pmid: str
    ) -> tuple[int | None, str, str | None] | None:
        key = (platform, pmid)
        if key not in st.messages or not st.messages[key][1]:
            r = await st.tx.fetchone(
                "SELECT question_id, direction, author_id FROM messages "
                "WHERE platform = ? AND platform_message_id = ?",
                key,
            )
            if r is None and (row := self.unrecorded(platform, pmid)) is not None:
                # sent a moment ago; the outbox has not recorded its platform id yet
                r = await st.tx.fetchone(
                    "SELECT question_id, direction, author_id FROM messages WHERE id = ?", (row,)
                )
            st.messages[key] = (r[0], r[1], r[2]) if r else (None, "", None)
        ref = st.messages[key]
        return ref if ref[1] else None

    async def _question(self, st: _Step, qid: int) -> Q | None:
        if qid not in st.questions:
            r = await st.tx.fetchone("SELECT * FROM questions WHERE id = ?", (qid,))
            if r is None:
                return None
            st.questions[qid] = Q.from_row(r)
        return st.questions[qid]

    # -- customers ---------------------------------------------------------------------------

    async def _customer_message(self, st: _Step, e: Inbound) -> None:
        q: Q | None = None
        if e.reply_to:
            ref = await self._message_ref(st, e.platform, e.reply_to)
            if ref and ref[0] is not None:
                cand = await self._question(st, ref[0])
                if cand is not None and cand.customer_id == e.author.user_id:
                    q = cand
        if q is None:
            key = (e.platform, e.author.user_id)
            if key not in st.latest:
                r = await st.tx.fetchone(
                    "SELECT * FROM questions WHERE platform = ? AND customer_id = ? "
                    "ORDER BY id DESC LIMIT 1",
                    key,
                )
                st.latest[key] = None
                if r is not None:
                    st.questions[r["id"]] = Q.from_row(r)
                    st.latest[key] = r["id"]
            latest = st.latest[key]
            if latest is not None:
                q = st.questions[latest]
        window = self.config.settings.desk.reopen_window
        if q is not None and q.state is State.RESOLVED:
            if q.resolved_at is None or st.now - q.resolved_at > window:
                q = None
        verdict = self.policy.check(
            e.text,
            CheckContext("in", e.visibility.value, e.platform, "customer", audience="staff"),
        )
        if verdict.redacted is not None:
            # staff (and the store) see the customer's own private data masked
            e = replace(e, text=verdict.redacted)
        if q is None:
            q = await self._new_question(st, e)
        else:
            await self._followup(st, q, e)
        if verdict.action.value != "allow":
            self._record_verdict(st, q.id, verdict, e.author.key)
        if verdict.stops and q.dm_conversation is None:
            await self._customer_to_dm(st, q, e, verdict)

    async def _customer_to_dm(self, st: _Step, q: Q, e: Inbound, verdict: Verdict) -> None:
        """A customer posted private data in public: a short public reply, a private message
        to continue in, and the question's answers go private from now on."""
        caps = self.capabilities.get(q.platform, Capabilities())
        if not caps.dms:
            self._event(st, q.id, EventKind.ESCALATED,
                        reason=f"customer posted private data; {q.platform} cannot move to DM")
            return
        link = await self._link_for(st, q)
        reply = verdict.suggestion or "For your privacy, we'll continue in a private message."
        if link is not None:
            reply = texts.moved_public_link(q.customer_handle, "", start=caps.deep_links)
        self._enqueue(
            st, q.id,
            Outgoing(q.platform, e.conversation, reply, Visibility.PUBLIC, reply_to=e.message_id,
                     thread=e.thread, deep_link=link),
            kind="moved_public", role="bot",
        )
        brand = self.config.settings.desk.brand
        self._enqueue(
            st, q.id,
            Outgoing(q.platform, f"dm:{q.customer_id}", texts.dm_opener(q.customer_handle, brand),
                     Visibility.PRIVATE, dm_user=q.customer_id),
            kind="dm", role="bot",
        )
        q.dm_conversation = f"dm:{q.customer_id}"
        await st.tx.execute(
            "UPDATE questions SET dm_conversation = ? WHERE id = ?", (q.dm_conversation, q.id)
        )
        self._event(st, q.id, EventKind.MOVED_TO_DM, actor=None, platform=q.platform,
                    reason=verdict.rule_id, **({"via": "link"} if link else {}))

    async def _link_for(self, st: _Step, q: Q) -> str | None:
        """The payload of the link the customer must open before we can write privately, on
        platforms where a bot cannot write first; None when private messages can go now."""
        caps = self.capabilities.get(q.platform, Capabilities())
        if not _links(caps):
            return None
        if q.visibility != Visibility.PUBLIC.value:
            return None  # they asked privately: the private chat is open
        if caps.dm_link_fallback and not caps.deep_links and q.dm_link is None \
                and self.reach.get(q.platform, q.customer_id) is not False:
            return None  # try the private message; a refusal brings the link (delivery_failed)
        if await reach.reachable(st.tx, self.reach, q.platform, q.customer_id):
            if q.dm_link is not None:
                await self._release_held(st, q, f"{q.platform}:{q.customer_id}")
            return None
        if q.dm_link is not None:
            return q.dm_link
        q.dm_link = await reach.create_link(st.tx, q.id, q.platform, q.customer_id, st.now)
        await st.tx.execute("UPDATE questions SET dm_link = ? WHERE id = ?", (q.dm_link, q.id))
        return q.dm_link

    async def _opened(self, st: _Step, e: Inbound) -> None:
        """Someone opened a private chat with us through a link (Telegram's /start PAYLOAD).
        Its customer gets the private messages held for them and the conversation continues
        on the question; anyone else (the link was public in a group) changes nothing."""
        brand = self.config.settings.desk.brand
        link = await reach.find_link(st.tx, e.platform, e.data or "")
        if link is None or link.customer_id != e.author.user_id:
            if link is None:
                reply, why = texts.link_unknown(brand), "a private chat opened with an unknown link"
            else:
                reply = texts.link_not_yours(brand)
                why = "a link opened by someone other than the customer it was made for"
            self._event(st, link.question_id if link else None, EventKind.IGNORED,
                        actor=e.author.key, platform=e.platform, reason=why,
                        message_id=e.message_id)
            self._enqueue(
                st, None,
                Outgoing(e.platform, e.conversation, reply, Visibility.PRIVATE,
                         dm_user=e.author.user_id),
                kind="notice", role="bot",
            )
            return
        if link.opened_at is None:
            await st.tx.execute("UPDATE deep_links SET opened_at = ? WHERE token = ?",
                                (st.now, link.token))
        q = await self._question(st, link.question_id)
        if q is not None and q.dm_link is not None:
            # this link or an older one of theirs: either way the private chat is open now
            await self._release_held(st, q, e.author.key)
        # else opened before (Start pressed again): the chat is already bound

    async def _release_held(self, st: _Step, q: Q, actor: str) -> None:
        """The customer's private chat is open: the private messages held for it go out."""
        q.dm_link = None
        await st.tx.execute("UPDATE questions SET dm_link = NULL WHERE id = ?", (q.id,))
        released = await st.tx.execute(
            "UPDATE outbox SET state = 'pending', due_at = ? "
            "WHERE question_id = ? AND state = 'held'",
            (st.now, q.id),
        )
        platform = q.platform
        st.tx.after_commit(lambda: self.on_outbox(platform))
        self._event(st, q.id, EventKind.DM_OPENED, actor=actor, platform=q.platform,
                    released=released)
        if released and q.first_answer_at is None and q.last_answer_by is not None:
            # a held answer counts as the first response once it can be delivered
            q.first_answer_at = st.now
            await st.tx.execute("UPDATE questions SET first_answer_at = ? WHERE id = ?",
                                (st.now, q.id))
            await self._clear_timers(st, q.id, "first_response", "first_response_leads")
        holder = self.config.roster.get(q.claimed_by or q.last_answer_by or "")
        if holder is not None:
            self._notify_staff(st, holder, q, texts.link_opened(q.id, q.customer_handle))

    async def _opened_otherwise(self, st: _Step, platform: str, customer_id: str,
                                actor: str) -> None:
        """A customer with a link outstanding wrote to us privately without it (a bare
        Start, or found the bot): their chat is open all the same."""
        rows = await st.tx.fetchall(
            "SELECT id FROM questions WHERE platform = ? AND customer_id = ? "
            "AND dm_link IS NOT NULL", (platform, customer_id),
        )
        for r in rows:
            q = await self._question(st, int(r[0]))
            if q is not None and q.dm_link is not None:
                await self._release_held(st, q, actor)

    def _store_inbound(self, st: _Step, qid: int, e: Inbound, kind: str) -> None:
        mid = st.tx.new_id("messages")
        st.tx.insert(
            "messages",
            {
                "id": mid,
                "question_id": qid,
                "platform": e.platform,
                "platform_message_id": e.message_id,
                "conversation": e.conversation,
                "thread": e.thread,
                "direction": "in",
                "visibility": e.visibility.value,
                "kind": kind,
                "author_id": e.author.user_id,
                "staff_id": None,
                "text": e.text,
                "reply_to": e.reply_to,
                "at": e.at or st.now,
            },
        )
        st.messages[(e.platform, e.message_id)] = (qid, "in", e.author.user_id)

    async def _new_question(self, st: _Step, e: Inbound) -> Q:
        # read what fan-out needs first: nothing may be flushed between the offer's rows and
        # the question row they reference (foreign keys are checked at once)
        await self._loads(st)
        self._routing()
        kind = self.tagger.classify(e.platform, e.conversation, e.text)
        tags = tuple(sorted(kind.tags))
        route = self.config.routing.route_for(e.platform, kind.tags, kind.language)
        qid = st.tx.new_id("questions")
        q = Q(
            id=qid,
            platform=e.platform,
            customer_id=e.author.user_id,
            customer_handle=e.author.handle,
            conversation=e.conversation,
            thread=e.thread,
            visibility=e.visibility.value,
            root_message=e.message_id,
            state=State.NEW,
            claimed_by=None,
            first_answer_at=None,
            last_answer_by=None,
            dm_conversation=e.conversation if e.visibility is Visibility.PRIVATE else None,
            created_at=st.now,
            resolved_at=None,
            tags=tags,
            language=kind.language,
            route=route.name,
        )
        st.questions[qid] = q
        st.latest[(e.platform, e.author.user_id)] = qid
        self._event(
            st,
            qid,
            EventKind.RECEIVED,
            actor=e.author.key,
            platform=e.platform,
            message_id=e.message_id,
            visibility=e.visibility.value,
            tags=list(tags),
            language=kind.language,
            language_source=kind.language_source,
            route=route.name,
        )
        # fan out before the insert, so the row goes in once with its final state
        await self._offer(st, q, e.text, fresh=True)
        st.tx.insert(
            "questions",
            {
                "id": qid,
                "platform": q.platform,
                "customer_id": q.customer_id,
                "customer_handle": q.customer_handle,
                "conversation": q.conversation,
                "thread": q.thread,
                "visibility": q.visibility,
                "root_message": q.root_message,
                "state": q.state.value,
                "claimed_by": None,
                "claimed_at": None,
                "first_answer_at": None,
                "last_answer_by": None,
                "dm_conversation": q.dm_conversation,
                "created_at": st.now,
                "updated_at": st.now,
                "resolved_at": None,
                "tags": json.dumps(list(tags)),
                "language": kind.language,
                "route": route.name,
            },
        )
        self._store_inbound(st, qid, e, "question")
        await self._deadlines(st, q, route)
        return q

    def _rearm(self, st: _Step, q: Q, reopened: bool) -> None:
        """A follow-up after an answer (or on a resolved question) waits for a response: set
        the response deadline unless one is already running (a customer writing again must
        not postpone it), and on reopening the resolution deadline too."""
        route = self._route(q)
        if route.first_response is not None:
            self._set_timer(st, q.id, "first_response", st.now + route.first_response,
                            keep=True)
        if reopened and route.resolution is not None:
            self._set_timer(st, q.id, "resolution", st.now + route.resolution, keep=True)

    async def _deadlines(self, st: _Step, q: Q, route: Route) -> None:
        """SLA timers of a new question; outside business hours, the clock starts when the
        desk opens, and the customer is told when to expect an answer."""
        routing = self.config.routing
        opens = next_open(routing.business_hours, routing.timezone, st.now)
        start = st.now if opens is None else max(opens, st.now)
        if opens is not None and opens > st.now:
            expect = start + (route.first_response or 0.0)
            text = texts.after_hours(
                self.config.settings.desk.brand,
                describe_local(opens, routing.timezone),
                describe_local(expect, routing.timezone),
            )
            private = q.dm_conversation is not None
            self._enqueue(st, q.id, await self._to_customer(st, q, text, private),
                          kind="ack", role="bot")
            self._event(st, q.id, EventKind.ACKNOWLEDGED, opens_at=opens, expect_by=expect)
        if route.first_response is not None:
            self._set_timer(st, q.id, "first_response", start + route.first_response,
                            fresh=True)
        if route.resolution is not None:
            self._set_timer(st, q.id, "resolution", start + route.resolution, fresh=True)

    async def _followup(self, st: _Step, q: Q, e: Inbound) -> None:
        self._store_inbound(st, q.id, e, "followup")
        self._event(
            st, q.id, EventKind.FOLLOWUP, actor=e.author.key, platform=e.platform,
            message_id=e.message_id, visibility=e.visibility.value,
        )
        if e.visibility is Visibility.PRIVATE and q.dm_conversation != e.conversation:
            q.dm_conversation = e.conversation
            await st.tx.execute(
                "UPDATE questions SET dm_conversation = ? WHERE id = ?", (e.conversation, q.id)
            )
        # the customer waits for a response again: the deadlines apply again (a deadline
        # already running stays as it is; an unclaimed question, released after its answer
        # say, gets one too, or nobody would be told it waits)
        self._rearm(st, q, reopened=q.state is State.RESOLVED)
        if q.state is State.RESOLVED:
            holder = self.config.roster.get(q.last_answer_by) if q.last_answer_by else None
            self._event(st, q.id, EventKind.REOPENED, actor=e.author.key, platform=e.platform)
            if holder is not None:
                await self._set(st, q, State.CLAIMED, claimed_by=holder.id, resolved_at=None)
                self._notify_staff(st, holder, q, texts.followup(q.id, q.customer_handle, e.text))
            else:
                await self._set(st, q, State.NEW, claimed_by=None, resolved_at=None)
                await self._offer(st, q, e.text)
                await self._save_state(st, q)
        elif q.state in HELD_STATES and q.claimed_by:
            holder = self.config.roster.get(q.claimed_by)
            if q.state is not State.CLAIMED:
                await self._set(st, q, State.CLAIMED)
            if holder is not None:
                self._notify_staff(st, holder, q, texts.followup(q.id, q.customer_handle, e.text))
            else:
                # the holder left the roster: offer it again
                await self._set(st, q, State.OFFERED, claimed_by=None)
                await self._offer(st, q, e.text)
                await self._save_state(st, q)
        # unclaimed questions are already offered: the follow-up waits for the claimer

    # -- fan-out -----------------------------------------------------------------------------

    async def _loads(self, st: _Step) -> dict[str, int]:
        if st.loads is None:
            # only questions waiting for the claimer's reply count: answered ones, and those
            # waiting on the customer, do not keep anyone from taking more
            busy = ",".join(f"'{s.value}'" for s in LOAD_STATES)
            rows = await st.tx.fetchall(
                f"SELECT claimed_by, COUNT(*) FROM questions WHERE state IN ({busy}) "
                "AND claimed_by IS NOT NULL GROUP BY claimed_by"
            )
            st.loads = {r[0]: r[1] for r in rows}
        return st.loads

    async def _offer(
        self, st: _Step, q: Q, text: str, *, wave: int = 1, exclude: Sequence[str] = (),
        fresh: bool = False,
    ) -> None:
        """Offer a question along its route: ``broadcast`` posts once in each staff channel
        (every available matching staff member sees it there); ``waves`` notifies the best
        matches directly, a few more every ``wave_interval`` while it stays unclaimed. Never
        one platform call per roster member. ``fresh``: the question row is not written yet."""
        cfg = self.config
        router = self._routing()
        route = self._route(q)
        language = q.language or cfg.routing.languages.default
        channels: list[str] = []
        if wave == 1 and (route.staff_channel or route.strategy is Strategy.BROADCAST):
            channels = self._post_offer(st, q, text)
        data: dict[str, Any] = {"wave": wave, "route": route.name}
        chosen: list[str] = []
        next_wave: tuple[float, int] | None = None
        if route.strategy is Strategy.BROADCAST and channels:
            data["audience"] = len(router.audience(st.now, q.tags, language))
        else:
            n = wave_size(route, cfg.settings.desk.notify_limit)
            pick = router.pick(st.now, q.tags, language, n, await self._loads(st), exclude,
                               route.fallback)
            bodies: dict[bool, str] = {}
            for t in pick.targets:
                caps = self.capabilities[t.platform]
                if caps.buttons not in bodies:
                    bodies[caps.buttons] = self._offer_text(st, q, text, caps.buttons)
                dm_buttons = (Button("Claim", f"claim:{q.id}"),) if caps.buttons else ()
                self._enqueue(
                    st, q.id,
                    Outgoing(t.platform, f"dm:{t.user_id}", bodies[caps.buttons],
                             Visibility.PRIVATE, buttons=dm_buttons, dm_user=t.user_id),
                    kind="offer", role="bot", audience="staff", staff_id=t.staff.id,
                )
                chosen.append(t.staff.id)
            before = {sid: router.last_offered.get(sid) for sid in chosen}
            router.offered(chosen, st.now)
            # fairness must not drift if this step rolls back: nobody was offered anything
            st.tx.on_rollback(lambda: router.unoffered(before))
            if pick.fallback:
                data["fallback"] = pick.fallback
            if wave < route.max_waves and n:
                next_wave = (st.now + route.wave_interval, wave + 1)
        seen = bool(chosen)
        if channels and not chosen:
            if "audience" not in data:
                data["audience"] = len(router.audience(st.now, q.tags, language))
            seen = data["audience"] > 0 or not wave_size(route, cfg.settings.desk.notify_limit)
        if channels or chosen:
            self._event(st, q.id, EventKind.OFFERED, channels=channels, staff=chosen, **data)
            # an escalated question stays visibly escalated while more staff are offered it
            if q.state not in (State.OFFERED, State.ESCALATED):
                check_transition(q.state, State.OFFERED)
                q.state = State.OFFERED
        if not seen and wave == 1:
            routing = cfg.routing
            opens = next_open(routing.business_hours, routing.timezone, st.now)
            if opens is not None and opens > st.now:
                # the desk is closed and nobody is on: offer again when it opens (the
                # customer has been told when to expect an answer)
                self._set_timer(st, q.id, "wave", opens, fresh=fresh, wave=1)
                if q.state not in (State.OFFERED, State.ESCALATED):
                    check_transition(q.state, State.OFFERED)
                    q.state = State.OFFERED
                return
            await self._escalate(st, q, "nobody available to offer it to", fresh=fresh)
        if next_wave is not None:
            self._set_timer(st, q.id, "wave", next_wave[0], fresh=fresh, wave=next_wave[1])

    def _offer_text(self, st: _Step, q: Q, text: str, buttons: bool) -> str:
        """The offer staff see: the question, its tags, its wait and its response deadline."""
        due: str | None = None
        first = self._route(q).first_response
        if first is not None and q.first_answer_at is None:
            routing = self.config.routing
            opens = next_open(routing.business_hours, routing.timezone, q.created_at)
            at = max(opens or q.created_at, q.created_at) + first
            if at > st.now:
                due = describe_local(at, routing.timezone)
        return texts.offer(q.id, q.platform, q.customer_handle, q.visibility, text, buttons,
                           tags=q.tags, age=st.now - q.created_at, due=due)

    def _post_offer(self, st: _Step, q: Q, text: str) -> list[str]:
        """One post per platform's staff channel; returns where it went."""
        channels: list[str] = []
        for platform, ps in self.config.enabled_platforms().items():
            if ps.staff_channel and platform in self.capabilities:
                caps = self.capabilities[platform]
                body = self._offer_text(st, q, text, caps.buttons)
                buttons: tuple[Button, ...] = (
                    (Button("Claim", f"claim:{q.id}"), Button("Details", f"details:{q.id}"))
                    if caps.buttons
                    else ()
                )
                self._enqueue(
                    st, q.id,
                    Outgoing(platform, ps.staff_channel, body, Visibility.PUBLIC, buttons=buttons),
                    kind="offer", role="bot", audience="staff",
                )
                channels.append(f"{platform}:{ps.staff_channel}")
        return channels

    async def _escalate(
        self, st: _Step, q: Q, why: str, *, fresh: bool = False, **data: Any
    ) -> None:
        """Make a question visibly a lead's problem: the best available leads are told
        directly (a bounded few), each staff channel gets one post, and an unheld question
        goes to the escalated state (still claimable by anyone)."""
        route = self._route(q)
        language = q.language or self.config.routing.languages.default
        loads = await self._loads(st) if not fresh else (st.loads or {})
        leads = self._routing().leads(st.now, language, route.escalate_to, loads)
        # being asked to step in counts as an offer: the next escalation asks other leads
        self._routing().offered([t.staff.id for t in leads], st.now)
        note = texts.escalation(q.id, q.platform, q.customer_handle, why)
        for t in leads:
            self._notify_staff(st, t.staff, q, note)
        channels = []
        for platform, ps in self.config.enabled_platforms().items():
            if ps.staff_channel and platform in self.capabilities:
                self._enqueue(st, q.id, Outgoing(platform, ps.staff_channel, note,
                                                 Visibility.PUBLIC),
                              kind="notice", role="bot", audience="staff")
                channels.append(f"{platform}:{ps.staff_channel}")
        if not leads and not channels:
            log.error("question %s escalated (%s) but no lead or staff channel can be told: "
                      "add a lead with an account to notify, or a staff channel", q.id, why)
        self._event(st, q.id, EventKind.ESCALATED, reason=why,
                    to=[t.staff.id for t in leads], channels=channels, **data)
        if q.claimed_by is None and q.state in (State.NEW, State.OFFERED):
            check_transition(q.state, State.ESCALATED)
            q.state = State.ESCALATED
            if not fresh:
                await self._save_state(st, q)

    def _notify_target(self, s: StaffMember) -> tuple[str, str] | None:
        t = self._routing().target(s)
        return None if t is None else (t.platform, t.user_id)

    # -- timers ------------------------------------------------------------------------------

    def _set_timer(
        self, st: _Step, qid: int, kind: str, due: float, *, fresh: bool = False,
        keep: bool = False, **data: Any
    ) -> None:
        """Set (or move) a question's timer of ``kind``. ``fresh``: the question is being
        created in this step, so the insert is buffered behind it. ``keep``: leave a timer of
        that kind that is already set as it is."""
        row = {"question_id": qid, "kind": kind, "due_at": due,
               "data": json.dumps(data, sort_keys=True), "keep": keep}
        if fresh:
            st.tx.insert("timers", {k: v for k, v in row.items() if k != "keep"})
        else:
            st.timers.append(row)
        st.tx.after_commit(lambda: self.on_timer(due))

    async def _clear_timers(self, st: _Step, qid: int, *kinds: str) -> None:
        st.timers[:] = [t for t in st.timers if t["question_id"] != qid
                        or (kinds and t["kind"] not in kinds)]
        if kinds:
            await st.tx.execute(
                f"DELETE FROM timers WHERE question_id = ? AND kind IN "
                f"({','.join('?' * len(kinds))})", (qid, *kinds),
            )
        else:
            await st.tx.execute("DELETE FROM timers WHERE question_id = ?", (qid,))

    async def _write_timers(self, st: _Step) -> None:
        if st.timers:
            rows, st.timers = st.timers, []
            for keep in (False, True):
                batch = [(t["question_id"], t["kind"], t["due_at"], t["data"])
                         for t in rows if t["keep"] is keep]
                if batch:
                    await st.tx.executemany(
                        f"INSERT OR {'IGNORE' if keep else 'REPLACE'} INTO timers "
                        "(question_id, kind, due_at, data) VALUES (?, ?, ?, ?)", batch,
                    )

    async def next_due(self) -> float | None:
        """When the earliest timer is due (None: no timer is set)."""
        r = await self.store.fetchone("SELECT MIN(due_at) FROM timers")
        return None if r is None or r[0] is None else float(r[0])

    async def fire_due(self, now: float) -> int:
        """Run every timer due by ``now``, in one store step (one by one if that fails, so a
        timer that cannot be handled is recorded and dropped, never retried forever)."""

        async def batch(tx: Tx) -> int:
            rows = await tx.fetchall(
                "SELECT question_id, kind, due_at, data FROM timers WHERE due_at <= ? "
                "ORDER BY due_at LIMIT 200", (now,),
            )
            await self._fire(tx, rows)
            return len(rows)

        try:
            return await self.store.transaction(batch)
        except Exception:
            log.exception("timers: a batch failed; firing one by one")
        rows = await self.store.fetchall(
            "SELECT question_id, kind, due_at, data FROM timers WHERE due_at <= ? "
            "ORDER BY due_at LIMIT 200", (now,),
        )
        for r in rows:
            try:
                await self.store.transaction(partial(self._fire, rows=[r]))
            except Exception:
                log.exception("timers: %s of question %s failed; dropped", r[1], r[0])

                async def drop(tx: Tx, r: Row = r) -> None:
                    await tx.execute("DELETE FROM timers WHERE question_id = ? AND kind = ?",
                                     (r[0], r[1]))
                    self._event(_Step(tx, self.clock.now()), r[0], EventKind.ESCALATED,
                                reason=f"the {r[1]} timer could not be handled")

                await self.store.transaction(drop)
        return len(rows)

    async def _fire(self, tx: Tx, rows: Sequence[Row]) -> None:
        st = _Step(tx, self.clock.now())
        if rows:
            await tx.executemany(
                "DELETE FROM timers WHERE question_id = ? AND kind = ? AND due_at = ?",
                [(r[0], r[1], r[2]) for r in rows],
            )
        handlers: dict[str, Callable[[_Step, Q, dict[str, Any]], Awaitable[None]]] = {
            "wave": self._on_wave,
            "lease_warning": self._on_lease_warning,
            "lease": self._on_lease,
            "first_response": self._on_first_response,
            "first_response_leads": self._on_first_response_leads,
            "resolution": self._on_resolution,
        }
        for r in rows:
            q = await self._question(st, r[0])
            handler = handlers.get(r[1])
            if q is None or handler is None:
                continue
            await handler(st, q, json.loads(r[3]))
        await self._write_timers(st)

    async def _root_text(self, st: _Step, q: Q) -> str:
        root = await st.tx.fetchone(
            "SELECT text FROM messages WHERE platform = ? AND platform_message_id = ?",
            (q.platform, q.root_message),
        )
        return str(root[0]) if root else ""

    async def _on_wave(self, st: _Step, q: Q, data: dict[str, Any]) -> None:
        if q.claimed_by is not None or q.state not in CLAIMABLE_STATES:
            return
        wave = int(data.get("wave", 2))
        if wave == 1:  # deferred to the desk's opening: offered afresh
            await self._offer(st, q, await self._root_text(st, q))
            await self._save_state(st, q)
            return
        offered = [r[0] for r in await st.tx.fetchall(
            "SELECT DISTINCT staff_id FROM messages WHERE question_id = ? AND kind = 'offer' "
            "AND staff_id IS NOT NULL", (q.id,),
        )]
        await self._offer(st, q, await self._root_text(st, q), wave=wave, exclude=offered)
        await self._save_state(st, q)

    def _lease_holder(self, q: Q, data: dict[str, Any]) -> StaffMember | None:
        if q.state is not State.CLAIMED or q.claimed_by != data.get("staff"):
            return None
        return self.config.roster.get(q.claimed_by or "")

    async def _on_lease_warning(self, st: _Step, q: Q, data: dict[str, Any]) -> None:
        holder = self._lease_holder(q, data)
        if holder is None:
            return
        left = float(data.get("left", 0.0))
        self._notify_staff(st, holder, q, texts.lease_warning(q.id, left))
        self._event(st, q.id, EventKind.WARNED, to=[holder.id], reason="lease",
                    seconds_left=left)

    async def _on_lease(self, st: _Step, q: Q, data: dict[str, Any]) -> None:
        if q.state is not State.CLAIMED or q.claimed_by != data.get("staff"):
            return
        # released even if its holder has left the roster meanwhile (then nobody is told)
        staff_id = q.claimed_by or ""
        holder = self.config.roster.get(staff_id)
        self._event(st, q.id, EventKind.LEASE_EXPIRED, actor=None, staff=staff_id)
        await self._set(st, q, State.OFFERED, claimed_by=None)
        if st.loads is not None:
            st.loads[staff_id] = max(0, st.loads.get(staff_id, 0) - 1)
        if holder is not None:
            self._notify_staff(st, holder, q, texts.lease_expired(q.id))
        await self._offer(st, q, await self._root_text(st, q), exclude=[staff_id])
        await self._save_state(st, q)

    async def _on_first_response(self, st: _Step, q: Q, data: dict[str, Any]) -> None:
        # every answer clears this timer: if it fires, nobody has responded since it was set
        if q.state is State.RESOLVED:
            return
        route = self._route(q)
        target = texts._minutes(route.first_response or 0.0)
        what = "first response" if q.first_answer_at is None else "response to a follow-up"
        why = f"no {what} within {target}"
        holder = self.config.roster.get(q.claimed_by) if q.claimed_by else None
        if holder is None:
            await self._escalate(st, q, why, sla="first_response")
            return
        self._notify_staff(st, holder, q, texts.sla_warning(q.id, why, route.escalation_grace))
        self._event(st, q.id, EventKind.WARNED, to=[holder.id], reason=why,
                    sla="first_response")
        self._set_timer(st, q.id, "first_response_leads", st.now + route.escalation_grace)

    async def _on_first_response_leads(self, st: _Step, q: Q, data: dict[str, Any]) -> None:
        if q.state is State.RESOLVED:
            return
        route = self._route(q)
        held = f", held by {q.claimed_by}" if q.claimed_by else ""
        what = "first response" if q.first_answer_at is None else "response to a follow-up"
        why = (f"no {what} within {texts._minutes(route.first_response or 0.0)} "
               f"and {texts._minutes(route.escalation_grace)} more{held}")
        await self._escalate(st, q, why, sla="first_response")

    async def _on_resolution(self, st: _Step, q: Q, data: dict[str, Any]) -> None:
        if q.state is State.RESOLVED:
            return
        route = self._route(q)
        why = f"not resolved within {texts._minutes(route.resolution or 0.0)}"
        await self._escalate(st, q, why, sla="resolution")

    # -- staff -------------------------------------------------------------------------------

    async def _staff_message(self, st: _Step, e: Inbound, staff: StaffMember) -> None:
        try:
            cmd = parse_command(e.text)
        except UnknownCommand as exc:
            self._reply(st, e, f"{exc}. {HELP}")
            return
        ref = await self._message_ref(st, e.platform, e.reply_to) if e.reply_to else None
        ref_q = ref[0] if ref else None
        if cmd is not None:
            if cmd.question_id is None and ref_q is not None:
                cmd = Command(cmd.name, ref_q, cmd.text)
            await self._command(st, e, staff, cmd)
            return
        if ref is not None and ref_q is not None:
            q = await self._question(st, ref_q)
            if q is not None and e.visibility is Visibility.PUBLIC and ref[1] == "out" \
                    and e.conversation == q.conversation and not self._is_staff_channel(e) \
                    and not self._is_notification(e, q):
                # a public reply in the customer's own conversation (to our answer, or to a
                # colleague's): already public, so it is a direct answer, never re-sent
                await self._direct_answer(st, e, staff, q)
                return
            if ref[1] == "out":
                # a reply to one of our notifications: plain text answers the question
                await self._command(st, e, staff, Command("answer", ref_q, e.text))
                return
            if q is not None and ref[2] == q.customer_id and e.visibility is Visibility.PUBLIC:
                await self._direct_answer(st, e, staff, q)
                return
        if e.visibility is Visibility.PRIVATE:
            self._reply(st, e, HELP)
            return
        if self._is_staff_channel(e):
            return  # staff talking among themselves

        # staff writing in a customer channel, not replying to anyone: they are a customer here
        await self._customer_message(st, e)

    def _is_notification(self, e: Inbound, q: Q) -> bool:
        """``e`` is where staff get notified about ``q`` (a question's thread on a staff post
        lives in the staff channel; a customer's thread is theirs)."""
        return e.thread is not None and e.thread != q.thread

    def _is_staff_channel(self, e: Inbound) -> bool:
        ps = self.config.enabled_platforms().get(e.platform)
        return bool(ps and ps.staff_channel == e.conversation)

    async def _action(self, st: _Step, e: Inbound, staff: StaffMember | None) -> None:
        cmd = parse_action(e.data or "")
        if staff is None:
            self._event(
                st, cmd.question_id if cmd else None, EventKind.IGNORED, actor=e.author.key,
                platform=e.platform, reason="button pressed by someone not on the roster",
            )
            self._enqueue(st, None, self._to_presser(e, texts.not_staff()),
                          kind="notice", role="bot", audience="customer")
            return
        if cmd is None:
            self._private_notice(st, e, staff, None, "That button has expired.")
            return
        await self._command(st, e, staff, cmd)

    def _to_presser(self, e: Inbound, text: str) -> Outgoing:
        """A private word to whoever pressed a button: seen by them alone where the platform
        can (an ephemeral reply), else a private message."""
        if self.capabilities.get(e.platform, Capabilities()).ephemeral:
            return Outgoing(e.platform, e.conversation, text, Visibility.PRIVATE,
                            reply_to=e.message_id)
        return Outgoing(e.platform, f"dm:{e.author.user_id}", text, Visibility.PRIVATE,
                        dm_user=e.author.user_id)

    async def _command(self, st: _Step, e: Inbound, staff: StaffMember, cmd: Command) -> None:
        if cmd.name == "help":
            self._reply(st, e, HELP)
            return
        if cmd.name == "queue":
            await self._queue(st, e, staff)
            return
        if cmd.name == "stats":
            from helpforce.recognition import render_stats, staff_stats

            # a read of what is committed (the report's own counting), told privately
            stats = await staff_stats(self.store, staff.id, st.now, self.config)
            self._private_notice(st, e, staff, None, render_stats(stats))
            return
        if cmd.name in STATUSES:
            await self._status(st, e, staff, cmd.name)
            return
        if cmd.question_id is None:
            self._reply(st, e, f"/{cmd.name} needs a question number, e.g. /{cmd.name} 12.")
            return
        q = await self._question(st, cmd.question_id)
        if q is None:
            self._reply(st, e, f"There is no question #{cmd.question_id}.")
            return
        handlers: dict[str, Callable[[_Step, Inbound, StaffMember, Q, str], Awaitable[None]]] = {
            "claim": self._claim,
            "release": self._release,
            "answer": self._answer,
            "ask": self._ask,
            "dm": self._move_to_dm,
            "note": self._note,
            "resolve": self._resolve,
            "transfer": self._transfer,
            "details": self._details,
            "send": self._send,
            "override": self._override,
            "takeover": self._takeover,
        }
        await handlers[cmd.name](st, e, staff, q, cmd.text)

    async def _try_claim(
        self, st: _Step, staff: StaffMember, q: Q, via: str | None = None
    ) -> bool:
        """The claim: one conditional UPDATE. Of many racing staff exactly one wins."""
        claimable = ",".join(f"'{s.value}'" for s in CLAIMABLE_STATES)
        won = await st.tx.execute(
            f"UPDATE questions SET state = 'claimed', claimed_by = ?, claimed_at = ?, "
            f"updated_at = ? WHERE id = ? AND claimed_by IS NULL AND state IN ({claimable})",
            (staff.id, st.now, st.now, q.id),
        )
        if won != 1:
            r = await st.tx.fetchone("SELECT * FROM questions WHERE id = ?", (q.id,))
            if r is not None:
                st.questions[q.id] = fresh = Q.from_row(r)
                q.state, q.claimed_by = fresh.state, fresh.claimed_by
            return False
        q.state, q.claimed_by = State.CLAIMED, staff.id
        if st.loads is not None:
            st.loads[staff.id] = st.loads.get(staff.id, 0) + 1
        # a claimed question needs no more offers: no wave left to fire and do nothing
        await self._clear_timers(st, q.id, "wave")
        self._start_lease(st, q)
        self._event(st, q.id, EventKind.CLAIMED, actor=staff.id, platform=via)
        await self._mark_offers_taken(st, q, staff)
        return True

    async def _refuse_claim(self, st: _Step, e: Inbound, staff: StaffMember, q: Q) -> None:
        if q.claimed_by and q.claimed_by != staff.id:
            holder = self.config.roster.get(q.claimed_by)
            name, initials = (holder.name, holder.initials) if holder else (q.claimed_by, "?")
            self._event(
                st, q.id, EventKind.CLAIM_REFUSED, actor=staff.id, platform=e.platform,
                held_by=q.claimed_by,
            )
            self._private_notice(st, e, staff, q.id, texts.held_by(q.id, name, initials))
        elif q.state is State.RESOLVED:
            self._private_notice(st, e, staff, q.id, f"#{q.id} is already resolved.")
        else:
            self._private_notice(st, e, staff, q.id, f"#{q.id} cannot be claimed now ({q.state}).")

    async def _claim(self, st: _Step, e: Inbound, staff: StaffMember, q: Q, _: str) -> None:
        if q.claimed_by == staff.id and q.state in HELD_STATES:
            self._private_notice(st, e, staff, q.id, f"You already hold #{q.id}.")
            return
        load = (await self._loads(st)).get(staff.id, 0)
        if load >= staff.max_open_claims:
            self._private_notice(
                st, e, staff, q.id,
                f"You hold {load} questions waiting for your answer (your limit is "
                f"{staff.max_open_claims}): answer or release one first.",
            )
            return
        if await self._try_claim(st, staff, q, e.platform):
            root = await st.tx.fetchone(
                "SELECT text FROM messages WHERE platform = ? AND platform_message_id = ?",
                (q.platform, q.root_message),
            )
            self._private_notice(st, e, staff, q.id, texts.claimed(q.id, root[0] if root else ""))
        else:
            await self._refuse_claim(st, e, staff, q)

    async def _holds(self, st: _Step, e: Inbound, staff: StaffMember, q: Q) -> bool:
        """True if ``staff`` holds ``q`` now, claiming it implicitly if nobody does."""
        if q.claimed_by == staff.id and q.state in HELD_STATES:
            return True
        if q.claimed_by is None and q.state in CLAIMABLE_STATES:
            load = (await self._loads(st)).get(staff.id, 0)
            if load >= staff.max_open_claims:
                self._private_notice(
                    st, e, staff, q.id,
                    f"You hold {load} questions waiting for your answer (your limit is "
                    f"{staff.max_open_claims}): answer or release one first. Nothing was sent.",
                )
                return False
            if await self._try_claim(st, staff, q, e.platform):
                return True
        await self._refuse_claim(st, e, staff, q)
        return False

    async def _ask(self, st: _Step, e: Inbound, staff: StaffMember, q: Q, text: str) -> None:
        """Answer with a question back: the question then waits for the customer."""
        await self._answer(st, e, staff, q, text, then=State.AWAITING_CUSTOMER)

    async def _answer(
        self, st: _Step, e: Inbound, staff: StaffMember, q: Q, text: str,
        then: State = State.ANSWERED,
    ) -> None:
        command = "ask" if then is State.AWAITING_CUSTOMER else "answer"
        if not await self._may_send(st, e, staff, q, text, command):
            return
        # once a conversation is private (it started there, or was moved), it stays private
        private = q.dm_conversation is not None or q.state is State.MOVED_TO_DM
        out = await self._to_customer(st, q, self._signed(text, staff), private)
        verdict = self._check(st, q, staff, out)
        if verdict.stops:
            await self._stopped(st, e, staff, q, verdict, out.text, private)
            return
        await self._send_answer(st, q, staff, e.platform, out, kind="answer",
                                parts=verdict.parts)
        self._warn(st, e, staff, q, verdict)
        if then is not State.ANSWERED:
            await self._set(st, q, then)

    async def _may_send(
        self, st: _Step, e: Inbound, staff: StaffMember, q: Q, text: str, command: str
    ) -> bool:
        """There is text, the question is open, and ``staff`` holds it (or now claims it)."""
        if not text.strip():
            self._reply(st, e, f"/{command} {q.id} needs the text to send.")
            return False
        if q.state is State.RESOLVED:
            self._private_notice(st, e, staff, q.id, f"#{q.id} is resolved; nothing was sent.")
            return False
        return await self._holds(st, e, staff, q)

    async def _stopped(
        self, st: _Step, e: Inbound, staff: StaffMember, q: Q, verdict: Verdict,
        original: str, private: bool,
    ) -> None:
        """A policy stopped a reply: keep it pending and tell the staff member why, what to
        send instead, and the one command that sends it."""
        via_dm = verdict.action.value == "move_to_dm"
        action = "dm" if via_dm else "answer"
        suggestion = None if via_dm else verdict.suggestion
        await st.tx.execute(
            "INSERT INTO pending (question_id, staff_id, action, suggestion, original, private, "
            "rules, overridable, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (question_id, staff_id) DO UPDATE SET action = excluded.action, "
            "suggestion = excluded.suggestion, original = excluded.original, "
            "private = excluded.private, rules = excluded.rules, "
            "overridable = excluded.overridable, created_at = excluded.created_at",
            (q.id, staff.id, action, suggestion, original, int(private),
             json.dumps(list(verdict.rules)), int(verdict.overridable), st.now),
        )
        can_send = via_dm or suggestion is not None
        notice = texts.policy_stopped(
            q.id, verdict.rule_id, verdict.message, suggestion, via_dm=via_dm,
            overridable=verdict.overridable, lead=staff.role.value != "agent",
        )
        buttons = (Button("Send this instead", f"send:{q.id}"),) if can_send else ()
        self._private_notice(st, e, staff, q.id, notice, buttons=buttons)

    def _warn(self, st: _Step, e: Inbound, staff: StaffMember, q: Q, verdict: Verdict) -> None:
        if verdict.warnings:
            self._private_notice(
                st, e, staff, q.id, texts.policy_warned(q.id, [w.message for w in verdict.warnings])
            )

    async def _send(self, st: _Step, e: Inbound, staff: StaffMember, q: Q, _: str) -> None:
        """Send the compliant version of this staff member's stopped reply."""
        row = await st.tx.fetchone(
            "SELECT action, suggestion, original FROM pending WHERE question_id = ? "
            "AND staff_id = ?", (q.id, staff.id),
        )
        if row is None:
            self._private_notice(st, e, staff, q.id, f"Nothing of yours is waiting on #{q.id}.")
            return
        await st.tx.execute(
            "DELETE FROM pending WHERE question_id = ? AND staff_id = ?", (q.id, staff.id)
        )
        action, suggestion, original = row[0], row[1], row[2]
        if action == "dm":
            await self._move_to_dm(st, e, staff, q, original)
        elif suggestion:
            await self._answer(st, e, staff, q, suggestion)
        else:
            self._private_notice(st, e, staff, q.id, f"There is no compliant version for #{q.id}.")

    async def _override(self, st: _Step, e: Inbound, staff: StaffMember, q: Q, reason: str) -> None:
        """A lead sends a stopped reply as written, where every rule that stopped it allows."""
        if staff.role.value == "agent":
            self._private_notice(st, e, staff, q.id, "Only leads and managers can override.")
            return
        if not reason.strip():
            self._reply(st, e, f"/override {q.id} needs a reason (it is recorded).")
            return
        row = await st.tx.fetchone(
            "SELECT staff_id, original, private, rules, overridable FROM pending "
            "WHERE question_id = ? ORDER BY created_at DESC LIMIT 1", (q.id,),
        )
        if row is None:
            self._private_notice(st, e, staff, q.id, f"No stopped reply is waiting on #{q.id}.")
            return
        if not row["overridable"]:
            self._private_notice(
                st, e, staff, q.id,
                f"#{q.id}: {', '.join(json.loads(row['rules']))} cannot be overridden.",
            )
            return
        author = self.config.roster.get(row["staff_id"]) or staff
        if q.claimed_by != author.id or q.state not in HELD_STATES:
            # the author no longer holds it (released, lease ran out, taken over): the stopped
            # reply is void, or it could become a second answer
            await st.tx.execute("DELETE FROM pending WHERE question_id = ?", (q.id,))
            self._private_notice(
                st, e, staff, q.id,
                f"#{q.id}: {author.name} no longer holds it; their stopped reply was dropped.",
            )
            return
        await st.tx.execute(
            "DELETE FROM pending WHERE question_id = ? AND staff_id = ?", (q.id, row["staff_id"])
        )
        self._event(
            st, q.id, EventKind.POLICY_OVERRIDE, actor=staff.id, platform=e.platform,
            rules=json.loads(row["rules"]), reason=reason, author=author.id,
        )
        out = await self._to_customer(st, q, row["original"], bool(row["private"]))
        await self._send_answer(st, q, author, e.platform, out, kind="answer")
        self._private_notice(st, e, staff, q.id, f"#{q.id}: sent as written (override recorded).")

    def _signed(self, text: str, staff: StaffMember) -> str:
        signature = self._signature(staff)
        text = text.rstrip()
        return text if text.endswith(signature.strip()) else text + signature

    async def _to_customer(self, st: _Step, q: Q, text: str, private: bool) -> Outgoing:
        if private:
            thread = self._private_thread_for(q)
            if thread is not None and self.reach.get(q.platform, q.customer_id) is False:
                # their DMs are closed: the private thread opened for them instead
                return Outgoing(q.platform, q.conversation, text, Visibility.PRIVATE,
                                thread=await self._known_private_thread(st, q, thread))
            conv = q.dm_conversation or f"dm:{q.customer_id}"
            return Outgoing(q.platform, conv, text, Visibility.PRIVATE, dm_user=q.customer_id)
        return Outgoing(
            q.platform, q.conversation, text, Visibility.PUBLIC,
            reply_to=q.root_message, thread=q.thread,
        )

    def _private_thread_for(self, q: Q) -> str | None:
        """Where a platform has private threads (Discord), the thread that stands in for a DM
        with a customer who does not accept DMs: ``private:<customer>[,<holder>]`` in the
        channel they asked in; None where there is none."""
        caps = self.capabilities.get(q.platform, Capabilities())
        if not caps.private_threads or q.visibility != Visibility.PUBLIC.value:
            return None
        members = [q.customer_id]
        holder = self.config.roster.get(q.claimed_by or "")
        if holder is not None and q.platform in holder.accounts:
            members.append(holder.accounts[q.platform])
        return "private:" + ",".join(members)

    async def _known_private_thread(self, st: _Step, q: Q, thread: str) -> str:
        """``thread`` naming the private thread already opened for ``q`` (``@<id>``, from a
        message sent into it), so that the platform keeps using it after a restart."""
        row = await st.tx.fetchone(
            "SELECT platform_message_id FROM messages WHERE question_id = ? "
            "AND direction = 'out' AND thread LIKE 'private:%' "
            "AND platform_message_id IS NOT NULL ORDER BY id DESC LIMIT 1",
            (q.id,),
        )
        if row is None or ":" not in row[0]:
            return thread
        return f"{thread}@{row[0].split(':', 1)[0]}"

    async def _to_private_thread(self, st: _Step, q: Q, out: Outgoing, announce: bool) -> None:
        """A private message that a closed DM refused goes to a private thread with the
        customer (and the holder), said publicly once."""
        thread = self._private_thread_for(q)
        assert thread is not None
        thread = await self._known_private_thread(st, q, thread)
        if announce:
            self._enqueue(
                st, q.id,
                Outgoing(q.platform, q.conversation, texts.private_thread(q.customer_handle),
                         Visibility.PUBLIC, reply_to=q.root_message, thread=q.thread),
                kind="moved_public", role="bot",
            )
            self._event(st, q.id, EventKind.MOVED_TO_DM, platform=q.platform,
                        via="private_thread", reason="the customer does not accept DMs")
        self._enqueue(
            st, q.id,
            Outgoing(q.platform, q.conversation, out.text, Visibility.PRIVATE, thread=thread),
            kind="dm", role="bot", check=False,
        )

    async def _to_dm_link(self, st: _Step, q: Q, out: Outgoing) -> None:
        """A private message the customer's settings refused (they do not accept private
        messages from us): it waits, and a public reply (once) carries a link that opens a
        private conversation with us; it goes out when they write to us privately."""
        announce = q.dm_link is None
        link = await self._link_for(st, q)
        if link is None:  # they wrote to us privately meanwhile: the private chat is open
            self._enqueue(st, q.id, replace(out, key=""), kind="dm", role="bot", check=False)
            return
        if announce:
            self._enqueue(
                st, q.id,
                Outgoing(q.platform, q.conversation,
                         texts.moved_public_link(q.customer_handle, "", start=False),
                         Visibility.PUBLIC, reply_to=q.root_message, thread=q.thread,
                         deep_link=link),
                kind="moved_public", role="bot",
            )
            self._event(st, q.id, EventKind.MOVED_TO_DM, platform=q.platform, via="link",
                        reason="the customer does not accept private messages from us")
        self._enqueue(st, q.id, replace(out, key=""), kind="dm", role="bot", check=False)
        if q.last_answer_by is not None and q.id in st.held:
            holder = self.config.roster.get(q.last_answer_by)
            if holder is not None:
                self._notify_staff(st, holder, q, texts.link_waiting(q.id, q.customer_handle))

    async def _send_answer(
        self, st: _Step, q: Q, staff: StaffMember, via: str, out: Outgoing, kind: str,
        parts: Sequence[str] = (),
    ) -> None:
        """Queue an already checked answer; several ``parts`` go out as a thread, each
        replying to the one before."""
        last = await st.tx.fetchone(
            "SELECT platform_message_id FROM messages WHERE question_id = ? AND direction = 'in' "
            "AND conversation = ? ORDER BY id DESC LIMIT 1",
            (q.id, out.conversation),
        )
        if last is not None:
            out = replace(out, reply_to=last[0])
        row: int | None = None
        for i, part in enumerate(parts or (out.text,)):
            piece = replace(out, text=part) if i == 0 else replace(
                out, text=part, reply_to=f"row:{row}"
            )
            row = self._enqueue(st, q.id, piece, kind=kind, role=staff.role.value,
                                staff_id=staff.id, check=False)
        held = q.id in st.held
        first = q.first_answer_at is None and not held
        q.last_answer_by = staff.id
        if held:
            # it waits for the customer to open the private chat: not a response yet, so the
            # first-response deadline still stands (and escalates if they never do)
            await st.tx.execute("UPDATE questions SET last_answer_by = ? WHERE id = ?",
                                (staff.id, q.id))
            self._notify_staff(st, staff, q, texts.link_waiting(q.id, q.customer_handle))
        else:
            if kind == "answer" or kind == "dm" or first:
                await self._clear_timers(st, q.id, "first_response", "first_response_leads")
            q.first_answer_at = q.first_answer_at or st.now
            await st.tx.execute(
                "UPDATE questions SET first_answer_at = COALESCE(first_answer_at, ?), "
                "last_answer_by = ? WHERE id = ?",
                (st.now, staff.id, q.id),
            )
        self._event(
            st, q.id, EventKind.ANSWERED, actor=staff.id, platform=via,
            to_platform=q.platform, visibility=out.visibility.value, message_row=row,
            first=first, **({"held": True} if held else {}),
        )
        if kind == "answer":
            await self._set(st, q, State.ANSWERED)

    async def _move_to_dm(self, st: _Step, e: Inbound, staff: StaffMember, q: Q, text: str) -> None:
        if not await self._may_send(st, e, staff, q, text, "dm"):
            return
        caps = self.capabilities.get(q.platform, Capabilities())
        signature = self._signature(staff)
        private = await self._to_customer(st, q, self._signed(text, staff), private=True)
        verdict = self._check(st, q, staff, private)
        if verdict.stops:
            await self._stopped(st, e, staff, q, verdict, private.text, True)
            return
        if not caps.dms:
            self._private_notice(
                st, e, staff, q.id,
                f"{q.platform} cannot send private messages from helpforce yet; nothing was sent.",
            )
            return
        public_first = q.visibility == "public" and q.state is not State.MOVED_TO_DM
        link = await self._link_for(st, q)
        if public_first:
            public = await self._to_customer(
                st, q,
                texts.moved_public_link(q.customer_handle, signature, start=caps.deep_links)
                if link else texts.moved_public(q.customer_handle, signature),
                private=False,
            )
            public = replace(public, deep_link=link)
            note = self._check(st, q, staff, public)
            await self._send_answer(st, q, staff, e.platform, public, kind="moved_public",
                                    parts=note.parts)
        await self._send_answer(st, q, staff, e.platform, private, kind="dm",
                                parts=verdict.parts)
        self._warn(st, e, staff, q, verdict)
        self._event(st, q.id, EventKind.MOVED_TO_DM, actor=staff.id, platform=e.platform,
                    **({"via": "link"} if link else {}))
        if q.dm_conversation is None:
            q.dm_conversation = f"dm:{q.customer_id}"
            await st.tx.execute(
                "UPDATE questions SET dm_conversation = ? WHERE id = ?", (q.dm_conversation, q.id)
            )
        if q.visibility == "public":
            await self._set(st, q, State.MOVED_TO_DM)
        else:
            await self._set(st, q, State.ANSWERED)

    async def _direct_answer(self, st: _Step, e: Inbound, staff: StaffMember, q: Q) -> None:
        """Staff answered the customer directly from their own public account."""
        if q.state is State.RESOLVED:
            return
        if q.claimed_by not in (None, staff.id):
            holder = q.claimed_by
            self._event(
                st, q.id, EventKind.ANSWERED, actor=staff.id, platform=e.platform,
                duplicate=True, held_by=holder, message_id=e.message_id,
            )
            other = self.config.roster.get(holder or "")
            note = texts.duplicate_answer(q.id, staff.name, other.name if other else str(holder),
                                          e.platform)
            people = self._leads_for(st, q)
            for person in people if staff in people else [*people, staff]:
                self._notify_staff(st, person, q, note)
            return
        if q.claimed_by is None and not await self._try_claim(st, staff, q, e.platform):
            return
        mid = st.tx.new_id("messages")
        st.tx.insert("messages", {
            "id": mid, "question_id": q.id, "platform": e.platform,
            "platform_message_id": e.message_id, "conversation": e.conversation,
            "thread": e.thread, "direction": "out", "visibility": e.visibility.value,
            "kind": "answer", "author_id": e.author.user_id, "staff_id": staff.id,
            "text": e.text, "reply_to": e.reply_to, "at": st.now,
        })
        verdict = self.policy.check(
            e.text,
            CheckContext("out", e.visibility.value, e.platform, staff.role.value, direct=True),
        )
        self._record_verdict(st, q.id, verdict, staff.id, after_the_fact=True)
        if verdict.stops or verdict.warnings:
            # already public: alert the author and the leads so they can follow up
            reasons = [f.message for f in verdict.findings if f.action.value != "append"]
            note = texts.after_the_fact(q.id, staff.name, e.platform, reasons)
            for person in [staff, *[p for p in self._leads_for(st, q) if p != staff]]:
                self._notify_staff(st, person, q, note)
        await self._clear_timers(st, q.id, "first_response", "first_response_leads")
        q.first_answer_at = q.first_answer_at or st.now
        await st.tx.execute(
            "UPDATE questions SET first_answer_at = COALESCE(first_answer_at, ?), "
            "last_answer_by = ? WHERE id = ?", (st.now, staff.id, q.id),
        )
        self._event(st, q.id, EventKind.ANSWERED, actor=staff.id, platform=e.platform,
                    direct=True, message_id=e.message_id)
        await self._set(st, q, State.ANSWERED)
        if self.capabilities.get(e.platform, Capabilities()).reshare and not verdict.stops:
            # the brand's account re-shares it with credit (Twelpforce's "via @agent")
            self._enqueue(
                st, q.id,
                Outgoing(e.platform, e.conversation, texts.reshare(staff.name, staff.initials),
                         Visibility.PUBLIC, quote=e.message_id),
                kind="reshare", role="bot",
            )

    async def _note(self, st: _Step, e: Inbound, staff: StaffMember, q: Q, text: str) -> None:
        if not text.strip():
            self._reply(st, e, f"/note {q.id} needs the text of the note.")
            return
        self._event(st, q.id, EventKind.NOTE, actor=staff.id, platform=e.platform, text=text)
        self._private_notice(st, e, staff, q.id, f"Note added to #{q.id}.")

    async def _release(self, st: _Step, e: Inbound, staff: StaffMember, q: Q, _: str) -> None:
        if q.claimed_by != staff.id or q.state not in HELD_STATES:
            self._private_notice(st, e, staff, q.id, f"You do not hold #{q.id}.")
            return
        self._event(st, q.id, EventKind.RELEASED, actor=staff.id, platform=e.platform)
        await self._set(st, q, State.OFFERED, claimed_by=None)
        if st.loads is not None and st.loads.get(staff.id):
            st.loads[staff.id] -= 1
        await self._offer(st, q, await self._root_text(st, q), exclude=[staff.id])
        await self._save_state(st, q)
        self._private_notice(st, e, staff, q.id, f"Released #{q.id}; it is offered again.")

    async def _resolve(self, st: _Step, e: Inbound, staff: StaffMember, q: Q, _: str) -> None:
        if q.state is State.RESOLVED:
            self._private_notice(st, e, staff, q.id, f"#{q.id} is already resolved.")
            return
        if q.claimed_by not in (None, staff.id) and staff.role.value == "agent":
            await self._refuse_claim(st, e, staff, q)
            return
        self._event(st, q.id, EventKind.RESOLVED, actor=staff.id, platform=e.platform)
        await self._set(st, q, State.RESOLVED, resolved_at=st.now)
        self._private_notice(st, e, staff, q.id, f"#{q.id} resolved.")

    async def _transfer(self, st: _Step, e: Inbound, staff: StaffMember, q: Q, text: str) -> None:
        target = self.config.roster.get(text.strip().split()[0]) if text.strip() else None
        if target is None:
            self._reply(st, e, f"/transfer {q.id} needs the roster id of a staff member.")
            return
        if q.state is State.RESOLVED:
            self._private_notice(st, e, staff, q.id, f"#{q.id} is resolved.")
            return
        if q.claimed_by not in (None, staff.id) and staff.role.value == "agent":
            await self._refuse_claim(st, e, staff, q)
            return
        self._event(
            st, q.id, EventKind.TRANSFERRED, actor=staff.id, platform=e.platform,
            from_staff=q.claimed_by, to_staff=target.id,
        )
        state = State.CLAIMED if q.state in CLAIMABLE_STATES else q.state
        await self._set(st, q, state, claimed_by=target.id)
        await self._mark_offers_taken(st, q, target)
        root = await st.tx.fetchone(
            "SELECT text FROM messages WHERE platform = ? AND platform_message_id = ?",
            (q.platform, q.root_message),
        )
        self._notify_staff(st, target, q, texts.claimed(q.id, root[0] if root else "")
                           + f"\n(transferred by {staff.name})")
        self._private_notice(st, e, staff, q.id, f"#{q.id} transferred to {target.name}.")

    async def _takeover(self, st: _Step, e: Inbound, staff: StaffMember, q: Q, _: str) -> None:
        """A lead takes a question over from whoever holds it (recorded)."""
        if staff.role.value == "agent":
            self._private_notice(st, e, staff, q.id,
                                 f"Only leads and managers can take over; try /claim {q.id}.")
            return
        if q.state is State.RESOLVED:
            self._private_notice(st, e, staff, q.id, f"#{q.id} is already resolved.")
            return
        if q.claimed_by == staff.id and q.state in HELD_STATES:
            self._private_notice(st, e, staff, q.id, f"You already hold #{q.id}.")
            return
        previous = self.config.roster.get(q.claimed_by) if q.claimed_by else None
        self._event(st, q.id, EventKind.TAKEN_OVER, actor=staff.id, platform=e.platform,
                    from_staff=q.claimed_by)
        state = State.CLAIMED if q.state in CLAIMABLE_STATES else q.state
        await self._set(st, q, state, claimed_by=staff.id, claimed_at=st.now)
        if previous is None:
            await self._mark_offers_taken(st, q, staff)
        else:
            self._notify_staff(st, previous, q, texts.taken_over(q.id, staff.name))
        self._private_notice(st, e, staff, q.id, texts.claimed(q.id, await self._root_text(st, q)))

    async def _status(self, st: _Step, e: Inbound, staff: StaffMember, status: str) -> None:
        """Staff say for themselves whether they take questions now."""
        await st.tx.execute(
            "INSERT INTO presence (staff_id, status, at) VALUES (?, ?, ?) ON CONFLICT "
            "(staff_id) DO UPDATE SET status = excluded.status, at = excluded.at",
            (staff.id, status, st.now),
        )
        self._event(st, None, EventKind.STATUS, actor=staff.id, platform=e.platform,
                    status=status)
        now = st.now
        # the router in force when the step commits (a reload may have replaced it)
        st.tx.after_commit(lambda: self._routing().set_status(staff.id, status, now))
        self._reply(st, e, texts.STATUS_REPLIES[status])

    async def _details(self, st: _Step, e: Inbound, staff: StaffMember, q: Q, _: str) -> None:
        rows = await st.tx.fetchall(
            "SELECT direction, kind, text FROM messages WHERE question_id = ? "
            "AND kind IN ('question', 'followup', 'answer', 'dm', 'moved_public') ORDER BY id",
            (q.id,),
        )
        holder = q.claimed_by or "nobody"
        lines = [f"#{q.id} · {q.platform} · @{q.customer_handle} · {q.state} · held by {holder}"]
        for r in rows[-10:]:
            who = "customer" if r[0] == "in" else "staff"
            lines.append(f"{who}: {texts.preview(r[2], 200)}")
        self._private_notice(st, e, staff, q.id, "\n".join(lines))

    async def _queue(self, st: _Step, e: Inbound, staff: StaffMember) -> None:
        held = ",".join(f"'{s.value}'" for s in HELD_STATES)
        mine = await st.tx.fetchall(
            f"SELECT id, state FROM questions WHERE claimed_by = ? AND state IN ({held}) "
            "ORDER BY id", (staff.id,),
        )
        claimable = ",".join(f"'{s.value}'" for s in CLAIMABLE_STATES)
        waiting = await st.tx.fetchall(
            f"SELECT id FROM questions WHERE state IN ({claimable}) ORDER BY id LIMIT 10"
        )
        text = (
            "You hold: " + (", ".join(f"#{r[0]} ({r[1]})" for r in mine) or "nothing")
            + ". Waiting for a claim: "
            + (", ".join(f"#{r[0]}" for r in waiting) or "none") + "."
        )
        self._reply(st, e, text)

    # -- live configuration ------------------------------------------------------------------

    async def apply_config(
        self, config: Config, policy: PolicyEngine | None = None
    ) -> dict[str, Any]:
        """Put a new configuration (and policy engine) in force between two steps.

        One store step: the swap, a ``config_changed`` event saying what changed (with the
        files' hash), and offboarding: staff removed from the roster can no longer act (they
        are not on the roster any more), questions waiting for their answer are offered again
        and their stopped replies are dropped. Returns the change.
        """
        from helpforce.reload import describe_change

        change: dict[str, Any] = describe_change(self.config, config)

        async def step(tx: Tx) -> None:
            old_config, old_policy = self.config, self.policy
            self.config = config
            if policy is not None:
                self.policy = policy
            try:
                st = _Step(tx, self.clock.now())
                self._routing()
                self._event(st, None, EventKind.CONFIG_CHANGED, **change)
                for staff_id in change["staff_removed"]:
                    await self._offboard(st, staff_id)
                await self._write_timers(st)
            except BaseException:
                self.config, self.policy = old_config, old_policy
                raise

        old_config, old_policy = self.config, self.policy
        try:
            await self.store.transaction(step)
        except BaseException:
            # nothing was committed (the group commit failed): the old configuration stays
            self.config, self.policy = old_config, old_policy
            raise
        return change

    async def tell_leads(self, text: str, key: str) -> bool:
        """Send ``text`` to every lead and manager, once per ``key`` (the weekly summary):
        False if it was sent before. The key is kept in the same step as the messages."""
        from helpforce.store.sqlite import save_cursor

        async def step(tx: Tx) -> bool:
            row = await tx.fetchone(
                "SELECT value FROM cursors WHERE platform = 'helpforce' "
                "AND name = 'weekly_summary'")
            if row is not None and row[0] == key:
                return False
            st = _Step(tx, self.clock.now())
            for person in self.config.roster.staff:
                if person.role in (Role.LEAD, Role.MANAGER):
                    target = self._notify_target(person)
                    if target is None:
                        continue
                    platform, user_id = target
                    self._enqueue(
                        st, None,
                        Outgoing(platform, f"dm:{user_id}", text, Visibility.PRIVATE,
                                 dm_user=user_id),
                        kind="notice", role="bot", audience="staff", staff_id=person.id,
                    )
            await save_cursor(tx, "helpforce", key, st.now, name="weekly_summary")
            return True

        return await self.store.transaction(step)

    async def _offboard(self, st: _Step, staff_id: str) -> None:
        rows = await st.tx.fetchall(
            "SELECT * FROM questions WHERE claimed_by = ? AND state = ?",
            (staff_id, State.CLAIMED.value),
        )
        await st.tx.execute("DELETE FROM pending WHERE staff_id = ?", (staff_id,))
        for r in rows:
            q = st.questions.setdefault(r["id"], Q.from_row(r))
            self._event(st, q.id, EventKind.RELEASED, actor=None, staff=staff_id,
                        reason="removed from the roster")
            await self._set(st, q, State.OFFERED, claimed_by=None)
            await self._offer(st, q, await self._root_text(st, q), exclude=[staff_id])
            await self._save_state(st, q)
        # answered questions they held stay theirs on record; a follow-up is offered afresh

    async def config_rejected(self, errors: Sequence[str]) -> None:
        """An edit of the files was invalid: recorded, and the managers are told where."""

        async def step(tx: Tx) -> None:
            st = _Step(tx, self.clock.now())
            self._event(st, None, EventKind.CONFIG_REJECTED, errors=list(errors))
            for s in self.config.roster.staff:
                target = self._notify_target(s) if s.role.value == "manager" else None
                if target is not None:
                    self._enqueue(
                        st, None,
                        Outgoing(target[0], f"dm:{target[1]}", texts.config_rejected(list(errors)),
                                 Visibility.PRIVATE, dm_user=target[1]),
                        kind="notice", role="bot", audience="staff", staff_id=s.id,
                    )

        await self.store.transaction(step)

    # -- delivery failures (called by the outbox, inside its transaction) ---------------------

    async def delivery_failed(
        self, tx: Tx, qid: int | None, kind: str | None, reason: str, uncertain: bool,
        platform: str = "", out: Outgoing | None = None, unreachable: bool = False,
    ) -> None:
        """A message could not be delivered (or may not have been). Someone a private
        message cannot reach is remembered as such. A private message to a customer whose
        DMs are closed goes to a private thread where the platform has them; any other
        customer-facing message that failed escalates the question to the leads, visibly,
        rather than leaving it looking answered."""
        known_unreachable = False
        if unreachable and out is not None and out.dm_user is not None and platform:
            known_unreachable = self.reach.get(platform, out.dm_user) is False
            await reach.mark(tx, self.reach, platform, out.dm_user, False, self.clock.now(),
                             reason)
        if qid is None or kind not in CUSTOMER_FACING_KINDS:
            return
        st = _Step(tx, self.clock.now())
        q = await self._question(st, qid)
        if q is None:
            return
        if unreachable and out is not None and out.dm_user == q.customer_id \
                and self._private_thread_for(q) is not None:
            await self._to_private_thread(st, q, out, announce=not known_unreachable)
            return
        caps = self.capabilities.get(q.platform, Capabilities())
        if unreachable and out is not None and out.dm_user == q.customer_id \
                and caps.dm_link_fallback and q.visibility == Visibility.PUBLIC.value:
            await self._to_dm_link(st, q, out)
            await self._write_timers(st)
            return
        what = "may not have reached" if uncertain else "could not be delivered to"
        self._event(st, q.id, EventKind.ESCALATED, reason=f"a reply {what} the customer: {reason}")
        if q.state is not State.ESCALATED and State.ESCALATED in TRANSITIONS[q.state]:
            await self._set(st, q, State.ESCALATED, claimed_by=None)
        note = (
            f"#{q.id} needs a lead: a reply {what} @{q.customer_handle} on {q.platform} "
            f"({reason})."
        )
        people = self._leads_for(st, q)
        answerer = self.config.roster.get(q.last_answer_by) if q.last_answer_by else None
        if answerer is not None and answerer not in people:
            people.append(answerer)
        for person in people:
            self._notify_staff(st, person, q, note)
        await self._write_timers(st)

    def _leads_for(self, st: _Step, q: Q) -> list[StaffMember]:
        """The few leads to tell about a question now (never the whole roster)."""
        route = self._route(q)
        language = q.language or self.config.routing.languages.default
        targets = self._routing().leads(st.now, language, route.escalate_to, st.loads or {})
        return [t.staff for t in targets]

    # -- helpers -----------------------------------------------------------------------------

    def _signature(self, staff: StaffMember) -> str:
        return self.config.settings.desk.signature.format(initials=staff.initials)

    async def _set(self, st: _Step, q: Q, state: State, **cols: Any) -> None:
        """Change a question's state (and columns); staying in a state needs no transition.
        Leases follow: a new holder of a claimed question gets one, leaving the claimed state
        ends it, resolving ends every timer."""
        if state is not q.state:
            check_transition(q.state, state)
        before, holder_before = q.state, q.claimed_by
        q.state = state
        if "claimed_by" in cols:
            q.claimed_by = cols["claimed_by"]
        if "resolved_at" in cols:
            q.resolved_at = cols["resolved_at"]
        sets = ", ".join(f"{k} = ?" for k in cols)
        await st.tx.execute(
            f"UPDATE questions SET state = ?, updated_at = ?{', ' + sets if sets else ''} "
            "WHERE id = ?",
            (state.value, st.now, *cols.values(), q.id),
        )
        if state is State.RESOLVED and q.dm_link is not None:
            # resolved before the customer opened the private chat: what waited for it is
            # dropped, visibly, rather than delivered out of the blue later
            dropped = await st.tx.execute(
                "UPDATE outbox SET state = 'dropped', last_error = ? "
                "WHERE question_id = ? AND state = 'held'",
                ("resolved before the customer opened the private chat", q.id),
            )
            if dropped:
                self._event(st, q.id, EventKind.IGNORED, platform=q.platform, dropped=dropped,
                            reason="resolved before the customer opened the private chat; "
                                   "the private messages waiting for it were dropped")
        if holder_before and q.claimed_by != holder_before:
            # a stopped reply waits only while its author holds the question; so does a
            # private message of theirs held until the customer opens the private chat (the
            # new holder answers: delivered later, it would be a second answer)
            await st.tx.execute("DELETE FROM pending WHERE question_id = ? AND staff_id = ?",
                                (q.id, holder_before))
            dropped = await st.tx.execute(
                "UPDATE outbox SET state = 'dropped', last_error = ? WHERE question_id = ? "
                "AND state = 'held' AND message_row IN "
                "(SELECT id FROM messages WHERE question_id = ? AND staff_id = ?)",
                (f"{holder_before} no longer holds the question", q.id, q.id, holder_before))
            if dropped:
                self._event(st, q.id, EventKind.IGNORED, platform=q.platform, dropped=dropped,
                            staff=holder_before,
                            reason="the private messages of its previous holder, waiting for "
                                   "the customer to open the private chat, were dropped")
        if state is State.RESOLVED:
            await self._clear_timers(st, q.id)
        elif state is State.CLAIMED and q.claimed_by and (
            before is not State.CLAIMED or holder_before != q.claimed_by
        ):
            self._start_lease(st, q)
        elif before is State.CLAIMED and state is not State.CLAIMED:
            await self._clear_timers(st, q.id, "lease_warning", "lease")

    def _start_lease(self, st: _Step, q: Q) -> None:
        route = self._route(q)
        if route.lease is None or q.claimed_by is None:
            return
        self._set_timer(st, q.id, "lease_warning", st.now + route.lease - route.lease_warning,
                        staff=q.claimed_by, left=route.lease_warning)
        self._set_timer(st, q.id, "lease", st.now + route.lease, staff=q.claimed_by)

    async def _save_state(self, st: _Step, q: Q) -> None:
        await st.tx.execute(
            "UPDATE questions SET state = ?, updated_at = ? WHERE id = ?",
            (q.state.value, st.now, q.id),
        )

    async def _mark_offers_taken(self, st: _Step, q: Q, staff: StaffMember) -> None:
        """Edit the staff-channel posts of a claimed question where the platform allows."""
        rows = await st.tx.fetchall(
            "SELECT id, platform, conversation FROM messages WHERE question_id = ? "
            "AND kind = 'offer'",
            (q.id,),
        )
        platforms = self.config.enabled_platforms()
        for r in rows:
            caps = self.capabilities.get(r[1])
            if caps is None or not caps.edits:
                continue
            body = texts.offer_taken(
                q.id, q.platform, q.customer_handle, staff.initials, staff.name
            )
            self._enqueue(
                st, q.id,
                Outgoing(r[1], r[2], body, Visibility.PUBLIC, edit_of=f"row:{r[0]}"),
                kind="offer_edit", role="bot", audience="staff", store_message=False,
            )
            ps = platforms.get(r[1])
            if caps.threads and ps is not None and r[2] == ps.staff_channel:
                # the question gets a thread on its post where the claimer (and leads) work:
                # what they write there answers it, as a reply to the post would
                self._enqueue(
                    st, q.id,
                    Outgoing(r[1], r[2], texts.question_thread(q.id, q.customer_handle, staff),
                             Visibility.PUBLIC, thread=f"row:{r[0]}"),
                    kind="notice", role="bot", audience="staff", staff_id=staff.id,
                )

    def _check(self, st: _Step, q: Q, staff: StaffMember, out: Outgoing) -> Verdict:
        verdict = self.policy.check(
            out.text,
            CheckContext("out", out.visibility.value, out.platform, staff.role.value,
                         signature=self._signature(staff)),
        )
        self._record_verdict(st, q.id, verdict, staff.id)
        return verdict

    def _record_verdict(
        self, st: _Step, qid: int | None, verdict: Verdict, actor: str | None,
        after_the_fact: bool = False,
    ) -> None:
        self._event(
            st, qid, EventKind.POLICY_VERDICT, actor=actor, action=verdict.action.value,
            rule=verdict.rule_id, rules=list(verdict.rules), after_the_fact=after_the_fact,
        )

    def _reply(self, st: _Step, e: Inbound, text: str) -> None:
        """Answer a staff message where it was written."""
        self._enqueue(
            st, None,
            Outgoing(e.platform, e.conversation, text, e.visibility, reply_to=e.message_id,
                     thread=e.thread),
            kind="notice", role="bot", audience="staff",
        )

    def _private_notice(
        self, st: _Step, e: Inbound, staff: StaffMember, qid: int | None, text: str,
        buttons: tuple[Button, ...] = (),
    ) -> None:
        """Tell one staff member something, privately where the platform can."""
        caps = self.capabilities.get(e.platform, Capabilities())
        if not caps.buttons:
            buttons = ()
        # in a question's thread in the staff channel, the answer stays in the thread
        in_staff_thread = e.thread is not None and self._is_staff_channel(e)
        if e.kind is InboundKind.ACTION or (
            caps.dms and e.visibility is Visibility.PUBLIC and not in_staff_thread
        ):
            out = Outgoing(e.platform, f"dm:{e.author.user_id}", text, Visibility.PRIVATE,
                           dm_user=e.author.user_id, buttons=buttons)
        else:
            out = Outgoing(e.platform, e.conversation, text, e.visibility,
                           reply_to=e.message_id, thread=e.thread, buttons=buttons)
        self._enqueue(st, qid, out, kind="notice", role="bot", audience="staff",
                      staff_id=staff.id)

    def _notify_staff(self, st: _Step, staff: StaffMember, q: Q, text: str) -> None:
        target = self._notify_target(staff)
        if target is None:
            self._event(st, q.id, EventKind.ESCALATED,
                        reason=f"cannot notify {staff.id}: no account to notify on")
            return
        platform, user_id = target
        self._enqueue(
            st, q.id,
            Outgoing(platform, f"dm:{user_id}", text, Visibility.PRIVATE, dm_user=user_id),
            kind="notice", role="bot", audience="staff", staff_id=staff.id,
        )

    def _enqueue(
        self,
        st: _Step,
        qid: int | None,
        out: Outgoing,
        *,
        kind: str,
        role: str,
        audience: str = "customer",
        staff_id: str | None = None,
        check: bool = True,
        store_message: bool = True,
    ) -> int | None:
        """Write an outbox row (and its conversation message) in the step's transaction.

        Every text passes the policy check here unless the caller already checked it; a bot
        text that a rule stops is still sent to staff (they need it) but the verdict is kept.
        """
        if check:
            verdict = self.policy.check(
                out.text, CheckContext("out", out.visibility.value, out.platform, role, audience)
            )
            if verdict.action.value != "allow":
                self._record_verdict(st, qid, verdict, None)
                if audience == "customer" and verdict.stops:
                    self._event(st, qid, EventKind.ESCALATED,
                                reason=f"policy {verdict.rule_id} stopped a system message")
                    return None
        mid: int | None = None
        if store_message:
            mid = st.tx.new_id("messages")
            st.tx.insert("messages", {
                "id": mid, "question_id": qid, "platform": out.platform,
                "platform_message_id": None, "conversation": out.conversation,
                "thread": out.thread, "direction": "out", "visibility": out.visibility.value,
                "kind": kind, "author_id": None, "staff_id": staff_id, "text": out.text,
                "reply_to": out.reply_to, "at": st.now,
            })
        oid = st.tx.new_id("outbox")
        key = f"hf{oid}"
        payload = out.to_json()
        payload["key"] = key
        q = st.questions.get(qid) if qid is not None and out.dm_user else None
        # a private message to a customer who has yet to open the private chat waits for it
        held = q is not None and q.dm_link is not None and out.dm_user == q.customer_id \
            and out.platform == q.platform
        st.tx.insert("outbox", {
            "id": oid, "key": key, "platform": out.platform, "message_row": mid,
            "question_id": qid, "payload": json.dumps(payload),
            "state": "held" if held else "pending",
            "attempts": 0, "due_at": st.now, "created_at": st.now,
        })
        if held and qid is not None:
            st.held.add(qid)
        else:
            platform = out.platform
            st.tx.after_commit(lambda: self.on_outbox(platform))
        return mid

    def _event(
        self,
        st: _Step,
        qid: int | None,
        kind: EventKind,
        *,
        actor: str | None = None,
        platform: str | None = None,
        **data: Any,
    ) -> None:
        st.tx.insert("events", {
            "question_id": qid, "at": st.now, "kind": kind.value, "actor": actor,
            "platform": platform, "data": json.dumps(data, sort_keys=True),
        })
        if self.observers:
            event = Event(qid, st.now, kind, actor, platform, data)
            st.tx.after_commit(lambda: self._emit(event))

    def _emit(self, event: Event) -> None:
        for observer in self.observers:
            observer(event)


def _links(caps: Capabilities) -> bool:
    """Private messages on this platform may need a link the customer opens first."""
    return caps.deep_links or caps.dm_link_fallback


def _languages(config: Config) -> set[str]:
    """The languages the desk can answer in: what the roster speaks, plus the configured."""
    out = {config.routing.languages.default}
    out.update(c.language for c in config.routing.channels if c.language)
    for s in config.roster.staff:
        out.update(s.languages)
    return out
