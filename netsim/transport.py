"""In-memory transport: every party of a simulation shares one :class:`SimNetwork`.

Delivery is scheduled on the running event loop after the link's delay, so under netsim's
virtual-time loop a simulated second costs no wall time. Losses and jitter come from a seeded
``random.Random`` (simulation randomness is public; secrets never use it).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable

from mpc.errors import TransportError
from mpc.transport.base import PEER_DOWN, Sink, TransportStats

LinkDelay = Callable[[int, int, int], float | None]
"""``(src, dst, size) -> seconds``, or ``None`` to drop the message."""


class SimNetwork:
    def __init__(self, parties: Iterable[int], *, latency: float = 0.0, loss: float = 0.0, seed: int = 0) -> None:
        self.parties = tuple(sorted(parties))
        self.latency = latency
        self.loss = loss
        self.random = random.Random(seed)
        self.crashed: set[int] = set()
        self._transports: dict[int, SimTransport] = {}
        self.delay: LinkDelay = self._fixed_delay
        self.observers: list[Callable[[float, int, int, int, bytes], None]] = []

    def _fixed_delay(self, src: int, dst: int, size: int) -> float | None:
        if self.loss and self.random.random() < self.loss:
            return None
        return self.latency

    def transport(self, party: int) -> SimTransport:
        if party not in self.parties:
            raise TransportError(f"party {party} is not on this network")
        t = self._transports.get(party)
        if t is None:
            t = self._transports[party] = SimTransport(self, party)
        return t

    def crash(self, party: int) -> None:
        """The party stops: nothing more leaves or reaches it; peers see the connection drop."""
        if party in self.crashed:
            return
        self.crashed.add(party)
        loop = asyncio.get_running_loop()
        for other, t in self._transports.items():
            if other != party and other not in self.crashed:
                loop.call_later(self.latency, t._peer_down, party)

    def _route(self, src: int, dst: int, data: bytes) -> None:
        if src in self.crashed or dst in self.crashed:
            return
        delay = self.delay(src, dst, len(data))
        loop = asyncio.get_running_loop()
        for obs in self.observers:
            obs(loop.time(), src, dst, len(data), data)
        if delay is None:
            return
        target = self._transports.get(dst)
        if target is not None:
            loop.call_later(delay, target._arrive, src, data)


class SimTransport:
    def __init__(self, network: SimNetwork, party: int) -> None:
        self.network = network
        self.party_id = party
        self.peers = tuple(p for p in network.parties if p != party)
        self.stats = TransportStats()
        self._queue: asyncio.Queue[tuple[int, bytes | None]] = asyncio.Queue()
        self._sink: Sink | None = None
        self._closed = False

    async def start(self, timeout: float) -> None:
        self._closed = False

    async def send(self, peer: int, data: bytes) -> None:
        if self._closed:
            raise TransportError(f"party {self.party_id}: transport closed")
        if peer not in self.peers:
            raise TransportError(f"party {self.party_id}: unknown peer {peer}")
        self.stats.messages_sent += 1
        self.stats.bytes_sent += len(data)
        self.network._route(self.party_id, peer, data)

    def _arrive(self, src: int, data: bytes) -> None:
        if self._closed or self.party_id in self.network.crashed:
            return
        self.stats.messages_received += 1
        self.stats.bytes_received += len(data)
        self._put(src, data)

    def _peer_down(self, peer: int) -> None:
        if not self._closed:
            self._put(peer, PEER_DOWN)

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

    async def close(self) -> None:
        self._closed = True


__all__ = ["SimNetwork", "SimTransport"]
