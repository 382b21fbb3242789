"""In-memory transport: every party of a simulation shares one :class:`SimNetwork`.

A sent message gets its arrival time from the link model (:mod:`netsim.links`) and the active
faults (:mod:`netsim.arrivals`), and waits in the delivery schedule (:mod:`netsim.delivery`:
one bucket per instant with fixed latency, a :class:`~netsim.wheel.Wheel` otherwise) until
netsim's loop delivers it into the receiver's :class:`SimTransport` (:mod:`netsim.endpoint`),
straight to its node's sink. Random draws come from seeded streams, in send order. Equal times
keep send order (so each link is FIFO, as TCP is, unless ``reorder`` says otherwise), and the
order of events depends only on the seed. Simulation randomness is public and never protects a
secret. This module holds the network itself: its configuration, the send path (taps, fault
triggers, batches), crashes and its lifecycle.

Two wire modes (``[network] wire``): ``"objects"`` (the default) carries messages as objects
with their exact encoded size (:mod:`netsim.objects`); ``"bytes"`` encodes and decodes every
message, as a real transport does, for fidelity tests. Both give the same trace for a seed.

Memory per party is a transport plus link state only for links that carry traffic and need it
(finite bandwidth, jitter, loss), pruned once it is in the past: nothing is O(parties) per party.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from mpc.errors import ConfigError, TransportError
from mpc.message import Message, peek_route
from mpc.transport.base import PEER_DOWN, TransportStats

import numpy as np

from .arrivals import KEY_BITS, Arrivals
from .cpu import CpuModel
from .draws import Draws
from .endpoint import SimTransport
from .links import LinkTable
from .objects import Packer, Parcel
from .trace import Tracer
from .wheel import Wheel, bin_width

Observer = Callable[[float, "float | None", int, int, bytes], None]
"""A wire tap: ``(sent_at, arrives_at or None if dropped, src, dst, data)``, once per message
sent. In object mode the bytes are encoded for it (taps cost what byte mode costs)."""
Monitor = Callable[[float, "float | None", int, int, str, str, int], None]
"""``(sent_at, arrives_at or None, src, dst, instance, tag, size)``: what traces need, no bytes."""
SendHook = Callable[[int, str], None]
"""``(src, round tag)`` of every message sent (fault triggers); bytes that are not a message are
not reported."""


class Plan(Protocol):
    """What the network needs of its fault plan (:class:`netsim.faults.FaultPlan`)."""

    def install(self, tasks: Mapping[int, asyncio.Task[Any]], start: Callable[[int], None]) -> None: ...
    async def restarted(self, party: int) -> None: ...
    def close(self) -> None: ...


DENSE_MAX = 2048  # up to this many parties, link state is two n x n arrays (batches are vectorized)
WIRES = ("objects", "bytes")
BARRIERS = ("auto", "mesh", "star")
"""``[network] barrier``: the shape of the nodes' start and close barriers in a simulated run.
``mesh`` (every party tells every party: n^2 messages, one latency) is what real runs do; ``star``
(everyone tells the lowest id, which answers all once all arrived: 2n messages, two latencies)
keeps a 1000-party all-to-all run from spending half its messages on barriers. ``auto`` (the
default): mesh up to :data:`STAR_FROM` nodes, so small simulations keep the real runs' message
counts and timing, star above. Real runs always keep the mesh's guarantee."""
STAR_FROM = 64
_NO_HEADER = ("?", "?")


