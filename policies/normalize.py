"""Text normalisation for the policy detectors: one canonical form of what a reader sees.

``normalize(text)`` returns a :class:`Normalized` with the canonical ``text`` and an
``index`` that maps every character of it back to an offset in the original text, so a
detector that finds something in the normalised form can point at (or redact) the original.

What the canonical form folds, in order:

1. characters: Unicode NFKC (fullwidth ``ｏｒｄｅｒ`` → ``order``, ligatures, superscripts),
   case folding, every invisible format character (Unicode category Cf — zero-width
   spaces and joiners, soft hyphen U+00AD, LRM/RLM, invisible times U+2062, BOM …) plus the
   other invisible fillers (variation selectors, U+034F, Hangul fillers) removed; accents on
   Latin letters dropped (``órdér`` → ``order``); curly quotes and apostrophes → ``'``/``"``;
   dashes → ``-``; digits of other scripts → ASCII digits; Cyrillic and Greek letters that
   look like Latin ones (``о а е р с х у``, ``ο α`` …) → their Latin twins;
2. words: letters separated by single spaces, dots, dashes (``o r d e r``, ``o.r.d.e.r``,
   ``e-m-a-i-l``) joined when at least three single letters form the run; common leet inside
   words (``0→o 1→i/l 3→e 4→a 5→s 7→t @→a $→s``) only in tokens that also have letters, and
   only where the digit sits between letters or the decoded word is one the detectors look
   for — so real numbers (``$50``, ``10am``, ``ps4``, ``1st``) stay numbers; e-mail
   addresses are left alone;
3. abbreviations: ``acct`` → ``account``, ``no.``/``nr``/``num``/``#`` after an identifier
   word → ``number`` (``order no.`` → ``order number``), ``ur`` → ``your``, ``u`` → ``you``,
   ``pls``/``plz`` → ``please``, ``e-mail``/``e mail`` → ``email``, ``pw``/``pwd``/``passwd``
   → ``password``, ``dob``/``d.o.b`` → ``date of birth``, ``addr`` → ``address``,
   ``ph``/``tel``/``mob`` before a number word → ``phone``, ``conf`` before a number word →
   ``confirmation``, ``ref`` → ``reference``, ``d.m.`` → ``dm`` …;
4. whitespace: runs collapse to one space (or one newline when the run holds a line break,
   so line breaks still separate sentences).

Only the first ``limit`` characters (default 4,096: Telegram's maximum message, the longest
of the platforms) are normalised; the rest of the input is not scanned at all. Callers that
accept longer texts must chunk them themselves.

Speed: plain-ASCII text takes a fast path (no per-character work); non-ASCII characters
are mapped through a per-character cache; steps 2-4 first look at byte-level views of the
text (one ``bytes.translate`` each) and only scan for the kinds of change those show are
possible. On this project's 2-core machine (Python 3.11), over the 1,139 real brand replies
of ../shared/corpus (264 characters on average, caches cleared): ~23-26 µs per text, i.e.
~40,000 normalisations/s on one core (the NFKC + case-fold baseline alone is ~1 µs on
these mostly-ASCII texts; finding URLs/e-mails/handles to protect is ~4 µs of it).

``analyse(text)`` is the cached form the detectors share (folded text, prefilter views,
normalised text, indexes): calling ``find_asks`` and ``find_private_data`` on one text
normalises it once.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["DEFAULT_LIMIT", "Analysis", "Normalized", "analyse", "clear_cache", "normalize"]

#: the longest message of the platforms we serve (Telegram); see the module docstring
DEFAULT_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Normalized:
    """A normalised text and, for each of its characters, the offset in the original."""

    text: str
    index: list[int]
    #: the original text was longer than the limit; the rest was not looked at
    truncated: bool = False

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original text's ``[start, end)`` for the normalised ``[start, end)``."""
        return _orig_span(self.index, start, end, len(self.text))


def _orig_span(index: list[int], start: int, end: int, n: int) -> tuple[int, int]:
    if start >= end:
        pos = index[start] if start < n else (index[-1] + 1 if index else 0)
        return pos, pos
    return index[start], index[end - 1] + 1


# -- step 1: characters ------------------------------------------------------------------

