"""The desk's vocabulary: accounts, inbound messages, question states and event kinds.

Nothing here imports a platform SDK or the store: adapters translate raw payloads into
:class:`Inbound`, the desk turns them into state changes and :class:`Outgoing` rows.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"


class Role(enum.StrEnum):
    AGENT = "agent"
    LEAD = "lead"
    MANAGER = "manager"


@dataclass(frozen=True, slots=True)
class Account:
    """A person on one platform, identified by the platform's immutable user id.

    The handle is display data only: it can change and is never used for identity.
    """

    platform: str
    user_id: str
    handle: str = ""

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.user_id}"


class InboundKind(enum.StrEnum):
    MESSAGE = "message"
    #: a button press (Telegram callback query, Discord component interaction)
    ACTION = "action"
    EDIT = "edit"
    DELETE = "delete"
    #: someone opened a private chat with the bot through one of our links (Telegram's
    #: ``/start <payload>``); ``data`` holds the link's payload
    START = "start"


@dataclass(frozen=True, slots=True)
class Inbound:
    """One platform event, normalised by an adapter.

    ``message_id`` is unique within the platform (adapters qualify per-chat ids, e.g. a
    Telegram message id becomes ``"<chat_id>:<message_id>"``). ``conversation`` is the chat,
    channel or tweet conversation the message was written in; ``thread`` a sub-thread of it.
    ``reply_to`` is the platform message id this one answers, if any. For an ACTION, ``data``
    holds the button's short key and ``reply_to`` the message that carried the button.
    """

    platform: str
    message_id: str
    author: Account
    conversation: str
    visibility: Visibility
    text: str = ""
    reply_to: str | None = None
    thread: str | None = None
    kind: InboundKind = InboundKind.MESSAGE
    data: str | None = None
    at: float | None = None


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    #: short callback key (Telegram allows 1-64 bytes), never the question text
    data: str


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What the outbox asks an adapter to send (or to edit, when ``edit_of`` is set)."""

    platform: str
    conversation: str
    text: str
    visibility: Visibility
    reply_to: str | None = None
    thread: str | None = None
    buttons: tuple[Button, ...] = ()
    #: platform message id of a message to edit instead of sending a new one
    edit_of: str | None = None
    #: the outbox row's idempotency key; adapters that can, pass it to the platform
    key: str = ""
    #: send privately to this user id (the adapter opens or finds the private chat)
    dm_user: str | None = None
    #: the payload of a link that opens a private chat with us (see Capabilities.deep_links):
    #: the adapter appends the link, built from its own account name, to the text
    deep_link: str | None = None
    #: a platform message this one quotes (X's quote post: re-sharing a staff member's own
    #: answer from the brand's account, with credit)
    quote: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "conversation": self.conversation,
            "text": self.text,
            "visibility": self.visibility.value,
            "reply_to": self.reply_to,
            "thread": self.thread,
            "buttons": [[b.label, b.data] for b in self.buttons],
            "edit_of": self.edit_of,
            "key": self.key,
            "dm_user": self.dm_user,
            **({"deep_link": self.deep_link} if self.deep_link else {}),
            **({"quote": self.quote} if self.quote else {}),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Outgoing:
        return cls(
            platform=d["platform"],
            conversation=d["conversation"],
            text=d["text"],
            visibility=Visibility(d["visibility"]),
            reply_to=d.get("reply_to"),
            thread=d.get("thread"),
            buttons=tuple(Button(label, data) for label, data in d.get("buttons", [])),
            edit_of=d.get("edit_of"),
            key=d.get("key", ""),
            dm_user=d.get("dm_user"),
            deep_link=d.get("deep_link"),
            quote=d.get("quote"),
        )


class State(enum.StrEnum):
    NEW = "new"
    OFFERED = "offered"
    CLAIMED = "claimed"
    ANSWERED = "answered"
    AWAITING_CUSTOMER = "awaiting_customer"
    MOVED_TO_DM = "moved_to_dm"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


#: States in which a question is still open (a follow-up joins rather than reopens).
OPEN_STATES = frozenset(State) - {State.RESOLVED}
#: States in which nobody holds the question and a claim can succeed.
CLAIMABLE_STATES = frozenset({State.NEW, State.OFFERED, State.ESCALATED})
#: States in which a claimer holds the question.
HELD_STATES = frozenset(
    {State.CLAIMED, State.ANSWERED, State.AWAITING_CUSTOMER, State.MOVED_TO_DM}
)

