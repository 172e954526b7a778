"""X end to end: the real App, store and outbox, the real tweepy AsyncClient, and X's API v2
faked on 127.0.0.1 (tests/fakes/x.py), with Telegram (tests/fakes/telegram.py) as the staff's
platform. No fixed sleeps: reads of X are asked for (``poll_now``) and every wait is on a
condition, with a timeout.

People: Jordan (lead, ^JD; own X account 1002) and Priya (agent, ^PR; own X account 1004)
work from Telegram's staff group; Alice and Bob are customers on X (Bob does not accept DMs
from accounts he has not written to); Mallory uses the #acmehelp hashtag, and is not staff.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tweepy")
pytest.importorskip("telegram")
pytest.importorskip("aiohttp", minversion="3.12")

from fakes.telegram import TOKEN as TG_TOKEN  # noqa: E402
from fakes.telegram import FakeTelegram  # noqa: E402
from fakes.x import BRAND_ID, FakeX, Limits, Post  # noqa: E402
from waiting import until  # noqa: E402

from conftest import EXAMPLE_CONFIG  # noqa: E402
from helpforce.adapters.telegram import TelegramAdapterFactory  # noqa: E402
from helpforce.adapters.x import XAdapterFactory  # noqa: E402
from helpforce.adapters.x.adapter import XAdapter  # noqa: E402
from helpforce.app import App  # noqa: E402
from helpforce.clock import SystemClock  # noqa: E402
from helpforce.config import load_config  # noqa: E402
from helpforce.queries import show_question  # noqa: E402

ALICE, JORDAN_X, BOB, PRIYA_X, MALLORY = 1001, 1002, 1003, 1004, 1005
JORDAN_TG, PRIYA_TG = 3001, 3002
STAFF_GROUP = -100500
MENTIONS = "GET /2/users/:id/mentions"
TIMEOUT = 10.0

ROSTER = f"""\
staff:
  - id: jdiaz
    name: Jordan Diaz
    initials: JD
    role: lead
    accounts: {{x: "{JORDAN_X}", telegram: "{JORDAN_TG}"}}
    notify: [telegram]
  - id: praman
    name: Priya Raman
    initials: PR
    accounts: {{x: "{PRIYA_X}", telegram: "{PRIYA_TG}"}}
    notify: [telegram]
"""


def write_config(directory: Path, x: FakeX, tg: FakeTelegram, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "helpforce.yaml").write_text(f"""\
desk:
  brand: acme
platforms:
  x:
    api_base: {x.base_url}
    poll_interval: 1h
    reshare: quote
    searches: ["#acmehelp"]
    rate_limit: {{per_second: 500, burst: 500, per_chat_per_second: null}}
{extra}
  telegram:
    token_env: HF_TELEGRAM_TOKEN
    base_url: {tg.base_url}
    base_file_url: {tg.base_file_url}
    staff_channel: "{STAFF_GROUP}"
    poll_timeout: 1
    rate_limit: {{per_second: 500, burst: 500, per_chat_per_second: null}}
