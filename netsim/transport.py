"""In-memory transport: every party of a simulation shares one :class:`SimNetwork`.

A sent message gets its arrival time from the link model (:mod:`netsim.links`) and the active
faults, and waits in one network-wide heap ordered by ``(arrival, sequence number)``; a single
loop timer delivers everything due. Equal arrival times keep send order, so each link is FIFO
(as TCP is) unless ``reorder`` says otherwise, and the order of events depends only on the seed.
Jitter and losses come from one seeded ``random.Random``: simulation randomness is public and
never protects a secret.

Memory per party is a transport (an inbox deque) plus link state only for links that carry
traffic and need it (finite bandwidth, jitter, loss): nothing is O(parties) per party.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mpc.errors import TransportError
from mpc.transport.base import PEER_DOWN, TransportStats

from .cpu import PARTY, CpuModel
from .links import LinkTable

Observer = Callable[[float, "float | None", int, int, bytes], None]
"""``(sent_at, arrives_at or None if dropped, src, dst, data)``, called once per message sent."""
KEY_BITS = 21  # party ids are below 2^20 (the codec's bound); a link is (src << 21) | dst


class SimNetwork:
    def __init__(self, parties: Iterable[int], network: Mapping[str, Any] | None = None, *,
                 seed: int = 0, latency: float | None = None, loss: float | None = None) -> None:
        self.parties = tuple(sorted(parties))
        self._members = frozenset(self.parties)
        table = dict(network or {})
        if latency is not None:  # keyword shortcuts of the first version, still accepted
            table["latency_ms"] = latency * 1000.0
        if loss is not None:
            table["loss"] = loss
            table.setdefault("loss_mode", "drop")
        self.links = LinkTable(table, self.parties)
        self.random = random.Random(seed)
        self.crashed: set[int] = set()
        self.silent: set[int] = set()
        self.slow: dict[int, tuple[float, float]] = {}  # party -> (factor, extra delay s)
        self.partitions: list[tuple[float, float, int, frozenset[int] | None]] = []  # start, heal, party, others
        self.observers: list[Observer] = []
        self.senders: list[Callable[[int, bytes], None]] = []  # (src, data) hooks, e.g. fault triggers
        self._transports: dict[int, SimTransport] = {}
        self._heap: list[tuple[float, int, int, int, bytes | None]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._link_free: dict[int, float] = {}  # when a link's egress queue is idle again
        self._link_last: dict[int, float] = {}  # latest arrival scheduled on a link (FIFO)
        self._uplink_free: dict[int, float] = {}
        self.delivered = 0
        self.dropped = 0
        self._fixed_latency: float | None = None
        self.plan: Any = None  # a netsim.faults.FaultPlan, set by build_network
        self.tracer: Any = None  # a netsim.trace.Tracer, closed with the network
        self.cpu: CpuModel | None = None
        if self.links.cpu_scale:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if not hasattr(loop, "cpu_hook"):
                raise TransportError("cpu_scale needs netsim's virtual-time loop (netsim.run)")
            self.cpu = CpuModel(self.links.cpu_scale, loop.time)
            loop.cpu_hook = self.cpu
        self.refresh()

    def transport(self, party: int) -> SimTransport:
        if party not in self._members:
            raise TransportError(f"party {party} is not on this network")
        t = self._transports.get(party)
        if t is None:
            t = self._transports[party] = SimTransport(self, party)
        return t

    # -- faults -----------------------------------------------------------------------
    def crash(self, party: int) -> None:
        """The party stops: nothing more leaves or reaches it; peers see the connection drop."""
        if party in self.crashed:
            return
        self.crashed.add(party)
        now = asyncio.get_running_loop().time()
        if self.cpu is not None:
            now = self.cpu.departure(party, now)
        for other, t in self._transports.items():
            if other != party and other not in self.crashed and not t._closed:
                # the disconnect notice travels like a message: after the data already in flight
                link = self.links.link(party, other)
                arrive = max(now + link.latency, self._link_last.get((party << KEY_BITS) | other, 0.0))
                self._push(arrive, other, party, PEER_DOWN)

    def revive(self, party: int) -> SimTransport:
        """A crashed party comes back with a fresh transport (its old state is gone)."""
        self.crashed.discard(party)
        self.silent.discard(party)
        t = self._transports[party] = SimTransport(self, party)
        return t

    def _cut(self, src: int, dst: int, now: float) -> float:
        """The time until which an active partition holds messages from ``src`` to ``dst`` (0: none)."""
        until = 0.0
        for start, heal, party, others in self.partitions:
            if start <= now < heal and (
                (src == party and (others is None or dst in others))
                or (dst == party and (others is None or src in others))
            ):
                until = max(until, heal)
        return until

    # -- routing ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute the fast path: when every message takes the same time, skip the link model."""
        simple = (self.links.uniform and self.links.base.constant and not self.links.uplink
                  and self.cpu is None and not self.slow and not self.partitions)
        self._fixed_latency = self.links.base.latency if simple else None

    def _route(self, src: int, dst: int, data: bytes) -> None:
        if self.senders:
            for hook in self.senders:
                hook(src, data)
        crashed = self.crashed
        if src in crashed:
            return
        now = asyncio.get_running_loop().time()
        fixed = self._fixed_latency
        if fixed is not None and dst not in crashed and not self.silent:
            arrive: float | None = now + fixed
        else:
            arrive = self._arrival(src, dst, len(data), now)
            if arrive is None:
                self.dropped += 1
        if self.observers:
            for obs in self.observers:
                obs(now, arrive, src, dst, data)
        if arrive is not None:
            self._push(arrive, dst, src, data)

    def _arrival(self, src: int, dst: int, size: int, now: float) -> float | None:
        if dst in self.crashed or src in self.silent or dst in self.silent:
            return None
        link = self.links.link(src, dst)
        latency, serialize = link.latency, link.serialization(size)
        special = bool(self.slow or self.partitions)
        if special:
            for p in (src, dst):
                if p in self.slow:
                    factor, extra = self.slow[p]
                    latency, serialize = latency * factor + extra, serialize * factor
        depart = now if self.cpu is None else self.cpu.departure(src, now)
        uplink = self.links.uplink.get(src)
        if uplink is not None:
            depart = max(depart, self._uplink_free.get(src, 0.0)) + size / uplink
            self._uplink_free[src] = depart
        key = (src << KEY_BITS) | dst
        if serialize:
            depart = max(depart, self._link_free.get(key, 0.0)) + serialize
            self._link_free[key] = depart
        sends = link.transmissions(self.random) if link.loss else 1
        if sends == 0:
            return None
        arrive = depart + latency + link.draw_jitter(self.random) + (sends - 1) * link.rto
        if special and self.partitions:
            held = self._cut(src, dst, now)
            if held:
                if math.isinf(held) or link.loss_mode == "drop":
                    return None
                arrive = max(arrive, held + latency)  # TCP resends what the partition held back
        if not link.constant or special or self.cpu is not None:
            if not (link.reorder and self.random.random() < link.reorder):
                arrive = max(arrive, self._link_last.get(key, 0.0))
            self._link_last[key] = max(arrive, self._link_last.get(key, 0.0))
        return arrive

    def _push(self, when: float, dst: int, src: int, data: bytes | None) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), dst, src, data))
        if when < self._timer_at:
            loop = asyncio.get_running_loop()
            if getattr(loop, "source", False) is None:
                loop.source = self  # type: ignore[attr-defined]  # netsim's loop polls next_time()
            if getattr(loop, "source", None) is self:  # on a plain asyncio loop: use timers
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = when
            self._timer = loop.call_at(when, self._deliver_due)

    def next_time(self) -> float:
        return self._heap[0][0] if self._heap else math.inf

    def fire(self, now: float) -> None:
        self._deliver(now)

    def _deliver_due(self) -> None:
        loop = asyncio.get_running_loop()
        self._deliver(loop.time())
        if self._heap:
            self._timer_at = self._heap[0][0]
            self._timer = loop.call_at(self._timer_at, self._deliver_due)
        else:
            self._timer_at, self._timer = math.inf, None

    def _deliver(self, now: float) -> None:
        heap = self._heap
        transports = self._transports
        while heap and heap[0][0] <= now:
            _, _, dst, src, data = heapq.heappop(heap)
            t = transports.get(dst)
            if t is None or dst in self.crashed:
                continue
            if data is PEER_DOWN:
                t._peer_down(src)
            else:
                self.delivered += 1
                t._arrive(src, data)

    def apply_faults(self, tasks: Mapping[int, asyncio.Task[Any]], start: Callable[[int], None]) -> None:
        """Arm the scenario's faults; ``start(pid)`` launches a fresh incarnation (restarts)."""
        if self.plan is not None:
            self.plan.install(tasks, start)
        self.refresh()

    async def restarted(self, party: int) -> None:
        """Return once no restart of ``party`` is pending (its new incarnation is running)."""
        if self.plan is not None:
            await self.plan.restarted(party)

    def close(self) -> None:
        try:
            loop: Any = asyncio.get_running_loop()
        except RuntimeError:  # closed outside any loop: nothing was scheduled
            loop = None
        if getattr(loop, "source", None) is self:
            loop.source = None  # type: ignore[attr-defined]
        if self.cpu is not None:
            if getattr(loop, "cpu_hook", None) is self.cpu:
                loop.cpu_hook = None
        if self.plan is not None:
            self.plan.close()
        if self.tracer is not None:
            self.tracer.close()
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, math.inf
        self._heap.clear()