class SimNetwork(Arrivals):
    """The network every party of one simulation shares: arrival times from :class:`Arrivals`,
    the delivery schedule from :class:`~netsim.delivery.Delivery`, one :class:`SimTransport` per party."""

    def __init__(self, parties: Iterable[int], network: Mapping[str, Any] | None = None, *,
                 seed: int = 0, latency: float | None = None, loss: float | None = None,
                 wire: str | None = None) -> None:
        self.parties = tuple(sorted(parties))
        self._members = frozenset(self.parties)
        table = dict(network or {})
        if latency is not None:  # keyword shortcuts of the first version, still accepted
            table["latency_ms"] = latency * 1000.0
        if loss is not None:
            table["loss"] = loss
            table.setdefault("loss_mode", "drop")
        mode = wire if wire is not None else table.pop("wire", "objects")
        table.pop("wire", None)
        if mode not in WIRES:
            raise ConfigError(f"network.wire must be one of {', '.join(WIRES)}, got {mode!r}")
        self.objects = mode == "objects"
        shape = table.pop("barrier", "auto")
        if shape not in BARRIERS:
            raise ConfigError(f"network.barrier must be one of {', '.join(BARRIERS)}, got {shape!r}")
        #: the start/close barrier shape the runner gives simulated nodes (see BARRIERS)
        self.barrier: str = shape if shape != "auto" else ("star" if len(self.parties) > STAR_FROM else "mesh")
        self.packer = Packer()
        self.links = LinkTable(table, self.parties)
        self.random = random.Random(seed)
        self.crashed: set[int] = set()
        self.silent: set[int] = set()
        self.slow: dict[int, tuple[float, float]] = {}  # party -> (factor, extra delay s)
        self.partitions: list[tuple[float, float, int, frozenset[int] | None]] = []  # start, heal, party, others
        self.observers: list[Observer] = []
        self.monitors: list[Monitor] = []
        self.senders: list[SendHook] = []
        self._transports: dict[int, SimTransport] = {}
        #: whom each party is connected to, where the runner declared it (a protocol's topology):
        #: only they see its connection drop when it crashes; a party not listed is connected to
        #: everyone. (In a star, 1000 crashed clients would otherwise notify 10,000 nodes each.)
        self.topology: dict[int, tuple[int, ...]] = {}
        self._times: list[float] = []  # heap of the distinct instants that have a bucket
        # instant -> {dst: [src, item, meta, ...]}, receivers in the order of their first message,
        # each one's messages in send order (grouped as they are sent: a million may be in flight);
        # meta is (size, charge) when item is a message with a frozen array payload (no parcel)
        self._buckets: dict[float, dict[int, list[Any]]] = {}
        self._wheel = Wheel(bin_width(self.links.min_latency))  # every other message
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf  # when the timer fires (-inf: netsim's loop polls next_time())
        self._loop: Any = None  # netsim's loop, once this network is its event source
        self.draws = Draws(seed)
        # per link that needs it: [when its egress queue is idle again, latest arrival scheduled (FIFO)];
        # up to DENSE_MAX parties two arrays instead (_dense: made on first use)
        self._link_state: dict[int, list[float]] = {}
        self._index = {p: k for k, p in enumerate(self.parties)} if len(self.parties) <= DENSE_MAX else None
        self._dense: tuple[np.ndarray, np.ndarray] | None = None
        self._uplink_free: dict[int, float] = {}
        self._prune_at = 1 << 16  # prune link state when it grows past this many entries
        self._peeked: tuple[bytes, tuple[str, str] | None] | None = None  # a broadcast's header, once
        self.delivered = 0
        self.dropped = 0
        self._fixed_latency: float | None = None
        self.plan: Plan | None = None  # a netsim.faults.FaultPlan, set by build_network
        self.tracer: Tracer | None = None  # closed with the network
        self.cpu: CpuModel | None = None
        if self.links.cpu_scale:
            try:
                loop: Any = asyncio.get_running_loop()
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
        peers = self.topology.get(party)
        connected = self._transports.items() if peers is None else (
            (p, self._transports[p]) for p in peers if p in self._transports)
        for other, t in connected:
            if other != party and other not in self.crashed and not t._closed:
                # the disconnect notice travels like a message: after the data already in flight
                link = self.links.link(party, other)
                arrive = max(now + link.latency, self._state(party, other, now)[1])
                self._push(arrive, other, party, PEER_DOWN)

    def revive(self, party: int) -> SimTransport:
        """A crashed party comes back with a fresh transport (its old state is gone)."""
        self.crashed.discard(party)
        self.silent.discard(party)
        t = self._transports[party] = SimTransport(self, party)
        return t

    # -- routing ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute the fast path: when every message takes the same time, skip the link model."""
        simple = (self.links.uniform and self.links.base.constant and not self.links.uplink
                  and self.cpu is None and not self.slow and not self.partitions)
        self._fixed_latency = self.links.base.latency if simple else None

    def _header(self, item: bytes | Parcel, msg: Message | None) -> tuple[str, str] | None:
        """``(instance, tag)`` of what is sent (``None``: bytes that are not a message)."""
        if msg is not None:
            return msg.instance, msg.tag
        if isinstance(item, Parcel):
            return item.msg.instance, item.msg.tag
        peeked = self._peeked
        if peeked is not None and peeked[0] is item:  # a broadcast: one parse for all receivers
            return peeked[1]
        header = peek_route(item)
        self._peeked = (item, header)
        return header

    def _route(self, src: int, dst: int, item: bytes | Parcel, size: int, msg: Message | None, now: float) -> None:
        """Send ``item`` (bytes, or in object mode the parcel of ``msg``) of ``size`` bytes at ``now``."""
        if self.senders:
            header = self._header(item, msg)
            if header is not None:
                for hook in self.senders:
                    hook(src, header[1])
        crashed = self.crashed
        if src in crashed:
            return
        fixed = self._fixed_latency
        batched = False
        if fixed is not None and dst not in crashed and not self.silent:
            arrive: float | None = now + fixed
            batched = True
        else:
            arrive = self._arrival(src, dst, size, now)
            if arrive is None:
                self.dropped += 1
        if self.monitors:
            inst, tag = self._header(item, msg) or _NO_HEADER
            for mon in self.monitors:
                mon(now, arrive, src, dst, inst, tag, size)
        if self.observers:
            data = item.to_bytes() if isinstance(item, Parcel) else item
            for obs in self.observers:
                obs(now, arrive, src, dst, data)
        if arrive is not None:
            if batched:
                inboxes = self._bucket(arrive)
                inbox = inboxes.get(dst)
                if inbox is None:
                    inboxes[dst] = [src, item, None]
                else:
                    inbox += (src, item, None)
            else:
                self._push(arrive, dst, src, item)

    def _send_batch(self, src: int, sends: Iterable[tuple[int, Message]], stats: TransportStats) -> dict[int, TransportError]:
        """Object mode: route ``(peer, message)`` pairs from ``src``; a message object repeated
        for several peers (a broadcast) is packed once. With fixed latency and nothing watching,
        the whole batch goes into one bucket; on uniform links without faults or taps its arrival
        times are computed at once (:meth:`_route_many`); otherwise each message takes :meth:`_route`."""
        failed: dict[int, TransportError] = {}
        members, crashed, pack, pack_meta = self._members, self.crashed, self.packer.pack, self.packer.pack_meta
        fixed, bucket, now = self._fixed_latency, None, asyncio.get_running_loop().time()
        quiet = not self.silent and src not in crashed and not (self.senders or self.monitors or self.observers)
        if fixed is not None and quiet:
            bucket = self._bucket(now + fixed)
        many: tuple[list[int], list[Any], list[int], list[Any]] | None = None
        if fixed is None and quiet and self._index is not None and self.links.uniform and not self.links.uplink \
                and not self.slow and not self.partitions and self.cpu is None:
            many = ([], [], [], [])
        last: Message | None = None
        item: Message | Parcel | bytes = b""  # a message as is when meta is (size, charge)
        packed: Parcel | bytes = b""
        meta: tuple[int, int] | None = None
        size = count = total = 0
        for peer, msg in sends:
            if peer == src or peer not in members:
                failed[peer] = TransportError(f"party {src}: unknown peer {peer}")
                continue
            if msg is not last:
                if bucket is not None or many is not None:
                    item, meta = pack_meta(msg)
                    size = meta[0] if meta is not None else item.size if isinstance(item, Parcel) else len(item)  # type: ignore[arg-type]
                else:
                    packed = pack(msg)
                    size = packed.size if isinstance(packed, Parcel) else len(packed)
                last = msg
            count += 1
            total += size
            if bucket is not None:
                if peer in crashed:
                    self.dropped += 1  # as _route would count it
                    continue
                inbox = bucket.get(peer)
                if inbox is None:
                    bucket[peer] = [src, item, meta]
                else:
                    inbox += (src, item, meta)
            elif many is not None:
                if peer in crashed:
                    self.dropped += 1
                else:
                    many[0].append(peer)
                    many[1].append(item)
                    many[2].append(size)
                    many[3].append(meta)
            else:
                self._route(src, peer, packed, size, msg, now)
        self.packer.forget()
        if many is not None and many[0]:
            peers, items, sizes, metas = many
            if len(set(peers)) == len(peers):
                self._route_many(src, peers, items, sizes, now, metas)
            else:  # a peer twice: its link state changes between its messages
                for peer, one, size, m in zip(peers, items, sizes, metas, strict=True):
                    self._route(src, peer, one if m is None else Parcel(one, m[0], m[1], False), size, None, now)
        stats.messages_sent += count
        stats.bytes_sent += total
        return failed

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
            loop.source = None
        self._loop = None
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
        self._times.clear()
        self._buckets.clear()
        self._wheel.clear()


__all__ = ["BARRIERS", "KEY_BITS", "STAR_FROM", "WIRES", "Monitor", "Observer", "SendHook", "SimNetwork", "SimTransport"]