_QUOTES = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u02bc": "'", "\u02b9": "'", "\u00b4": "'", "\uff07": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"', "\u2039": "'", "\u203a": "'",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\ufe58": "-", "\ufe63": "-", "\uff0d": "-",
    "\u2028": "\n", "\u2029": "\n", "\u0085": "\n",
}

# Cyrillic / Greek / other letters that are read as Latin ones (after case folding)
_CONFUSABLES = {
    # Cyrillic
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "є": "e", "һ": "h",
    "н": "h", "і": "i", "ї": "i", "ӏ": "l", "ј": "j", "к": "k", "м": "m", "о": "o",
    "р": "p", "ԛ": "q", "г": "r", "ѕ": "s", "т": "t", "у": "y", "ў": "y", "х": "x",
    "ԝ": "w", "ѡ": "w", "ь": "b", "п": "n",
    "ɡ": "g", "ɑ": "a", "ı": "i", "ȷ": "j", "ɩ": "i", "ʏ": "y",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "ζ": "z", "η": "n", "ι": "i",
    "κ": "k", "μ": "u", "ν": "v", "ο": "o", "ρ": "p", "σ": "o", "ς": "s", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j", "ϐ": "b",
    # Armenian / Latin small capitals and other lookalikes
    "օ": "o", "ս": "u", "ց": "g", "ɾ": "r", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d",
    "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m",
    "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v",
    "ᴡ": "w", "ᴢ": "z",
}

# capitals that look like Latin capitals, whose small forms look like other letters
# (Greek Η/η: H/n, Μ/μ: M/u, Ν/ν: N/v, Υ/υ: Y/u; Cyrillic Н/н, В/в …): mapped before folding
_CONFUSABLE_CAPITALS = {
    "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n",
    "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x", "А": "a", "В": "b", "Е": "e", "К": "k",
    "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t", "Х": "x", "У": "y", "І": "i",
    "Ј": "j", "Ѕ": "s", "Ү": "y", "Ԛ": "q", "Ԝ": "w",
}

# invisible characters that are not category Cf
_INVISIBLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u3164\uffa0\u2800"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
)

_CHAR_CACHE: dict[str, str] = {}
_CHAR_CACHE_MAX = 50_000


def _fold_char(c: str) -> str:
    """What one non-ASCII character becomes (possibly several characters, or none)."""
    if c in _QUOTES:
        return _QUOTES[c]
    if c in _CONFUSABLE_CAPITALS:
        return _CONFUSABLE_CAPITALS[c]
    cat = unicodedata.category(c)
    if cat == "Cf" or c in _INVISIBLE or 0xE0100 <= ord(c) <= 0xE01EF:
        return ""
    if cat in ("Mn", "Me"):
        return "\x00"  # a combining mark: dropped after a Latin letter (see _fold)
    if cat == "Nd":
        return str(unicodedata.digit(c, 0))
    if cat in ("Zs", "Zl", "Zp"):
        return "\n" if cat != "Zs" else " "
    out = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", c).casefold())
    if not out.isascii():
        # accents on Latin letters: é → e (only when what is left is plain ASCII)
        stripped = "".join(
            ch for ch in unicodedata.normalize("NFKD", out) if not unicodedata.combining(ch)
        )
        if stripped.isascii():
            out = stripped
        else:
            out = "".join(_CONFUSABLES.get(ch, ch) for ch in out)
            out = "".join(_QUOTES.get(ch, ch) for ch in out)
    return out


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _fold_chars(text: str) -> tuple[str, list[int] | None]:
    """Step 1. Returns the folded text and its index (``None``: the identity)."""
    if text.isascii():
        return text.lower(), None
    out: list[str] = []
    idx: list[int] = []
    last = 0
    cache = _CHAR_CACHE
    for m in _NON_ASCII.finditer(text):
        s, e = m.span()
        if s > last:
            out.append(text[last:s].lower())
            idx.extend(range(last, s))
        for pos in range(s, e):
            c = text[pos]
            r = cache.get(c)
            if r is None:
                r = _fold_char(c)
                if len(cache) < _CHAR_CACHE_MAX:
                    cache[c] = r
            if not r:
                continue
            if r == "\x00":
                # a combining mark: drop it after a Latin letter, keep it elsewhere
                if out and out[-1] and out[-1][-1].isascii():
                    continue
                r = unicodedata.normalize("NFKC", c)
            out.append(r)
            if len(r) == 1:
                idx.append(pos)
            else:
                idx.extend([pos] * len(r))
        last = e
    if last < len(text):
        out.append(text[last:].lower())
        idx.extend(range(last, len(text)))
    folded = "".join(out)
    if len(folded) != len(idx):  # pragma: no cover - defensive: keep text and index aligned
        raise AssertionError("normalisation index out of step")
    return folded, idx


