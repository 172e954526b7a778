"""The outbox: retries with backoff, retry-after, permanent and uncertain failures, crash
recovery on idempotent and non-idempotent platforms, and rate limits.

Time is a :class:`ManualClock`: a retry that is not due yet cannot happen until the test
advances the clock, so "not sent before" is checked without sleeping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from helpforce.adapter import PermanentError, SendResult, TransientError, UncertainError
from helpforce.adapters.local.adapter import LocalAdapter
from helpforce.adapters.local.platform import BotMessage, LocalPlatform
from helpforce.adapters.local.testing import DeskHarness
from helpforce.app import App
from helpforce.clock import ManualClock
from helpforce.config import Config
from helpforce.config.schema import RateLimit
from helpforce.models import Outgoing, Visibility
from helpforce.outbox import Outbox
from helpforce.ratelimit import PlatformLimiter, TokenBucket
from helpforce.store import Store, Tx

LEADS = ("staff-jd", "staff-pr", "staff-me")  # jdiaz and praman (leads), mellis (manager)


async def settle(desk: DeskHarness, timeout: float = 20.0) -> None:
    await desk.settle(timeout=timeout)


async def next_message(desk: DeskHarness, chat: str, timeout: float = 20.0) -> BotMessage:
    return await desk.next_message(chat, timeout=timeout)


class CountingAdapter(LocalAdapter):
    """The local adapter, counting the sends it is asked for by outbox key."""

    calls: Counter[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls = Counter()

    async def send(self, out: Outgoing) -> SendResult:
        self.calls[out.key] += 1
        return await super().send(out)


class NonIdempotentAdapter(CountingAdapter):
    """A platform without idempotency keys (like Telegram or X)."""

    capabilities = dataclasses.replace(LocalAdapter.capabilities, idempotent_send=False)


def harness(
    config: Config, db: Path, clock: ManualClock, local: LocalPlatform | None = None,
    adapter_cls: type[CountingAdapter] = CountingAdapter,
) -> DeskHarness:
    h = DeskHarness(config, db, clock=clock, local=local)
    h.adapter = adapter_cls(h.local, clock)
    h.app = App(config, db_path=str(db), clock=clock, adapters={"local": h.adapter},
                observers=[h.events.append])
    return h


def calls(h: DeskHarness) -> Counter[str]:
    assert isinstance(h.adapter, CountingAdapter)
    return h.adapter.calls


def with_local(config: Config, **update: Any) -> Config:
    settings = config.settings
    local = settings.platforms["local"].model_copy(update=update)
    return dataclasses.replace(
        config,
        settings=settings.model_copy(update={"platforms": {**settings.platforms, "local": local}}),
    )


def with_outbox(config: Config, **update: Any) -> Config:
    settings = config.settings
    outbox = settings.outbox.model_copy(update=update)
    return dataclasses.replace(config, settings=settings.model_copy(update={"outbox": outbox}))


def texts(h: DeskHarness, chat: str) -> list[str]:
    return [m.text for m in h.local.sent(chat)]


async def answer_row(h: DeskHarness, kind: str = "answer", n: int = -1) -> dict[str, Any]:
    rows = await h.store.fetchall(
        "SELECT o.* FROM outbox o JOIN messages m ON m.id = o.message_row WHERE m.kind = ? "
        "ORDER BY o.id", (kind,),
    )
    assert rows, f"no outbox row for a {kind}"
    return dict(rows[n])


def kinds(q: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in q["events"]]


async def claimed_question(h: DeskHarness, account: str = "staff-jd") -> None:
    h.customer("cust1", "help", "My TV keeps switching off", handle="alice")
    await settle(h)
    h.staff(account, "/claim 1")
    await settle(h)


# -- transient failures and retries -------------------------------------------------------------


async def test_a_transient_failure_is_retried_after_backoff(
    plain_config: Config, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with harness(plain_config, tmp_path / "hf.db", clock) as h:
        await claimed_question(h)
        h.local.fail_next(TransientError("503"))
        h.staff("staff-jd", "/answer 1 Turn off the eco timer.")
        await settle(h)
        row = await answer_row(h)
        assert texts(h, "help") == []
        assert row["state"] == "pending" and row["attempts"] == 1
        assert row["last_error"] == "503"
        # the first backoff is backoff_base (0.5 s) jittered to 50-100 %: at least 0.25 s
        assert clock.now() + 0.25 <= row["due_at"] <= clock.now() + 0.5
        await clock.advance(0.2)
        await settle(h)
        assert texts(h, "help") == []
        assert calls(h)[row["key"]] == 1
        await clock.advance(0.4)
        await settle(h)
        assert texts(h, "help") == ["Turn off the eco timer. ^JD"]
        row = await answer_row(h)
        assert row["state"] == "sent" and row["attempts"] == 2
        assert row["platform_message_id"] == h.local.sent("help")[0].id
        # nothing is sent again, however long we wait
        await clock.advance(3600)
        await settle(h)
        assert calls(h)[row["key"]] == 2
        assert len(h.local.sent("help")) == 1
        q = await h.question(1)
        assert kinds(q).count("delivered") == 1
        assert q["state"] == "answered"


async def test_retry_after_is_honoured(plain_config: Config, tmp_path: Path) -> None:
    clock = ManualClock()
    async with harness(plain_config, tmp_path / "hf.db", clock) as h:
        await claimed_question(h)
        h.local.fail_next(TransientError("429", retry_after=30))
        h.staff("staff-jd", "/answer 1 Turn off the eco timer.")
        await settle(h)
        row = await answer_row(h)
        assert row["state"] == "pending" and row["attempts"] == 1
        assert row["due_at"] == pytest.approx(clock.now() + 30)
        await clock.advance(29)
        await settle(h)
        assert texts(h, "help") == []
        assert calls(h)[row["key"]] == 1
        await clock.advance(1.5)
        await settle(h)
        assert texts(h, "help") == ["Turn off the eco timer. ^JD"]
        assert (await answer_row(h))["state"] == "sent"


async def test_transient_failures_give_up_after_max_attempts(
    plain_config: Config, tmp_path: Path
) -> None:
    config = with_outbox(plain_config, max_attempts=2)
    clock = ManualClock()
    async with harness(config, tmp_path / "hf.db", clock) as h:
        await claimed_question(h)
        h.local.fail_next(TransientError("503"), TransientError("502"))
        h.staff("staff-jd", "/answer 1 Turn off the eco timer.")
        await settle(h)
        await clock.advance(1.0)
        await settle(h)
        row = await answer_row(h)
        assert row["state"] == "failed" and row["attempts"] == 2
        assert row["last_error"] == "gave up after 2 attempts: 502"
        assert calls(h)[row["key"]] == 2
        assert texts(h, "help") == []
        q = await h.question(1)
        assert "delivery_failed" in kinds(q) and q["state"] == "escalated"


# -- permanent and uncertain failures -------------------------------------------------------------


async def test_a_permanent_failure_escalates_to_the_leads(
    plain_config: Config, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with harness(plain_config, tmp_path / "hf.db", clock) as h:
        await claimed_question(h, "staff-so")  # sokafor, an agent
        h.local.fail_next(PermanentError("user blocked the bot"))
        h.staff("staff-so", "/answer 1 Turn off the eco timer.")
        await settle(h)
        row = await answer_row(h)
        assert row["state"] == "failed" and row["attempts"] == 1
        assert row["last_error"] == "user blocked the bot"
        assert texts(h, "help") == []
        q = await h.question(1)
        assert q["state"] == "escalated" and q["claimed_by"] is None
        failed = [e for e in q["events"] if e["kind"] == "delivery_failed"]
        assert len(failed) == 1 and failed[0]["data"]["outbox"] == row["id"]
        assert failed[0]["data"]["reason"] == "user blocked the bot"
        escalated = [e for e in q["events"] if e["kind"] == "escalated"]
        assert escalated and "could not be delivered" in escalated[-1]["data"]["reason"]
        note = ("#1 needs a lead: a reply could not be delivered to @alice on local "
                "(user blocked the bot).")
        for account in (*LEADS, "staff-so"):  # the leads, and the agent who answered
            assert note in texts(h, f"dm:{account}"), account
        assert note not in texts(h, "dm:staff-lm")  # an uninvolved agent
        # nothing is retried
        await clock.advance(3600)
        await settle(h)
        assert calls(h)[row["key"]] == 1
        # a lead picks it up and can answer
        h.staff("staff-jd", "/answer 1 We will call you instead.")
        await settle(h)
        assert texts(h, "help") == ["We will call you instead. ^JD"]


async def test_a_failed_staff_notice_does_not_escalate(
    plain_config: Config, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with harness(plain_config, tmp_path / "hf.db", clock) as h:
        h.customer("cust1", "help", "My TV keeps switching off", handle="alice")
        await settle(h)
        h.local.fail_next(PermanentError("chat gone"))
        h.staff("staff-jd", "/note 1 internal")
        await settle(h)
        q = await h.question(1)
        assert q["state"] == "offered"
        assert "escalated" not in kinds(q)
        failed = await h.store.fetchall("SELECT state FROM outbox WHERE state = 'failed'")
        assert len(failed) == 1


async def test_uncertain_send_on_an_idempotent_platform_is_retried_with_the_same_key(
    plain_config: Config, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with harness(plain_config, tmp_path / "hf.db", clock) as h:
        await claimed_question(h)
        h.local.fail_next(UncertainError("timed out reading the response"))
        h.staff("staff-jd", "/answer 1 Turn off the eco timer.")
        await settle(h)
        # the platform did post it; we do not know that yet
        assert texts(h, "help") == ["Turn off the eco timer. ^JD"]
        row = await answer_row(h)
        assert row["state"] == "pending" and row["attempts"] == 1
        await clock.advance(1.0)
        await settle(h)
        row = await answer_row(h)
        assert row["state"] == "sent" and row["attempts"] == 2
        assert calls(h)[row["key"]] == 2
        # the retry carried the same key: the customer sees one message
        assert texts(h, "help") == ["Turn off the eco timer. ^JD"]
        assert row["platform_message_id"] == h.local.sent("help")[0].id
        q = await h.question(1)
        assert kinds(q).count("delivered") == 1
        assert "delivery_uncertain" not in kinds(q) and q["state"] == "answered"


async def test_uncertain_send_on_a_non_idempotent_platform_is_never_resent(
    plain_config: Config, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with harness(plain_config, tmp_path / "hf.db", clock,
                       adapter_cls=NonIdempotentAdapter) as h:
        await claimed_question(h)
        h.local.fail_next(UncertainError("timed out reading the response"))
        h.staff("staff-jd", "/answer 1 Turn off the eco timer.")
        await settle(h)
        row = await answer_row(h)
        assert row["state"] == "uncertain" and row["attempts"] == 1
        await clock.advance(3600)
        await settle(h)
        assert calls(h)[row["key"]] == 1
        q = await h.question(1)
        assert "delivery_uncertain" in kinds(q) and q["state"] == "escalated"
        note = ("#1 needs a lead: a reply may not have reached @alice on local "
                "(timed out reading the response).")
        for account in LEADS:
            assert note in texts(h, f"dm:{account}")


async def test_an_edit_waits_for_the_message_it_edits(
    plain_config: Config, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with harness(plain_config, tmp_path / "hf.db", clock) as h:
        # the staff-channel offer (the first send) fails once; the claim comes meanwhile
        h.local.fail_next(TransientError("503"))
        h.customer("cust1", "help", "My TV keeps switching off", handle="alice")
        h.staff("staff-pr", "/claim 1")
        await settle(h)
        assert texts(h, "staff") == []
        edit = dict((await h.store.fetchall(
            "SELECT * FROM outbox WHERE json_extract(payload, '$.edit_of') IS NOT NULL"
        ))[0])
        assert edit["state"] == "pending"
        await clock.advance(1.0)
        await settle(h)
        staff = h.local.sent("staff")
        assert [m.edit for m in staff] == [False, True]
        assert staff[1].id == staff[0].id
        current = h.local.bot_message(staff[0].id)
        assert current is not None
        assert current.text == "#1 · local · @alice — claimed by Priya Raman (^PR)"
        assert current.buttons == ()


async def test_an_edit_of_a_message_that_never_went_is_dropped(
    plain_config: Config, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with harness(plain_config, tmp_path / "hf.db", clock) as h:
        h.local.fail_next(PermanentError("staff channel gone"))
        h.customer("cust1", "help", "My TV keeps switching off", handle="alice")
        h.staff("staff-pr", "/claim 1")
        await settle(h)
        await clock.advance(1.0)  # the edit waited for the offer's fate
        await settle(h)
        states = {r[0]: r[1] for r in await h.store.fetchall(
            "SELECT json_extract(payload, '$.edit_of') IS NOT NULL, state FROM outbox "
            "WHERE json_extract(payload, '$.conversation') = 'staff'"
        )}
        assert states == {0: "failed", 1: "dropped"}
        assert texts(h, "staff") == []
        # an offer is not customer-facing: no escalation
        q = await h.question(1)
        assert q["state"] == "claimed" and "escalated" not in kinds(q)


# -- crash recovery ---------------------------------------------------------------------------


def _set_sending(db: Path, ids: list[int]) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.executemany("UPDATE outbox SET state = 'sending' WHERE id = ?", [(i,) for i in ids])
        conn.commit()
    finally:
        conn.close()


async def _first_run_leaves_two_answers(
    config: Config, db: Path, clock: ManualClock, local: LocalPlatform,
    adapter_cls: type[CountingAdapter],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Answer 1 was sent; answer 2 failed transiently and waits for its retry. Then the
    process "crashes" during both sends: the rows are left ``sending``."""
    async with harness(config, db, clock, local, adapter_cls) as h:
        await claimed_question(h)
        h.staff("staff-jd", "/answer 1 First answer")
        await settle(h)
        h.local.fail_next(TransientError("503"))
        h.staff("staff-jd", "/answer 1 Second answer")
        await settle(h)
        sent = await answer_row(h, n=0)
        waiting = await answer_row(h, n=1)
    assert sent["state"] == "sent" and waiting["state"] == "pending"
    assert texts_of(local, "help") == ["First answer ^JD"]
    _set_sending(db, [sent["id"], waiting["id"]])
    return sent, waiting


