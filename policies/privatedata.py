"""Private data in replies: requests for it (``find_asks``), the data itself
(``find_private_data``) and masking it (``redact``).

Categories (strings)::

    order_number account_number customer_number membership_number confirmation_ref
    ticket_number tracking_number email phone address postcode date_of_birth card pin
    password security_answer device_serial username

``SECRETS`` (``pin``, ``password``, ``security_answer``, ``card``) may never be asked for, not
even in private. Asking for the *last four digits* of a card or account is reported as
``account_number`` with ``partial=True``: it is private data (not in public), but not a secret.

Asks
----
``find_asks(text)`` finds every request addressed to the reader for their private data —
questions ("What's your order number?", "Your order number, please?", "Mind sharing your
e-mail?", "Do you have your order number?"), imperatives ("Send us your acct # and zip",
"Please include your zip code"), "let us know / reply with / drop it below", needs ("We'll
need your tracking number") and pronouns that point back at named data ("Found your order
number? Drop it below."). Each :class:`Ask` carries three excuses, decided in the *same
clause* (a sentence, split further at "; " and at "…, and we'll / so we / once we …"):

- ``private_channel``: the data is asked for via DM / direct or private message / PM /
  inbox / e-mail / a secure link or form / a ticket / "privately" — and not "here" or
  "below" at the same time. A DM mentioned in another sentence does not excuse an ask,
  except an instruction about how to answer it in the next sentence ("… and the serial
  number. Reply in DM.") and "include / attach" asks right after a sentence that sends the
  reader to a private channel ("Please DM us. Include your order number.");
- ``negated``: "don't / never / please don't share…", "without revealing your e-mail",
  "we will never ask for your password";
- ``where_to_find``: the text explains where to find the data ("not sure what your order
  number is? It's in…", "…your order number starts with W"); such explanations are
  reported as asks with this flag even when nothing is requested.

An ask with none of the three is a violation in public; a ``SECRETS`` ask is one anywhere
unless negated or explanatory. Not private data: flight numbers, store, city, device model,
app version, error messages, "what happened", "which store".

Data
----
``find_private_data(text)`` finds e-mail addresses (not role addresses such as
support@ or reportphish@, which are never a customer's), phone numbers (checked with
``phonenumbers`` for ``PHONE_REGIONS`` and international "+…" numbers: valid, or possible
and written the way phone numbers are; toll-free, premium-rate and shared-cost numbers are
businesses' and are not reported) and phone digits ("number ending in 1237"), card numbers
(13–19 digits, a known issuer prefix and length, Luhn-valid) and card-digit mentions ("card
ending in 1234"), tracking numbers (UPS 1Z + 16 characters; USPS 20/22 digits with their
check digit, 22 digits starting 92–95, IMpb 420…; S10 "RB473829103GB" with its check
digit, or any …GB/…US one written in capitals; FedEx 12/15 and DHL 10 digits next to the
carrier's name or a tracking label; Amazon TBA…), labelled identifiers ("order
#123-456789", "booking ref ABC123", "acct no. 12345678", "case 012345", a six-letter PNR in
capitals), postcodes next to a label or after an address, street addresses (number, name,
suffix, written with capitals or followed by town and postcode; "4 Rue de Rivoli",
"Hauptstraße 5"), labelled dates of birth, IMEIs (15 digits, Luhn) and labelled serials,
and usernames, passwords and PINs written after their label ("password: …").

``redact(text)`` replaces each finding with a placeholder: "[order number]", "[e-mail]",
"[phone]", "[address]", "[card ending 1234]" (full card numbers keep their last four
digits), "[card digits]" and "[phone digits]" for partial mentions (see ``PLACEHOLDERS``).

Limits and speed
----------------
Only the first 4,096 characters (``normalize.DEFAULT_LIMIT``) are scanned. A text that
names private data more than ``MAX_TERMS`` (48) times has the mentions past that reported
as plain asks (failing closed) rather than analysed. Every pattern has bounded
repetitions, possessive/atomic groups where a class could overlap, and no nested
quantifiers over overlapping classes; the detectors are skipped by cheap prefilters (no
word that can start a data term → no ask analysis; no '@' → no e-mail scan; digits outside
URLs counted first → number detectors only when there are enough). Measured on this
project's 2-core machine over the 1,139 real brand replies of ../shared/corpus (264
characters on average, caches cleared, normalisation included): ``find_asks`` +
``find_private_data`` ~57-60 µs per text on average, the slowest reply ~0.3 ms; on
4,096-character adversarial inputs (tests/test_privatedata.py ``ADVERSARIAL``) ~1 ms
median and ~4-7 ms for the worst (hundreds of labelled ids or data mentions). The tests
only guard against catastrophic backtracking (< 50 ms per call).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from helpforce.policies.normalize import DEFAULT_LIMIT, _inside, analyse

__all__ = [
    "CATEGORIES",
    "MAX_TERMS",
    "PHONE_REGIONS",
    "PLACEHOLDERS",
    "SECRETS",
    "Ask",
    "Found",
    "find_asks",
    "find_private_data",
    "redact",
]

CATEGORIES = (
    "order_number", "account_number", "customer_number", "membership_number",
    "confirmation_ref", "ticket_number", "tracking_number", "email", "phone", "address",
    "postcode", "date_of_birth", "card", "pin", "password", "security_answer",
    "device_serial", "username",
)
#: never to be asked for, not even in private
SECRETS = frozenset({"pin", "password", "security_answer", "card"})
#: at most this many mentions of private data are analysed per text (the rest count as
#: plain asks: see find_asks)
MAX_TERMS = 48
#: regions whose national phone formats are recognised (besides international +… numbers)
PHONE_REGIONS: tuple[str, ...] = ("US", "GB")

PLACEHOLDERS = {
    "order_number": "[order number]", "account_number": "[account number]",
    "customer_number": "[customer number]", "membership_number": "[membership number]",
    "confirmation_ref": "[booking reference]", "ticket_number": "[ticket number]",
    "tracking_number": "[tracking number]", "email": "[e-mail]", "phone": "[phone]",
    "address": "[address]", "postcode": "[postcode]", "date_of_birth": "[date of birth]",
    "card": "[card]", "pin": "[PIN]", "password": "[password]",
    "security_answer": "[security answer]", "device_serial": "[serial number]",
    "username": "[username]",
}


@dataclass(frozen=True, slots=True)
class Ask:
    """A request for the reader's private data. ``start``/``end``: the words naming the data
    (or the pronoun standing for it) in the original text."""

    category: str
    start: int
    end: int
    #: asked for via DM, a private message, a secure link or form… in the same clause
    private_channel: bool = False
    #: "don't share your card number", "we will never ask for your password"
    negated: bool = False
    #: explains where to find it ("… is in your confirmation e-mail")
    where_to_find: bool = False
    #: only part of it ("the last 4 digits of your card"): private, but not a secret
    partial: bool = False

    @property
    def excused(self) -> bool:
        """Fine in public: asked privately, negated, or an explanation."""
        return self.private_channel or self.negated or self.where_to_find

    @property
    def secret(self) -> bool:
        return self.category in SECRETS and not self.partial


@dataclass(frozen=True, slots=True)
class Found:
    """Private data in a text; ``value`` is ``text[start:end]``."""

    category: str
    start: int
    end: int
    value: str


# ============================================================================================
# asks
# ============================================================================================

# -- the names of private data (on normalised text) ------------------------------------------

_NUM = r"(?:numbers?|no|nr|num|#|ids?|codes?|ref(?:erence)?s?)"

# (group, the words a term of this group can start with, pattern). Modifiers that may stand
# before a term ("your *registered* e-mail") are not part of it: see _MOD. Where two groups
# can start at the same word, the first in this list wins.
_TERM_PARTS: list[tuple[str, str, str]] = [
    ("card_partial", "last",
     r"last (?:4|four|few) (?:digits|numbers|nos)(?: of (?:your|ur|the) (?:(?:credit|debit|bank)"
     r" )?(?:card|account(?: number)?|ssn|social(?: security number)?|phone(?: number)?)"
     r"(?: number)?)?|last (?:4|four) of (?:your|ur|the) (?:(?:credit|debit|bank) )?(?:card"
     r"|account(?: number)?|ssn|social(?: security number)?|phone(?: number)?)"),
    ("security_answer", "answer answers security secret memorable mother's mothers maiden first"
     " name",
     r"answers? to (?:your|the) (?:security|secret) questions?"
     r"|(?:security|secret|memorable) (?:questions?|answers?|words?|info(?:rmation)?|phrase)"
     r"(?: answers?)?|mother'?s maiden name|maiden name|first pet'?s name"
     r"|name of your first pet"),
    ("card", "card credit debit full long 16 cvv cvv2 cvc cvc2 csc expiry expiration",
     r"card ?(?:numbers?|no|nr|#|details|info(?:rmation)?|digits|security code"
     r"|verification (?:code|value)|cvv2?|cvc2?|expiry(?: date)?|expiration(?: date)?)"
     r"|(?:credit|debit) card ?(?:numbers?|no|nr|#|details|info(?:rmation)?|digits)"
     r"|(?:credit|debit) card(?P<card_weak>)"
     r"|(?:full|long|16[- ]digit) card number|cvv2?|cvc2?|csc"
     r"|(?:card )?(?:expiry|expiration) date"),
    ("password", "email wifi wi pass password passwords passphrase login log sign signin"
     " credentials account security recovery secret private backup 2fa seed",
     r"(?:email |wifi |wi-fi )?pass ?words?"
     r"|passphrase|(?:login|log-in|log in|sign-in|sign in|signin) (?:details|credentials"
     r"|info(?:rmation)?)|(?:account )?credentials|(?:security|recovery|secret|private) keys?"
     r"|(?:recovery|backup|2fa backup) codes?|(?:recovery|seed) phrase"),
    ("pin", "pin pincode passcode pass one otp verification security sms 2fa two"
     " authentication auth login access code codes 4 5 6 8",
     r"pin(?: ?code| ?number)?|passcode|pass code"
     r"|\d[- ]digit (?:codes?|pins?|passcodes?)"
     r"|codes? (?:we|that we|i) (?:just )?(?:sent|texted|emailed)(?: (?:to )?you)?"
     r"|one[- ]time (?:passcode|password|code|pin)|otp"
     r"|(?:verification|security|sms|2fa|two[- ]factor|two[- ]step|authentication"
     r"|auth|login|log-in|access|one[- ]time) (?:codes?|pins?)"),
    ("order_number", "order transaction invoice receipt purchase po",
     r"order ?(?:numbers?|no|nr|num|#|ids?|codes?|ref(?:erence)?|details|info(?:rmation)?"
     r"|confirmation numbers?)|(?:transaction|invoice|receipt|purchase order|po) ?" + _NUM),
    ("account_number", "account iban routing sort bank social ssn national tax",
     r"account ?(?:numbers?|no|nr|num|#|ids?|details|info(?:rmation)?|holder name)|iban"
     r"|routing numbers?|sort code|bank (?:details|info(?:rmation)?)"
     r"|social security(?: numbers?)?|ssn|national insurance numbers?|tax id"),
    ("customer_number", "customer client subscriber patient policy contract cust",
     r"(?:customer|client|subscriber|patient|policy|contract|cust) ?" + _NUM),
    ("membership_number", "membership member loyalty reward rewards frequent club mileage"
     " mileageplus skymiles rapid aadvantage nectar clubcard prime",
     r"(?:membership|member|loyalty|rewards?|frequent fl[yi]er|club|mileage(?:plus)?|skymiles"
     r"|rapid rewards|aadvantage|nectar|clubcard|prime) ?(?:card )?(?:numbers?|no|nr|#|ids?)"),
    ("confirmation_ref", "confirmation booking reservation itinerary trip reference pnr record",
     r"(?:confirmation|booking|reservation|itinerary|trip|reference|pnr) ?(?:numbers?|codes?"
     r"|ids?|no|nr|#|references?|ref)|booking references?|pnr|record locator"),
    ("ticket_number", "ticket case incident claim request complaint sr service report dispute",
     r"(?:ticket|case|incident|claim|request|complaint|sr|service request|report|dispute) ?"
     r"(?:numbers?|ids?|no|nr|#|references?)"),
    ("tracking_number", "tracking shipment shipping parcel package consignment waybill air"
     " airwaybill awb",
     r"(?:tracking|shipment|shipping|parcel|package|consignment|waybill|air ?waybill|awb) ?"
     r"(?:numbers?|ids?|codes?|no|nr|#|references?|info(?:rmation)?|details|link)"
     r"|tracking(?P<tracking_weak>)"),
    ("email", "email mail gmail e",
     r"(?:e-?mail|mail|gmail) ?(?:address(?:es)?|ids?|addr)|e-?mail|gmail"),
    ("phone", "mobile cell cellular cellphone phone telephone contact callback call landline"
     " whatsapp number numbers",
     r"(?:(?:mobile|cell(?:ular)?|cellphone|phone|telephone|contact|callback|call-?back"
     r"|call back|landline|whatsapp) ?(?:phone ?)?(?:numbers?|no|nr|#))"
     r"|contact (?:details|info(?:rmation)?)"
     r"|numbers? (?:to|where we can|we can|at which we can) (?:reach|call|contact|text) you"
     r"|(?:phone|telephone|mobile|cell ?phone|cell|number)(?P<phone_weak>)"),
    ("address", "address addresses home postal post mailing delivery shipping billing street"
     " where house",
     r"(?:(?:home|postal|post|mailing|delivery|shipping|billing|street) )?address(?:es)?"
     r"|(?:shipping|delivery|billing|mailing) (?:details|info(?:rmation)?)"
     r"|where you live|house number|street name"),
    ("postcode", "zip zipcode post postcode postal pincode eircode",
     r"zip ?codes?|zip|post ?codes?|postal ?codes?|pincode|eircode"),
    ("date_of_birth", "date birth birthdate dob year birthday",
     r"date of birth|birth ?date|dob|year of birth|birthday(?P<dob_weak>)"),
    ("device_serial", "serial imei meid iccid esn udid device hardware service express product"
     " license licence activation registration mac sim",
     r"(?:serial|imei|meid|iccid|esn|udid|device id|hardware id|service tag"
     r"|express service code|product key|licen[cs]e key|activation key|registration key"
     r"|mac address|sim (?:card )?number)(?: ?(?:numbers?|no|nr|#|codes?))?"),
    ("username", "user username usernames userid login screen screenname gamer gamertag"
     " gamertags psn online apple xbox epic steam riot battle battletag discord nintendo"
     " account social rockstar",
     r"user ?names?|user ?ids?|login (?:id|name)|screen ?names?|gamer ?tags?"
     r"|psn (?:id|name|online id|username)|online id|apple id|xbox (?:gamertag|live id|id)"
     r"|epic (?:games )?(?:id|name|username)|steam (?:id|name|username|profile)|riot id"
     r"|battle ?tag|discord (?:id|tag|name|username)|nintendo (?:id|network id)"
     r"|account name|social club (?:name|id|username)|rockstar id"),
]

_GROUP_CATEGORY = {g: ("account_number" if g == "card_partial" else g) for g, _, _ in _TERM_PARTS}
_WEAK_GROUPS = ("card_weak", "tracking_weak", "phone_weak", "dob_weak")
# per start word: the groups to try there, in order, each with its own small pattern
_TERM_BY_START: dict[bytes, list[tuple[str, re.Pattern[str]]]] = {}
for _g, _starts, _p in _TERM_PARTS:
    _rx = re.compile(rf"(?:{_p})(?![\w@])")
    for _w in _starts.split():
        _TERM_BY_START.setdefault(_w.encode(), []).append((_g, _rx))
_TERM_STARTS = frozenset(_TERM_BY_START)
_ID_NEXT = frozenset("number numbers no nr num # id ids reference references ref".split())
# common start words that only begin a term before one of these words (checked before
# trying the patterns: "account" is everywhere, "account number" is not)
_NEXT_WORDS: dict[str, frozenset[str]] = {
    "account": _ID_NEXT | {"details", "info", "information", "holder", "credentials", "name"},
    "one": frozenset({"time"}),
    "4": frozenset({"digit"}), "5": frozenset({"digit"}), "6": frozenset({"digit"}),
    "8": frozenset({"digit"}),
    "contact": _ID_NEXT | {"details", "info", "information", "phone"},
    "ticket": _ID_NEXT, "case": _ID_NEXT, "request": _ID_NEXT, "report": _ID_NEXT,
    "sr": _ID_NEXT, "policy": _ID_NEXT, "claim": _ID_NEXT, "incident": _ID_NEXT,
    "complaint": _ID_NEXT, "dispute": _ID_NEXT, "service": _ID_NEXT | {"request", "tag"},
    "product": frozenset({"key"}), "device": frozenset({"id"}),
    "access": frozenset({"code", "codes", "pin", "pins"}), "apple": frozenset({"id"}),
    "sign": frozenset({"in"}), "where": frozenset({"you"}),
    "private": frozenset({"key", "keys"}), "purchase": frozenset({"order"}),
    "date": frozenset({"of"}), "xbox": frozenset({"gamertag", "live", "id"}),
    "recovery": frozenset({"key", "keys", "code", "codes", "phrase"}),
    "online": frozenset({"id"}), "call": frozenset({"back"}),
    "social": frozenset({"security", "club"}), "code": frozenset({"we", "that", "i"}),
    "codes": frozenset({"we", "that", "i"}),
    "mail": frozenset({"address", "addresses", "id", "ids", "addr"}),
    "e": frozenset({"mail", "mails"}),
    "security": frozenset({"question", "questions", "answer", "answers", "word", "words",
                           "info", "information", "phrase", "code", "codes", "key", "keys",
                           "pin", "pins"}),
}
_NEXT_WORD = re.compile(r"[ -]?([a-z0-9#']+)")
_WORD_CHAR = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_'")

# words between a possessive and the data: "your registered e-mail", "the full address"
_MOD = (
    r"(?:full|complete|current|registered|associated|old|new|original|correct|exact|primary"
    r"|preferred|best|relevant|valid|whole|entire|actual|personal|private|main|usual"
    r"|account|order|apple|google|microsoft|amazon|paypal|ebay|psn|xbox|steam|epic|login"
    r"|sign-in|contact|billing|shipping|delivery|home|mailing|postal|\d+-digit|[a-z]+'s"
    r"|support|service|help ?desk|credit|debit|bank|payment|visa|mastercard|amex|gift|atm"
    r"|cash|checking|savings|loan|mortgage|utility|customer|member|cable|internet|wireless"
    r"|mobile|phone|cell|work|daytime|evening|good|alternate|alternative|direct|residential"
    r"|physical|return|permanent|card|sim|voicemail|transfer|port|porting|wifi|email|app"
    r"|security|6|4|reg\.?|online|banking|internet|last|previous|latest|recent|same)"
)
_POSS = r"(?:your|yr|you're|youre|ya|the|a|an|any|one of your|both your|each)"

# verbs that ask for something when addressed to the reader
_VERBS = (
    r"send(?:ing)?|shar(?:e|ing)|provid(?:e|ing)|giv(?:e|ing)|tell(?:ing)?|post(?:ing)?"
    r"|confirm(?:ing)?|includ(?:e|ing)|drop(?:ping)?|tweet(?:ing)?|dm(?:ing)?|pm(?:ing)?"
    r"|messag(?:e|ing)|email(?:ing)?|text(?:ing)?|leav(?:e|ing)|put(?:ting)?|writ(?:e|ing)"
    r"|list(?:ing)?|attach(?:ing)?|submit(?:ting)?|forward(?:ing)?|pass(?:ing)? (?:along|on)"
    r"|shoot(?:ing)?|suppl(?:y|ying)|advis(?:e|ing)|comment(?:ing)?|past(?:e|ing)"
    r"|reveal(?:ing)?|disclos(?:e|ing)|mention(?:ing)?|stat(?:e|ing)|specify(?:ing)?"
    r"|verify(?:ing)?|typ(?:e|ing)|enter(?:ing)?|gimme|tag (?:us|me) with|answer(?:ing)?"
    r"|read out|spell out|quot(?:e|ing)|ping|pop|show(?:ing)?|(?:reply|replying|respond"
    r"|responding|answer|get back to us|come back to us|hit (?:us|me) up|update us)"
    r"(?: (?:back|to (?:this|our|my|the) (?:tweet|post|message|thread|comment)|here|below))?"
    r" (?:with|w/)|hit (?:us|me) with|let (?:us|me) have|remind (?:us|me) of"
)
_FILLER = (
    r"(?:us|me|over|along|back|in|across|through|up|down|out|to us|to me|with us|with me"
    r"|our way|my way|here|below|quickly|real quick|again|please|kindly|just|also|both|a|an"
    r"|quick|short|dm|direct message|private message|pm|message|email|e-mail|note|text|tweet"
    r"|reply|line|request|ticket|form|with|containing|including|that includes|and|or"
    r"|the following|following|details|info|information|along with|as well as|such as|like"
    r"|e\.g\.?|eg|i\.e\.?|ie|some|a few"
    r"|(?:your |the )?(?:full |first |last |sur|family |user)?name ?(?:,|and|&)"
    r"|[:,&-]|privately|securely|directly|a screenshot (?:of|showing|with|that shows)"
    r"|a (?:photo|picture|pic) (?:of|showing|with)|(?:your|the) (?:details|info|information)"
    r"|(?:the )?(?:first|second) line of|it|them"
    r"|(?:[\w'-]+ ){0,3}[\w'-]+,? (?:and|&|\+|plus|as well as|along with))"
)
_LEAD = re.compile(
    r"\b(?:"
    rf"(?P<verb>{_VERBS})"
    r"|(?P<wh>(?:what|which)(?:'s|'re| is| are| was| were|s)?)"
    r"|(?P<need>(?:(?:we|i)(?:'ll|'d|'re going to| will| would| do| just| also| still| first"
    r"| may| might| will also| would also| will just| really)* (?:need|require|want|like"
    r"|love|have to (?:have|get|see|ask for)|must (?:have|get|see))(?: to (?:have|get|see|know"
    r"|grab|take|check|confirm|verify|ask for|receive|ask you for))?)"
    r"|(?:^|(?<=[,:;(] )|(?<=^ ))(?:just |still |also |but |so |ok |okay |and |first )?"
    r"(?:need|needs|require)"
    r"|it(?: would|'d| will|'ll) (?:help|be (?:helpful|great|useful)) (?:us )?(?:to (?:have"
    r"|get|see|know)|if (?:we|i) (?:had|knew|could (?:have|get|see)))"
    r"|(?:can|could|may|might|mind if) (?:we|i) (?:please )?(?:have|get|grab|take|see|ask for"
    r"|request|trouble you for|bother you for|borrow|confirm|check|verify|know)"
    r"|(?:we|i)(?:'d| would) (?:appreciate|be grateful for)|(?:we|i)(?:'re|'m| are| am)?"
    r" (?:requesting|request))"
    r"|(?P<let>let (?:us|me|our team|the team) know(?: what| which)?(?: is| was| are)?)"
    r"|(?P<have>(?:do|did) you (?:still |happen to )?(?:have|know|remember|got)(?: handy)?"
    r"|have you (?:still )?got|you got|(?:(?<=^ )|(?<=[,:;(] ))got|is there|was there"
    r"|any chance (?:you have|of)"
    r"|(?:can|could) you (?:find|look up|dig up|locate|grab))"
    r"|(?P<askfor>(?:(?:we|i|may i|can i|could i|can we|could we|may we|let me|allow me to)"
    r"(?:'ll|'d|'re| will| would| must| need to| have to| might| may| never| not| also)*"
    r"(?: like to| want to| need to| have to)?) ask(?:ing)?(?: you)?"
    r"(?: for| about| to (?:share|send|provide|confirm|give))?)"
    r"|(?P<via>(?:reach out|get in touch|contact us|message us|write (?:to )?us|ping us"
    r"|get in contact|touch base|chat with us|call us|dm us|email us|text us)"
    r"(?: [\w']+){0,4}? with)"
    r")"
    rf"(?:[:,]? {_FILLER}){{0,6}}[:,]?(?: {_POSS})?(?: {_MOD}){{0,3}} ?\Z"
)

# "we'll send your…", "I'd be happy to share your…": the staff do it, not the reader
_SUBJECT_BEFORE = re.compile(
    r"\b(?:we|i|they|he|she|it|who|which|that|this|team|agents?|someone|anyone|nobody"
    r"|scammers?|people|others|we've|i've|we'll|i'll|we'd|i'd|we're|i'm|they'll|has|have"
    r"|had|already|automatically|you've|you have|did you|have you|had you|you already)"
    r"(?: (?:will|can|could|would|may|might|should|shall|also|just|then|never|not|always"
    r"|only|automatically|usually|typically|be|able|happy|glad|going|to|gladly|soon|now"
    r"|first|'ll|'d|still|already|need|needs|want|love|like|have|had|has|been|get|be able"
    r"|recommend|suggest|advise|ask you|asked you))* ?\Z"
)
# the words before a verb that make it a noun: "this tweet with your email"
_NOUN_BEFORE = re.compile(
    r"\b(?:the|a|an|this|that|your|our|my|his|her|their|its|each|every|any|in|of|on|per)"
    r" ?\Z"
)

_NEG = re.compile(
    r"\b(?:don't|dont|do not|never|avoid|refrain from|without|no need to|not|won't|will not"
    r"|shouldn't|should not|must not|mustn't|cannot|can't|nobody|no one|no-one|nor|stop"
    r"|instead of|rather than|careful not to|nothing like)"
    r"(?: (?!hesitate|forget|worry|mind|fail|be\b|wait|delay|delete)[\w']+){0,4} ?\Z"
)

_WHERE_TO_FIND = re.compile(
    r"\b(?:find|found|finding|locate|located|look up|looking for|look for|where (?:to|can|do"
    r"|is|are|you)|how to (?:find|get|locate|see)|can be (?:found|seen|located)|not sure"
    r"|unsure|don't know|do not know|can't remember|cannot remember|forgot|forget"
    r"|trouble finding|help (?:with )?finding|if you need help|if you don't have"
    r"|you(?:'ll| will| can| should)? (?:see|view|check)|(?:is|are) (?:shown|listed|printed"
    r"|displayed|visible|included|located))\b"
)
_WHERE_AFTER = re.compile(
    r" ?(?:(?:is|are|can be|will be|should be)? ?(?:found|located|listed|printed|shown"
    r"|displayed|visible|included) (?:on|in|at|under)|(?:starts?|begins?|ends?) with"
    r"|(?:is|are) (?:on|in|at) (?:your|the)|(?:is|are) (?:a|an) \d|(?:consists?|made up) of"
    r"|looks? like|appears? (?:on|in)|(?:is|are) (?:\d+|\w+) (?:digits|characters) long)\b"
)

_CHANNEL = re.compile(
    r"\b(?:"
    r"(?:dm|pm|inbox|message|msg|email|e-mail|text|whatsapp) (?:us|me|it|them|this|that"
    r"|those|these|over|across|your|the (?:details|info))\b"
    r"|(?:in|via|through|using|on) your (?:app|account settings|account page|inbox|dms)\b"
    r"|(?:via|in|by|through|thru|over|using|into) (?:a |an |the |our |this )?"
    r"(?:(?:secure|private|online|web|contact|support|request|help|live|encrypted|protected)"
    r" )*(?:dms?|direct ?messages?|private ?messages?|pms?|private chat|private thread"
    r"|inbox|dm inbox|messenger|form|web ?form|ticket|request|portal|chat|live chat|email"
    r"|e-mail|phone|call|app|website|site|account settings|secure site)\b"
    r"|(?:via|through|using|at|on|in|from) (?:a |the |our |this )?(?:secure |private )?"
    r"(?:link|url|page)\b"
    r"|privately|in private|securely|offline|off-line|one[- ]on[- ]one|1:1|1-on-1"
    r"|(?:send|shoot|drop|give|slide|pop)(?: us| me)? (?:a|an) (?:quick |short )?(?:dm"
    r"|direct message|private message|pm|message|email|e-mail|note|text|private request"
    r"|request|ticket)\b"
    r"|slide into (?:our|my) dms?|(?:our|the) (?:dms|inbox)\b"
    r"|private (?:thread|chat|conversation|channel|request|ticket)\b"
    r"|(?:open|start) (?:a|an) (?:private )?(?:thread|chat|conversation) with\b"
    r"|(?:submit|open|create|file|raise|log|start) (?:a|an|the|your) (?:(?:new|support"
    r"|private|online) )*(?:ticket|request|case|form|chat)\b"
    r"|(?:fill (?:in|out)|complete|use) (?:the|our|this|a) (?:(?:secure|online|web|contact"
    r"|support|following|private) )*(?:form|link|portal)\b"
    r"|contact (?:us|our(?: \w+){0,2} team|support) (?:at|via|through|using|by|here|on"
    r"|directly|privately)\b"
    r"|(?:call|ring|phone) (?:us|our(?: \w+){0,2} team|support)\b|give us a (?:call|ring)"
    r"|chat with us|(?:dm|pm) (?:us|me)\b|\bdm\b(?! you)|\b(?:dm'?ing|dm'?e?d|pm'?ing|pm'?e?d)\b"
    r"|(?:here|below|at|via|through|using|on|link|form|page|portal) ?:? (?:https?:|www\.)"
    r")"
)
# a private channel needs one of these words
_CHANNEL_WORDS = frozenset(
    b"""dm dms dming dm'ing dmed dm'd dm'ed pming pmed pm'd pm pms inbox message messages msg
    email e mail text whatsapp messenger privately private securely secure offline off one 1
    form webform ticket request portal chat app website site link url page call ring phone
    submit open create file raise log start fill complete contact direct directly encrypted
    protected settings""".split()
)
_WORDS_VIEW = bytes(c if c in b"abcdefghijklmnopqrstuvwxyz0123456789'" else 32 for c in range(256))
_CHANNEL_NEGATED = re.compile(
    r"\b(?:no need to|without|don't|do not|instead of|rather than|not|never)(?: [\w']+){0,2}"
    r" ?\Z"
)
_PUBLIC = re.compile(
    r"\b(?:here in (?:the|this) (?:thread|tweet|reply|chat|conversation)"
    r"|in (?:the|this) (?:thread|tweet|conversation)|in (?:the )?comments|in (?:a|your)"
    r" (?:reply|tweet|comment)|as a reply|publicly|in public|reply to this tweet|for everyone"
    r"|on (?:the|your) timeline|(?:post|tweet|comment|drop|put|leave|write|type|share|reply"
    r"|pop|paste|list)\w*(?: [\w'#]+){0,6}? (?<!form )(?<!link )(?<!page )(?:here|below)\b"
    r"(?! ?:)(?! (?:link|form|page)))"
)
# an instruction, right after an ask, about how to answer it
_DIRECTIVE = re.compile(
    r"\b(?:(?:reply|respond|answer|get back to us)(?: to us| back)? (?:via|in|by|through|over"
    r"|using) (?:a |an )?(?:dm|direct message|private message|pm|private|inbox|message)"
    r"|(?:send|share|provide|give|dm|pm|message|tell)(?: (?:it|them|this|these|those|that"
    r"|the details|this info|that info|both|the info|everything))?(?: to us| over| across)?"
    r" (?:via|in|by|through|over|using) (?:a |an )?(?:dm|direct message|private message|pm"
    r"|private chat|inbox)"
    r"|(?:do|please do) (?:this|so|that) (?:via|in|by|through|over) (?:a |an )?(?:dm"
    r"|direct message|private message|pm)"
    r"|(?:via|in|by|through) (?:a )?(?:dm|direct message|private message|pm),? please)\b"
    r"|^(?:please |pls |kindly |just )?(?:dm|pm|message|inbox) (?:us|me)(?: (?:please|pls"
    r"|with (?:it|them|the details|that|those|this|the info)))? ?[.!]*\Z"
)
_WE_GOT = re.compile(r"\b(?:we|i)(?:'ve| have)? (?:got|received|saw|seen|read|replied)\b")

# a pronoun standing for data named just before: "… drop it below", "send them over"
_PRONOUN = re.compile(
    r"\b(?:it|them|that|those|these|both|the number|the details|that info|this info"
    r"|what (?:it|they) (?:is|are))(?![\w'])"
)
_ANAPHOR_VERB = re.compile(
    r"\b(?:(?:send|share|provide|give|tell|post|drop|tweet|dm|pm|message|email|text|forward"
    r"|include|confirm|leave|put|paste|pop|pass|shoot|list|attach|submit|let us have"
    r"|let me have|reply with|respond with|write)(?: (?:us|me|over|along|across)){0,2}"
    r"|let (?:us|me) know) \Z"
)
_ANAPHOR_VERBS = frozenset(
    b"""send share provide give tell post drop tweet dm pm message email text forward include
    confirm leave put paste pop pass shoot list attach submit let reply respond write""".split()
)

# a sentence that is only the data: "Your order number, please?", "And your zip?"
_FRAGMENT_REST = re.compile(
    r"(?:[\s,/&+?!.:()'\"~^*-]|[^\x00-\x7f]|\b(?:and|or|also|plus|oh|ok|okay|great|thanks"
    r"|thank you|lastly|finally|first|next|your|the|ur|any|full|please|pls|too|as well"
    r"|if possible|if you can|if you could|if handy|if you have it|kindly|just|one more thing"
    r"|last thing|then|now|so|and also|both|name|first name|last name|surname|and the|is|are"
    r"|was|hi|hey|hiya|hello|sorry|quick question|quick q|real quick|a|an|for us|there"
    r"|(?:on|for|of|from|associated with|linked to|tied to|used (?:for|on|with)) (?:the|your)"
    r" (?:account|card|order|booking|profile|reservation|receipt))\b)*+"
)
# a purpose or follow-up after fragment data: "DOB + zip pls so we can verify"
_FRAGMENT_TAIL = re.compile(
    r"(?:,? (?:so (?:that )?(?:we|i)|and (?:we|i)|(?:we|i)(?:'ll| will| can)|to (?:help|check"
    r"|verify|look|find|confirm|sort|chase|track|get)|for (?:verification|security|the refund"
    r"|a refund)|thanks|thank you)\b).*\Z",
    re.S,
)
_FRAGMENT_LEAD = re.compile(r"(?:and|also|plus|&) ")
_POST_ASK = re.compile(
    r" ?(?:would|will|could|might) (?:really |also )?(?:help|be (?:helpful|great|useful"
    r"|appreciated|needed|required|handy))|(?:is|are) (?:needed|required|necessary)"
    r"|,? (?:please|pls|thanks|thank you)(?= ?[?.!]| ?\Z)"
)

# between two items of one list: "your order number, e-mail and zip"
_LIST_GAP = re.compile(
    r"(?:[\s,/&+()-]|\b(?:and|or|plus|as well as|along with|also|with|the|your|ur|full|name"
    r"|first name|last name|registered|associated|last|first|billing|shipping|home|of|&)\b)"
    r"{0,12}+\Z"
)

# after the data, a place or a thing it belongs to: "the address of that branch"
_OF_OTHER = re.compile(
    r" (?:of|for|at) (?:the|that|this|our|a|an|each|every|any|these|those) (?:[\w'-]+ )?"
    r"(?:store|branch|shop|location|office|restaurant|hotel|venue|atm|cent(?:er|re)|warehouse"
    r"|seller|merchant|company|business|website|site|page|sender|bank|airport|station|event"
    r"|team|department|manufacturer|retailer|support|service cent(?:er|re)|building|dealer"
    r"|outlet|mall|hub|depot|facility|vendor|brand|shelter|clinic|school)s?\b"
)
_EMAIL_MESSAGE_BEFORE = re.compile(
    r"\b(?:confirmation|shipping|order|verification|welcome|reset|activation|promotional"
    r"|marketing|receipt|survey|phishing|suspicious|spam|dispatch|notification|follow-up"
    r"|previous|original|latest|last|recent|automated|an|this|that|same|our|my|first"
    r"|second|another|any|every|each|no) \Z"
)
_EMAIL_MESSAGE_AFTER = re.compile(
    r" ?(?:account|inbox|app|client|provider|folder|settings|notifications?|spam|junk|thread"
    r"|chain|in question|from|that|which|about|containing|saying|itself|receipt|link"
    r"|verification|sent|with the|updates?|alerts?|newsletter|subscription|service"
    r"|(?:we|i)(?:'ve| have)? (?:sent|send|emailed|mentioned|forwarded)"
    r"|you(?:'ve| have|'re| are|'ll| will)? (?:received|got|get|getting|were sent|have been"
    r" sent|saw|see|seeing|mentioned|forwarded|receive|receiving|keep getting))\b"
)
_DEVICE_AFTER = re.compile(
    r" ?(?:model|make|type|os|version|brand|screen|settings|app|carrier|plan|bill|case"
    r"|charger|battery|camera|storage|update|software|support|line|service|call|calls"
    r"|number one|one\b|of\b|'s\b|is\b|was\b|to\b|and (?:tablet|computer)|or (?:tablet"
    r"|computer)|repair|replacement|insurance|manufacturer)"
)
_ZIP_AFTER = re.compile(r" ?(?:file|folder|archive|tie|line|lock|code file)\b")
_ADDRESS_BEFORE = re.compile(
    r"\b(?:ip|mac|web|website|url|wallet|bitcoin|crypto|server|dns|store|branch|our|my|the"
    r" store's|shop|office|venue|restaurant|hotel|site|this|that) \Z"
)
# after "verify/confirm your e-mail …": an instruction to click something, not an ask
_INSTRUCTION_AFTER = re.compile(
    r" (?:by (?:clicking|tapping|following|opening|using)|(?:via|using|through|with|from) the"
    r" (?:link|button|app|e-?mail)|in (?:the|your) (?:app|settings|account settings|inbox)"
    r"|(?:at|on) (?:the|our) (?:website|site|terminal|keypad|atm|login page|sign-in page)"
    r"|when (?:you|prompted)|to (?:sign|log) in|to continue|to finish)"
)
_ASK_FOR_CONFIRM = re.compile(
    r" (?:is|are) (?:still )?(?:correct|right|accurate|up to date|current|valid)|(?:shown|listed"
    r"|displayed|we have|on file|in the app)\b"
)

_SENTENCE_END = re.compile(r"[.!?\n](?:(?<=\n)|[.!?]*+(?![^\s]))")
_NO_SPLIT_BEFORE = frozenset(
    """e.g i.e etc vs approx incl mr mrs ms dr st no jr sr inc ltd co u.s a.m p.m reg cust
    acct acc conf ref ord tel mob ph nr num addr dept govt apt ste nos""".split()
)
_CLAUSE_BREAK = re.compile(
    r"[;:]|\b(?:and|but|so|then|once|when|after|before|because|as|while|since|until|till"
    r"|so that|and then|or) (?=(?:we|i|we'll|i'll|we've|i've|we'd|i'd|we're|i'm|our|you'll"
    r"|you will|it|it's|this|they|that|there|someone|an agent|the team)\b)"
)
_CLAUSE_WORDS = frozenset(
    b"and but so then once when after before because as while since until till or".split()
)
_COLON_KEEPS = (
    "following", "details", "with", "info", "include", "including", "below", "dm", "dms",
    "message", "privately", "inbox", "email", "e-mail", "form", "link", "chat", "pm",
    "ticket", "request", "portal", "page")


# -- word-start searches ----------------------------------------------------------------------
# Python's regex engine is slow at "\b(?:many|words)" (it tries every position); a pattern
# that starts with a literal space is found with a fast scan. So the detectors search
# " " + text, with brackets, quotes, slashes and line breaks turned into spaces too.
_PAD_TABLE = str.maketrans({c: " " for c in "\n()[]\"\t"})


def _spaced_rx(rx: re.Pattern[str]) -> re.Pattern[str]:
    """``rx`` (which starts with ``\b``) as a pattern that starts with a space."""
    assert rx.pattern.startswith("\\b"), rx.pattern
    return re.compile(" " + rx.pattern[2:], rx.flags)


def _pad(t: str, s: int, e: int) -> str:
    """``" " + t[s:e]`` with separators as spaces: padded[k] is t[s + k - 1]."""
    sub = t[s:e]
    if "\n" in sub or "(" in sub or '"' in sub or "[" in sub or "\t" in sub:
        sub = sub.translate(_PAD_TABLE)
    return " " + sub



_LEAD_S = _spaced_rx(_LEAD)
_SUBJECT_BEFORE_S = _spaced_rx(_SUBJECT_BEFORE)
_NOUN_BEFORE_S = _spaced_rx(_NOUN_BEFORE)
_NEG_S = _spaced_rx(_NEG)
_CHANNEL_S = _spaced_rx(_CHANNEL)
_CHANNEL_NEGATED_S = _spaced_rx(_CHANNEL_NEGATED)
_PUBLIC_S = _spaced_rx(_PUBLIC)
_PRONOUN_S = _spaced_rx(_PRONOUN)
_ANAPHOR_VERB_S = _spaced_rx(_ANAPHOR_VERB)
_WHERE_TO_FIND_S = _spaced_rx(_WHERE_TO_FIND)
_CLAUSE_CONJ = re.compile(
    r" (?:and|but|so|then|once|when|after|before|because|as|while|since|until|till"
    r"|so that|and then|or) (?=(?:we|i|we'll|i'll|we've|i've|we'd|i'd|we're|i'm|our|you'll"
    r"|you will|it|it's|this|they|that|there|someone|an agent|the team)\b)"
)


@dataclass(slots=True)
class _Term:
    category: str
    s: int
    e: int
    weak: bool
    partial: bool


def _term_matches(t: str, starts: Iterable[bytes]) -> list[tuple[str, re.Match[str]]]:
    """The terms in ``t`` as (group, match), tried only where a word that can start one is."""
    positions: list[tuple[int, bytes]] = []
    for word in starts:
        w = word.decode()
        n = len(w)
        i = t.find(w)
        while i >= 0:
            if (i == 0 or t[i - 1] not in _WORD_CHAR) and (
                i + n >= len(t) or t[i + n] not in _WORD_CHAR
            ):
                positions.append((i, word))
            i = t.find(w, i + n)
    positions.sort()
    matches = []
    end = -1
    for pos, word in positions:
        if pos < end:
            continue
        need = _NEXT_WORDS.get(word.decode())
        if need is not None:
            nxt = _NEXT_WORD.match(t, pos + len(word))
            if nxt is None or nxt.group(1) not in need:
                continue
        for group, rx in _TERM_BY_START[word]:
            m = rx.match(t, pos)
            if m is not None:
                matches.append((group, m))
                end = m.end()
                break
    return matches


def _find_terms(t: str, protected: list[tuple[int, int]], starts: Iterable[bytes]) -> list[_Term]:
    terms: list[_Term] = []
    for cat_group, m in _term_matches(t, starts):
        s = m.start()
        if protected and any(ps <= s < pe for ps, pe in protected):
            continue
        weak = any(w in m.re.groupindex and m.group(w) is not None for w in _WEAK_GROUPS)
        cat = _GROUP_CATEGORY[cat_group]
        e = m.end()
        before = t[max(0, s - 24) : s]
        after = t[e : e + 24]
        if cat == "email":
            if _EMAIL_MESSAGE_BEFORE.search(before) or (
                _EMAIL_MESSAGE_AFTER.match(after) and not m.group().endswith(("address", "id"))
            ):
                continue
            if m.group() in ("emails", "e-mails"):
                continue
        elif cat == "phone" and weak:
            if _DEVICE_AFTER.match(after):
                continue
        elif cat == "postcode" and _ZIP_AFTER.match(after):
            continue
        elif cat == "address" and _ADDRESS_BEFORE.search(before):
            continue
        terms.append(_Term(cat, s, e, weak, cat_group == "card_partial"))
    return terms


def _sentences(t: str, extra: Sequence[int] = ()) -> list[tuple[int, int]]:
    """Sentence spans; ``extra``: more places where a sentence ends (after a URL that is
    followed by a capital letter)."""
    spans: list[tuple[int, int]] = []
    start = 0
    ends = [(m.start(), m.end(), m.group()[0]) for m in _SENTENCE_END.finditer(t)]
    if extra:
        ends = sorted(ends + [(x, x, "") for x in extra])
    for s, e, g in ends:
        if s < start:
            continue
        if g == "\n":
            # a list after "…:" or a bulleted line continues the sentence
            prev = t[start:s].rstrip()
            if prev.endswith(":") or t[e : e + 2].lstrip()[:1] in ("-", "*", "•"):
                continue
        elif g == ".":
            # "e.g. ", "no. 5", "Dr. Smith" do not end a sentence
            word = t[max(start, s - 8) : s].rsplit(" ", 1)[-1]
            if word in _NO_SPLIT_BEFORE:
                continue
        if e > start and not t[start:e].isspace():
            spans.append((start, e))
        start = e
    if start < len(t) and not t[start:].isspace():
        spans.append((start, len(t)))
    return spans


def _clauses(t: str, ss: int, se: int) -> list[tuple[int, int]]:
    """The clauses of the sentence ``t[ss:se]``: split at ";", at ": " before words, and at
    "…, and we'll / so we / once we …"."""
    breaks: list[tuple[int, int]] = []
    padded = _pad(t, ss, se)
    for m in _CLAUSE_CONJ.finditer(padded):
        breaks.append((ss + m.start(), ss + m.end() - 1))
    for sep in ";:":
        i = t.find(sep, ss, se)
        while i >= 0:
            if sep == ";":
                breaks.append((i, i + 1))
            else:
                nxt = t[i + 2 : i + 10] if t[i + 1 : i + 2] == " " else ""
                word = t[max(ss, i - 12) : i].rsplit(" ", 1)[-1]
                if nxt[:1].isalpha() and not nxt.startswith(("http", "www.")) and \
                        word not in _COLON_KEEPS:
                    breaks.append((i, i + 1))
            i = t.find(sep, i + 1, se)
    if not breaks:
        return [(ss, se)]
    breaks.sort()
    spans = []
    start = ss
    for bs, be in breaks:
        if bs < start:
            continue
        spans.append((start, bs))
        start = be
    spans.append((start, se))
    return spans


def _clause_of(clauses: list[tuple[int, int]], pos: int) -> tuple[int, int]:
    for cs, ce in clauses:
        if cs <= pos < ce:
            return cs, ce
    return clauses[-1]


def _lead(t: str, cs: int, pos: int, weak: bool) -> tuple[str, int, int] | None:
    """The words that ask for the data starting at ``pos``: (kind, verb start, end)."""
    window_start = max(cs, pos - 100)
    while window_start < pos and t[window_start] == " ":
        window_start += 1
    words = t[window_start:pos].rsplit(None, 4)
    # cheap test first: skipping the modifiers and the possessive, the word before the
    # data must be one a request can end with
    k = len(words) - 1
    skipped = 0
    while k >= 0 and skipped < 3 and _is_mod(words[k]):
        k -= 1
        skipped += 1
    if k >= 0 and words[k] in _POSS_WORDS:
        k -= 1
    if k >= 0:
        last = words[k].strip(",:;-&")
        if last and last not in _LEAD_LAST:
            return None
    padded = _pad(t, window_start, pos)
    search_from = 0
    while True:
        m = _LEAD_S.search(padded, search_from)
        if m is None:
            return None
        kind = m.lastgroup or "verb"
        vs = window_start + m.start()  # the space before the word is padded[m.start()]
        ok = True
        if kind == "verb":
            before = _pad(t, max(cs, vs - 60), vs)
            if _SUBJECT_BEFORE_S.search(before) or _NOUN_BEFORE_S.search(before):
                ok = False
        if ok and weak:
            # bare "phone", "number", "birthday": only "your …" counts
            tail = padded[m.start() :]
            if not _YOUR_TAIL.search(tail):
                ok = False
        if ok:
            if kind == "askfor":
                vs += m.group().find("ask") - 1
            return kind, vs, window_start + m.end() - 1
        search_from = m.start() + 1


def _lead_last_words() -> frozenset[str]:
    """Every word a request can end with before the possessive: the words of _LEAD, with
    the endings its stems take (shar-e, shar-ing …). A superset is fine: this is a
    prefilter for _LEAD."""
    words = set(re.findall(r"[a-z']+", _LEAD.pattern))
    for w in list(words):
        for suffix in ("e", "ing", "ting", "ping", "s", "es", "y", "ying"):
            words.add(w + suffix)
    words |= {"what's", "whats", "which's", "what're", "w/", "e.g.", "e.g", "i.e.", "i.e",
              "eg", "ie", "-", "&", ":", ","}
    return frozenset(words)


_LEAD_LAST = _lead_last_words()
_YOUR_TAIL = re.compile(r"\b(?:your|yr|you're|youre) (?:[\w'-]+ ){0,3}?\Z")
_MOD_RX = re.compile(_MOD + r"\Z")
_POSS_WORDS = frozenset(
    "your yr you're youre ya the a an any one of both each".split()
)


def _is_mod(word: str) -> bool:
    return _MOD_RX.match(word) is not None


def _channel_in(t: str, cs: int, ce: int) -> bool:
    if "://" not in t[cs:ce] and _CHANNEL_WORDS.isdisjoint(
            t[cs:ce].encode("ascii", "replace").translate(_WORDS_VIEW).split()):
        return False
    padded = _pad(t, cs, ce)
    for m in _CHANNEL_S.finditer(padded):
        before = padded[max(0, m.start() - 24) : m.start()]
        if _CHANNEL_NEGATED_S.search(" " + before):
            continue
        return True
    return False


def _public_in(t: str, cs: int, ce: int) -> bool:
    return _PUBLIC_S.search(_pad(t, cs, ce)) is not None


def find_asks(text: str) -> list[Ask]:
    """Every request in ``text`` for the reader's private data (see the module docstring).

    Only the first 4,096 characters are scanned.
    """
    a = analyse(text, DEFAULT_LIMIT)
    t, index = a.text, a.index
    if not t:
        return []
    view = a.norm_view
    starts = _TERM_STARTS.intersection(view.tokens)
    if not starts:
        return []
    protected = view.protected
    tokens = view.tokens
    terms = _find_terms(t, protected, starts)
    if not terms:
        return []
    n = len(t)
    # A text naming private data more than MAX_TERMS times is not a normal reply: the terms
    # past the limit are reported as plain asks (failing closed) rather than analysed, so
    # that decoys cannot make an adversarial text slow or hide an ask behind them.
    overflow = terms[MAX_TERMS:]
    terms = terms[:MAX_TERMS]

    def orig(s: int, e: int) -> tuple[int, int]:
        if index is None:
            return s, e
        return index[s], index[e - 1] + 1

    extra: list[int] = []
    for ps, pe in protected:
        if "://" in t[ps:pe] or t.startswith("www.", ps):
            # a URL followed by a capital letter ends a sentence ("…at: URL Please include…")
            k = pe
            while k < n and t[k] == " ":
                k += 1
            if k < n:
                o = k if index is None else index[k]
                if text[o : o + 1].isupper():
                    extra.append(pe)
    sentences = _sentences(t, extra)
    term_starts = [x.s for x in terms]
    private_memo: dict[tuple[int, int], bool] = {}
    where_memo: dict[tuple[int, int], bool] = {}

    def clause_private(cs: int, ce: int) -> bool:
        """Does the clause ask via a private channel (and not "here"/"below" too)?"""
        key = (cs, ce)
        if key not in private_memo:
            private_memo[key] = _channel_in(t, cs, ce) and not _public_in(t, cs, ce)
        return private_memo[key]

    def clause_where(cs: int, ce: int) -> bool:
        key = (cs, ce)
        if key not in where_memo:
            where_memo[key] = _WHERE_TO_FIND_S.search(_pad(t, cs, ce)) is not None
        return where_memo[key]
    asks: list[Ask] = []
    anaphora_possible = not _ANAPHOR_VERBS.isdisjoint(tokens)
    prev_terms: list[_Term] = []
    prev_sentence: tuple[int, int] | None = None
    prev_private = False
    ti = 0
    for si, (ss, se) in enumerate(sentences):
        sterms: list[_Term] = []
        while ti < len(terms) and terms[ti].s < se:
            if terms[ti].s >= ss:
                sterms.append(terms[ti])
            ti += 1
        anaphors = []
        stokens: frozenset[bytes] | None = None
        if anaphora_possible and (sterms or prev_terms):
            stokens = frozenset(t[ss:se].encode("ascii", "replace").translate(_WORDS_VIEW).split())
        if stokens is not None and not _ANAPHOR_VERBS.isdisjoint(stokens):
            padded = _pad(t, ss, se)
            for m in _PRONOUN_S.finditer(padded):
                ps, pe = ss + m.start(), ss + m.end() - 1  # the pronoun in t
                v = _ANAPHOR_VERB_S.search(padded, max(0, m.start() - 40), m.start() + 1)
                if v is None:
                    continue
                vs = ss + v.start()
                if protected and _inside(vs, protected):
                    continue
                if m.group().startswith(" what") != v.group().startswith(" let"):
                    continue
                anaphors.append((vs, ps, pe))
        if not sterms and not anaphors:
            prev_terms, prev_sentence, prev_private = [], (ss, se), False
            continue
        if stokens is None:
            stokens = frozenset(t[ss:se].encode("ascii", "replace").translate(_WORDS_VIEW).split())
        if _CLAUSE_WORDS.isdisjoint(stokens) and ";" not in t[ss:se] and ":" not in t[ss:se]:
            clauses = [(ss, se)]
        else:
            clauses = _clauses(t, ss, se)
        sentence_asks: list[Ask] = []
        last_asked: tuple[_Term, str, int, tuple[int, int]] | None = None
        stext = t[ss:se]
        for term in sterms:
            cs, ce = _clause_of(clauses, term.s)
            lead = _lead(t, cs, term.s, term.weak)
            kind = lead[0] if lead else ""
            verb_start = lead[1] if lead else term.s
            if lead is None and last_asked is not None:
                # a list: "your order number, e-mail and zip code"
                prev_term, prev_kind, prev_vs, prev_clause = last_asked
                gap = t[prev_term.e : term.s]
                if prev_clause == (cs, ce) and len(gap) <= 60 and _LIST_GAP.match(gap):
                    kind, verb_start = prev_kind, prev_vs
            if not kind and not term.weak and se - ss <= 160:
                # the sentence is only the data: "Your order number, please?"
                tail = t[term.e : se]
                cut = _FRAGMENT_TAIL.search(tail)
                if cut is not None:
                    tail = tail[: cut.start()]
                rest = t[ss : term.s] + " " + tail
                for other in sterms:
                    if other is not term:
                        rest = rest.replace(t[other.s : other.e], " ")
                rest_m = _FRAGMENT_REST.match(rest)
                if rest_m is not None and rest_m.end() == len(rest) and (
                    "?" in stext or "please" in stext or "pls" in stext
                ):
                    kind = "fragment"
                elif _POST_ASK.match(t, term.e) and _YOUR_BEFORE.search(
                    t[max(cs, term.s - 40) : term.s]
                ):
                    kind = "post"
            if not kind:
                # not asked for; an explanation of where to find it is reported as such
                if _WHERE_AFTER.match(t, term.e) or _WHERE_TO_FIND_S.search(
                        _pad(t, max(cs, term.s - 60), term.s)):
                    s0, e0 = orig(term.s, term.e)
                    sentence_asks.append(Ask(term.category, s0, e0, False, False, True,
                                             term.partial))
                continue
            # "the address of that branch" belongs to something else
            poss_the = t[max(cs, term.s - 5) : term.s] in ("the ", " the ")
            if poss_the and _OF_OTHER.match(t, term.e):
                continue
            if kind == "verb":
                head = t[verb_start : verb_start + 5]
                if head in ("confi", "verif") and _ASK_FOR_CONFIRM.match(t, term.e):
                    continue  # "confirm the address shown is correct": a yes/no question
                if head in ("confi", "verif", "enter", "typin", "type ") and \
                        _INSTRUCTION_AFTER.search(t, term.e, min(ce, term.e + 60)):
                    continue  # "verify your e-mail by clicking the link we sent"
                if head in ("enter", "typin", "type ") and not _public_in(t, cs, ce):
                    continue  # "enter your PIN at the terminal": only "type it here" asks
            last_asked = (term, kind, verb_start, (cs, ce))
            negated = _neg_window(t, cs, verb_start) or (
                kind == "askfor" and _NEVER.search(t, verb_start, term.s) is not None
            ) or (kind == "verb" and t.startswith(("leav", "keep"), verb_start)
                  and _LEFT_OUT.match(t, term.e) is not None)
            private = clause_private(cs, ce)
            if not private and prev_sentence is not None and kind == "verb" and \
                    t.startswith(_INCLUDE_VERBS, verb_start):
                ps, pe = prev_sentence
                if _channel_in(t, ps, pe) and not _WE_GOT.search(t, ps, pe):
                    private = True
            if not private and kind == "fragment" and prev_private and \
                    _FRAGMENT_LEAD.match(t[ss:se].lstrip()):
                private = True
            where = (
                (kind in ("wh", "let", "have", "fragment")
                 and clause_where(cs, ce))
                or _WHERE_AFTER.match(t, term.e) is not None
            )
            s0, e0 = orig(term.s, term.e)
            sentence_asks.append(Ask(term.category, s0, e0, private, negated, where,
                                     term.partial))
        # pronouns: "Found your order number? Drop it below."
        for ms, ps, pe in anaphors:
            referents = [x for x in sterms if x.e <= ms] or prev_terms
            if not referents:
                continue
            cs, ce = _clause_of(clauses, ms)
            before = t[max(cs, ms - 60) : ms]
            if not t.startswith("let", ms) and (
                _SUBJECT_BEFORE_S.search(" " + before) or _NOUN_BEFORE_S.search(" " + before)
            ):
                continue
            negated = bool(_neg_window(t, cs, ms))
            # "DM it to us": the verb is the private channel
            private = t.startswith(_PRIVATE_VERBS, ms) or clause_private(cs, ce)
            where = _WHERE_AFTER.match(t, pe) is not None
            s0, e0 = orig(ps, pe)
            seen: set[str] = set()
            for ref in referents:
                if ref.category in seen:
                    continue
                seen.add(ref.category)
                sentence_asks.append(Ask(ref.category, s0, e0, private, negated, where,
                                         ref.partial))
        # an instruction in the next sentence about how to answer: "Reply in DM."
        if any(not a.private_channel for a in sentence_asks) and si + 1 < len(sentences):
            for ns, ne in sentences[si + 1 : si + 3]:
                nt = t[ns:ne].strip()
                k = bisect.bisect_left(term_starts, ns)
                has_terms = k < len(term_starts) and term_starts[k] < ne
                if not has_terms and _DIRECTIVE.search(nt):
                    sentence_asks = [
                        x if x.private_channel else Ask(x.category, x.start, x.end, True,
                                                        x.negated, x.where_to_find, x.partial)
                        for x in sentence_asks
                    ]
                    break
        asks.extend(sentence_asks)
        prev_terms = sterms
        prev_sentence = (ss, se)
        prev_private = any(a.private_channel for a in sentence_asks)
    for x in overflow:
        s0, e0 = orig(x.s, x.e)
        asks.append(Ask(x.category, s0, e0, False, False, False, x.partial))
    return asks


# "leave your e-mail address out (of it)": a request not to share
_LEFT_OUT = re.compile(r" ?(?:out\b|off\b|private\b|to yourself\b)")
_NEVER = re.compile(r"\b(?:never|not|won't|wouldn't|don't|do not|will not)\b")
_YOUR_BEFORE = re.compile(r"\b(?:your|yr) (?:[\w'-]+ ){0,2}?\Z")
# asks that add to a message the previous sentence sent the reader to write
_PRIVATE_VERBS = ("dm ", "pm ", "inbox ", "message ", "email ")
_INCLUDE_VERBS = ("includ", "attach", "add", "mention", "list", "provid")


def _neg_window(t: str, cs: int, verb_start: int) -> bool:
    """Is the ask starting at ``verb_start`` negated ("please don't share …")?"""
    return _NEG_S.search(_pad(t, max(cs, verb_start - 60), verb_start)) is not None


# ============================================================================================
# the data itself
# ============================================================================================

_TOKEN_VIEW = bytes(c if c in b"abcdefghijklmnopqrstuvwxyz0123456789'" else 32 for c in range(256))
_DIGITS_DELETE = b"0123456789"

_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._%+-'")
_EMAIL_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}+)(?:\.[a-z0-9](?:[a-z0-9-]{0,62}+)){1,8}+")
_ROLE_MAILBOXES = frozenset(
    """support help helpdesk info contact hello care customercare customerservice service
    services team noreply no-reply donotreply do-not-reply abuse phish phishing reportphish
    spoof fraud security privacy billing sales feedback press media admin webmaster
    postmaster hostmaster accounts complaints enquiries inquiries office reception jobs
    careers marketing orders returns refunds legal dpo gdpr""".split()
)

# a run of digits with the separators people write in numbers
_NUMBERISH = re.compile(r"(?:\+ ?|\b00 ?)?\(?\d[\d \-.()/]{0,40}+")
_DATE_LIKE = re.compile(
    r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|\d{1,2}:\d{2}"
)

_ID_LABEL = re.compile(
    r"\b(?P<label>order|account|acct|acc|customer|cust|client|member(?:ship)?|loyalty|rewards"
    r"|confirmation|conf|booking|reservation|pnr|record locator|reference|ref|ticket|case"
    r"|incident|claim|tracking|invoice|transaction|receipt|policy|subscriber|serial|s/n|imei"
    r"|itinerary)"
    r"(?: ?(?:number|no\.?|nr\.?|num\.?|#|id|code|ref(?:erence)?|locator))?"
    r"(?P<sep>(?: (?:is|was)| ?[:=]| -| of)?) ?(?:# ?)?"
    r"(?P<value>[a-z0-9](?:[a-z0-9]|[-/](?=[a-z0-9])){1,39}+)"
)
# "password: …", "my username is …": a secret or a login written out
_SECRET_LABEL = re.compile(
    r"\b(?P<label>password|passcode|pin|username|user ?name|user ?id|gamertag|gamer tag"
    r"|psn id|apple id|login)(?P<sep> (?:is|was)| ?[:=]|) ?"
    r"(?P<value>[^\s,;]{3,64}+)"
)
_PHONE_SHAPE = re.compile(
    r"(?:\+|00|\(|0\d{2,4}[ -]\d)|\d{3}[-. ]\d{3}[-. ]\d{4}\Z"
)
_ID_CATEGORY = {
    "order": "order_number", "invoice": "order_number", "transaction": "order_number",
    "receipt": "order_number", "account": "account_number", "acct": "account_number",
    "acc": "account_number", "customer": "customer_number", "cust": "customer_number",
    "client": "customer_number", "policy": "customer_number",
    "subscriber": "customer_number", "member": "membership_number",
    "membership": "membership_number", "loyalty": "membership_number",
    "rewards": "membership_number", "confirmation": "confirmation_ref",
    "conf": "confirmation_ref", "booking": "confirmation_ref",
    "reservation": "confirmation_ref", "pnr": "confirmation_ref",
    "record locator": "confirmation_ref", "reference": "confirmation_ref",
    "ref": "confirmation_ref", "itinerary": "confirmation_ref", "ticket": "ticket_number",
    "case": "ticket_number", "incident": "ticket_number", "claim": "ticket_number",
    "tracking": "tracking_number", "serial": "device_serial", "s/n": "device_serial",
    "imei": "device_serial", "username": "username", "user name": "username",
    "userid": "username", "user id": "username", "gamertag": "username",
    "gamer tag": "username", "psn id": "username", "apple id": "username",
    "password": "password", "passcode": "pin", "pin": "pin",
}
_LOCATOR_LABELS = frozenset(
    ["confirmation", "conf", "booking", "reservation", "pnr", "record locator", "reference",
     "ref", "itinerary"]
)
_VALUE_STOPWORDS = frozenset(
    """is was the a an and or of to for in on at with from your my our this that it has have
    had be been will would can could should please thanks status number details info
    here there below above""".split()
)

_CARD_MENTION = re.compile(
    r"\b(?:card|visa|mastercard|amex|debit|credit|account)(?: [a-z]+){0,3}? (?:ending|ends|that"
    r" ends)(?: (?:in|with|on))?:? ?(?:[x*#•]{1,16}[ -]?)?(?P<d1>\d{4})\b"
    r"|(?<![\w*#])(?:[x*#•]{4}[ -]?){2,3}+(?P<d2>\d{4})\b"
    r"|\blast (?:4|four) (?:digits )?(?:of (?:your|the|my) (?:credit |debit )?card )?(?:are|is|:"
    r"|-|=)? ?(?P<d3>\d{4})\b"
)

_PHONE_ENDING = re.compile(
    r"\b(?:number|phone|mobile|cell|line)(?: number)? (?:ending|ends|that ends)(?: (?:in|with))?"
    r":? ?(?:[x*#•]{1,8}[ -]?)?(?P<d>\d{2,4})\b"
)
_UPS = re.compile(r"\b1z ?[a-z0-9]{3} ?[a-z0-9]{3} ?[a-z0-9]{2} ?[a-z0-9]{4} ?[a-z0-9]{4}\b")
_S10 = re.compile(r"\b[a-z]{2} ?\d{3} ?\d{3} ?\d{3} ?[a-z]{2}\b")
_TBA = re.compile(r"\btba ?\d{12}\b")
_CARRIER_BEFORE = re.compile(
    r"\b(?P<carrier>fedex|fed ex|dhl|ups|usps|royal mail|tracking|waybill|awb|shipment)\b"
)

_STREET_SUFFIX = (
    r"street|st|avenue|ave|road|rd|lane|ln|boulevard|blvd|drive|dr|court|ct|place|pl|way"
    r"|terrace|ter|circle|cir|highway|hwy|parkway|pkwy|square|sq|close|crescent|cres|grove"
    r"|gardens|gdns|mews|trail|trl|alley|plaza|loop|crossing|pike|row|walk"
)
_STREET_STOP = (
    r"(?!(?:min|mins|minutes?|hours?|hrs?|days?|weeks?|months?|years?|miles?|km|blocks?"
    r"|steps?|times?|easy|simple|quick|more|other|of|the|a|an|to|in|on|for|and|or|by|your"
    r"|our|my|their|new|great|best|next|x|gb|mb|tb|inch|inches|ft|feet|pm|am|percent|items?"
    r"|people|users|devices|ways|things|is|are|was|were|it|that|this|we|you|i|at|from|with"
    r"|per|out|left|right|off|up|down|only|also|just|points?|stars?|games?|players?|tickets?"
    r"|lines?|ps\d|xbox|step)\b)"
)
_ADDRESS = re.compile(
    r"\b\d{1,6}[a-z]?(?: ?- ?\d{1,6})? (?:" + _STREET_STOP + r"[a-z0-9][a-z0-9.'-]{0,24}+ ){1,4}?"
    r"(?:" + _STREET_SUFFIX + r")\b\.?"
    r"(?:,? (?:apt|apartment|unit|suite|ste|flat|#) ?\.? ?[a-z0-9-]{1,6}\b)?"
)
# addresses written the continental way: "4 Rue de Rivoli", "Calle Mayor 12", "Hauptstraße 5"
_ADDRESS_EU = re.compile(
    r"\b(?:\d{1,5}[a-z]?,? (?:rue|avenue|boulevard|bd|allee|chemin|place|quai|impasse|calle"
    r"|avenida|via|viale|piazza|corso|carrer|rua|praca) (?:(?:de|du|des|de la|la|le|les|del"
    r"|de los|di|della|do|da|dos) )?[a-z][a-z'-]{1,24}(?: [a-z][a-z'-]{1,24})?"
    r"|(?:calle|avenida|viale|piazza|corso|carrer|rua) (?:(?:de|del|di|della|do|da) )?"
    r"[a-z][a-z'-]{1,24},? \d{1,5}[a-z]?)\b"
)
_ADDRESS_EU_WORDS = frozenset(
    b"""rue avenue boulevard bd allee chemin place quai impasse calle avenida via viale
    piazza corso carrer rua praca""".split()
)
_ADDRESS_DE = re.compile(r"\b[a-z][a-z-]{1,24}(?:strasse|str\.|straat) \d{1,4}[a-z]?\b")
_EU_POSTCODE_AFTER = re.compile(r",? (?P<zip>\d{4,5}) [a-z]")
_ADDRESS_TAIL = re.compile(
    r"(?:, [a-z][a-z .'-]{1,30}?){0,2}?,? (?:[a-z]{2} )?(?P<zip>\d{5}(?:-\d{4})?|[a-z]{1,2}\d"
    r"[a-z\d]? ?\d[a-z]{2})\b"
)
_POSTCODE_LABEL = re.compile(
    r"\b(?:zip|zip ?code|zipcode|post ?code|postal ?code|pincode|pin code|eircode)"
    r"(?: (?:is|was)| ?:| -)? ?(?P<value>\d{5}(?:-\d{4})?|\d{6}|\d{4}|[a-z]{1,2}\d[a-z\d]? ?"
    r"\d[a-z]{2}|[a-z]\d[a-z] ?\d[a-z]\d)\b"
)
_DOB = re.compile(
    r"\b(?:date of birth|d\.?o\.?b\.?|birth ?date|born on|born|birthday)(?: (?:is|was)| ?:| -)?"
    r" ?(?P<value>\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}|(?:\d{1,2}(?:st|nd|rd"
    r"|th)? (?:of )?)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}\.?"
    r"(?: \d{1,2}(?:st|nd|rd|th)?,?)? \d{4})"
)

_CARD_PREFIXES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("4", (13, 16, 19)), ("34", (15,)), ("37", (15,)), ("6011", (16, 17, 18, 19)),
    ("65", (16, 17, 18, 19)), ("62", (16, 17, 18, 19)), ("300", (14,)), ("301", (14,)),
    ("302", (14,)), ("303", (14,)), ("304", (14,)), ("305", (14,)), ("36", (14, 15, 16, 17,
    18, 19)), ("38", (14, 16)), ("39", (16,)), ("35", (16, 17, 18, 19)),
    ("50", (12, 13, 14, 15, 16, 17, 18, 19)), ("56", (16, 17, 18, 19)),
    ("57", (16, 17, 18, 19)), ("58", (16, 17, 18, 19)), ("67", (16, 17, 18, 19)),
    ("644", (16,)), ("645", (16,)), ("646", (16,)), ("647", (16,)), ("648", (16,)),
    ("649", (16,)),
)


#: records a finding (category, start, end) in the folded text
_Add = Callable[[str, int, int], None]


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_brand_ok(digits: str) -> bool:
    n = len(digits)
    if digits[:1] == "5" and "51" <= digits[:2] <= "55" and n == 16:
        return True
    if digits[:1] == "2" and "2221" <= digits[:4] <= "2720" and n == 16:
        return True
    return any(digits.startswith(p) and n in lengths for p, lengths in _CARD_PREFIXES)


def _ups_ok(value: str) -> bool:
    v = value.replace(" ", "").upper()
    if len(v) != 18 or not v.startswith("1Z"):
        return False
    body = v[2:17]
    total = 0
    for i, ch in enumerate(body):
        d = int(ch) if ch.isdigit() else (ord(ch) - 63) % 10
        total += d * (2 if i % 2 else 1)
    return (10 - total % 10) % 10 == int(v[17]) if v[17].isdigit() else False


def _ups_like(value: str) -> bool:
    """1Z + 16 letters/digits: the check digit when it holds, else at least 8 digits (UPS
    examples in circulation do not all carry a valid check digit)."""
    v = value.replace(" ", "")
    return _ups_ok(v) or sum(ch.isdigit() for ch in v[2:]) >= 8


def _s10_ok(value: str) -> bool:
    v = value.replace(" ", "")
    digits = v[2:11]
    if len(digits) != 9 or not digits.isdigit():
        return False
    weights = (8, 6, 4, 2, 3, 5, 9, 7)
    total = sum(int(d) * w for d, w in zip(digits[:8], weights, strict=True))
    check = 11 - total % 11
    check = 0 if check == 10 else 5 if check == 11 else check
    return check == int(digits[8])


def _mod10_31(digits: str) -> bool:
    """USPS (IMpb and 20-digit) check digit: weights 3,1 from the right."""
    body, check = digits[:-1], int(digits[-1])
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += (ord(ch) - 48) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10 == check


@lru_cache(maxsize=4096)
def _phone_ok(candidate: str, region: str | None) -> bool:
    """A customer's phone number: valid for its region (or at least possible, when written
    the way phone numbers are: "+44 …", "(415) …", "07… …", "415-555-0123" — fictional
    ranges such as 07700 900xxx are used in examples and tests), and not a business line
    (toll-free, premium-rate, shared-cost)."""
    try:
        import phonenumbers
        from phonenumbers import PhoneNumberType
    except ImportError:  # pragma: no cover - the dependency is declared; a plain fallback
        return _phone_shape_only(candidate, region)

    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    if not phonenumbers.is_valid_number(number) and not (
        phonenumbers.is_possible_number(number) and _PHONE_SHAPE.match(candidate)
    ):
        return False
    return phonenumbers.number_type(number) not in (
        PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST,
        PhoneNumberType.UAN, PhoneNumberType.VOICEMAIL,
    )


_NANP_TOLL_FREE = ("800", "888", "877", "866", "855", "844", "833", "900")


def _phone_shape_only(candidate: str, region: str | None) -> bool:
    """Without ``phonenumbers``: the shape of a NANP, UK or international number."""
    digits = "".join(ch for ch in candidate if ch.isdigit())
    if region is None:
        return 8 <= len(digits) <= 15 and not digits.startswith(("1800", "44800", "44808"))
    if region == "US":
        national = digits[1:] if len(digits) == 11 else digits
        return len(national) == 10 and national[:3] not in _NANP_TOLL_FREE
    if region == "GB":
        national = "0" + digits[4:] if digits.startswith("0044") else digits
        return len(national) in (10, 11) and not national.startswith(("0800", "0808", "09"))
    return False


def _plausible_regions(candidate: str, digits: str) -> list[str | None]:
    c = candidate.lstrip()
    if c.startswith("+"):
        return [None]
    regions: list[str | None] = []
    n = len(digits)
    for region in PHONE_REGIONS:
        if region == "US":
            if (n == 10 and digits[0] in "23456789" and digits[3] in "23456789") or (
                n == 11 and digits[0] == "1" and digits[1] in "23456789"
            ):
                regions.append("US")
        elif region == "GB":
            if digits.startswith("00") or (digits[:1] == "0" and n in (10, 11)):
                regions.append("GB")
        else:
            regions.append(region)
    return regions


class _Spans:
    """Non-overlapping spans, sorted, with a fast overlap test."""

    __slots__ = ("starts", "ends")

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for s, e in sorted(spans):
            self.add(s, e)

    def overlaps(self, s: int, e: int) -> bool:
        i = bisect.bisect_right(self.starts, s)
        if i > 0 and self.ends[i - 1] > s:
            return True
        return i < len(self.starts) and self.starts[i] < e

    def add(self, s: int, e: int) -> None:
        i = bisect.bisect_right(self.starts, s)
        self.starts.insert(i, s)
        self.ends.insert(i, e)


def find_private_data(text: str) -> list[Found]:
    """Private data written in ``text`` (see the module docstring), in text order.

    Only the first 4,096 characters are scanned.
    """
    if not text:
        return []
    src = text[:DEFAULT_LIMIT]
    a = analyse(text, DEFAULT_LIMIT)
    t, index, view = a.folded, a.folded_index, a.view
    ndigits = view.ndigits
    tokens = view.tokens
    email = "@" in t and _EMAIL_AT.search(t) is not None
    if ndigits == 0 and not email and (
        (":" not in t and " is " not in t)
        or (_LOCATOR_WORDS.isdisjoint(tokens) and _SECRET_LABELS.isdisjoint(tokens))
    ):
        return []  # nothing below could find anything
    urls = [(s, e) for s, e in view.protected if "://" in t[s:e] or t.startswith("www.", s)]

    def orig(s: int, e: int) -> tuple[int, int]:
        if index is None:
            return s, e
        return index[s], index[e - 1] + 1

    found: list[tuple[str, int, int]] = []  # (category, start, end) in t
    taken = _Spans(urls)  # URLs are never data

    def add(cat: str, s: int, e: int) -> None:
        if s >= e or taken.overlaps(s, e):
            return
        found.append((cat, s, e))
        taken.add(s, e)

    if email:
        for s, e in _emails(t):
            add("email", s, e)

    if ndigits >= 3 or not _LOCATOR_WORDS.isdisjoint(tokens):
        for m in _ID_LABEL.finditer(t):
            _labelled(t, src, index, m, add)
    if not _SECRET_LABELS.isdisjoint(tokens):
        for m in _SECRET_LABEL.finditer(t):
            _secret(t, m, add)

    if ndigits >= 2 and "end" in t:
        for m in _PHONE_ENDING.finditer(t):
            add("phone", *m.span("d"))
    if ndigits >= 4:
        for m in _CARD_MENTION.finditer(t):
            g = "d1" if m.group("d1") else "d2" if m.group("d2") else "d3"
            add("card", *m.span(g))
    if ndigits >= 9:
        if "1z" in t:
            for m in _UPS.finditer(t):
                if _ups_like(m.group()):
                    add("tracking_number", *m.span())
        for m in _S10.finditer(t):
            value = m.group()
            # any S10 number with a valid check digit; Royal Mail (…GB) and USPS (…US)
            # numbers also without it, when written in capitals
            if _s10_ok(value) or (value[-2:] in ("gb", "us") and src[
                    slice(*orig(*m.span()))].isupper()):
                add("tracking_number", *m.span())
        if "tba" in t:
            for m in _TBA.finditer(t):
                add("tracking_number", *m.span())
    if ndigits >= 7:
        _numbers(t, add)
    if ndigits >= 1:
        if not _STREET_WORDS.isdisjoint(tokens):
            for m in _ADDRESS.finditer(t):
                s, e = m.span()
                tail = _ADDRESS_TAIL.match(t, e)
                s0, e0 = orig(s, e)
                # a street name is written with capitals, or followed by a town and postcode
                if tail is None and not any(w[:1].isupper() for w in src[s0:e0].split()[1:]):
                    continue
                add("address", s, e)
                if tail:
                    add("postcode", *tail.span("zip"))
        continental: list[re.Match[str]] = []
        if not _ADDRESS_EU_WORDS.isdisjoint(tokens):
            continental.extend(_ADDRESS_EU.finditer(t))
        if "strasse" in t or "str." in t or "straat" in t:
            continental.extend(_ADDRESS_DE.finditer(t))
        if continental:
            for m in continental:
                s, e = m.span()
                s0, e0 = orig(s, e)
                if not any(w[:1].isupper() for w in src[s0:e0].split()):
                    continue  # a street is written with capitals
                add("address", s, e)
                tail = _EU_POSTCODE_AFTER.match(t, e)
                if tail:
                    add("postcode", *tail.span("zip"))
        if not _POSTCODE_WORDS.isdisjoint(tokens):
            for m in _POSTCODE_LABEL.finditer(t):
                add("postcode", *m.span("value"))
        if not _DOB_WORDS.isdisjoint(tokens):
            for m in _DOB.finditer(t):
                add("date_of_birth", *m.span("value"))

    found.sort(key=lambda f: f[1])
    out = []
    for cat, s, e in found:
        s0, e0 = orig(s, e)
        out.append(Found(cat, s0, e0, src[s0:e0]))
    return out


_STREET_WORDS = frozenset(w.encode() for w in _STREET_SUFFIX.split("|"))
_POSTCODE_WORDS = frozenset(
    b"zip zipcode code postcode post postal pincode pin eircode".split()
)
_LOCATOR_WORDS = frozenset(
    b"confirmation conf booking reservation pnr locator reference ref itinerary".split()
)
_SECRET_LABELS = frozenset(
    b"password passcode pin username user gamertag psn apple userid login".split()
)
_SECRET_CATEGORY = {
    "password": "password", "passcode": "pin", "pin": "pin", "login": "username",
}
_NOT_SECRETS = frozenset(
    """wrong incorrect correct invalid expired required changed reset weak strong different
    same too not the a an my your case-sensitive missing locked blocked empty needed ok fine
    and or but still now""".split()
)
_DOB_WORDS = frozenset(b"birth dob d.o.b birthdate born birthday".split() + [b"d"])


# an '@' that can join an e-mail address: a character of the local part before it, a
# letter or digit after it (the pattern starts with the literal '@': a fast scan)
_EMAIL_AT = re.compile(r"@(?<=[a-z0-9._%+'\-]@)(?=[a-z0-9])")


def _emails(t: str) -> Iterable[tuple[int, int]]:
    at = t.find("@")
    count = 0
    n = len(t)
    while at >= 0 and count < 256:
        count += 1
        s = at
        while s > 0 and at - s < 64 and t[s - 1] in _EMAIL_LOCAL:
            s -= 1
        while s < at and t[s] in ".'-":
            s += 1
        m = _EMAIL_DOMAIN.match(t, at + 1)
        nxt = at + 1
        if s < at and m is not None:
            e = m.end()
            # a TLD is letters
            tld = t[t.rfind(".", at, e) + 1 : e]
            local = t[s:at]
            if tld.isalpha() and len(tld) >= 2 and local.strip("._%+-") and \
                    local.lower() not in _ROLE_MAILBOXES and (e >= n or t[e] != "@"):
                yield s, e
            nxt = e
        at = t.find("@", nxt)


def _secret(t: str, m: re.Match[str], add: _Add) -> None:
    label = m.group("label")
    value = m.group("value").rstrip(".!?)\"'")
    sep = m.group("sep").strip()
    cat = _SECRET_CATEGORY.get(label, "username")
    if value in _NOT_SECRETS or len(value) < 3:
        return
    if sep in ("is", "was") and not any(ch.isdigit() for ch in value):
        return  # "my password is wrong"
    if not sep and (cat != "username" or not any(ch.isdigit() or ch == "_" for ch in value)):
        return  # without ":" only a handle-like username ("username jsmith_1987")
    if cat == "pin" and not (value.isdigit() and 4 <= len(value) <= 8):
        return
    s = m.start("value")
    add(cat, s, s + len(value))


def _labelled(
    t: str, src: str, index: list[int] | None, m: re.Match[str], add: _Add
) -> None:
    label = m.group("label")
    value = m.group("value")
    cat = _ID_CATEGORY.get(label) or _ID_CATEGORY.get(label.replace(" ", ""))
    if cat is None:
        return
    s, e = m.span("value")
    ndig = sum(ch.isdigit() for ch in value)
    if value in _VALUE_STOPWORDS:
        return
    if cat == "device_serial":
        if label == "imei":
            digits = value.replace("-", "").replace("/", "")
            if not (digits.isdigit() and len(digits) == 15):
                return
        elif ndig < 2 or len(value) < 5:
            return
    else:
        if ndig >= 3:
            pass
        elif label in _LOCATOR_LABELS and len(value) == 6 and value.isalnum():
            # a PNR: six letters/digits written in capitals
            s0 = s if index is None else index[s]
            e0 = e if index is None else index[e - 1] + 1
            if not src[s0:e0].isupper():
                return
        else:
            return
    add(cat, s, e)


_NOT_DIGITS = {c: None for c in range(128) if not 48 <= c <= 57}


def _numbers(t: str, add: _Add) -> None:
    """Cards, IMEIs, USPS/FedEx/DHL tracking numbers and phone numbers among digit runs."""
    for m in _NUMBERISH.finditer(t):
        s, e = m.span()
        if e - s < 7:
            continue  # fewer than 7 characters cannot hold 7 digits
        # trim trailing separators
        while e > s and not t[e - 1].isdigit():
            e -= 1
        cand = t[s:e]
        if s > 0 and (t[s - 1].isalnum() or t[s - 1] in "$£€¥#/.,_"):
            continue
        if e < len(t) and (t[e].isalpha() or t[e] in "%$£€"):
            continue
        digits = cand.translate(_NOT_DIGITS)
        nd = len(digits)
        if nd < 7:
            continue
        before = t[max(0, s - 32) : s]
        if 13 <= nd <= 19 and "/" not in cand and _luhn(digits) and _card_brand_ok(digits) \
                and "imei" not in before:
            add("card", s, e)
            continue
        if nd == 15 and _luhn(digits) and ("imei" in before or digits[:2] in ("35", "01", "86",
                                                                                "99")):
            add("device_serial", s, e)
            continue
        if (nd in (20, 22) and digits[:2] in ("91", "92", "93", "94", "95", "03", "23", "70",
                                              "71", "82") and _mod10_31(digits)) \
                or (nd == 22 and digits[:2] in ("92", "93", "94", "95")) \
                or (nd in (30, 34) and digits.startswith("420")):
            add("tracking_number", s, e)
            continue
        carrier = None
        for cm in _CARRIER_BEFORE.finditer(before):
            carrier = cm.group("carrier")
        if carrier and (
            (nd in (12, 15, 20) and carrier in ("fedex", "fed ex", "tracking", "shipment"))
            or (nd == 10 and carrier in ("dhl", "waybill", "awb", "tracking", "shipment"))
        ):
            add("tracking_number", s, e)
            continue
        if nd > 15 or _DATE_LIKE.fullmatch(cand.strip()):
            continue
        if re.search(r"(?:order|#|ref|id|no\.?|case|ticket|account|acct|invoice|flight"
                     r"|version|model|store|gate|build|error|code|zip|serial|imei|sku|item)\W*\Z",
                     before):
            continue
        for region in _plausible_regions(cand, digits):
            if _phone_ok(cand.strip(), region):
                add("phone", s, e)
                break


# ============================================================================================
# redaction
# ============================================================================================


def redact(text: str, found: Sequence[Found] | None = None) -> str:
    """``text`` with each finding replaced by a placeholder ("[order number]", "[e-mail]",
    "[card ending 1234]" …). Finds the data itself when ``found`` is not given."""
    if found is None:
        found = find_private_data(text)
    if not found:
        return text
    out: list[str] = []
    last = 0
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if f.start < last:
            continue
        out.append(text[last : f.start])
        out.append(_placeholder(f, text[f.start : f.end]))
        last = f.end
    out.append(text[last:])
    return "".join(out)


def _placeholder(f: Found, value: str) -> str:
    if f.category == "phone" and len(value) <= 4 and value.isdigit():
        return "[phone digits]"
    if f.category == "card":
        digits = "".join(ch for ch in value if ch.isdigit())
        if len(digits) >= 12:
            return f"[card ending {digits[-4:]}]"
        return "[card digits]"
    return PLACEHOLDERS.get(f.category, "[private]")