# -- steps 2-4: words, abbreviations, whitespace -------------------------------------------
#
# Python's regex engine costs ~50 ns per character position here, so a scan of a 280-char
# text for every kind of change would cost more than the whole budget. Instead, cheap
# byte-level views of the text (one ``bytes.translate`` each) tell which kinds of change
# can apply at all; only those are then looked for, and only around their hits.

_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}

# words the detectors look for: a leet token at the edge of a word is decoded only into one
# of these (so "ps4", "mp3", "10am" stay as they are)
_VOCAB = frozenset("""
order orders number numbers account acct email mail address phone mobile cell password
passcode pin zip zipcode postcode postal code card credit debit serial imei username user
tracking ticket booking reservation confirmation reference ref customer member membership
loyalty birth date dob birthday security answer question send share tell give post provide
confirm reply drop let know what whats your you please details info information id login
credentials digits last social ssn iban routing no dm message private us me the and
home here need mind have handy below check look into this that get could would can will
well we we'll our out to do did does for from with without your you're yours them they
it its is are was be been secure form through direct messages reply number numbers
mobile cell member ticket case tracking shipping delivery billing street postcode zip
account accounts address addresses confirm include submit enter type write comment
screen name full best kindly just also send sent share shared tell told give post drop
let know need needs require want like love grab take see about over along via by in on
at of or if so as up down your yours phone email e-mail apple psn xbox gamertag
""".split())

_ABBREV = {
    "acct": "account", "acc't": "account", "ur": "your", "yr": "your", "u": "you",
    "pls": "please", "plz": "please", "plse": "please", "pleez": "please",
    "pw": "password", "pwd": "password", "passwd": "password", "pword": "password",
    "pswd": "password", "passwrd": "password", "pasword": "password",
    "dob": "date of birth", "addr": "address", "addy": "address", "adress": "address",
    "addres": "address", "ref": "reference", "msg": "message", "pvt": "private",
    "emial": "email", "emal": "email", "bday": "birthday",
    "whats": "what's", "wats": "what's", "wat's": "what's", "wots": "what's",
    "ordr": "order", "odr": "order", "deets": "details", "fone": "phone",
    "gimme": "give me", "numbr": "number", "nmbr": "number",
    # words written together
    "ordernumber": "order number", "ordernum": "order number", "orderno": "order number",
    "orderid": "order id", "accountnumber": "account number", "acctnumber": "account number",
    "accountno": "account number", "acctno": "account number", "phonenumber": "phone number",
    "phoneno": "phone number", "mobilenumber": "mobile number", "cellnumber": "cell number",
    "emailaddress": "email address", "emailid": "email id", "mailid": "mail id",
    "trackingnumber": "tracking number", "trackingno": "tracking number",
    "trackingid": "tracking id", "serialnumber": "serial number", "serialno": "serial number",
    "cardnumber": "card number", "dateofbirth": "date of birth", "casenumber": "case number",
    "ticketnumber": "ticket number", "confirmationnumber": "confirmation number",
    "confirmationcode": "confirmation code", "bookingreference": "booking reference",
    "bookingref": "booking reference", "customerid": "customer id",
    "customernumber": "customer number", "membernumber": "member number",
    "membershipnumber": "membership number", "homeaddress": "home address",
    "shippingaddress": "shipping address", "postalcode": "postal code",
    "securitycode": "security code", "verificationcode": "verification code",
}

