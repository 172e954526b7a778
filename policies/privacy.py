"""The privacy rule every guideline starts with: never ask for an order number (or other
private data) in public; move the conversation to a private channel instead.

This is the minimal form the desk needs; the full privacy pack (normalisation, confusables,
posting customer data, redaction) is the policy engine's own work.
"""

from __future__ import annotations

import re
import unicodedata

from helpforce.policy import Action, CheckContext, Verdict

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)

# what counts as private data in an ask
_PRIVATE = (
    r"(?:order|account|customer|membership|loyalty|confirmation|booking|reservation|ticket"
    r"|tracking)\s*(?:number|no\.?|#|id|ref(?:erence)?)"
    r"|e-?mail(?:\s*address)?|phone(?:\s*number)?|(?:home|postal|delivery)?\s*address"
    r"|zip\s*code|post\s*code|postcode|date\s+of\s+birth|card\s*(?:number|digits)"
)
# an ask: a request addressed to the customer for that data
_ASK = re.compile(
    r"(?:what(?:'s| is)|can|could|would|please|pls|send|share|provide|give|tell|reply|dm|need"
    r"|post|include)[^.?!\n]{0,60}?\b(?:your|ur|the)\s+(?:" + _PRIVATE + r")",
    re.IGNORECASE,
)
# asking through a private channel is fine in public
_PRIVATE_CHANNEL = re.compile(
    r"\b(?:dm|d\.m\.|direct message|private message|privately|in private|secure (?:link|form)"
    r"|form)\b",
    re.IGNORECASE,
)
_MAX_SCAN = 4096


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text[:_MAX_SCAN]).translate(_ZERO_WIDTH)


class NoPrivateDataAskInPublic:
    id = "privacy.no-private-data-ask-in-public"

    def __init__(self, suggestion: str | None = None) -> None:
        self.suggestion = suggestion or (
            "Sorry about this! Please send us a direct message with your order number "
            "and we'll look into it right away."
        )

    def check(self, text: str, ctx: CheckContext) -> Verdict | None:
        if ctx.direction != "out" or ctx.visibility != "public" or ctx.audience != "customer":
            return None
        norm = normalise(text)
        for match in _ASK.finditer(norm):
            window = norm[max(0, match.start() - 40) : match.end() + 40]
            if _PRIVATE_CHANNEL.search(window):
                continue
            return Verdict(
                Action.MOVE_TO_DM,
                self.id,
                "Never ask for private data (order number, e-mail, phone, address…) in "
                "public: move the conversation to a private message.",
                self.suggestion,
            )
        return None
