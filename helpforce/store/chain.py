"""The event log's hash chain: every event carries the hash of the one before it.

Each event row has three audit columns next to what the desk wrote (``id``, ``question_id``,
``at``, ``kind``, ``actor``, ``platform``, ``data``):

``hash``
    ``sha256(previous event's 32-byte hash ‖ record)``, hex; the first event follows 32 zero
    bytes. The record is the UTF-8 of ``id|question_id|at|`` followed by ``kind``,
    ``actor``, ``platform``, ``seal`` and ``data`` of the event's *public* part (below), each
    as ``<length>:<text>`` (``~`` for NULL); ``question_id`` is ``~`` when NULL and ``at`` is
    Python's ``repr`` of the float (shortest round-trip form). Length prefixes make it
    unambiguous whatever the texts hold.
``seal``
    for an event that names a person by their platform account or holds what someone wrote,
    ``sha256(salt ‖ secret)``, hex, where the secret is the account as ``<length>:<text>``
    (``~`` if the actor is not an account) followed by the sealed data keys as sorted JSON
    (nothing if none): a commitment to that part, which the hash covers instead of the part
    itself. NULL for the other events (most of them).
``salt``
    16 random bytes (hex) for the seal. A purge deletes the salt together with the sealed
    part; without the salt the seal cannot be brute-forced back to an account id.

The *sealed* part of an event is its ``actor`` when that is a platform account
(``platform:user_id``, a customer or someone not on the roster; staff ids never contain a
colon) and the ``data`` keys in :data:`SEALED_KEYS` (a staff note's text). Everything else —
kinds, times, staff ids, rules, verdicts, who was offered what — is public: the figures a
report is made of. So a retention purge can remove customer identities and texts from
events (drop the sealed part and the salt, keep the seal) and every hash stays what it was:
the chain verifies before and after, and any other change to an event breaks it.

Verification (:class:`Verifier`) recomputes each seal from its salt and each hash from the
previous one and says which event does not match, where events are missing, and whether the
last event is the one the head row (``audit_head``, kept by a trigger) names. It needs no
key: anyone who can rewrite the whole database can rewrite the whole chain too, so a head
recorded elsewhere (``helpforce audit verify`` prints it; an export's manifest keeps it) is
what proves the past did not change: ``--expect ID:HASH`` checks one.

A redacted event (seal kept, sealed part and salt gone) verifies only where a later
``purged`` event accounts for it: one that purged its question (the purge records the
question ids as ranges) or, for an event of no question, one whose cutoff is after it.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: the "previous hash" of the first event
GENESIS = "0" * 64
#: data keys whose values are what someone wrote (a staff note): sealed, removable by a purge
SEALED_KEYS: tuple[str, ...] = ("text",)
#: the kind of the event a purge appends; its data names the questions it purged and its
#: cutoff
PURGED_KIND = "purged"
#: the columns of an event row, in the order the store inserts them
EVENT_COLUMNS = ("id", "question_id", "at", "kind", "actor", "platform", "data",
                 "hash", "seal", "salt")

_GENESIS_DIGEST = bytes(32)
_SEALED_MARKERS = tuple(f'"{k}"' for k in SEALED_KEYS)
#: the one marker, when there is one (a plain ``in`` is the fast path)
_MARKER = _SEALED_MARKERS[0] if len(_SEALED_MARKERS) == 1 else None


def is_account(actor: str | None) -> bool:
    """An actor that is a platform account (``platform:user_id``) rather than a staff id."""
    return actor is not None and ":" in actor


def split(actor: str | None, data: str) -> tuple[str | None, str, str | None]:
    """An event's public actor, public data (JSON text) and sealed part (canonical JSON, or
    None when there is nothing to seal).

    Deterministic on what is stored: a purged row (no account actor, no sealed keys) splits
    into the same public part as the row had before the purge.
    """
    hidden: dict[str, Any] = {}
    if any(marker in data for marker in _SEALED_MARKERS):
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and any(k in parsed for k in SEALED_KEYS):
            hidden = {k: parsed.pop(k) for k in SEALED_KEYS if k in parsed}
            data = json.dumps(parsed, sort_keys=True)
    account = actor is not None and ":" in actor
    if not account and not hidden:
        return actor, data, None
    secret = _ns(actor if account else None) + (json.dumps(hidden, sort_keys=True)
                                                if hidden else "")
    return (None if account else actor), data, secret


def seal_of(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode("utf-8")).hexdigest()


def record(
    event_id: int, question_id: int | None, at: float, kind: str, actor: str | None,
    platform: str | None, data: str, seal: str | None,
) -> bytes:
    """The bytes an event's hash covers (after the previous hash)."""
    return (f"{int(event_id)}|{'~' if question_id is None else int(question_id)}|"
            f"{float(at)!r}|{len(kind)}:{kind}"
            f"{'~' if actor is None else f'{len(actor)}:{actor}'}"
            f"{'~' if platform is None else f'{len(platform)}:{platform}'}"
            f"{'~' if seal is None else f'{len(seal)}:{seal}'}"
            f"{len(data)}:{data}").encode()