# identifier words after which "no." / "nr" / "num" / "#" mean "number"
_ID_WORDS = {
    "order": "order", "ordr": "order", "odr": "order", "ord": "order", "account": "account",
    "acct": "account", "acc": "account", "customer": "customer", "cust": "customer",
    "client": "client", "member": "member", "membership": "membership",
    "loyalty": "loyalty", "rewards": "rewards", "confirmation": "confirmation",
    "conf": "confirmation", "booking": "booking", "reservation": "reservation",
    "ticket": "ticket", "tracking": "tracking", "trk": "tracking", "case": "case",
    "reference": "reference", "ref": "reference", "phone": "phone", "ph": "phone",
    "mobile": "mobile", "mob": "phone", "cell": "cell", "tel": "phone",
    "telephone": "phone", "contact": "contact", "serial": "serial", "card": "card",
    "cc": "credit card", "policy": "policy", "invoice": "invoice",
    "transaction": "transaction", "claim": "claim", "receipt": "receipt", "imei": "imei",
    "routing": "routing", "passport": "passport", "member's": "member",
}
_NUMBER_WORDS = frozenset(["no", "nr", "num", "numb", "nbr", "nmbr", "numbr"])
# "ph: 555…", "tel. 555…": the label alone
_PHONE_LABELS = frozenset(["ph", "tel", "mob"])
# "order no longer ships": "no" that is not "number"
_NOT_NUMBER = re.compile(
    r"\s*(?:longer|more|one|way|need|problem|issue|matter|doubt|idea|charge|cost|fee|reason"
    r"|worries|rush|cancel|refund|show|delivery|sooner|thanks|further)\b"
)

# tokens of words spelled apart that the abbreviations join: e-mail, d.m., s/n
_SPELLED_TRIGGERS = frozenset([b"mail", b"d", b"s"])
_TRIGGERS = frozenset(
    [w.encode() for w in _ABBREV] + [w.encode() for w in _NUMBER_WORDS]
    + [w.encode() for w in _PHONE_LABELS]
) | _SPELLED_TRIGGERS

# tokens: letters, digits and ' stay, anything else separates
_TOKEN_VIEW = bytes(c if c in b"abcdefghijklmnopqrstuvwxyz0123456789'" else 32 for c in range(256))
# classes: letter -> a, leet character -> 0, other digit -> 9, separator (space . - _ *) ->
# space, other whitespace -> newline, anything else -> ,
_CLASS_VIEW = bytes(
    97 if 97 <= c <= 122 else 48 if c in b"013457@$" else 57 if 48 <= c <= 57
    else 32 if c in b" .-_*" else 10 if c in b"\t\n\r\f\v" else 44
    for c in range(256)
)
_DIGITS = b"0123456789"

_WS = re.compile(r"[ \t\f\v\r]*\n\s*|[ \t\f\v\r]{2,}|[\t\f\v\r]")
_SPACED = re.compile(
    r"(?<![a-z0-9@$./'])[a-z0-9@$](?:(?: ?[.\-_*] ?| )[a-z0-9@$](?![a-z0-9@$])){1,64}"
)
# two letters spelled apart that still make a word the detectors need: o.f, i.d, n.o
_SPACED_PAIRS = frozenset(["of", "id", "no"])
_SPACED_SEP = re.compile(r" ?[.\-_*] ?| ")
# at most this many tokens mixing letters and digits are examined per text (a text made
# of thousands of them would otherwise cost milliseconds; real ones have a handful)
_MAX_LEET_TOKENS = 64
_NON_SPACE = re.compile(r"[^\s]{1,4096}")
_LEADING_HANDLES = re.compile(r"(?:@[^\s@]{1,64}(?:[ \t]++|\Z))++")
_ALNUM = re.compile(r"[a-z0-9]")

Edit = tuple[int, int, "str | tuple[str, list[int]]"]


def _leet_variants(token: str) -> list[str]:
    """Decoded spellings of a leet token ('1' may be 'i' or 'l'), at most 8."""
    base = [_LEET.get(ch, ch) for ch in token]
    ones = [i for i, ch in enumerate(token) if ch == "1"]
    variants = ["".join(base)]
    if ones and len(ones) <= 3:
        for mask in range(1, 1 << len(ones)):
            chars = list(base)
            for bit, pos in enumerate(ones):
                if mask >> bit & 1:
                    chars[pos] = "l"
            variants.append("".join(chars))
    return variants


