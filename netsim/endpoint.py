"""One party's end of a simulated network: :class:`SimTransport`, a
:class:`~mpc.transport.base.Transport` over a :class:`~netsim.transport.SimNetwork`.

Sending hands each message to the network (it computes the arrival time); the network's delivery
schedule (:mod:`netsim.delivery`) calls back into :meth:`SimTransport._arrive_many` and
:meth:`SimTransport._arrive_one`, which hand messages straight to the node's sink (object mode:
as message objects, without encoding), or queue them for :meth:`SimTransport.recv`.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from mpc.errors import TransportError
from mpc.message import Message
from mpc.transport.base import PEER_DOWN, MessageSink, Sink, TransportStats

from .cpu import PARTY, CpuModel
from .objects import Parcel

Item = bytes | Parcel | None


class Network(Protocol):
    """What a :class:`SimTransport` needs of its network (:class:`netsim.transport.SimNetwork`)."""

    parties: tuple[int, ...]
    _members: frozenset[int]
    objects: bool
    cpu: CpuModel | None

    def _route(self, src: int, dst: int, item: bytes | Parcel, size: int, msg: Message | None, now: float) -> None: ...
    def _send_batch(self, src: int, sends: Iterable[tuple[int, Message]],
                    stats: TransportStats) -> dict[int, TransportError]: ...


class SimTransport:
    """A :class:`~mpc.transport.base.Transport` over a :class:`~netsim.transport.SimNetwork`, with
    direct delivery (``set_sink``) and, in object mode, the message path (``send_messages``,
    ``set_message_sink``)."""

    __slots__ = ("network", "party_id", "stats", "_inbox", "_waiter", "_closed", "_sink", "_msg_sink",
                 "_context")
    immediate_send = True  # send() never suspends: the node may skip a task per message

    def __init__(self, network: Network, party: int) -> None:
        self.network = network
        self.party_id = party
        self.stats = TransportStats()
        self._inbox: deque[tuple[int, Item]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._sink: Sink | None = None
        self._msg_sink: MessageSink | None = None
        self._context: contextvars.Context | None = None  # this party's context, for netsim.cpu

    @property
    def peers(self) -> tuple[int, ...]:
        # computed on demand: a stored tuple per party would make memory O(parties^2)
        return tuple(p for p in self.network.parties if p != self.party_id)

    @property
    def objects(self) -> bool:
        """Whether this transport carries message objects (object mode)."""
        return self.network.objects

    async def start(self, timeout: float) -> None:
        self._closed = False
        PARTY.set(self.party_id)  # this party's tasks (node, pump) carry its id: netsim.cpu
        if self.network.cpu is not None:
            self._context = contextvars.copy_context()

    async def send(self, peer: int, data: bytes) -> None:
        if self._closed:
            raise TransportError(f"party {self.party_id}: transport closed")
        if peer == self.party_id or peer not in self.network._members:
            raise TransportError(f"party {self.party_id}: unknown peer {peer}")
        self.stats.messages_sent += 1
        self.stats.bytes_sent += len(data)
        self.network._route(self.party_id, peer, data, len(data), None, asyncio.get_running_loop().time())

    def send_messages(self, sends: Sequence[tuple[int, Message]]) -> dict[int, TransportError]:
        """Object mode: send each ``(peer, message)`` without encoding; never suspends. A message
        object repeated for several peers (a broadcast) is snapshotted once."""
        if self._closed:
            return {peer: TransportError(f"party {self.party_id}: transport closed") for peer, _ in sends}
        return self.network._send_batch(self.party_id, sends, self.stats)

    # -- receiving ----------------------------------------------------------------------
    def set_sink(self, sink: Sink | None) -> None:
        """Deliver received bytes (and ``PEER_DOWN``) to ``sink`` directly; queued data first."""
        self._sink = sink
        self._flush()

    def set_message_sink(self, sink: MessageSink) -> None:
        """Object mode: deliver received messages as ``sink(peer, message, size)``."""
        self._msg_sink = sink
        self._flush()

    def _flush(self) -> None:
        inbox = self._inbox
        while inbox and self._sink is not None:
            self._deliver(*inbox.popleft())

    def _arrive_many(self, inbox: list[Any], start: int) -> int:
        """Receive ``inbox[start:]``, ``[src, item, meta, ...]`` (items: bytes, parcels, or
        ``PEER_DOWN``; or messages with ``meta = (size, charge)``); returns how many were messages."""
        if self._closed:
            return 0
        stats, count, size = self.stats, 0, 0
        msg_sink = self._msg_sink if self._context is None else None
        for k in range(start, len(inbox), 3):
            src, item, meta = inbox[k], inbox[k + 1], inbox[k + 2]
            if meta is not None:  # the hot path of object mode: a frozen array's message as is
                count += 1
                size += meta[0]
                if msg_sink is not None:
                    msg_sink(src, item, meta[0], meta[1])
                else:
                    self._deliver(src, Parcel(item, meta[0], meta[1], False))
                continue
            if item is None:  # PEER_DOWN
                self._deliver(src, PEER_DOWN)
                continue
            count += 1
            if isinstance(item, Parcel):
                size += item.size
                if msg_sink is not None:  # the hot path of object mode
                    msg_sink(src, item.open() if item.thaw else item.msg, item.size, item.charge)
                    continue
            else:
                size += len(item)
            self._deliver(src, item)
        stats.messages_received += count
        stats.bytes_received += size
        return count

    def _arrive_one(self, src: int, item: Any, meta: tuple[int, int] | None = None) -> int:
        """Receive one message (or ``PEER_DOWN``); returns 1 if it was a message. ``meta``: see
        :meth:`_arrive_many`."""
        if self._closed:
            return 0
        if meta is not None:  # a frozen array's message as is
            stats = self.stats
            stats.messages_received += 1
            stats.bytes_received += meta[0]
            msg_sink = self._msg_sink
            if msg_sink is not None and self._context is None:
                msg_sink(src, item, meta[0], meta[1])
            else:
                self._deliver(src, Parcel(item, meta[0], meta[1], False))
            return 1
        if item is None:
            self._deliver(src, PEER_DOWN)
            return 0
        stats = self.stats
        stats.messages_received += 1
        if isinstance(item, Parcel):
            stats.bytes_received += item.size
            msg_sink = self._msg_sink
            if msg_sink is not None and self._context is None:
                msg_sink(src, item.open() if item.thaw else item.msg, item.size, item.charge)
                return 1
        else:
            stats.bytes_received += len(item)
        self._deliver(src, item)
        return 1

    def _arrive(self, src: int, item: bytes | Parcel) -> None:
        """Receive one message now (tests inject replays this way)."""
        self._arrive_one(src, item)

    def _deliver(self, src: int, item: Item) -> None:
        if self._closed:
            return
        sink = self._sink
        if sink is None:
            self._put((src, item))
            return
        cpu, context = self.network.cpu, self._context
        if cpu is not None and context is not None:  # charge the receiving party's CPU clock
            context.run(cpu, self._hand_over, sink, src, item)
        else:
            self._hand_over(sink, src, item)

    def _hand_over(self, sink: Sink, src: int, item: Item) -> None:
        if isinstance(item, Parcel):
            msg_sink = self._msg_sink
            if msg_sink is not None:
                msg_sink(src, item.open(), item.size, item.charge)
                return
            item = item.to_bytes()  # a node that did not ask for objects gets bytes
        sink(src, item)

    def _put(self, entry: tuple[int, Item]) -> None:
        self._inbox.append(entry)
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)

    async def recv(self) -> tuple[int, bytes | None]:
        while not self._inbox:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        src, item = self._inbox.popleft()
        return src, item.to_bytes() if isinstance(item, Parcel) else item

    async def close(self) -> None:
        self._closed = True
        self._inbox.clear()
        self._sink = self._msg_sink = None


__all__ = ["Item", "Network", "SimTransport"]