def _ns(text: str | None) -> str:
    """A length-prefixed text (``~``: NULL)."""
    return "~" if text is None else f"{len(text)}:{text}"


def link(prev: bytes, rec: bytes) -> bytes:
    h = hashlib.sha256(prev)
    h.update(rec)
    return h.digest()


@dataclass(frozen=True, slots=True)
class Mark:
    last_id: int
    digest: bytes


class Chain:
    """The writer's head of the chain: appends events in order (the store's writer task is
    the only caller, inside its transaction; :meth:`mark` / :meth:`reset` undo the events of
    a step that was rolled back)."""

    def __init__(self, last_id: int = 0, last_hash: str | None = None) -> None:
        self.last_id = last_id
        self._digest = bytes.fromhex(last_hash) if last_hash else _GENESIS_DIGEST
        self._pool = b""
        self._pos = 0

    def _salt(self) -> bytes:
        """16 random bytes (from a pool: one system call per 256 salts)."""
        if self._pos >= len(self._pool):
            self._pool = os.urandom(4096)
            self._pos = 0
        self._pos += 16
        return self._pool[self._pos - 16:self._pos]

    @property
    def head(self) -> tuple[int, str]:
        return self.last_id, self._digest.hex()

    def mark(self) -> Mark:
        return Mark(self.last_id, self._digest)

    def reset(self, mark: Mark) -> None:
        self.last_id = mark.last_id
        self._digest = mark.digest

    def append(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The row to insert for ``row`` (an event as the desk writes it, without an id):
        with its id, hash, and seal and salt when it has a sealed part."""
        return dict(zip(EVENT_COLUMNS, self.append_values(row), strict=True))

    def append_values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """:meth:`append` as the values of :data:`EVENT_COLUMNS`, in order (the store's
        path: no dict). ~4 µs an event, ~6 µs with a sealed part (best of 5, 2-CPU VM)."""
        if "id" in row or "hash" in row:
            raise ValueError("events get their id and hash from the store's chain")
        event_id = self.last_id + 1
        qid = row.get("question_id")
        at = float(row["at"])
        kind = str(row["kind"])
        actor = row.get("actor")
        platform = row.get("platform")
        data = row.get("data", "{}")
        if not isinstance(data, str):
            raise TypeError("an event's data must be JSON text")
        seal = salt = secret = None
        public_actor, public_data = actor, data
        if _MARKER in data if _MARKER else any(m in data for m in _SEALED_MARKERS):
            public_actor, public_data, secret = split(actor, data)
        elif actor is not None and ":" in actor:  # a customer's message: the common case
            public_actor, secret = None, f"{len(actor)}:{actor}"
        if secret is not None:
            salt_bytes = self._salt()
            salt = salt_bytes.hex()
            seal = hashlib.sha256(salt_bytes + secret.encode()).hexdigest()
        digest = hashlib.sha256(self._digest + record(
            event_id, qid, at, kind, public_actor, platform, public_data, seal)).digest()
        self.last_id = event_id
        self._digest = digest
        return (event_id, qid, at, kind, actor, platform, data, digest.hex(), seal, salt)

    def follow(self, row: Sequence[Any]) -> None:
        """Advance over an existing row ``(id, question_id, at, kind, actor, platform,
        data, seal)`` as :class:`Verifier` reads it (for a row without a valid hash)."""
        event_id, qid, at, kind, actor, platform, data, seal = row
        public_actor, public_data, _ = split(actor, data or "{}")
        self._digest = link(self._digest, record(int(event_id), qid, float(at), str(kind),
                                                 public_actor, platform, public_data, seal))
        self.last_id = int(event_id)


def chain_rows(rows: Iterable[Sequence[Any]], chain: Chain) -> list[tuple[Any, ...]]:
    """For an old database: (hash, seal, salt, id) of each existing event row
    ``(id, question_id, at, kind, actor, platform, data)`` in id order, continuing ``chain``.
    The existing ids are kept (gaps included: the hash links what is there)."""
    out = []
    for event_id, qid, at, kind, actor, platform, data in rows:
        public_actor, public_data, secret = split(actor, data or "{}")
        seal = salt = None
        if secret is not None:
            salt = os.urandom(16).hex()
            seal = seal_of(salt, secret)
        digest = link(chain._digest, record(int(event_id), qid, float(at), str(kind),
                                            public_actor, platform, public_data, seal))
        chain.last_id = int(event_id)
        chain._digest = digest
        out.append((digest.hex(), seal, salt, event_id))
    return out


def redact(actor: str | None, data: str) -> tuple[str | None, str]:
    """What a purge leaves of an event's actor and data: the public part only."""
    public_actor, public_data, _ = split(actor, data)
    return public_actor, public_data


def ranges(ids: Iterable[int]) -> list[list[int]]:
    """Sorted ids as ``[[first, last], ...]`` runs (a purge's record of what it redacted)."""
    out: list[list[int]] = []
    for i in sorted(set(ids)):
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


@dataclass(slots=True)
class Problem:
    """One thing verification found: the event id where it is, and what."""

    event_id: int | None
    what: str

    def __str__(self) -> str:
        where = f"event #{self.event_id}" if self.event_id is not None else "chain"
        return f"{where}: {self.what}"


@dataclass(slots=True)
class Verdict:
    events: int = 0
    sealed: int = 0
    redacted: int = 0
    purges: int = 0
    head_id: int = 0
    head_hash: str = GENESIS
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "events": self.events, "sealed": self.sealed,
                "redacted": self.redacted, "purges": self.purges,
                "head": {"id": self.head_id, "hash": self.head_hash},
                "problems": [{"event": p.event_id, "what": p.what} for p in self.problems]}