@lru_cache(maxsize=4096)
def _decode_leet(token: str) -> str | None:
    """The word a leet token spells, or None to leave it alone."""
    letters = sum(ch.isalpha() for ch in token)
    if letters == 0 or len(token) > 24 or letters * 2 < len(token):
        return None  # a code or an id (ps4, x1234567), not a word
    variants = _leet_variants(token)
    for v in variants:
        if v in _VOCAB:
            return v
    # otherwise every leet character must sit between letters (numb3r, p4ssw0rd, em@il)
    n = len(token)
    i = 0
    while i < n:
        if token[i] in _LEET:
            j = i
            while j < n and token[j] in _LEET:
                j += 1
            if i == 0 or j == n or not token[i - 1].isalpha() or not token[j].isalpha():
                return None
            i = j
        else:
            i += 1
    return variants[0] if variants[0] != token else None


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= pos < e for s, e in spans)


def _token_bounds(text: str, i: int) -> tuple[int, int]:
    """The whitespace-separated token around ``i``."""
    s = text.rfind(" ", 0, i) + 1
    k = max(text.rfind("\n", s, i), text.rfind("\t", s, i))
    if k >= 0:
        s = k + 1
    m = _NON_SPACE.match(text, i)
    return s, (m.end() if m else i + 1)


def _protected(text: str) -> list[tuple[int, int]]:
    """URLs, e-mail addresses and @handles (whole whitespace-separated tokens): left
    exactly as they are."""
    spans: list[tuple[int, int]] = []
    at = text.find("@")
    if at == 0:
        # the @handles a reply starts with, in one go
        m = _LEADING_HANDLES.match(text)
        if m is not None:
            spans.append((0, m.end()))
            at = text.find("@", m.end())
    if "://" in text:
        i = text.find("://")
        while i >= 0:
            s, e = _token_bounds(text, i)
            spans.append((s, e))
            i = text.find("://", e)
    if "www." in text:
        i = text.find("www.")
        while i >= 0:
            if not _inside(i, spans):
                spans.append(_token_bounds(text, i))
            i = text.find("www.", i + 4)
    count = 0
    while at >= 0 and count < 512:
        count += 1
        if spans and _inside(at, spans):
            at = text.find("@", at + 1)
            continue
        s, e = _token_bounds(text, at)
        token = text[s:e]
        k = at - s
        if k == 0 and ("a" + token[1:].rstrip(".,!?;:)'\"")) in _VOCAB:
            pass  # "@ddress": leet for a word, not a handle
        elif (k == 0 and e > at + 1) or (k > 0 and "." in token[k + 1 :].rstrip(".,!?;:)")):
            spans.append((s, e))
        at = text.find("@", e)
    if len(spans) > 1:
        spans.sort()
    return spans


# put among the edits when a word was spelled apart or in leet (a second pass is needed)
_SPELLED_MARK: Edit = (-1, -1, "")


def _blank(raw: bytes, spans: list[tuple[int, int]], fill: bytes) -> bytes:
    """``raw`` with the (sorted) spans overwritten by ``fill``."""
    pieces = []
    last = 0
    for s, e in spans:
        if s < last:
            continue
        pieces.append(raw[last:s])
        pieces.append(fill * (e - s))
        last = e
    pieces.append(raw[last:])
    return b"".join(pieces)


@dataclass(slots=True)
class _View:
    """What the cheap prefilters need about one text."""

    protected: list[tuple[int, int]]
    padded: bytes  # the text as bytes, protected spans blanked, one space each side
    tokens: frozenset[bytes]  # a set: the detectors only ask which words occur
    _ndigits: int = -1

    @property
    def ndigits(self) -> int:
        """Digits outside URLs, e-mail addresses and handles."""
        if self._ndigits < 0:
            self._ndigits = len(self.padded) - len(self.padded.translate(None, _DIGITS))
        return self._ndigits


def _view(text: str) -> _View:
    raw = text.encode() if text.isascii() else text.encode("ascii", "replace")
    protected = _protected(text) if ("@" in text or "://" in text or "www." in text) else []
    if protected:
        raw = _blank(raw, protected, b"#")
    padded = b" " + raw + b" "
    return _View(protected, padded, frozenset(padded.translate(_TOKEN_VIEW).split()))