def texts_of(local: LocalPlatform, chat: str) -> list[str]:
    return [m.text for m in local.sent(chat)]


async def test_rows_left_sending_are_resent_on_an_idempotent_platform(
    plain_config: Config, tmp_path: Path
) -> None:
    db, clock, local = tmp_path / "hf.db", ManualClock(), LocalPlatform()
    sent, waiting = await _first_run_leaves_two_answers(
        plain_config, db, clock, local, CountingAdapter
    )
    async with harness(plain_config, db, clock, local) as h:
        await settle(h)
        # both were sent again with their keys; the platform posted each once
        assert calls(h)[sent["key"]] == 1 and calls(h)[waiting["key"]] == 1
        assert texts(h, "help") == ["First answer ^JD", "Second answer ^JD"]
        rows = {r["id"]: r for r in [await answer_row(h, n=0), await answer_row(h, n=1)]}
        assert rows[sent["id"]]["state"] == "sent"
        assert rows[sent["id"]]["platform_message_id"] == sent["platform_message_id"]
        assert rows[waiting["id"]]["state"] == "sent"
        q = await h.question(1)
        assert "delivery_uncertain" not in kinds(q)
        assert q["state"] == "answered"


async def test_rows_left_sending_become_uncertain_on_a_non_idempotent_platform(
    plain_config: Config, tmp_path: Path
) -> None:
    db, clock, local = tmp_path / "hf.db", ManualClock(), LocalPlatform()
    sent, waiting = await _first_run_leaves_two_answers(
        plain_config, db, clock, local, NonIdempotentAdapter
    )
    async with harness(plain_config, db, clock, local, NonIdempotentAdapter) as h:
        await settle(h)
        await clock.advance(3600)  # well past the second answer's retry time
        await settle(h)
        assert calls(h)[sent["key"]] == 0 and calls(h)[waiting["key"]] == 0
        assert texts(h, "help") == ["First answer ^JD"]  # never re-sent
        for n in (0, 1):
            row = await answer_row(h, n=n)
            assert row["state"] == "uncertain"
            assert "delivery unknown" in row["last_error"]
        q = await h.question(1)
        uncertain = [e for e in q["events"] if e["kind"] == "delivery_uncertain"]
        assert sorted(e["data"]["outbox"] for e in uncertain) == sorted(
            [sent["id"], waiting["id"]]
        )
        assert q["state"] == "escalated"
        assert any("may not have reached @alice" in t for t in texts(h, "dm:staff-pr"))


