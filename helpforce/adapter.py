"""The contract between the core and a platform adapter.

An adapter is the only code that talks to a platform SDK. The core finds adapters through the
``helpforce.adapters`` entry point group; each entry point names an :class:`AdapterFactory`.
A factory module must import without its platform SDK installed (import the SDK inside
:meth:`AdapterFactory.create`), so that ``helpforce check`` can validate settings anywhere.

Inbound: the adapter reads platform events, normalises them to :class:`~helpforce.models.Inbound`
and hands batches to the :class:`InboundSink` together with the resume cursor that confirms them.
The sink returns only after the desk has committed the batch and the cursor in one transaction,
so a crash re-delivers rather than loses.

Outbound: the outbox calls :meth:`Adapter.send` one row at a time, within the rate limits, and
classifies failures by the exception raised: :class:`TransientError` is retried,
:class:`PermanentError` is recorded and handled, :class:`UncertainError` (a timeout after the
request may have reached the platform) is never blindly retried on platforms without
idempotency keys.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

from helpforce.models import Inbound, Outgoing

if TYPE_CHECKING:
    from helpforce.clock import Clock
    from helpforce.config.schema import PlatformSettings

ENTRY_POINT_GROUP = "helpforce.adapters"


@dataclass(frozen=True, slots=True)
class Capabilities:
    buttons: bool = False
    edits: bool = False
    threads: bool = False
    dms: bool = False
    #: the bot cannot write to someone privately before they wrote to it (Telegram): a public
    #: reply carries a link that opens the private chat (``Outgoing.deep_link``), and private
    #: messages to a customer who has not opened one yet wait until they do
    deep_links: bool = False
    #: private threads in a public channel (Discord): they stand in for DMs a customer has
    #: closed (``Outgoing.thread`` = ``private:<user id>[,<user id>...]``)
    private_threads: bool = False
    #: a private message may be refused because the person does not accept private messages
    #: from us (X): the refused message is held, and a public reply carries a link that opens
    #: a private conversation with us (``Outgoing.deep_link``); it goes out once they write
    #: to us privately
    dm_link_fallback: bool = False
    #: staff answers posted from staff members' own accounts are re-shared by the brand's
    #: account with credit (``Outgoing.quote``: X's quote post)
    reshare: bool = False
    #: a reply to a button press can be shown to the presser alone (Discord's ephemeral
    #: follow-ups): the adapter recognises ``reply_to`` = the press's message id
    ephemeral: bool = False
    #: the platform drops a repeated send with the same key (Discord nonce, local platform)
    idempotent_send: bool = False
    max_text: int = 4096


@dataclass(frozen=True, slots=True)
class SendResult:
    platform_message_id: str
    #: requests the send made beyond the message itself (opening a DM channel or a thread
    #: first): the platform counts them against its overall limit, so the limiter does too
    extra_requests: int = 0


class AdapterError(Exception):
    """Base of the errors an adapter raises from send/edit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(AdapterError):
    """Network trouble, 5xx, 429: try again later (after ``retry_after`` seconds if given)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class NotNow(AdapterError):
    """This message cannot go before ``retry_after`` seconds, because a budget of its kind is
    spent (X allows 15 DMs per 15 minutes): the outbox sets the row aside for that long, as
    no attempt, while other messages go on."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentError(AdapterError):
    """The platform refused for good: cannot DM this user, unknown chat, forbidden, too long."""


class Unreachable(PermanentError):
    """This person cannot be messaged privately: they never started the bot, blocked it, or
    closed their DMs. The desk remembers it (``helpforce roster`` shows staff it cannot reach)."""


class UncertainError(AdapterError):
    """The request may or may not have reached the platform (e.g. a timeout after sending)."""


#: Called by an adapter with a batch of normalised events and the cursor that confirms them.
InboundSink = Callable[[Sequence[Inbound], str | None], Awaitable[None]]


@runtime_checkable
class Adapter(Protocol):
    """A platform adapter. It may also define ``requests_before(out) -> int``: the requests a
    send of ``out`` will make before its message (opening a DM channel, say), as far as it
    knows then; the outbox counts them against the platform-wide rate when it lets the send
    go, and :attr:`SendResult.extra_requests` beyond them after the answer."""

    platform: str
    capabilities: Capabilities

    async def start(self, sink: InboundSink, cursor: str | None) -> None:
        """Connect and start delivering events newer than ``cursor`` to ``sink``."""

    async def stop(self) -> None:
        """Stop reading, close connections. Idempotent."""

    async def send(self, out: Outgoing) -> SendResult:
        """Send (or edit, when ``out.edit_of`` is set) one message."""

    def status(self) -> str:
        """A short human state: connecting, connected, failing: <why>, stopped."""


class AdapterFactory(Protocol):
    """What an entry point in ``helpforce.adapters`` names."""

    platform: str
    #: pydantic model of ``platforms.<name>`` in helpforce.yaml (a PlatformSettings subclass)
    settings_model: type[BaseModel]

    def create(self, settings: PlatformSettings, *, clock: Clock, env: dict[str, str]) -> Adapter:
        ...

    def validate_user_id(self, value: Any) -> str:
        """Normalise a roster account id for this platform or raise ValueError saying why."""
        ...


def discover_factories() -> dict[str, AdapterFactory]:
    """Every installed adapter factory by platform name."""
    found: dict[str, AdapterFactory] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        factory: AdapterFactory = obj() if isinstance(obj, type) else obj
        found[ep.name] = factory
    return found