class SimTransport:
    __slots__ = ("network", "party_id", "stats", "_inbox", "_waiter", "_closed")
    immediate_send = True  # send() never suspends: the node may skip a task per message

    def __init__(self, network: SimNetwork, party: int) -> None:
        self.network = network
        self.party_id = party
        self.stats = TransportStats()
        self._inbox: deque[tuple[int, bytes | None]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    @property
    def peers(self) -> tuple[int, ...]:
        # computed on demand: a stored tuple per party would make memory O(parties^2)
        return tuple(p for p in self.network.parties if p != self.party_id)

    async def start(self, timeout: float) -> None:
        self._closed = False
        PARTY.set(self.party_id)  # this party's tasks (node, pump) carry its id: netsim.cpu

    async def send(self, peer: int, data: bytes) -> None:
        if self._closed:
            raise TransportError(f"party {self.party_id}: transport closed")
        if peer == self.party_id or peer not in self.network._members:
            raise TransportError(f"party {self.party_id}: unknown peer {peer}")
        self.stats.messages_sent += 1
        self.stats.bytes_sent += len(data)
        self.network._route(self.party_id, peer, data)

    def _put(self, item: tuple[int, bytes | None]) -> None:
        self._inbox.append(item)
        w = self._waiter
        if w is not None:
            self._waiter = None
            if not w.done():
                w.set_result(None)

    def _arrive(self, src: int, data: bytes) -> None:
        if self._closed:
            return
        self.stats.messages_received += 1
        self.stats.bytes_received += len(data)
        self._put((src, data))

    def _peer_down(self, peer: int) -> None:
        if not self._closed:
            self._put((peer, PEER_DOWN))

    async def recv(self) -> tuple[int, bytes | None]:
        while not self._inbox:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._inbox.popleft()

    async def close(self) -> None:
        self._closed = True
        self._inbox.clear()


__all__ = ["KEY_BITS", "Observer", "SimNetwork", "SimTransport"]
