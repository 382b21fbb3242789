"""The transport seam: ``send(peer, bytes)``, an async stream of ``(peer, bytes)``, ``close()``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mpc.errors import TransportError
    from mpc.message import Message

PEER_DOWN = None
"""Received in place of bytes when the transport learns that a peer is gone."""


@dataclass(slots=True)
class TransportStats:
    messages_sent: int = 0
    bytes_sent: int = 0
    messages_received: int = 0
    bytes_received: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "messages_sent": self.messages_sent,
            "bytes_sent": self.bytes_sent,
            "messages_received": self.messages_received,
            "bytes_received": self.bytes_received,
        }


@runtime_checkable
class Transport(Protocol):
    """Reliable, ordered-per-peer delivery of byte strings (or a simulation of a worse network).

    ``recv`` yields ``(peer, data)``; ``data`` is :data:`PEER_DOWN` (``None``) once when the
    transport sees the peer go away (closed connection, crash). Implementations never interpret
    the bytes.
    """

    party_id: int
    stats: TransportStats

    @property
    def peers(self) -> tuple[int, ...]:
        """Every other party this transport connects to (read-only)."""

    async def start(self, timeout: float) -> None:
        """Connect to every peer (retrying until ``timeout``)."""

    async def send(self, peer: int, data: bytes) -> None:
        """Queue ``data`` for ``peer``; raises ``TransportError`` past the send deadline."""

    async def recv(self) -> tuple[int, bytes | None]:
        """The next received message from any peer."""

    async def close(self) -> None:
        """Release every resource; pending received data is discarded."""


Sink = Callable[[int, "bytes | None"], None]
"""Optional fast path: a transport with ``set_sink(sink)`` calls ``sink(peer, data)`` for every
received message (and ``PEER_DOWN``) instead of queueing it for ``recv()``; data queued before
the sink was set is handed over first."""


MessageSink = Callable[[int, "Message", int], None]
"""``sink(peer, message, size)``: a message received without the codec, and its size on the wire."""


@runtime_checkable
class MessageTransport(Protocol):
    """Optional: a transport inside one process (netsim's object mode) that carries
    :class:`~mpc.message.Message` objects instead of bytes. The node uses it only when ``objects``
    is true; the transport hands over an immutable snapshot of the payload and the exact encoded
    size, and the node applies the same checks as to decoded bytes (sender, session, size)."""

    @property
    def objects(self) -> bool: ...

    def send_messages(self, sends: Sequence[tuple[int, Message]]) -> dict[int, TransportError]:
        """Queue each ``(peer, message)`` without suspending (a message object repeated for several
        peers is a broadcast); returns the sends that failed, by peer. An unencodable payload
        raises :class:`~mpc.errors.CodecError` as encoding would."""

    def set_message_sink(self, sink: MessageSink) -> None:
        """Deliver received messages to ``sink``; ``PEER_DOWN`` and bytes still go to ``set_sink``'s."""
