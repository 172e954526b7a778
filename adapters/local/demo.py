"""``helpforce demo``: the real daemon, store and outbox on the local platform, with simulated
customers and staff.

Customers write the questions below (written by the team for the demo) in the public help
channel or privately; staff from the roster watch their private chat with the bot and the staff
channel, race to claim, answer by replying to the bot's notification, sometimes slip and ask for
an order number in public (the privacy policy stops it and they move to a private message), and
resolve. The demo ends when every question is answered (or a time limit passes) and prints a
summary of what the store recorded.
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from helpforce.adapters.local.adapter import LocalAdapter
from helpforce.adapters.local.platform import BotMessage, LocalPlatform
from helpforce.app import App
from helpforce.clock import SystemClock
from helpforce.config import Config
from helpforce.config.schema import StaffMember
from helpforce.models import Event, EventKind
from helpforce.queries import summary

# (topic, question, a good public answer)
QUESTIONS: list[tuple[str, str, str]] = [
    ("tv", "My new TV keeps switching itself off after about ten minutes. Any ideas?",
     "That's usually the eco timer: Settings > General > Power > Auto power off. Switch it "
     "off and it should stay on."),
    ("tv", "Does the 55 inch OLED support 120Hz over HDMI 2.1 for consoles?",
     "Yes, HDMI ports 3 and 4 support 4K at 120Hz. Turn on 'Input signal plus' for that port."),
    ("orders", "I ordered a blender last week and it still says processing. What's going on?",
     "Sorry for the wait! Processing can take up to 3 working days during sales; you'll get "
     "an e-mail as soon as it ships."),
    ("orders", "Can I change the delivery address on an order that's already been placed?",
     "You can, as long as it hasn't shipped: open the order in your account and choose "
     "'Change delivery'."),
    ("billing", "I was charged twice for the same headphones, can someone help?",
     "Sorry about that! A duplicate charge is usually a pending authorisation that drops off "
     "within 5 working days."),
    ("billing", "Do you take gift cards for online orders?",
     "Yes, you can add up to five gift cards at checkout, under 'Payment options'."),
    ("computing", "My laptop fan is really loud since the last update. Is that normal?",
     "An update can trigger indexing for a day or two. If it lasts longer, run the "
     "manufacturer's diagnostics from the support app."),
    ("computing", "Which of your laptops are best for video editing under 1500?",
     "Look for 32 GB of RAM and a dedicated GPU: the Creator 15 and the Studio 14 both fit."),
    ("mobile", "My phone won't charge with the cable that came in the box.",
     "Try another wall adapter first; if it still won't charge, bring it to any store for a "
     "free check."),
    ("mobile", "When does the new phone go on sale in stores?",
     "It's in stores from Friday at 8am, and you can pre-order online today."),
    ("appliances", "The washing machine shows error E21 and won't drain.",
     "E21 means a blocked drain: clean the filter behind the small flap at the bottom front."),
    ("appliances", "Do you take away the old fridge when you deliver the new one?",
     "Yes: choose 'Recycle my old appliance' at checkout and the crew takes it away."),
    ("orders", "Is there a way to track my order without logging in?",
     "Yes, the link in your dispatch e-mail works without logging in."),
    ("billing", "Why did the price drop the day after I bought it? Can I get the difference?",
     "Our price promise covers drops within 14 days: ask in any store or by chat and we'll "
     "refund the difference."),
    ("tv", "The soundbar has a delay compared to the picture. How do I fix it?",
     "Set the TV's audio output to 'Pass-through' and turn on lip sync in the soundbar's "
     "settings."),
]

ANSWERS = {question: answer for _, question, answer in QUESTIONS}

FOLLOWUPS = [
    "Thanks, that worked!",
    "Still not working, anything else I can try?",
    "Great, thank you so much.",
]

# a careless first answer the privacy policy must stop
SLIP = "Sorry to hear that! What is your order number? I'll check it for you."
PRIVATE_ASK = "Could you send me your order number here so I can look it up?"
PRIVATE_DETAILS = "Sure, it's 4471-2290-18."
PRIVATE_ANSWER = "Thanks! I've checked it: it ships tomorrow and you'll get tracking by e-mail."

_QID = re.compile(r"#(\d+)")


@dataclass
class DemoOptions:
    questions: int = 20
    seed: int = 7
    as_json: bool = False
    timeout: float = 60.0
    db: str | None = None
    #: chance that a staff member first asks for private data in public
    slip_rate: float = 0.2
    #: chance that a question is asked privately (a DM to the bot) rather than in public
    private_rate: float = 0.15


class _Live:
    """Prints what happens as it happens."""

    def __init__(self, config: Config, out: TextIO | None) -> None:
        self.out = out
        self.names = {s.id: f"{s.name} (^{s.initials})" for s in config.roster.staff}
        self.start = time.monotonic()

    def __call__(self, e: Event) -> None:
        if self.out is None:
            return
        t = f"{time.monotonic() - self.start:6.2f}s"
        who = self.names.get(e.actor or "", e.actor or "")
        q = f"#{e.question_id}" if e.question_id is not None else "  "
        d = e.data
        line = {
            EventKind.RECEIVED: lambda: f"question received ({d.get('visibility')})",
            EventKind.OFFERED: lambda: (
                f"offered in {', '.join(d.get('channels', [])) or 'no channel'} and to "
                f"{len(d.get('staff', []))} staff directly"
            ),
            EventKind.CLAIMED: lambda: f"claimed by {who}",
            EventKind.CLAIM_REFUSED: lambda: (
                f"{who} was too late: held by {self.names.get(d.get('held_by', ''), '?')}"
            ),
            EventKind.ANSWERED: lambda: f"answered by {who} ({d.get('visibility')})",
            EventKind.MOVED_TO_DM: lambda: f"moved to a private conversation by {who}",
            EventKind.FOLLOWUP: lambda: f"customer wrote again ({d.get('visibility')})",
            EventKind.RESOLVED: lambda: f"resolved by {who}",
            EventKind.REOPENED: lambda: "reopened by the customer",
            EventKind.ESCALATED: lambda: f"ESCALATED: {d.get('reason')}",
            EventKind.DELIVERY_FAILED: lambda: f"delivery failed: {d.get('reason')}",
        }.get(e.kind)
        if e.kind is EventKind.POLICY_VERDICT and d.get("action") != "allow":
            text = f"policy {d.get('rule')} said {d.get('action')}: {who}'s reply was not sent"
        elif line is None:
            return
        else:
            text = line()
        print(f"{t}  {q:>5}  {text}", file=self.out, flush=True)


class _Staff:
    def __init__(
        self, member: StaffMember, local: LocalPlatform, rng: random.Random, slip_rate: float
    ) -> None:
        self.member = member
        self.user_id = member.accounts["local"]
        self.local = local
        self.rng = rng
        self.slip_rate = slip_rate
        self.inbox = local.subscribe(f"dm:{self.user_id}")
        self.slipped: set[int] = set()

    async def _think(self, low: float = 0.02, high: float = 0.25) -> None:
        await asyncio.sleep(self.rng.uniform(low, high))

    def say(self, text: str, reply_to: str | None = None) -> None:
        self.local.post(self.user_id, f"dm:{self.user_id}", text, reply_to=reply_to,
                        handle=self.member.initials.lower())

    async def run(self) -> None:
        while True:
            msg = await self.inbox.get()
            asyncio.get_running_loop().create_task(self._react(msg))

    async def _react(self, msg: BotMessage) -> None:
        m = _QID.search(msg.text)
        qid = int(m.group(1)) if m else None
        if qid is None:
            return
        if any(data == f"claim:{qid}" for _, data in msg.buttons):
            if self.rng.random() < 0.6:
                await self._think()
            else:  # not everyone jumps on every offer: some get to it later (and may lose)
                await self._think(0.8, 1.5)
            self.local.press(self.user_id, msg.id, f"claim:{qid}")
        elif msg.text.startswith("You hold"):
            await self._think(0.05, 0.4)
            if self.rng.random() < self.slip_rate:
                self.slipped.add(qid)
                self.say(SLIP, reply_to=msg.id)
            else:
                asked = msg.text.split("\n", 1)[-1]
                self.say(ANSWERS.get(asked, "Thanks for asking! Here's what to do."),
                         reply_to=msg.id)
        elif msg.text.startswith("Not sent"):
            await self._think()
            send = [data for _, data in msg.buttons if data.startswith("send:")]
            if send and self.rng.random() < 0.7:
                # one action: the compliant version (here: the same ask, privately)
                self.local.press(self.user_id, msg.id, send[0])
            else:
                self.say(f"/dm {qid} {PRIVATE_ASK}")
        elif "wrote again" in msg.text:
            await self._think()
            if PRIVATE_DETAILS.split(",")[1].strip().rstrip(".") in msg.text:
                self.say(f"/answer {qid} {PRIVATE_ANSWER}")
            else:
                self.say(f"/resolve {qid}")


async def _lead_sweeper(
    leads: list[_Staff], local: LocalPlatform, staff_channel: str, rng: random.Random
) -> None:
    """Leads watch the staff channel and take what nobody claimed within a moment."""
    posts = local.subscribe(staff_channel)
    while True:
        msg = await posts.get()
        if msg.edit or not msg.buttons:
            continue
        m = _QID.search(msg.text)
        if m and leads:
            qid = int(m.group(1))

            async def later(msg: BotMessage = msg, qid: int = qid) -> None:
                await asyncio.sleep(0.8)
                current = local.bot_message(msg.id)
                if current is not None and current.buttons:
                    lead = rng.choice(leads)
                    local.press(lead.user_id, msg.id, f"claim:{qid}")

            asyncio.get_running_loop().create_task(later())


async def _customer(n: int, local: LocalPlatform, rng: random.Random, opts: DemoOptions) -> None:
    _, question, _ = QUESTIONS[n % len(QUESTIONS)]
    user = f"cust{n + 1}"
    handle = f"customer{n + 1}"
    private = rng.random() < opts.private_rate
    chat = f"dm:{user}" if private else "help"
    dms = local.subscribe(f"dm:{user}")
    public = local.subscribe("help")
    await asyncio.sleep(rng.uniform(0, min(2.0, 0.05 * opts.questions)))
    mine = {local.post(user, chat, question, handle=handle)}
    replies: asyncio.Queue[BotMessage] = asyncio.Queue()

    async def pump(q: asyncio.Queue[BotMessage], only_mine: bool) -> None:
        while True:
            msg = await q.get()
            if not only_mine or msg.reply_to in mine:
                replies.put_nowait(msg)

    pumps = [asyncio.create_task(pump(dms, False)), asyncio.create_task(pump(public, True))]
    try:
        while True:
            msg = await replies.get()
            where = msg.chat
            if msg.chat.startswith("dm:") and "order number" in msg.text:
                await asyncio.sleep(rng.uniform(0.05, 0.2))
                mine.add(local.post(user, f"dm:{user}", PRIVATE_DETAILS, handle=handle))
            elif "private message" in msg.text:
                continue  # the public note that we moved to a DM
            elif rng.random() < 0.3:
                await asyncio.sleep(rng.uniform(0.05, 0.2))
                mine.add(local.post(user, where, rng.choice(FOLLOWUPS), handle=handle,
                                    reply_to=msg.id if where == "help" else None))
                return
    finally:
        for p in pumps:
            p.cancel()


async def run_demo(
    config: Config, opts: DemoOptions, out: TextIO | None = sys.stdout
) -> dict[str, Any]:
    rng = random.Random(opts.seed)
    db = opts.db
    if db is None:
        db = str(Path(tempfile.mkdtemp(prefix="helpforce-demo-")) / "demo.db")
    local = LocalPlatform()
    clock = SystemClock()
    settings = config.enabled_platforms().get("local")
    if settings is None:
        raise ValueError("the demo needs the local platform enabled in helpforce.yaml")
    adapter = LocalAdapter(local, clock, bot_id=getattr(settings, "bot_id", "helpforce-bot"))
    live = _Live(config, None if opts.as_json else out)
    started = time.monotonic()
    staff_with_local = [s for s in config.roster.staff if "local" in s.accounts]
    if out is not None and not opts.as_json:
        print(f"helpforce demo: {opts.questions} questions, {len(staff_with_local)} staff on the "
              f"local platform, database {db}", file=out)
    async with App(config, db_path=db, clock=clock, adapters={"local": adapter},
                   observers=[live]) as app:
        assert app.store is not None
        sims = [_Staff(s, local, rng, opts.slip_rate) for s in staff_with_local]
        tasks = [asyncio.create_task(s.run(), name=f"demo.staff.{s.member.id}") for s in sims]
        leads = [s for s in sims if s.member.role.value in ("lead", "manager")]
        if settings.staff_channel:
            tasks.append(asyncio.create_task(
                _lead_sweeper(leads or sims, local, settings.staff_channel, rng),
                name="demo.leads",
            ))
        customers = [
            asyncio.create_task(_customer(i, local, rng, opts), name=f"demo.customer.{i}")
            for i in range(opts.questions)
        ]
        deadline = time.monotonic() + opts.timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            s = await summary(app.store)
            if s["questions"] >= opts.questions and s["unanswered"] == 0 and (
                await app.outbox.backlog() == 0 if app.outbox else True
            ):
                break
        await asyncio.sleep(0.3)  # let the last follow-ups land
        for t in tasks + customers:
            t.cancel()
        await asyncio.gather(*tasks, *customers, return_exceptions=True)
        result = await summary(app.store)
    result["database"] = db
    result["seconds"] = round(time.monotonic() - started, 2)
    if out is not None and not opts.as_json:
        _print_summary(config, result, out)
    return result


def _print_summary(config: Config, s: dict[str, Any], out: TextIO) -> None:
    print("", file=out)
    print(f"Summary after {s['seconds']}s (database: {s['database']})", file=out)
    print(f"  questions {s['questions']} · answered {s['answered']} · unanswered "
          f"{s['unanswered']} · replies stopped by policy {s['policy_blocked']} · moved to "
          f"private {s['moved_to_dm']}", file=out)
    if s["unanswered_ids"]:
        print(f"  unanswered: {', '.join('#' + str(i) for i in s['unanswered_ids'])}", file=out)
    print("  staff                    claimed  answered", file=out)
    roster = {m.id: m for m in config.roster.staff}
    for sid, c in s["by_staff"].items():
        m = roster.get(sid)
        label = f"{m.name} (^{m.initials})" if m else sid
        print(f"  {label:<24} {c['claimed']:>7}  {c['answered']:>8}", file=out)
    print(f"  inspect: helpforce questions list --db {s['database']}", file=out)