# -- waking the dispatcher ---------------------------------------------------------------------


class CommitDuringEmptyPass(Store):
    """Runs ``hook`` right after the outbox's pass has found nothing due (its MIN(due_at)
    query), i.e. a desk step committing a row and waking the outbox at that moment."""

    hook: Any = None

    async def fetchone(self, sql: str, params: Any = ()) -> Any:
        row = await super().fetchone(sql, params)
        if "MIN(due_at)" in sql and self.hook is not None:
            hook, self.hook = self.hook, None
            await hook()
        return row


async def test_a_wake_during_an_empty_pass_is_not_lost(tmp_path: Path) -> None:
    clock = ManualClock()
    local = LocalPlatform()
    store = CommitDuringEmptyPass(tmp_path / "hf.db")
    await store.open()
    outbox = Outbox(
        store, {"local": LocalAdapter(local, clock)},
        {"local": PlatformLimiter(1000, 1000, None, clock)}, clock,
    )
    received = local.subscribe("help")

    async def enqueue(tx: Tx) -> None:
        oid = tx.new_id("outbox")
        out = Outgoing("local", "help", "hello", Visibility.PUBLIC, key=f"hf{oid}")
        tx.insert("outbox", {
            "id": oid, "key": out.key, "platform": "local", "message_row": None,
            "question_id": None, "payload": json.dumps(out.to_json()), "state": "pending",
            "attempts": 0, "due_at": clock.now(), "created_at": clock.now(),
        })
        tx.after_commit(lambda: outbox.wake("local"))  # as Desk._enqueue does

    async def commit_and_wake() -> None:
        await store.transaction(enqueue)

    store.hook = commit_and_wake
    await outbox.start()
    try:
        msg = await asyncio.wait_for(received.get(), 3.0)
        assert msg.text == "hello"
    finally:
        await outbox.stop(drain=0)
        await store.close()