def _edits(text: str, view: _View) -> list[Edit]:
    """Where steps 2-4 change ``text`` (already folded), as (start, end, replacement)."""
    edits: list[Edit] = []
    protected = view.protected
    padded = view.padded  # view coordinates: padded[k + 1] is text[k]

    cv = padded.translate(_CLASS_VIEW)
    # whitespace
    if b"  " in padded or b"\n" in cv:
        edits.extend(
            (m.start(), m.end(), "\n" if "\n" in m.group() else " ")
            for m in _WS.finditer(text)
        )

    # letters spelled apart: o r d e r, o.r.d.e.r, e-m-a-i-l
    if b" a a " in cv:
        for m in _SPACED.finditer(text):
            if _inside(m.start(), protected):
                continue
            g = m.group()
            if len(set(_SPACED_SEP.findall(g))) != 1:
                continue  # i.e. a / u.s. a: mixed separators are not one spelled word
            chars = [(k, ch) for k, ch in enumerate(g) if ch.isalnum() or ch in "@$"]
            token = "".join(ch for _, ch in chars)
            if sum(ch.isalpha() for ch in token) < 3 and not (
                token in _SPACED_PAIRS and " " not in g
            ):
                continue
            word = _decode_leet(token) or token if any(c in _LEET for c in token) else token
            edits.append(_SPELLED_MARK)
            expanded = _ABBREV.get(word)
            if expanded is not None:
                edits.append((m.start(), m.end(), expanded))
            else:
                edits.append((m.start(), m.end(), (word, [k for k, _ in chars])))

    # leet inside words: numb3r, p4ssw0rd, em@il
    if b"a0" in cv or b"0a" in cv:
        pos = 0
        seen = -1
        budget = _MAX_LEET_TOKENS
        while budget > 0:
            budget -= 1
            i = cv.find(b"a0", pos)
            j = cv.find(b"0a", pos)
            hit = i if j < 0 else j if i < 0 else min(i, j)
            if hit < 0:
                break
            # the token around the hit, in view coordinates
            s = max(cv.rfind(b" ", 0, hit + 1), cv.rfind(b",", 0, hit + 1),
                    cv.rfind(b"\n", 0, hit + 1))
            e = _token_end(cv, hit + 1)
            pos = max(e, hit + 1)
            if s <= seen:
                continue
            seen = s
            token = text[s : e - 1]
            if token and token[-1] in ".,!?;:)'\"":
                token = token.rstrip(".,!?;:)'\"")
            decoded = _decode_leet(token) if token else None
            if decoded is not None:
                edits.append((s, s + len(token), _ABBREV.get(decoded, decoded)))
                edits.append(_SPELLED_MARK)

    # words hyphenated together: order-number, zip-code, date-of-birth
    if "-" in text and not _HYPHEN_WORDS.isdisjoint(view.tokens):
        edits.extend(_hyphen_joins(text, padded))

    # abbreviations and "number" words
    hits = _TRIGGERS.intersection(view.tokens)
    if hits or "#" in text:
        if b"mail" in hits:
            edits.extend(_spelled_email(text, protected))
        if b"d" in hits:
            edits.extend(_spelled_dm(text, protected))
        hits -= _SPELLED_TRIGGERS
        tv = padded.translate(_TOKEN_VIEW)
        edits.extend(_abbreviations(text, tv, hits))
    return edits


_TOKEN_END = re.compile(rb"[^ ,\n]*")


def _token_end(cv: bytes, i: int) -> int:
    m = _TOKEN_END.match(cv, i)
    return m.end() if m else i


_HYPHEN_WORDS = frozenset(
    b"""order number account email zip post postal code phone mobile cell date birth of
    serial tracking card user name pass word booking reference confirmation customer member
    membership ticket case pin security sign log in id address home shipping billing
    verification""".split()
)
_HYPHEN_WORD_STR = frozenset(w.decode() for w in _HYPHEN_WORDS)
_LETTERS_BEFORE = re.compile(r"[a-z]{1,16}\Z")
_LETTERS_AT = re.compile(r"[a-z]{1,16}")


def _hyphen_joins(text: str, padded: bytes) -> list[Edit]:
    """``padded``: the view's bytes (protected spans blanked), so hyphens in URLs and
    e-mail addresses are not even looked at."""
    edits: list[Edit] = []
    k = padded.find(b"-", 1)  # view coordinates: padded[k] is text[k - 1]
    count = 0
    while k > 1 and count < 64:
        count += 1
        i = k - 1
        if "a" <= text[i - 1] <= "z" and "a" <= text[i + 1 : i + 2] <= "z":
            left = _LETTERS_BEFORE.search(text, max(0, i - 16), i)
            right = _LETTERS_AT.match(text, i + 1)
            if left and right and left.group() in _HYPHEN_WORD_STR and \
                    right.group() in _HYPHEN_WORD_STR:
                edits.append((i, i + 1, " "))
        k = padded.find(b"-", k + 1)
    return edits


