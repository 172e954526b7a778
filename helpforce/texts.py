"""The texts helpforce itself writes to staff and customers."""

from __future__ import annotations

_PREVIEW = 500


def preview(text: str, limit: int = _PREVIEW) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def offer(qid: int, platform: str, handle: str, visibility: str, text: str, buttons: bool) -> str:
    how = "" if buttons else f"\n/claim {qid} to take it, or reply to this message to answer."
    who = f"@{handle}" if handle else "a customer"
    return f"#{qid} · {platform} ({visibility}) · {who}:\n{preview(text)}{how}"


def offer_taken(qid: int, platform: str, handle: str, initials: str, name: str) -> str:
    who = f"@{handle}" if handle else "a customer"
    return f"#{qid} · {platform} · {who} — claimed by {name} (^{initials})"


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


def moved_public(handle: str, signature: str) -> str:
    return (
        f"@{handle} we've sent you a private message so we can help with your details."
        f"{signature}"
    )


def not_staff() -> str:
    return "Sorry, that button is for our support staff. Write to us here and we'll help you."
