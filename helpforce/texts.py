"""The texts helpforce itself writes to staff and customers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from helpforce.config.schema import StaffMember

_PREVIEW = 500


def preview(text: str, limit: int = _PREVIEW) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def offer(qid: int, platform: str, handle: str, visibility: str, text: str, buttons: bool,
          *, tags: Sequence[str] = (), age: float = 0.0, due: str | None = None) -> str:
    """A question offered to staff: where and who, the text, then its tags, how long it has
    waited (when a minute or more) and when the first response is due."""
    how = "" if buttons else f"\n/claim {qid} to take it, or reply to this message to answer."
    who = f"@{handle}" if handle else "a customer"
    facts = []
    if tags:
        facts.append("tags: " + ", ".join(tags))
    if age >= 60:
        facts.append(f"waiting {duration(age)}")
    if due:
        facts.append(f"answer by {due}")
    more = "\n" + " · ".join(facts) if facts else ""
    return f"#{qid} · {platform} ({visibility}) · {who}:\n{preview(text)}{more}{how}"


def duration(seconds: float) -> str:
    """``"45 min"``, ``"3 h 5 min"``, ``"2 d 4 h"``."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def offer_taken(qid: int, platform: str, handle: str, initials: str, name: str) -> str:
    who = f"@{handle}" if handle else "a customer"
    return f"#{qid} · {platform} · {who} — claimed by {name} (^{initials})"


def question_thread(qid: int, handle: str, staff: StaffMember) -> str:
    who = f"@{handle}" if handle else "the customer"
    return (f"#{qid} · {staff.name} (^{staff.initials}) holds it. What you write here goes to "
            f"{who} after the guideline check; /note text stays an internal note.")


def claimed(qid: int, text: str) -> str:
    return f"You hold #{qid}. Reply to this message to answer:\n{preview(text)}"


def held_by(qid: int, name: str, initials: str) -> str:
    return f"#{qid} is already held by {name} (^{initials})."


def followup(qid: int, handle: str, text: str) -> str:
    return f"#{qid} · @{handle} wrote again:\n{preview(text)}"


def policy_stopped(
    qid: int, rule: str | None, why: str, suggestion: str | None, *, via_dm: bool,
    overridable: bool, lead: bool,
) -> str:
    out = f"Not sent (#{qid}): {why}"
    if rule:
        out += f" [{rule}]"
    if via_dm:
        out += (f"\nSend it privately instead: /send {qid} (a short public note, and your "
                "text as a private message).")
    elif suggestion:
        out += f"\nSuggested instead: {suggestion}\nSend that with /send {qid}."
    if overridable and lead:
        out += f"\nAs a lead you may send yours as written: /override {qid} <reason>."
    return out


def policy_warned(qid: int, reasons: list[str]) -> str:
    return f"Sent (#{qid}), but: " + "; ".join(reasons)


def after_the_fact(qid: int, who: str, platform: str, reasons: list[str]) -> str:
    return (f"#{qid}: {who}'s post on {platform} breaks a guideline: " + "; ".join(reasons)
            + ". Please follow up.")


def dm_opener(handle: str, brand: str) -> str:
    return (f"Hi @{handle}, this is {brand}. We'll help you here, privately: a colleague will "
            "be with you shortly.")


def moved_public_link(handle: str, signature: str, *, start: bool = True) -> str:
    """A public reply whose platform cannot write privately first (``start``: Telegram, where
    the link opens the bot and Start must be pressed), or to someone who does not accept
    private messages from us (X): the adapter appends the link that opens the private chat."""
    how = "open a private chat with us (press Start) with this link" if start \
        else "send us a private message with this link"
    return (
        f"@{handle} so we can help with your details privately, please {how}; we'll "
        f"continue there.{signature}"
    )


def duplicate_answer(qid: int, who: str, holder: str, platform: str) -> str:
    return (f"#{qid}: {who} also answered on {platform}, but {holder} had answered it (or "
            "holds it). Recorded as a duplicate answer; please follow up with them.")


def reshare(name: str, initials: str) -> str:
    """The brand account's credit when it re-shares a staff member's own answer."""
    return f"Answered by {name} (^{initials}) from our team."


def private_thread(handle: str) -> str:
    return (f"@{handle} your direct messages are closed, so we've opened a private thread "
            "with you here to continue.")


def link_waiting(qid: int, handle: str) -> str:
    return (f"#{qid}: @{handle} has to open the private chat with the link we posted first; "
            "your private message waits and goes out as soon as they do.")


def link_opened(qid: int, handle: str) -> str:
    return f"#{qid}: @{handle} opened the private chat; your private messages went out."


def link_unknown(brand: str) -> str:
    return (f"Hi, this is {brand}. That link has expired or is not valid any more: tell us "
            "here what you need and a colleague will help.")


def link_not_yours(brand: str) -> str:
    return (f"Hi, this is {brand}. That link was made for someone else's conversation, so "
            "it does not open it for you. If you need help, just write here.")


def moved_public(handle: str, signature: str) -> str:
    return (
        f"@{handle} we've sent you a private message so we can help with your details."
        f"{signature}"
    )


def not_staff() -> str:
    return "Sorry, that button is for our support staff. Write to us here and we'll help you."


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h".replace(".0 ", " ")


def lease_warning(qid: int, seconds_left: float) -> str:
    return (f"#{qid}: your claim runs out in {_minutes(seconds_left)} unless you answer. "
            f"Answer it, or /release {qid} so a colleague can.")


def lease_expired(qid: int) -> str:
    return f"#{qid}: your claim ran out unanswered; it has been offered to colleagues again."


def sla_warning(qid: int, why: str, grace: float) -> str:
    return (f"#{qid}: {why}. Please answer now: leads will be asked to step in within "
            f"{_minutes(grace)}.")


def escalation(qid: int, platform: str, handle: str, why: str) -> str:
    who = f"@{handle}" if handle else "a customer"
    return f"#{qid} · {platform} · {who} needs a lead: {why}. /claim {qid} or /takeover {qid}."


def after_hours(brand: str, opens: str, expect: str) -> str:
    return (f"Thanks for your message. The {brand} team is away right now and back at {opens}; "
            f"expect an answer by about {expect}.")


def taken_over(qid: int, lead: str) -> str:
    return f"#{qid} was taken over by {lead}; you no longer hold it."


STATUS_REPLIES = {
    "on": "You are on: you will be offered questions, whatever your shifts say, until you "
          "send /away, /off or /auto.",
    "away": "You are away: no new offers until you send /on or /auto. The questions you hold "
            "stay yours.",
    "off": "You are off: no new offers until you send /on or /auto. The questions you hold "
           "stay yours (/release N to hand one back).",
    "auto": "You follow your shifts again: offers come while you are on shift.",
}


def offboarded(qid: int, staff: str) -> str:
    return f"#{qid}: {staff} left the roster; their claim is offered again."


def config_rejected(errors: list[str]) -> str:
    shown = "\n".join(errors[:10])
    more = f"\n…and {len(errors) - 10} more" if len(errors) > 10 else ""
    return ("A configuration edit was not applied (the previous configuration stays in "
            f"force):\n{shown}{more}")