# -- rate limits ----------------------------------------------------------------------------------


async def test_token_bucket_waits_one_over_rate_after_the_burst() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=4.0, burst=3, clock=clock)
    for _ in range(3):
        assert bucket.delay() == 0
        bucket.take()
    assert bucket.delay() == pytest.approx(1 / 4)
    await clock.advance(0.125)
    assert bucket.delay() == pytest.approx(0.125)
    await clock.advance(0.125)
    assert bucket.delay() == 0
    bucket.take()
    assert bucket.delay() == pytest.approx(1 / 4)
    # it never banks more than the burst
    await clock.advance(3600)
    for _ in range(3):
        bucket.take()
    assert bucket.delay() == pytest.approx(1 / 4)


async def test_platform_limiter_global_per_chat_and_pause() -> None:
    clock = ManualClock()
    limiter = PlatformLimiter(per_second=2.0, burst=2, per_chat_per_second=1.0, clock=clock)
    assert limiter.ready_in("a") == 0
    limiter.take("a")
    # one message per second into one chat...
    assert limiter.ready_in("a") == pytest.approx(1.0)
    # ...while another chat may go at once
    assert limiter.ready_in("b") == 0
    limiter.take("b")
    # the platform-wide burst is spent: everyone waits 1/rate
    assert limiter.ready_in("c") == pytest.approx(0.5)
    await clock.advance(0.5)
    assert limiter.ready_in("c") == 0
    assert limiter.ready_in("a") == pytest.approx(0.5)
    limiter.pause(30)
    assert limiter.ready_in("c") == pytest.approx(30)
    await clock.advance(30)
    assert limiter.ready_in("c") == 0
    unlimited = PlatformLimiter(per_second=1.0, burst=1, per_chat_per_second=None, clock=clock)
    unlimited.take("a")
    assert unlimited.ready_in("a") == pytest.approx(1.0)