#: States that count against a staff member's max_open_claims: waiting for their reply.
LOAD_STATES = frozenset({State.CLAIMED})

TRANSITIONS: dict[State, frozenset[State]] = {
    State.NEW: frozenset({State.OFFERED, State.CLAIMED, State.ESCALATED, State.RESOLVED}),
    State.OFFERED: frozenset({State.CLAIMED, State.ESCALATED, State.RESOLVED}),
    # CLAIMED -> CLAIMED is a transfer; CLAIMED -> OFFERED a release
    State.CLAIMED: frozenset(
        {
            State.CLAIMED,
            State.OFFERED,
            State.ANSWERED,
            State.AWAITING_CUSTOMER,
            State.MOVED_TO_DM,
            State.ESCALATED,
            State.RESOLVED,
        }
    ),
    State.ANSWERED: frozenset(
        {
            State.CLAIMED,
            State.ANSWERED,
            State.OFFERED,
            State.AWAITING_CUSTOMER,
            State.MOVED_TO_DM,
            State.ESCALATED,
            State.RESOLVED,
        }
    ),
    State.AWAITING_CUSTOMER: frozenset(
        {
            State.CLAIMED,
            State.ANSWERED,
            State.OFFERED,
            State.MOVED_TO_DM,
            State.ESCALATED,
            State.RESOLVED,
        }
    ),
    State.MOVED_TO_DM: frozenset(
        {
            State.CLAIMED,
            State.ANSWERED,
            State.OFFERED,
            State.AWAITING_CUSTOMER,
            State.ESCALATED,
            State.RESOLVED,
        }
    ),
    State.ESCALATED: frozenset({State.CLAIMED, State.OFFERED, State.RESOLVED}),
    # a follow-up within the reopen window: back to the last holder, or offered afresh
    State.RESOLVED: frozenset({State.CLAIMED, State.NEW, State.OFFERED}),
}


#: message kinds a customer reads: a failure to deliver one escalates the question
CUSTOMER_FACING_KINDS = frozenset({"answer", "dm", "moved_public"})


class TransitionError(ValueError):
    """A state change that the desk's state machine does not allow."""


def check_transition(src: State, dst: State) -> None:
    if dst not in TRANSITIONS[src]:
        raise TransitionError(f"question cannot go from {src.value} to {dst.value}")


class EventKind(enum.StrEnum):
    RECEIVED = "received"
    FOLLOWUP = "followup"
    OFFERED = "offered"
    CLAIMED = "claimed"
    CLAIM_REFUSED = "claim_refused"
    RELEASED = "released"
    TRANSFERRED = "transferred"
    ANSWERED = "answered"
    MOVED_TO_DM = "moved_to_dm"
    NOTE = "note"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    ESCALATED = "escalated"
    POLICY_VERDICT = "policy_verdict"
    POLICY_OVERRIDE = "policy_override"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERY_UNCERTAIN = "delivery_uncertain"
    IGNORED = "ignored"
    #: the claimer was told their lease runs out soon / a first-response target is near
    WARNED = "warned"
    #: a claim's lease ran out unanswered: released and offered again
    LEASE_EXPIRED = "lease_expired"
    #: a lead took a claim over from its holder
    TAKEN_OVER = "taken_over"
    #: a staff member set their own status (on, away, off, auto)
    STATUS = "status"
    #: the customer was told the desk is closed and when to expect an answer
    ACKNOWLEDGED = "acknowledged"
    #: the customer opened the private chat through the link we gave them: the private
    #: messages held for them go out
    DM_OPENED = "dm_opened"
    #: roster, routing or policy files changed and the change was applied
    CONFIG_CHANGED = "config_changed"
    #: an edit of the files was invalid; the previous configuration stays in force
    CONFIG_REJECTED = "config_rejected"
    #: a retention purge removed customers' texts and identities of old resolved questions;
    #: its data names the questions and the events it redacted (helpforce purge)
    PURGED = "purged"


@dataclass(frozen=True, slots=True)
class Event:
    question_id: int | None
    at: float
    kind: EventKind
    actor: str | None = None
    platform: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
