"""The transport seam: ``send(peer, bytes)``, an async stream of ``(peer, bytes)``, ``close()``.

:class:`Transport` is what every transport offers. Two optional capabilities are typed protocols of
their own, so a node asks ``isinstance(t, DirectDelivery)`` instead of probing with ``getattr``:
:class:`DirectDelivery` (received data is pushed into a sink), :class:`ImmediateSend` (``send``
never suspends, so a node may call it in a plain loop) and :class:`TrySend` (a send without a
coroutine that says whether it went out). ``tests/transport_conformance.py`` holds the
behaviour every implementation must show (``check_transport``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from mpc.errors import ConfigError

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
    connections_refused: int = 0  # from the wrong party, or a second one while the peer is connected
    connections_dropped: int = 0  # accepted, closed before their handshake ended (over a cap, timed out)

    def as_dict(self) -> dict[str, int]:
        return {
            "messages_sent": self.messages_sent,
            "bytes_sent": self.bytes_sent,
            "messages_received": self.messages_received,
            "bytes_received": self.bytes_received,
            "connections_refused": self.connections_refused,
            "connections_dropped": self.connections_dropped,
        }


Sink = Callable[[int, "bytes | None"], None]
"""``sink(peer, data)``: called for every received message (and ``PEER_DOWN``) by a transport with
direct delivery; data queued before the sink was set is handed over first."""


@runtime_checkable
class Transport(Protocol):
    """Reliable, ordered-per-peer delivery of byte strings (or a simulation of a worse network).

    ``recv`` yields ``(peer, data)``; ``data`` is :data:`PEER_DOWN` (``None``) once when the
    transport sees the peer go away (closed connection, crash). Implementations never interpret
    the bytes. ``send`` to a peer not in ``peers``, or after ``close``, raises ``TransportError``.
    """

    @property
    def party_id(self) -> int: ...

    @property
    def peers(self) -> tuple[int, ...]:
        """The other parties this transport connects to (read-only)."""
        ...

    @property
    def stats(self) -> TransportStats: ...

    async def start(self, timeout: float) -> None:
        """Connect to every peer (retrying until ``timeout``)."""

    async def send(self, peer: int, data: bytes) -> None:
        """Queue ``data`` for ``peer``; raises ``TransportError`` past the send deadline."""

    async def recv(self) -> tuple[int, bytes | None]:
        """The next received message from any peer."""

    async def close(self) -> None:
        """Release every resource (idempotent); pending received data is discarded."""


@runtime_checkable
class DirectDelivery(Protocol):
    """Optional fast path: received data goes straight into ``sink`` (one task hop less)."""

    def set_sink(self, sink: Sink | None) -> None: ...


@runtime_checkable
class ImmediateSend(Protocol):
    """Marker: ``send`` never suspends (netsim); a node may skip a task per message."""

    immediate_send: ClassVar[bool]


@runtime_checkable
class TrySend(Protocol):
    """Optional: queue a message without a coroutine. ``try_send(peer, data)`` sends and returns
    True, or sends nothing and returns False when only an awaited :meth:`Transport.send` could (a
    busy pipe, a full buffer); it raises as ``send`` does. A node sends a round to every peer this
    way and awaits ``send`` only for the few that returned False (concurrently: one slow peer
    must not hold back the others' messages)."""

    def try_send(self, peer: int, data: bytes) -> bool: ...


def try_sender(transport: object) -> Callable[[int, bytes], bool] | None:
    """The transport's own ``try_send``, if its class has one: not one a wrapper forwards through
    ``__getattr__`` (that would bypass the wrapper's ``send``, e.g. a fault that counts sends)."""
    if not isinstance(transport, TrySend) or inspect.getattr_static(transport, "try_send", None) is None:
        return None
    return transport.try_send


def sends_immediately(transport: object) -> bool:
    return isinstance(transport, ImmediateSend) and bool(transport.immediate_send)


MessageSink = Callable[[int, "Message", int, int], None]
"""``sink(peer, message, size, charge)``: a message received without the codec, its size on the
wire and the charge decoding it would have had (:func:`mpc.codec.decode_charged`)."""


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


def pair_port(base_port: int, peer: int) -> int:
    """Static deployments: party i listens for peer j (j > i) on ``base_port + j``."""
    return base_port + peer


def static_listen_addresses(peers: Mapping[int, str]) -> dict[tuple[int, int], str]:
    """``{(listener, dialer): address}`` of every pair in a static deployment; raises
    :class:`ConfigError` naming both pairs when two of them would listen on the same address."""
    out: dict[tuple[int, int], str] = {}
    seen: dict[str, tuple[int, int]] = {}
    for i in sorted(peers):
        host, _, port = peers[i].rpartition(":")
        try:
            base = int(port)
        except ValueError:
            raise ConfigError(f"party {i}: address {peers[i]!r} has no port") from None
        for j in sorted(peers):
            if j <= i:
                continue
            addr = f"{host}:{pair_port(base, j)}"
            if addr in seen:
                a, b = seen[addr]
                raise ConfigError(f"port collision: party {i} would listen for party {j} on {addr}, "
                                  f"where party {a} listens for party {b} (party i listens for j on "
                                  f"its base port + j: space the base ports further apart)")
            seen[addr] = (i, j)
            out[(i, j)] = addr
    return out


class Endpoint:
    """What every socket transport shares: its read-only identity (party id, peers), counters,
    static addresses checked up front, and hand-over of received data — to the node's sink once
    set (direct delivery), queued for ``recv()`` until then."""

    _party_id: int
    _peers: tuple[int, ...]
    _stats: TransportStats
    _static: dict[int, str] | None
    _queue: asyncio.Queue[tuple[int, bytes | None]]
    _sink: Sink | None

    def _setup_endpoint(self, party_id: int, peers: Mapping[int, str] | None) -> None:
        self._party_id = party_id
        self._stats = TransportStats()
        self._queue = asyncio.Queue()
        self._sink = None
        self._peers = ()
        self._static = dict(peers) if peers is not None else None
        if self._static is not None:
            if party_id not in self._static:
                raise ConfigError(f"party {party_id} has no address among the peers {sorted(self._static)}")
            static_listen_addresses(self._static)  # port collisions are a configuration error, up front
            self._peers = tuple(sorted(p for p in self._static if p != party_id))

    async def recv(self) -> tuple[int, bytes | None]:
        return await self._queue.get()

    def set_sink(self, sink: Sink | None) -> None:
        self._sink = sink
        while sink is not None and not self._queue.empty():
            sink(*self._queue.get_nowait())

    def _put(self, peer: int, data: bytes | None) -> None:
        if self._sink is not None:
            self._sink(peer, data)
        else:
            self._queue.put_nowait((peer, data))

    @property
    def party_id(self) -> int:
        return self._party_id

    @property
    def peers(self) -> tuple[int, ...]:
        return self._peers

    @property
    def stats(self) -> TransportStats:
        return self._stats


__all__ = ["Endpoint", "pair_port", "static_listen_addresses", "PEER_DOWN", "DirectDelivery", "ImmediateSend", "MessageSink", "MessageTransport", "Sink", "Transport",
           "TransportStats", "TrySend", "sends_immediately", "try_sender"]
