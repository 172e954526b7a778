"""The outbox dispatcher: one named task per platform delivers committed outbox rows.

A row is sent at most once in effect, and never lost:

* on a platform whose sends carry an idempotency key the platform honours (the local platform,
  Discord's nonce), a row stays ``pending`` until it is recorded ``sent``; after a crash it is
  simply sent again with the same key and the platform returns the first message. No
  ``sending`` mark is needed, which saves a write per message;
* elsewhere (Telegram, X) a row is durably marked ``sending`` before its platform call. A row
  found ``sending`` after a crash may or may not have reached the customer: it becomes
  ``uncertain``, a visible event, and the question is escalated for a lead to check — never
  silently re-sent.

Transient failures are retried with jittered exponential backoff, honouring a platform's
retry-after; permanent failures become events and escalate customer-facing messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial

from helpforce.adapter import (
    Adapter,
    NotNow,
    PermanentError,
    SendResult,
    TransientError,
    UncertainError,
    Unreachable,
)
from helpforce.clock import Clock
from helpforce.models import CUSTOMER_FACING_KINDS, EventKind, Outgoing, Visibility
from helpforce.ratelimit import PlatformLimiter
from helpforce.store import Row, Store, Tx

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class OutboxPolicy:
    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_max: float = 300.0
    batch: int = 200


@dataclass(slots=True)
class _Item:
    row: Row
    out: Outgoing
    kind: str | None


#: desk hook: (tx, question id, message kind, reason, uncertain, platform, the message (None
#: when unknown), whether its private recipient cannot be reached (Unreachable)) -> escalation
#: or a fallback, and what the desk remembers
FailureHook = Callable[
    [Tx, int | None, str | None, str, bool, str, Outgoing | None, bool], Awaitable[None]
]


class Outbox:
    def __init__(
        self,
        store: Store,
        adapters: dict[str, Adapter],
        limiters: dict[str, PlatformLimiter],
        clock: Clock,
        policy: OutboxPolicy | None = None,
        on_failure: FailureHook | None = None,
        on_sent: Callable[[str, int], None] | None = None,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.limiters = limiters
        self.clock = clock
        self.policy = policy or OutboxPolicy()
        self.on_failure = on_failure
        self.on_sent = on_sent
        self._wake: dict[str, asyncio.Event] = {p: asyncio.Event() for p in adapters}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._unrecorded: dict[tuple[str, str], int] = {}
        #: sends on their way per platform (concurrent ones, in_flight > 1)
        self._in_flight: dict[str, int] = {p: 0 for p in adapters}
        self._stopping = False
        #: platform -> True while its dispatcher waits for a wake or the clock, False while it
        #: waits for the clock alone (a rate limit); absent while it works
        self._waiting: dict[str, bool] = {}
        #: told of each retry scheduled after a transient failure (platform), and of each
        #: wait for a platform's rate limit (platform, seconds): the metrics endpoint's hooks
        self.on_retry: Callable[[str], None] | None = None
        self.on_wait: Callable[[str, float], None] | None = None
        self.sent = 0
        self.retries = 0
        #: rows set aside because a budget of their kind was spent (NotNow)
        self.deferred = 0
        self.failures = 0

    @property
    def idle(self) -> bool:
        """True when every platform's dispatcher is waiting with nothing it can send now: for
        a wake, for the clock (the next due row) or for a rate limit (read-only; the
        simulator waits for this before it moves its clock)."""
        return all(
            p in self._waiting and not (self._waiting[p] and self._wake[p].is_set())
            and not self._in_flight[p]
            for p in self._tasks
        )

    def _landed(self, platform: str) -> None:
        self._in_flight[platform] -= 1

    def wake(self, platform: str) -> None:
        event = self._wake.get(platform)
        if event is not None:
            event.set()

    async def start(self, drain: float = 10.0) -> None:
        """Recover rows a crash left ``sending``, send what is due (up to ``drain`` seconds per
        platform) and then start one dispatcher task per platform.

        The App starts the outbox before it lets the desk take platform events, so a staff
        reply to a message that was sent just before a crash finds that message recorded."""
        for platform in self.adapters:
            await self._recover(platform)
            await self._drain(platform, drain)
            self._tasks[platform] = asyncio.create_task(
                self._run(platform), name=f"helpforce.outbox.{platform}"
            )

    async def stop(self, drain: float = 5.0) -> None:
        """Let due rows go out for up to ``drain`` seconds, then stop. Idempotent."""
        if not self._tasks:
            return
        if drain > 0:
            deadline = asyncio.get_running_loop().time() + drain
            while asyncio.get_running_loop().time() < deadline and await self.backlog(due=True):
                await asyncio.sleep(0.02)
        self._stopping = True
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()

    async def backlog(self, due: bool = False) -> int:
        sql = "SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')"
        params: tuple[float, ...] = ()
        if due:
            sql += " AND due_at <= ?"
            params = (self.clock.now(),)
        row = await self.store.fetchone(sql, params)
        return int(row[0]) if row else 0

    def _idempotent(self, platform: str) -> bool:
        return self.adapters[platform].capabilities.idempotent_send

    async def _recover(self, platform: str) -> None:
        """Rows left ``sending`` by a crash: resend where the platform dedupes, else flag."""
        rows = await self.store.fetchall(
            "SELECT o.id, o.question_id, m.kind FROM outbox o LEFT JOIN messages m "
            "ON m.id = o.message_row WHERE o.platform = ? AND o.state = 'sending'",
            (platform,),
        )
        if not rows:
            return
        idempotent = self._idempotent(platform)

        async def step(tx: Tx) -> None:
            now = self.clock.now()
            for r in rows:
                if idempotent:
                    await tx.execute(
                        "UPDATE outbox SET state = 'pending', due_at = ? WHERE id = ?", (now, r[0])
                    )
                    continue
                reason = "the process stopped during the send: delivery unknown"
                await tx.execute(
                    "UPDATE outbox SET state = 'uncertain', last_error = ? WHERE id = ?",
                    (reason, r[0]),
                )
                _event(tx, r[1], now, EventKind.DELIVERY_UNCERTAIN, platform, outbox=r[0],
                       reason=reason)
                if self.on_failure is not None:
                    await self.on_failure(tx, r[1], r[2], reason, True, platform, None, False)

        await self.store.transaction(step)
        log.info("%s: recovered %d outbox rows left sending", platform, len(rows))

    async def _run(self, platform: str) -> None:
        wake = self._wake[platform]
        while not self._stopping:
            # clear before the pass: a wake that arrives during it must not be lost
            wake.clear()
            try:
                idle_for = await self._pass(platform)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: outbox pass failed; retrying", platform)
                idle_for = 1.0
                try:
                    await self._recover(platform)
                except Exception:
                    log.exception("%s: outbox recovery failed", platform)
            if idle_for == 0:
                continue
            sleeper = asyncio.ensure_future(self.clock.sleep(idle_for if idle_for > 0 else 3600))
            waiter = asyncio.ensure_future(wake.wait())
            self._waiting[platform] = True
            try:
                await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._waiting.pop(platform, None)
                sleeper.cancel()
                waiter.cancel()

    async def _pass(self, platform: str) -> float:
        """Send what is due.

        Returns 0 to go again at once, else seconds to idle (-1: until woken).
        """
        now = self.clock.now()
        rows = await self.store.fetchall(
            f"{_DUE} ORDER BY o.due_at, o.id LIMIT ?", (platform, now, self.policy.batch),
        )
        if not rows:
            nxt = await self.store.fetchone(
                "SELECT MIN(due_at) FROM outbox WHERE platform = ? AND state = 'pending'",
                (platform,),
            )
            if nxt is None or nxt[0] is None:
                return -1
            return max(0.001, float(nxt[0]) - now)
        limiter = self.limiters[platform]
        ready: list[_Item] = []
        chats_seen: set[str] = set()
        #: chats in this pass with more rows due (left for a later pass)
        more: set[str] = set()
        #: when a chat left out of this pass may go: the pass ends then, so that a chat (or a
        #: group, 3 s) with a backlog gets its full rate while a long pass serves the others
        resume_at: float | None = None
        for r in rows:
            out = Outgoing.from_json(json.loads(r["payload"]))
            if limiter.per_chat or limiter.per_group:
                # one message per chat per pass; a chat (or group) that must wait for its own
                # limit is left for a later pass and does not hold up the others
                chat = _chat(out)
                if chat in chats_seen:
                    more.add(chat)
                    continue
                chats_seen.add(chat)
                wait = limiter.chat_ready_in(chat, _to_group(out))
                if wait > 0:
                    resume_at = _earliest(resume_at, now + wait)
                    continue
            ready.append(_Item(r, out, r["kind"]))
        if not ready and len(rows) == self.policy.batch and (limiter.per_chat or
                                                             limiter.per_group):
            # a full batch of chats that must wait (one busy group's backlog): look past
            # them, so that one chat's backlog does not hold up everyone else's messages
            waiting = sorted(chats_seen)
            more_rows = await self.store.fetchall(
                f"{_DUE} AND {_CHAT_SQL} NOT IN "
                f"({','.join('?' * len(waiting))}) ORDER BY o.due_at, o.id LIMIT ?",
                (platform, now, *waiting, self.policy.batch),
            )
            for r in more_rows:
                out = Outgoing.from_json(json.loads(r["payload"]))
                chat = _chat(out)
                if chat in chats_seen:
                    continue
                chats_seen.add(chat)
                wait = limiter.chat_ready_in(chat, _to_group(out))
                if wait > 0:
                    resume_at = _earliest(resume_at, now + wait)
                    continue
                ready.append(_Item(r, out, r["kind"]))
        if not ready and resume_at is not None:
            # every chat with a due row waits for its own limit; a wake ends the wait
            return max(0.001, resume_at - now)
        return await self._send_ready(platform, ready, more, resume_at)

    async def _send_ready(
        self, platform: str, ready: list[_Item], more: set[str], resume_at: float | None
    ) -> float:
        """Send ``ready`` in order, up to the limiter's ``in_flight`` at once.

        A row goes once the send before it into the same chat has been answered (a chat's
        messages go one after another, in order; its own limit counts from that answer; what a
        message refers to, an edit's original say, is in its chat) and the rate limits let it.
        Meanwhile the rows after it into other chats go first. Its send then runs while the
        next rows are admitted: with ``in_flight`` 1 each send is awaited in turn; with more,
        round trips overlap. A pass ends early at ``resume_at`` (a chat left out of it may go
        then)."""
        limiter = self.limiters[platform]
        adapter = self.adapters[platform]
        idempotent = self._idempotent(platform)
        window = limiter.in_flight
        # results are recorded in chunks (executemany); until a chunk is committed, the
        # platform ids it holds are known here (see unrecorded_row), so a reply to a message
        # sent a moment ago still finds its question
        recorded: list[asyncio.Future[None]] = []
        results: list[tuple[_Item, SendResult | Exception]] = []
        resolved: dict[int, str] = {}
        #: sends on their way: all of them, and the last one into each chat; and every send
        #: this pass started (their failures are raised once all have finished)
        flying: set[asyncio.Task[None]] = set()
        started: list[asyncio.Task[None]] = []
        last_in_chat: dict[str, asyncio.Task[None]] = {}

        def flush() -> None:
            if results:
                chunk = list(results)
                results.clear()
                recorded.append(self.store.submit(partial(self._record_many, results=chunk)))

        #: requests an adapter says a send will make before its message (a DM channel to
        #: open, say): charged when the send is let go, so that sends on their way at once
        #: do not make them faster than the platform-wide rate; what it made beyond that is
        #: charged after its answer
        requests_before: Callable[[Outgoing], int] | None = getattr(
            adapter, "requests_before", None)

        async def deliver(item: _Item, chat: str, group: bool, charged: int) -> None:
            if not idempotent:
                await self.store.transaction(partial(_mark_sending, ids=[item.row[0]]))
            try:
                result: SendResult | Exception = await adapter.send(item.out)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # classified in _record; an adapter bug is transient
                result = exc
            limiter.answered(chat, group)
            if isinstance(result, SendResult):
                limiter.charge(result.extra_requests - charged)
            if isinstance(result, SendResult) and item.row["message_row"] is not None:
                row_id = int(item.row["message_row"])
                resolved[row_id] = result.platform_message_id
                self._unrecorded[(platform, result.platform_message_id)] = row_id
            if isinstance(result, TransientError) and result.retry_after:
                limiter.pause(result.retry_after)
            if not idempotent:
                # recorded at once (a row left ``sending`` by a crash becomes uncertain), and
                # even if this send is cancelled now: the message went
                await asyncio.shield(
                    self.store.submit(partial(self._record_many, results=[(item, result)])))
                return
            results.append((item, result))
            if len(results) >= 100:
                flush()

        try:
            pending, ended = ready, False
            while pending and not ended:
                #: rows whose chat has a send on its way: the other chats' go first
                later: list[_Item] = []
                held: set[str] = set()
                for item in pending:
                    if resume_at is not None and self.clock.now() >= resume_at:
                        ended = True  # the rest go in the next pass, in due order
                        break
                    chat = _chat(item.out)
                    before = last_in_chat.get(chat)
                    if chat in held or (before is not None and not before.done()):
                        held.add(chat)
                        later.append(item)
                        continue
                    group = _to_group(item.out)
                    while len(flying) >= window:
                        await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
                    wait = limiter.ready_in(chat, group)
                    while wait > 0:
                        if self.on_wait is not None:
                            self.on_wait(platform, wait)
                        self._waiting[platform] = False
                        try:
                            await self.clock.sleep(wait)
                        finally:
                            self._waiting.pop(platform, None)
                        # a send on its way may have been told to pause (a 429) meanwhile
                        wait = limiter.paused_for()
                    problem = await self._resolve_refs(item, resolved)
                    if problem is not None:
                        results.append((item, problem))
                        continue
                    limiter.take(chat, group)
                    charged = requests_before(item.out) if requests_before else 0
                    limiter.charge(charged)
                    if chat in more:
                        resume_at = _earliest(
                            resume_at, self.clock.now() + limiter.chat_ready_in(chat, group)
                        )
                    if window == 1:
                        await deliver(item, chat, group, charged)
                        continue
                    task = asyncio.create_task(deliver(item, chat, group, charged),
                                               name=f"helpforce.outbox.{platform}.send")
                    started.append(task)
                    flying.add(task)
                    task.add_done_callback(flying.discard)
                    last_in_chat[chat] = task
                    self._in_flight[platform] += 1
                    task.add_done_callback(lambda _: self._landed(platform))
                if len(later) == len(pending) and flying:
                    # every row left waits for its chat: until one of those sends is answered
                    await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
                pending = later
        except asyncio.CancelledError:
            # stopping: what is on its way is cancelled (an answered send is still recorded)
            for task in flying:
                task.cancel()
            await asyncio.gather(*flying, return_exceptions=True)
            raise
        finally:
            # a failure must not cut short the sends on their way (on Telegram or X a send
            # cut short is left ``sending``, uncertain); they finish, then it is raised
            outcomes = await asyncio.gather(*started, return_exceptions=True) if started else []
            flush()
            if recorded:
                await asyncio.shield(asyncio.gather(*recorded))
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
        return 0

    async def _resolve_refs(self, item: _Item, resolved: dict[int, str]) -> Exception | None:
        """Swap references to our own messages (``row:<id>``: an edit of an offer, a thread
        part replying to the part before, a question's thread opened on its staff-channel
        post) for their platform ids. Each is in the referring message's own chat, so it was
        answered before this one was admitted."""
        for field in ("edit_of", "reply_to", "thread"):
            ref = getattr(item.out, field)
            if not (ref and ref.startswith("row:")):
                continue
            target = await self._row_target(int(ref[4:]), resolved)
            if target is None:
                return _Deferred(f"{field} target not sent yet")
            if field in ("edit_of", "thread"):
                if target == "":
                    return _Dropped(f"{field} target was never sent")
                item.out = replace(item.out, edit_of=target) if field == "edit_of" \
                    else replace(item.out, thread=target)
            else:
                item.out = replace(item.out, reply_to=target or None)
        return None

    async def _drain(self, platform: str, timeout: float) -> None:
        """Send what is due now on ``platform`` (before its dispatcher task exists)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            row = await self.store.fetchone(
                "SELECT COUNT(*) FROM outbox WHERE platform = ? AND state = 'pending' "
                "AND due_at <= ?", (platform, self.clock.now()),
            )
            if not row or not row[0]:
                return
            try:
                if await self._pass(platform) != 0:
                    return
            except Exception:
                log.exception("%s: sending recovered rows failed", platform)
                await self._recover(platform)
                return

    async def _row_target(self, message_row: int, resolved: dict[int, str]) -> str | None:
        """The platform id of one of our messages; None to wait for it, "" if it never went."""
        if message_row in resolved:
            return resolved[message_row]
        r = await self.store.fetchone(
            "SELECT m.platform_message_id, o.state FROM messages m "
            "LEFT JOIN outbox o ON o.message_row = m.id WHERE m.id = ?",
            (message_row,),
        )
        if r is None:
            return ""
        if r[0]:
            return str(r[0])
        return None if r[1] in ("pending", "sending") else ""

    def unrecorded_row(self, platform: str, platform_message_id: str) -> int | None:
        """The message row of a message sent but not yet recorded as sent, if it is one."""
        return self._unrecorded.get((platform, platform_message_id))

    async def _record_many(
        self, tx: Tx, results: list[tuple[_Item, SendResult | Exception]]
    ) -> None:
        now = self.clock.now()
        sent = [(i, r) for i, r in results if isinstance(r, SendResult)]
        if sent:
            await tx.executemany(
                "UPDATE outbox SET state = 'sent', sent_at = ?, platform_message_id = ?, "
                "attempts = attempts + 1 WHERE id = ?",
                [(now, r.platform_message_id, i.row["id"]) for i, r in sent],
            )
            await tx.executemany(
                "UPDATE messages SET platform_message_id = ? WHERE id = ?",
                [(r.platform_message_id, i.row["message_row"]) for i, r in sent
                 if i.row["message_row"] is not None],
            )
            for item, r in sent:
                if item.kind in CUSTOMER_FACING_KINDS:
                    _event(tx, item.row["question_id"], now, EventKind.DELIVERED,
                           item.out.platform, outbox=item.row["id"],
                           platform_message_id=r.platform_message_id)
            self.sent += len(sent)
            keys = [(i.out.platform, r.platform_message_id) for i, r in sent]
            on_sent = self.on_sent

            def committed() -> None:
                for key in keys:
                    self._unrecorded.pop(key, None)
                if on_sent is not None:
                    for i, _ in sent:
                        on_sent(i.out.platform, int(i.row["id"]))

            tx.after_commit(committed)
        for item, result in results:
            if not isinstance(result, SendResult):
                await self._record(tx, item, result)

    async def _record(self, tx: Tx, item: _Item, result: SendResult | Exception) -> None:
        now = self.clock.now()
        row = item.row
        oid, qid, platform = row["id"], row["question_id"], item.out.platform
        if isinstance(result, SendResult):
            await tx.execute(
                "UPDATE outbox SET state = 'sent', sent_at = ?, platform_message_id = ?, "
                "attempts = attempts + 1 WHERE id = ?",
                (now, result.platform_message_id, oid),
            )
            if row["message_row"] is not None:
                await tx.execute(
                    "UPDATE messages SET platform_message_id = ? WHERE id = ?",
                    (result.platform_message_id, row["message_row"]),
                )
            if item.kind in CUSTOMER_FACING_KINDS:
                _event(tx, qid, now, EventKind.DELIVERED, platform, outbox=oid,
                       platform_message_id=result.platform_message_id)
            self.sent += 1
            if self.on_sent is not None:
                on_sent = self.on_sent
                tx.after_commit(lambda: on_sent(platform, oid))
            return
        if isinstance(result, NotNow):
            # a budget of this kind is spent: not an attempt, and nothing else waits for it
            await tx.execute(
                "UPDATE outbox SET state = 'pending', due_at = ?, last_error = ? WHERE id = ?",
                (now + max(result.retry_after, 0.0), result.reason, oid),
            )
            self.deferred += 1
            return
        if isinstance(result, _Deferred):
            await tx.execute(
                "UPDATE outbox SET state = 'pending', due_at = ? WHERE id = ?", (now + 0.5, oid)
            )
            return
        if isinstance(result, _Dropped):
            await tx.execute(
                "UPDATE outbox SET state = 'dropped', last_error = ? WHERE id = ?",
                (result.reason, oid),
            )
            return
        attempts = int(row["attempts"]) + 1
        uncertain = isinstance(result, UncertainError)
        transient = isinstance(result, TransientError) or (
            uncertain and self._idempotent(platform)
        ) or not isinstance(result, (PermanentError, UncertainError))
        reason = getattr(result, "reason", None) or f"{type(result).__name__}: {result}"
        if transient and attempts < self.policy.max_attempts:
            retry_after = getattr(result, "retry_after", None)
            backoff = min(self.policy.backoff_max, self.policy.backoff_base * 2 ** (attempts - 1))
            delay = retry_after if retry_after else backoff * random.uniform(0.5, 1.0)
            await tx.execute(
                "UPDATE outbox SET state = 'pending', attempts = ?, due_at = ?, last_error = ? "
                "WHERE id = ?",
                (attempts, now + delay, reason, oid),
            )
            self.retries += 1
            if self.on_retry is not None:
                on_retry = self.on_retry
                tx.after_commit(lambda: on_retry(platform))
            log.warning("%s: outbox row %d failed (%s); retry %d in %.1fs",
                        platform, oid, reason, attempts, delay)
            return
        state = "uncertain" if uncertain and not transient else "failed"
        if transient:
            reason = f"gave up after {attempts} attempts: {reason}"
        await tx.execute(
            "UPDATE outbox SET state = ?, attempts = ?, last_error = ? WHERE id = ?",
            (state, attempts, reason, oid),
        )
        kind = EventKind.DELIVERY_UNCERTAIN if state == "uncertain" else EventKind.DELIVERY_FAILED
        _event(tx, qid, now, kind, platform, outbox=oid, reason=reason)
        self.failures += 1
        log.warning("%s: outbox row %d %s: %s", platform, oid, state, reason)
        if self.on_failure is not None:
            await self.on_failure(tx, qid, item.kind, reason, state == "uncertain", platform,
                                  item.out, isinstance(result, Unreachable))


#: the due rows of one platform, oldest first (parameters: platform, now)
_DUE = (
    "SELECT o.id, o.key, o.payload, o.attempts, o.message_row, o.question_id, m.kind "
    "FROM outbox o LEFT JOIN messages m ON m.id = o.message_row "
    "WHERE o.platform = ? AND o.state = 'pending' AND o.due_at <= ?"
)


#: the chat of an outbox row's payload, as :func:`_chat` says it
_CHAT_SQL = (
    "COALESCE(NULLIF(json_extract(o.payload, '$.dm_user'), ''), "
    "CASE WHEN json_extract(o.payload, '$.conversation') LIKE 'dm:%' "
    "THEN substr(json_extract(o.payload, '$.conversation'), 4) "
    "ELSE json_extract(o.payload, '$.conversation') END)"
)


class _Deferred(Exception):
    pass


class _Dropped(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _earliest(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


def _chat(out: Outgoing) -> str:
    """The chat a message goes into, as the limiter and the outbox's ordering count it: the
    private chat's user, else the conversation (``dm:<user>`` is that same private chat: an
    edit of a private offer is addressed to its conversation)."""
    if out.dm_user:
        return out.dm_user
    return out.conversation[3:] if out.conversation.startswith("dm:") else out.conversation


def _to_group(out: Outgoing) -> bool:
    """Whether ``out`` goes into a group or channel (the per-group limit applies on top of the
    per-chat one): a public message that is not a private one. Edits count as well: Telegram's
    flood control counts requests into a chat, and python-telegram-bot's own AIORateLimiter
    (see platforms.md) applies its 20/min group limit to every call with a group's chat_id,
    editMessageText included; the desk's edits (an offer marked claimed) are of
    staff-channel posts, so each claimed question costs its staff group two of its 20."""
    return out.dm_user is None and out.visibility is Visibility.PUBLIC


async def _mark_sending(tx: Tx, ids: list[int]) -> None:
    if ids:
        await tx.execute(
            f"UPDATE outbox SET state = 'sending' WHERE id IN ({','.join('?' * len(ids))})", ids
        )


def _event(
    tx: Tx, qid: int | None, at: float, kind: EventKind, platform: str, **data: object
) -> None:
    tx.insert("events", {
        "question_id": qid, "at": at, "kind": kind.value, "actor": None, "platform": platform,
        "data": json.dumps(data, sort_keys=True),
    })