async def test_the_outbox_keeps_to_the_platform_rate(
    plain_config: Config, tmp_path: Path
) -> None:
    config = with_local(
        plain_config,
        rate_limit=RateLimit(per_second=1.0, burst=2, per_chat_per_second=None),
    )
    clock = ManualClock()
    async with harness(config, tmp_path / "hf.db", clock) as h:
        for chat in ("staff", "dm:staff-jd", "dm:staff-pr", "dm:staff-me"):
            h.watch(chat)
        # one question: an offer in the staff channel and five direct offers
        h.customer("cust1", "help", "My TV keeps switching off", handle="alice")
        await next_message(h, "staff")
        await next_message(h, "dm:staff-jd")
        assert len(h.local.sent()) == 2  # the burst
        await clock.advance(0.5)
        assert len(h.local.sent()) == 2  # the third waits a whole 1/rate
        await clock.advance(0.5)
        await next_message(h, "dm:staff-pr")
        assert len(h.local.sent()) == 3
        await clock.advance(0.5)
        assert len(h.local.sent()) == 3
        await clock.advance(0.5)
        await next_message(h, "dm:staff-me")
        assert len(h.local.sent()) == 4
        for _ in range(2):
            await clock.advance(1.0)
        await settle(h)
        assert len(h.local.sent()) == 6