#: what each events column holds as the store writes it (id, question_id, at, kind, actor,
#: platform, data, hash, seal, salt)
_TYPES: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("id", (int,)), ("question_id", (int, type(None))), ("at", (float,)), ("kind", (str,)),
    ("actor", (str, type(None))), ("platform", (str, type(None))), ("data", (str, type(None))),
    ("hash", (str, type(None))), ("seal", (str, type(None))), ("salt", (str, type(None))),
)


def _wrong_types(row: Sequence[Any]) -> str:
    """The columns of an events row whose SQLite type the store never writes there."""
    return ", ".join(f"{name} is {type(value).__name__}"
                     for (name, types), value in zip(_TYPES, row, strict=False)
                     if type(value) not in types)


class Verifier:
    """Checks event rows fed in id order (:meth:`feed`), then :meth:`finish`.

    Each row: ``(id, question_id, at, kind, actor, platform, data, hash, seal, salt)``.
    After a mismatch it goes on from the stored hash, so one edited event is reported once
    and the events after it still verify.
    """

    def __init__(self, max_problems: int = 1000) -> None:
        self.verdict = Verdict()
        self.max_problems = max_problems
        self._prev_id: int | None = None
        self._prev = _GENESIS_DIGEST
        self._prev_hex = GENESIS
        #: redacted events (sealed part gone) and the purge events that must cover them
        self._redacted: list[tuple[int, int | None, float]] = []
        #: (first question, last question, purge event id) of every purge, and each
        #: purge's (event id, cutoff)
        self._purged: list[tuple[int, int, int]] = []
        self._purges: list[tuple[int, float]] = []

    def _problem(self, event_id: int | None, what: str) -> None:
        if len(self.verdict.problems) < self.max_problems:
            self.verdict.problems.append(Problem(event_id, what))
        elif len(self.verdict.problems) == self.max_problems:
            self.verdict.problems.append(Problem(None, "too many problems; stopped listing"))

    def feed(self, row: Sequence[Any]) -> None:
        event_id, qid, at, kind, actor, platform, data, stored, seal, salt = row
        v = self.verdict
        v.events += 1
        wrong = _wrong_types(row)
        if wrong:
            # the hash is of values as the store wrote them: another type (5.5 or a blob for a
            # question id, say) could hash alike yet read differently
            self._problem(event_id, f"malformed row ({wrong}): edited outside the store")
            actor = actor if isinstance(actor, str) or actor is None else repr(actor)
            data = data if isinstance(data, str) or data is None else repr(data)
        if isinstance(event_id, int) and event_id < 1:
            self._problem(event_id, "has an id below 1, which the store never gives "
                                    "(inserted around it)")
        data = str(data) if data else "{}"  # as the chain hashed it (an empty text too)
        public_actor, public_data, secret = split(actor, data)
        if seal is not None:
            v.sealed += 1
        if salt is not None:
            if seal is None:
                self._problem(event_id, "has a salt but no seal (edited)")
            elif secret is None:
                self._problem(event_id, "its sealed part (account or text) was removed but its "
                                        "salt kept: edited outside a purge")
            elif seal_of(str(salt), secret) != seal:
                self._problem(event_id, "its account or text does not match its seal (edited)")
        elif seal is not None:
            if secret is not None:
                self._problem(event_id, "holds an account or text its seal cannot vouch for "
                                        "(its salt is gone): added after a purge")
            else:
                v.redacted += 1
                self._redacted.append((int(event_id), qid, float(at)))
        elif secret is not None:
            self._problem(event_id, "holds an account or text that was never sealed (edited "
                                    "or inserted)")
        try:
            rec = record(int(event_id), qid, float(at), str(kind), public_actor, platform,
                         public_data, seal)
        except (TypeError, ValueError):
            self._problem(event_id, "malformed row")
            rec = b""
        expected = link(self._prev, rec)
        gap = self._prev_id is not None and event_id != self._prev_id + 1
        if stored is None:
            self._problem(event_id, "has no hash (inserted without the store)")
        elif expected.hex() != stored:
            if gap:
                assert self._prev_id is not None
                missing = (f"#{self._prev_id + 1}" if event_id == self._prev_id + 2
                           else f"#{self._prev_id + 1}–#{event_id - 1}")
                self._problem(event_id, f"does not follow #{self._prev_id}: event {missing} "
                                        "deleted")
            elif self._prev_id is None and event_id != 1 and self._prev == _GENESIS_DIGEST:
                self._problem(event_id, f"is the first event but does not start the chain: "
                                        f"events before #{event_id} deleted")
            else:
                self._problem(event_id, "does not match its hash: edited, inserted, or the "
                                        f"event before it (#{self._prev_id}) changed")
        if kind == PURGED_KIND:
            self._note_purge(int(event_id), public_data)
        self._prev_id = int(event_id)
        if isinstance(stored, str) and len(stored) == 64:
            try:
                self._prev = bytes.fromhex(stored)
            except ValueError:
                self._prev = expected
        else:
            self._prev = expected
        self._prev_hex = self._prev.hex()
        v.head_id = int(event_id)
        v.head_hash = self._prev_hex

    def _note_purge(self, event_id: int, data: str) -> None:
        self.verdict.purges += 1
        try:
            d = json.loads(data)
            cutoff = float(d["cutoff"])
            spans = [(int(a), int(b), event_id) for a, b in d.get("questions", [])]
        except (ValueError, TypeError, KeyError, AttributeError):
            self._problem(event_id, "a purge record whose cutoff or questions cannot be read")
            return
        self._purged += spans
        self._purges.append((event_id, cutoff))

    def _unauthorised(self) -> Iterable[int]:
        """Redacted events no later purge accounts for: of a question it purged, or (of no
        question, or added to a question after its purge) older than its cutoff."""
        spans = sorted(self._purged)
        starts = [a for a, _, _ in spans]
        purges = sorted(self._purges)
        ids = [i for i, _ in purges]
        # the latest cutoff among the purges from each one on
        later_cutoff = [0.0] * len(purges)
        best = -math.inf
        for i in range(len(purges) - 1, -1, -1):
            best = max(best, purges[i][1])
            later_cutoff[i] = best
        for event_id, qid, at in self._redacted:
            if qid is not None:
                k = bisect.bisect_right(starts, int(qid)) - 1
                if k >= 0 and spans[k][0] <= qid <= spans[k][1]:
                    if spans[k][2] > event_id:
                        continue  # the purge of its question
                    # added to its question after that purge: purged like an event of no
                    # question, by a later purge whose cutoff it is older than
                    k = bisect.bisect_right(ids, event_id)
                    if k < len(purges) and later_cutoff[k] > at:
                        continue
            else:
                k = bisect.bisect_right(ids, event_id)
                if k < len(purges) and later_cutoff[k] > at:
                    continue
            yield event_id

    def finish(
        self, head: tuple[int, str] | None, expect: Iterable[tuple[int, str]] = (),
        hashes: Mapping[int, str] | None = None,
    ) -> Verdict:
        """``head``: what the ``audit_head`` row says the last event is (None: no row);
        ``expect``: heads recorded elsewhere (``id``, ``hash``), checked against ``hashes``
        (the stored hash of those ids)."""
        v = self.verdict
        for event_id in self._unauthorised():
            self._problem(event_id, "its account or text was removed, but no purge "
                                    "recorded it")
        if head is not None:
            head_id, head_hash = head
            if head_id > v.head_id:
                missing = (f"#{head_id}" if head_id == v.head_id + 1
                           else f"#{v.head_id + 1}–#{head_id}")
                self._problem(head_id, f"the chain ends at #{v.head_id} but its head row "
                                       f"names #{head_id}: event {missing} deleted from the end")
            elif head_id == v.head_id and head_hash != v.head_hash:
                self._problem(head_id, "the last event's hash is not the one its head row "
                                       "recorded (edited)")
            elif head_id < v.head_id:
                self._problem(v.head_id, f"the head row names #{head_id}, but events go on to "
                                         f"#{v.head_id}: appended without the store, or the "
                                         "head row was edited")
        elif v.events:
            self._problem(None, "no head row (audit_head): it was deleted")
        for event_id, want in expect:
            got = (hashes or {}).get(event_id)
            if got is None:
                self._problem(event_id, f"a recorded head names #{event_id}, which is not in "
                                        "the log (deleted)")
            elif got != want:
                self._problem(event_id, "does not have the hash recorded for it earlier: the "
                                        "log was rewritten from here or before")
        return v