def _word_start(text: str, i: int) -> bool:
    return i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "@$_")


def _word_end(text: str, i: int) -> bool:
    return i >= len(text) or not (text[i].isalnum() or text[i] in "@$_")


def _spelled_email(text: str, protected: list[tuple[int, int]]) -> list[Edit]:
    """e-mail, e mail, e.mail, e_mail -> email."""
    edits: list[Edit] = []
    i = text.find("mail", 2)
    while i >= 0:
        s = i - 2
        if text[i - 1] in " .-_" and text[s] in "e3" and _word_start(text, s):
            e = i + 4
            if e < len(text) and text[e] == "s":
                e += 1
            if _word_end(text, e) and not _inside(s, protected):
                edits.append((s, i + 4, "email"))
        i = text.find("mail", i + 4)
    return edits


def _spelled_dm(text: str, protected: list[tuple[int, int]]) -> list[Edit]:
    """d.m., d m -> dm."""
    edits: list[Edit] = []
    for sep in ".", " ":
        pat = "d" + sep + "m"
        i = text.find(pat)
        while i >= 0:
            e = i + 3
            if e < len(text) and text[e] == ".":
                e += 1
            if _word_start(text, i) and _word_end(text, i + 3) and not _inside(i, protected):
                edits.append((i, e, "dm"))
            i = text.find(pat, i + 3)
    return edits


def _abbreviations(text: str, tv: bytes, hits: frozenset[bytes]) -> list[Edit]:
    """Abbreviations and "number" words; ``tv`` is the padded token view."""
    edits: list[Edit] = []
    for tok in hits:
        word = tok.decode()
        needle = b" " + tok + b" "
        i = tv.find(needle)
        while i >= 0:
            s = i  # text coordinates (the view is shifted by one)
            e = s + len(tok)
            i = tv.find(needle, e)
            after = text[e : e + 2]
            if word in _NUMBER_WORDS or word in _PHONE_LABELS:
                if word in _PHONE_LABELS and after[:1] in (":", ".", "#"):
                    edits.append((s, e + (after[:1] == "."), "phone"))
                    continue
                # the word before, separated by spaces only
                j = s
                while j > 0 and text[j - 1] == " ":
                    j -= 1
                if j == s and s > 0:
                    continue
                ps = tv.rfind(b" ", 0, j) if j > 0 else -1
                prev = text[ps:j] if ps >= 0 else ""
                if prev.endswith("."):
                    prev = prev[:-1]
                if prev not in _ID_WORDS:
                    continue
                if after[:1] != "." and _NOT_NUMBER.match(text, e):
                    continue
                end = e + 1 if after[:1] == "." else e
                out = _ID_WORDS[prev] + " number"
                if _ALNUM.match(text, end):
                    out += " "
                edits.append((ps, end, out))
                continue
            if word in _ABBREV:
                if after[:1] in (".", "-", "/") and _ALNUM.match(after[1:2] or " "):
                    continue  # u.s., u-turn
                if s > 0 and text[s - 1] in "-'/.":
                    continue
                if word == "yr" and s >= 2 and text[s - 2].isdigit():
                    continue  # "1 yr warranty"
                edits.append((s, e, _ABBREV[word]))
    i = text.find("s/n") if b"s" in hits or "s/n" in text else -1
    while i >= 0:
        if _word_start(text, i) and _word_end(text, i + 3):
            edits.append((i, i + 3, "serial number"))
        i = text.find("s/n", i + 3)
    # "#" after an identifier word: order #123, acct#
    i = text.find("#")
    while i >= 0:
        j = i
        while j > 0 and text[j - 1] == " ":
            j -= 1
        ws = j
        while ws > 0 and (text[ws - 1].isalpha() or text[ws - 1] == "'"):
            ws -= 1
        word = text[ws:j]
        if word in _ID_WORDS and j - i <= 1 and (ws == 0 or not text[ws - 1].isalnum()):
            out = _ID_WORDS[word] + " number"
            if _ALNUM.match(text, i + 1):
                out += " "
            edits.append((ws, i + 1, out))
        i = text.find("#", i + 1)
    return edits


