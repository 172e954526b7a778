"""The detectors rules name in ``detect: {detector: NAME, ...}``.

Each factory takes the rule's parameters and returns a callable ``(text, ctx) -> Detection |
None``. Factories validate their parameters (ValueError / TypeError) so a bad pack or a
manager's bad rule is reported when the configuration is loaded, not when a reply is checked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import regex

from helpforce.policies import privatedata
from helpforce.policies.length import LIMITS, fits, split
from helpforce.policies.normalize import Normalized
from helpforce.policies.normalize import normalize as _normalize
from helpforce.policies.privatedata import SECRETS, Ask, Found, redact
from helpforce.policy import CheckContext, Detection, Detector, DetectorFactory

# Several rules look at the same text in one check (the ask rules, the data rules, phrases,
# patterns): each analysis runs once per text.


@lru_cache(maxsize=256)
def normalize(text: str) -> Normalized:
    return _normalize(text)


@lru_cache(maxsize=256)
def find_asks(text: str) -> tuple[Ask, ...]:
    return tuple(privatedata.find_asks(text))


@lru_cache(maxsize=256)
def find_private_data(text: str) -> tuple[Found, ...]:
    return tuple(privatedata.find_private_data(text))


#: every category of private data the privacy detectors know
CATEGORIES = (
    "order_number", "account_number", "customer_number", "membership_number",
    "confirmation_ref", "ticket_number", "tracking_number", "email", "phone", "address",
    "postcode", "date_of_birth", "card", "pin", "password", "security_answer",
    "device_serial", "username",
)

_LABELS = {c: c.replace("_", " ").replace("email", "e-mail") for c in CATEGORIES}


def _categories(value: Sequence[str] | None, default: Sequence[str]) -> frozenset[str]:
    chosen = tuple(default if value is None else value)
    unknown = [c for c in chosen if c not in CATEGORIES]
    if unknown:
        raise ValueError(
            f"unknown private data category {unknown[0]!r} (known: {', '.join(CATEGORIES)})"
        )
    return frozenset(chosen)


def _which(categories: Sequence[str]) -> str:
    seen: list[str] = []
    for c in categories:
        label = _LABELS.get(c, c)
        if label not in seen:
            seen.append(label)
    return ", ".join(seen)


def private_data_ask(categories: Sequence[str] | None = None) -> Detector:
    """A request for private data that is not made via a private channel, not negated
    ("never share your card number") and not an explanation of where to find it."""
    wanted = _categories(categories, [c for c in CATEGORIES])

    def detect(text: str, ctx: CheckContext) -> Detection | None:
        asks = [
            a for a in find_asks(text)
            if a.category in wanted
            and not (a.private_channel or a.negated or a.where_to_find)
        ]
        if not asks:
            return None
        return Detection(detail=f"asks for: {_which([a.category for a in asks])}")

    return detect


def secret_ask(categories: Sequence[str] | None = None) -> Detector:
    """A request for a password, PIN, full card number or security answer — anywhere."""
    wanted = _categories(categories, sorted(SECRETS))

    def detect(text: str, ctx: CheckContext) -> Detection | None:
        asks = [a for a in find_asks(text)
                if a.category in wanted and not (a.negated or a.where_to_find)]
        if not asks:
            return None
        return Detection(detail=f"asks for: {_which([a.category for a in asks])}")

    return detect


def private_data_posted(
    categories: Sequence[str] | None = None, reply: str | None = None
) -> Detector:
    """The data itself in the text (a tracking number, an e-mail, card digits...).

    The suggestion is the text with the data masked, or ``reply`` when given (the public
    answer to a customer who posted their own data)."""
    wanted = _categories(categories, [c for c in CATEGORIES])

    def detect(text: str, ctx: CheckContext) -> Detection | None:
        found = [f for f in find_private_data(text) if f.category in wanted]
        if not found:
            return None
        masked = redact(text, found)
        return Detection(
            suggestion=reply if reply is not None else masked,
            detail=f"contains: {_which([f.category for f in found])}",
            redacted=masked,
        )

    return detect


_PROBES = ("a" * 4000, "a" * 2000 + "!", "ab" * 2000, "1" * 4000, ("x@" * 2000), " " * 4000)
PATTERN_TIMEOUT = 0.005
_COMPILE_PROBE_TIMEOUT = 0.05


def patterns(patterns: Sequence[str], case_sensitive: bool = False,
             normalized: bool = True) -> Detector:
    """Managers' own regular expressions (Python syntax). Each is compiled and probed
    against adversarial inputs when loaded; a pattern that backtracks catastrophically is
    refused, and every search is time-bounded (a timeout counts as a hit: fail closed)."""
    if isinstance(patterns, str) or not patterns:
        raise ValueError("patterns must be a non-empty list of regular expressions")
    flags = 0 if case_sensitive else regex.IGNORECASE
    compiled = []
    for p in patterns:
        if not isinstance(p, str) or not p:
            raise ValueError(f"expected a regular expression, got {p!r}")
        try:
            rx = regex.compile(p, flags | regex.VERSION1)
        except regex.error as exc:
            raise ValueError(f"pattern {p!r} is not a valid regular expression: {exc}") from None
        for probe in _PROBES:
            try:
                rx.search(probe, timeout=_COMPILE_PROBE_TIMEOUT)
            except TimeoutError:
                raise ValueError(
                    f"pattern {p!r} is too slow on long inputs (catastrophic backtracking); "
                    "simplify nested repetitions like (a+)+"
                ) from None
        compiled.append(rx)

    def detect(text: str, ctx: CheckContext) -> Detection | None:
        subject = normalize(text).text if normalized else text
        for p, rx in zip(patterns, compiled, strict=True):
            try:
                if rx.search(subject, timeout=PATTERN_TIMEOUT):
                    return Detection(detail=f"matches {p!r}")
            except TimeoutError:
                return Detection(detail=f"pattern {p!r} timed out")
        return None

    return detect


def phrases(phrases: Sequence[str]) -> Detector:
    """Any of these phrases, as whole words, after normalisation (case, confusables, ...)."""
    if isinstance(phrases, str) or not phrases:
        raise ValueError("phrases must be a non-empty list of phrases")
    wanted = []
    for p in phrases:
        norm = normalize(p).text.strip() if isinstance(p, str) else ""
        if not norm:  # nothing left once normalised (a zero-width space) would match anywhere
            raise ValueError(f"expected a phrase, got {p!r}")
        wanted.append(norm)
    rx = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w) for w in sorted(wanted, key=len, reverse=True))
        + r")(?!\w)"
    )

    def detect(text: str, ctx: CheckContext) -> Detection | None:
        m = rx.search(normalize(text).text)
        return Detection(detail=f"says {m.group(0)!r}") if m else None

    return detect


_INITIALS_SIGNATURE = re.compile(r"[\^*~-]\s?[A-Za-z0-9]{1,4}\s*$")


def signature() -> Detector:
    """The staff member's signature is missing: through the bot it is appended; for posts
    made outside the bot, any initials-style signature (^JD, *JD, -JD) is accepted."""

    def detect(text: str, ctx: CheckContext) -> Detection | None:
        if ctx.direct:
            if _INITIALS_SIGNATURE.search(text):
                return None
            return Detection(detail="no initials at the end")
        if not ctx.signature or text.rstrip().endswith(ctx.signature.strip()):
            return None
        return Detection(replacement=(text.rstrip() + ctx.signature,),
                         detail=f"adds {ctx.signature.strip()!r}")

    return detect


def disclosure(tags: Sequence[str]) -> Detector:
    """A staff member answering from a personal account does not say they are staff."""
    if isinstance(tags, str) or not tags:
        raise ValueError("tags must be a non-empty list, e.g. ['#acmehelp', 'I work at Acme']")
    wanted = [normalize(t).text.strip() if isinstance(t, str) else "" for t in tags]
    if not all(wanted):  # an empty tag is in every text: the rule would never fire
        raise ValueError(f"tags must be non-empty texts, got {list(tags)!r}")

    def detect(text: str, ctx: CheckContext) -> Detection | None:
        norm = normalize(text).text
        if any(t in norm for t in wanted):
            return None
        return Detection(suggestion=f"{text.rstrip()} {tags[0]}",
                         detail=f"add one of: {', '.join(tags)}")

    return detect


def length(limits: dict[str, int] | None = None, numbering: str = " ({i}/{n})") -> Detector:
    """Longer than the platform allows: split into a numbered thread (as a rewrite rule) or
    refuse (as a block rule)."""
    table = {**LIMITS, **(limits or {})}
    if "{i}" not in numbering or "{n}" not in numbering:
        raise ValueError("numbering must contain {i} and {n}")
    try:  # checked now: at send time a bad one would fail every long answer
        widest = numbering.format(i=9999, n=9999)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ValueError(f"numbering {numbering!r} must use only {{i}} and {{n}} (write {{{{ "
                         f"and }}}} for braces): {type(exc).__name__}: {exc}") from None
    for platform, limit in table.items():
        if not isinstance(limit, int) or limit < 20:
            raise ValueError(f"limit for {platform} must be a whole number of at least 20")
        if len(widest) > limit // 2:
            raise ValueError(f"numbering {numbering!r} takes {len(widest)} characters of the "
                             f"{limit} allowed on {platform}: at most half")

    def detect(text: str, ctx: CheckContext) -> Detection | None:
        limit = table.get(ctx.platform)
        if limit is None or fits(text, ctx.platform, limit):
            return None
        parts = split(text, ctx.platform, limit, numbering)
        return Detection(
            replacement=tuple(parts),
            suggestion="\n\n".join(parts),
            detail=f"over {limit} characters on {ctx.platform}; {len(parts)} parts",
        )

    return detect


DETECTORS: dict[str, DetectorFactory] = {
    "private_data_ask": private_data_ask,
    "secret_ask": secret_ask,
    "private_data_posted": private_data_posted,
    "patterns": patterns,
    "phrases": phrases,
    "signature": signature,
    "disclosure": disclosure,
    "length": length,
}

__all__ = ["CATEGORIES", "DETECTORS"]