""")
    (directory / "roster.yaml").write_text(ROSTER)
    shutil.copy(EXAMPLE_CONFIG / "policies.yaml", directory / "policies.yaml")
    return directory


class XDesk:
    """The App with the X and Telegram adapters, both on their fakes."""

    def __init__(self, config_dir: Path, db_path: Path, x: FakeX) -> None:
        keys = x.token_for(BRAND_ID)
        self.env = {
            "HELPFORCE_X_CONSUMER_KEY": keys.consumer_key,
            "HELPFORCE_X_CONSUMER_SECRET": keys.consumer_secret,
            "HELPFORCE_X_ACCESS_TOKEN": keys.access_token,
            "HELPFORCE_X_ACCESS_TOKEN_SECRET": keys.access_token_secret,
            "HF_TELEGRAM_TOKEN": TG_TOKEN,
        }
        factories = {"x": XAdapterFactory(), "telegram": TelegramAdapterFactory()}
        self.config = load_config(config_dir, env=self.env, factories=factories)
        adapters = {p: f.create(self.config.settings.platforms[p], clock=SystemClock(),
                                env=self.env) for p, f in factories.items()}
        adapter = adapters["x"]
        assert isinstance(adapter, XAdapter)
        self.adapter = adapter
        self.app = App(self.config, db_path=str(db_path), adapters=adapters, env=self.env)

    async def __aenter__(self) -> XDesk:
        await self.app.start()
        await until(lambda: self.adapter.status() == "connected", TIMEOUT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.stop()

    async def read(self) -> None:
        """Have the adapter read X now, and wait until that read is committed."""
        ticket = self.adapter.poll_now()
        await until(lambda: self.adapter.reads >= ticket, TIMEOUT)

    async def question_where(self, qid: int, check: Callable[[dict[str, Any]], bool]
                             ) -> dict[str, Any]:
        assert self.app.store is not None
        store = self.app.store

        async def probe() -> dict[str, Any] | None:
            q = await show_question(store, qid)
            return q if q is not None and check(q) else None

        found: dict[str, Any] = await until(probe, TIMEOUT)
        return found


def kinds(q: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in q["events"]]


@pytest.fixture
async def x() -> AsyncIterator[FakeX]:
    async with FakeX() as fake:
        fake.user(ALICE, "alice", "Alice")
        fake.user(JORDAN_X, "jordan_acme", "Jordan at Acme")
        fake.user(BOB, "bob", "Bob", accepts_dms_from_anyone=False)
        fake.user(PRIYA_X, "priya_acme", "Priya at Acme")
        fake.user(MALLORY, "mallory", "Mallory")
        yield fake
        assert not fake.server_errors


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        fake.user(JORDAN_TG, "Jordan", "jordan")
        fake.user(PRIYA_TG, "Priya", "priya")
        fake.group(STAFF_GROUP, "Acme staff")
        yield fake


@pytest.fixture
async def desk(x: FakeX, tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[XDesk]:
    async with XDesk(write_config(tmp_path / "config", x, tg), tmp_path / "hf.db", x) as d:
        yield d


def reply_to(tid: int) -> Callable[[Post], bool]:
    return lambda p: p.in_reply_to_tweet_id == tid


# -- the whole loop ------------------------------------------------------------------------------


async def test_a_mention_is_answered_from_telegram_as_a_reply_signed_with_initials(
    x: FakeX, tg: FakeTelegram, desk: XDesk
) -> None:
    asked = x.tweet(ALICE, "@helpforce my TV won't turn on")
    await desk.read()
    offer = await tg.wait_sent(lambda m: m.chat_id == STAFF_GROUP and "#1" in m.text)
    assert "x (public) · @alice" in offer.text and "my TV won't turn on" in offer.text
    tg.user_says(JORDAN_TG, "/answer 1 Hold the power button for ten seconds.",
                 chat_id=STAFF_GROUP)
    answer = await x.wait_tweet(reply_to(asked))
    assert answer.author_id == BRAND_ID
    assert answer.body == "Hold the power button for ten seconds. ^JD"
    assert answer.text.startswith("@alice ")  # X puts the customer's handle in front
    q = await desk.question_where(1, lambda q: "delivered" in kinds(q))
    assert q["platform"] == "x" and q["claimed_by"] == "jdiaz"
    assert q["conversation"] == str(asked)

    # Alice goes on in the conversation: the same question
    x.tweet(ALICE, "It worked, thanks!", reply_to=answer.id)
    await desk.read()
    await desk.question_where(1, lambda q: "followup" in kinds(q))
    assert desk.app.store is not None and await show_question(desk.app.store, 2) is None


async def test_a_staff_reply_from_their_own_account_is_credited_checked_and_reshared(
    x: FakeX, tg: FakeTelegram, desk: XDesk
) -> None:
    asked = x.tweet(ALICE, "@helpforce where is my order?")
    await desk.read()
    await tg.wait_sent(lambda m: m.chat_id == STAFF_GROUP and "#1" in m.text)
    # Jordan answers on X from his own account, and asks for the order number in public
    reply = x.tweet(JORDAN_X, "Sorry about that! What's your order number?", reply_to=asked)
    await desk.read()
    q = await desk.question_where(1, lambda q: "answered" in kinds(q))
    assert q["claimed_by"] == "jdiaz" and q["state"] == "answered"
    answered = next(e for e in q["events"] if e["kind"] == "answered")
    assert answered["actor"] == "jdiaz" and answered["data"]["direct"] is True
    # checked after the fact: Jordan (a lead himself) is alerted
    alert = await tg.wait_sent(lambda m: m.chat_id == JORDAN_TG and "breaks a guideline" in m.text)
    assert "#1" in alert.text
    assert "policy_verdict" in kinds(q)
    # a post that breaks a guideline is not re-shared; nothing was posted for it
    assert not [p for p in x.posted if p.quote_tweet_id == reply]


async def test_a_good_own_account_answer_is_reshared_with_credit(
    x: FakeX, tg: FakeTelegram, desk: XDesk
) -> None:
    asked = x.tweet(ALICE, "@helpforce is the store open on Sunday?")
    await desk.read()
    reply = x.tweet(PRIYA_X, "Yes, 10 to 4!", reply_to=asked)
    await desk.read()
    quote = await x.wait_tweet(lambda p: p.quote_tweet_id == reply)
    assert quote.author_id == BRAND_ID
    assert quote.body == "Answered by Priya Raman (^PR) from our team."
    q = await desk.question_where(1, lambda q: q["state"] == "answered")
    assert q["claimed_by"] == "praman"


async def test_a_second_staff_reply_is_recorded_as_a_duplicate_and_reported(
    x: FakeX, tg: FakeTelegram, desk: XDesk
) -> None:
    asked = x.tweet(ALICE, "@helpforce is the store open on Sunday?")
    await desk.read()
    x.tweet(PRIYA_X, "Yes, 10 to 4!", reply_to=asked)
    await desk.read()
    await desk.question_where(1, lambda q: q["state"] == "answered")
    x.tweet(JORDAN_X, "We open at 10 on Sundays.", reply_to=asked)
    await desk.read()
    q = await desk.question_where(
        1, lambda q: any(e["data"].get("duplicate") for e in q["events"]))
    duplicate = next(e for e in q["events"] if e["data"].get("duplicate"))
    assert duplicate["actor"] == "jdiaz" and duplicate["data"]["held_by"] == "praman"
    assert q["claimed_by"] == "praman"
    report = await tg.wait_sent(lambda m: m.chat_id == JORDAN_TG and "duplicate" in m.text)
    assert "#1" in report.text and "Priya Raman" in report.text


async def test_a_hashtag_is_no_proof_of_staff(
    x: FakeX, tg: FakeTelegram, desk: XDesk
) -> None:
    # outreach search: a post about the brand without an @ is a question
    x.tweet(MALLORY, "#acmehelp my fridge is warm")
    await desk.read()
    q = await desk.question_where(1, lambda q: q["state"] == "offered")
    assert q["customer_id"] == str(MALLORY)
    asked = x.tweet(ALICE, "@helpforce my dryer is loud")
    await desk.read()
    # Mallory "answers" with the hashtag: she is a customer, not staff
    x.tweet(MALLORY, "#acmehelp just kick it @helpforce", reply_to=asked)
    await desk.read()
    q2 = await desk.question_where(2, lambda q: q["state"] == "offered")
    assert q2["claimed_by"] is None and "answered" not in kinds(q2)


async def test_a_move_to_dm_falls_back_to_a_dm_link_when_dms_are_closed(
    x: FakeX, tg: FakeTelegram, desk: XDesk
) -> None:
    asked = x.tweet(BOB, "@helpforce I was charged twice")
    await desk.read()
    await tg.wait_sent(lambda m: m.chat_id == STAFF_GROUP and "#1" in m.text)
    tg.user_says(JORDAN_TG, "/dm 1 Which card did you pay with? Last four digits only.",
                 chat_id=STAFF_GROUP)
    # Bob does not accept DMs from the brand: a public reply with X's DM link
    link = await x.wait_tweet(lambda p: p.in_reply_to_tweet_id == asked
                              and "messages/compose" in p.text)
    assert f"recipient_id={BRAND_ID}" in link.text and "private message" in link.body
    q = await desk.question_where(1, lambda q: "moved_to_dm" in kinds(q))
    assert "escalated" not in kinds(q)
    assert not [d for d in x.sent_dms if d.recipient_id == BOB]
    # Bob writes to the brand privately: the held message goes out, on the same question
    x.dm(BOB, BRAND_ID, "hi, here I am")
    await desk.read()
    dm = await x.wait_dm(lambda d: d.recipient_id == BOB)
    assert dm.text == "Which card did you pay with? Last four digits only. ^JD"
    q = await desk.question_where(1, lambda q: "dm_opened" in kinds(q))
    assert "followup" in kinds(q)


async def test_a_restart_reads_on_from_where_it_stopped(
    x: FakeX, tg: FakeTelegram, tmp_path: Path
) -> None:
    config_dir = write_config(tmp_path / "config", x, tg)
    db = tmp_path / "hf.db"
    old = x.tweet(ALICE, "@helpforce an old mention, before helpforce was set up")
    async with XDesk(config_dir, db, x) as d:
        x.tweet(ALICE, "@helpforce first question")
        await d.read()
        await d.question_where(1, lambda q: q["state"] == "offered")
    x.tweet(BOB, "@helpforce asked while helpforce was down")
    async with XDesk(config_dir, db, x) as d:
        await d.read()
        q2 = await d.question_where(2, lambda q: q["state"] == "offered")
        assert q2["customer_id"] == str(BOB)
        assert d.app.store is not None and await show_question(d.app.store, 3) is None
    since = [c.params.get("since_id") for c in x.calls_of(MENTIONS)]
    assert since[-1] is not None and int(since[-1]) > old
    assert not any(e for e in since[:1])  # the very first read only noted where X stood


async def test_a_burst_of_mentions_stays_within_the_budget(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    # X allows 4 reads of mentions per 15 minutes here, and the budget says the same
    async with FakeX(limits=Limits.of({MENTIONS: (4, 900)})) as x:
        x.user(ALICE, "alice", "Alice")
        budget = "    budgets: {mentions: {requests: 4, per: 15m}}"
        config_dir = write_config(tmp_path / "config", x, tg, budget)
        async with XDesk(config_dir, tmp_path / "hf.db", x) as d:
            first = x.tweet(ALICE, "@helpforce question 0")
            for i in range(1, 150):
                x.tweet(ALICE, f"@helpforce question {i}", reply_to=first)
            await d.read()  # 2 pages of 100
            await d.question_where(1, lambda q: "followup" in kinds(q))
            await d.read()  # the 4th read: nothing new
            await d.read()  # the budget is spent: no request
            assert len(x.calls_of(MENTIONS)) == 4 and x.rate_limited == 0
            assert d.adapter.budgets["mentions"].delay() > 800
            assert d.app.store is not None
            q = await show_question(d.app.store, 1)
            assert q is not None
            assert sum(1 for e in q["events"] if e["kind"] == "followup") == 149


async def test_a_long_answer_goes_out_as_a_numbered_thread(
    x: FakeX, tg: FakeTelegram, desk: XDesk
) -> None:
    from helpforce.policies.length import weighted_length

    asked = x.tweet(ALICE, "@helpforce how do I pair the sound bar?")
    await desk.read()
    await tg.wait_sent(lambda m: m.chat_id == STAFF_GROUP and "#1" in m.text)
    steps = " ".join(f"Step {i}: hold the button marked {i} until it blinks twice."
                     for i in range(1, 12))
    tg.user_says(JORDAN_TG, f"/answer 1 {steps}", chat_id=STAFF_GROUP)
    await desk.question_where(1, lambda q: kinds(q).count("delivered") >= 3)
    thread = [p for p in x.posted if p.author_id == BRAND_ID]
    assert len(thread) >= 3
    assert thread[0].in_reply_to_tweet_id == asked
    for before, part in zip(thread, thread[1:], strict=False):
        assert part.in_reply_to_tweet_id == before.id  # each part replies to the one before
    assert all(weighted_length(p.body, "x") <= 280 for p in thread)
    assert "Step 11" in thread[-1].body and thread[-1].body.endswith("^JD")
    assert "1/" in thread[0].body


async def test_a_reply_x_refuses_to_an_outreach_post_escalates_visibly(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    # since 2026 self-serve access may reply only to posts that mention or quote the account
    async with FakeX(reply_restriction=True) as x:
        x.user(MALLORY, "mallory", "Mallory")
        config_dir = write_config(tmp_path / "config", x, tg)
        async with XDesk(config_dir, tmp_path / "hf.db", x) as d:
            x.tweet(MALLORY, "#acmehelp my fridge is warm")
            await d.read()
            await tg.wait_sent(lambda m: m.chat_id == STAFF_GROUP and "#1" in m.text)
            tg.user_says(JORDAN_TG, "/answer 1 Check the door seal first.", chat_id=STAFF_GROUP)
            q = await d.question_where(1, lambda q: q["state"] == "escalated")
            failed = next(e for e in q["events"] if e["kind"] == "delivery_failed")
            assert "X refused the post" in failed["data"]["reason"]
            note = await tg.wait_sent(lambda m: m.chat_id == JORDAN_TG and "needs a lead" in m.text)
            assert "#1" in note.text
            assert not x.posted