def _apply(text: str, index: list[int] | None, edits: list[Edit]) -> tuple[str, list[int] | None]:
    if not edits:
        return text, index
    edits.sort(key=lambda x: (x[0], -x[1]))
    out: list[str] = []
    idx: list[int] = []
    last = 0
    for s, e, r in edits:
        if s < last:
            continue  # overlaps an earlier edit
        if s > last:
            out.append(text[last:s])
            idx.extend(range(last, s) if index is None else index[last:s])
        if isinstance(r, tuple):
            word, rel = r
            out.append(word)
            idx.extend((s + k) if index is None else index[s + k] for k in rel)
        else:
            out.append(r)
            # the last character maps to the last one replaced, the others to the first
            # (so a span of the normalised text maps to the whole original words)
            if r:
                first = s if index is None else index[s]
                last_ = (e - 1 if index is None else index[e - 1]) if e > s else first
                idx.extend([first] * (len(r) - 1))
                idx.append(last_)
        last = e
    if last < len(text):
        out.append(text[last:])
        idx.extend(range(last, len(text)) if index is None else index[last:])
    return "".join(out), idx


def _transform(text: str, index: list[int] | None, view: _View) -> tuple[str, list[int] | None]:
    """Steps 2-4. A word that was spelled apart or in leet can make an abbreviation
    ("o r d e r  n o" → "order no" → "order number"): then a second pass runs."""
    edits = _edits(text, view)
    if not edits:
        return text, index
    spelled = _SPELLED_MARK in edits
    if spelled:
        edits = [x for x in edits if x is not _SPELLED_MARK]
    text2, index2 = _apply(text, index, edits)
    if spelled:
        edits2 = [x for x in _edits(text2, _view(text2)) if x is not _SPELLED_MARK]
        text2, index2 = _apply(text2, index2, edits2)
    return text2, index2


@dataclass(slots=True)
class Analysis:
    """Everything the detectors share about one text (computed once, cached)."""

    #: step 1 only (characters folded: NFKC, case, invisibles, confusables) and its index
    folded: str
    folded_index: list[int] | None
    #: the prefilter view of ``folded`` (protected spans, tokens, digit count)
    view: _View
    #: the full normalisation and its index (``None``: the identity)
    text: str
    index: list[int] | None
    truncated: bool
    _norm_view: _View | None = None

    @property
    def norm_view(self) -> _View:
        """The prefilter view of the normalised text (the same as ``view`` when steps 2-4
        changed nothing)."""
        if self._norm_view is None:
            self._norm_view = self.view if self.text is self.folded else _view(self.text)
        return self._norm_view


def analyse(text: str, limit: int = DEFAULT_LIMIT) -> Analysis:
    """Folded and normalised forms of ``text[:limit]``, cached (do not mutate the result:
    the detectors share it)."""
    if len(text) > limit:
        return _analyse(text[:limit], True)
    return _analyse(text, False)


@lru_cache(maxsize=256)
def _analyse(text: str, truncated: bool) -> Analysis:
    folded, findex = _fold_chars(text)
    view = _view(folded)
    norm, nindex = _transform(folded, findex, view)
    return Analysis(folded, findex, view, norm, nindex, truncated)


def clear_cache() -> None:
    """Forget the cached analyses (benchmarks use this to measure the work itself)."""
    _analyse.cache_clear()


def normalize(text: str, limit: int = DEFAULT_LIMIT) -> Normalized:
    """The canonical form of ``text`` (see the module docstring) with its index.

    Only the first ``limit`` characters are normalised and mapped; ``truncated`` says
    whether anything was left out.
    """
    if limit < 0:
        raise ValueError("limit must not be negative")
    a = analyse(text, limit)
    n = len(a.text)
    if a.index is not None:
        index = list(a.index)
    elif n <= len(_IDENTITY):
        index = _IDENTITY[:n]
    else:
        index = list(range(n))
    return Normalized(a.text, index, a.truncated)


_IDENTITY = list(range(DEFAULT_LIMIT))

