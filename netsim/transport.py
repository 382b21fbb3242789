"""In-memory transport: every party of a simulation shares one :class:`SimNetwork`.

A sent message gets its arrival time from the link model (:mod:`netsim.links`) and the active
faults. With fixed latency and no faults, a round's messages all arrive at one instant: they wait
in one bucket per instant, appended in send order, and a heap holds the distinct instants, not one
entry per message. Otherwise (jitter, loss, bandwidth, faults: each draw usually makes its own
instant) they go to a :class:`~netsim.wheel.Wheel`, binned by arrival time and sorted a bin at a
time. Random draws come from seeded streams, in send order. Equal times keep send order (so each
link is FIFO, as TCP is, unless ``reorder`` says otherwise), bucketed arrivals come first at an
instant, and the order of events depends only on the seed. Messages are delivered by
:meth:`SimNetwork.fire` from netsim's loop (one loop event for everything due, and for the events
after it while nothing became runnable), straight into each node's sink, each receiver's batch of
an instant together. Simulation randomness is public and never protects a secret.

Two wire modes (``[network] wire``): ``"objects"`` (the default) carries messages as objects
with their exact encoded size (:mod:`netsim.objects`); ``"bytes"`` encodes and decodes every
message, as a real transport does, for fidelity tests. Both give the same trace for a seed.

Memory per party is a transport plus link state only for links that carry traffic and need it
(finite bandwidth, jitter, loss), pruned once it is in the past: nothing is O(parties) per party.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from mpc.errors import ConfigError, TransportError
from mpc.message import Message, peek_route
from mpc.transport.base import PEER_DOWN, MessageSink, Sink, TransportStats

import numpy as np

from .cpu import PARTY, CpuModel
from .draws import Draws
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
Item = bytes | Parcel | None


class Plan(Protocol):
    """What the network needs of its fault plan (:class:`netsim.faults.FaultPlan`)."""

    def install(self, tasks: Mapping[int, asyncio.Task[Any]], start: Callable[[int], None]) -> None: ...
    async def restarted(self, party: int) -> None: ...
    def close(self) -> None: ...


KEY_BITS = 21  # party ids are below 2^20 (the codec's bound); a link is (src << 21) | dst
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


class SimNetwork:
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

    def _route_many(self, src: int, peers: list[int], items: list[Any], sizes: list[int], now: float,
                    metas: list[Any] | None = None) -> None:
        """:meth:`_arrival` and :meth:`_push` for messages from ``src`` to distinct live ``peers``
        over the base link (no faults, CPU model or uplinks), vectorized: the same arrival times,
        draws taken from the same streams in the same order."""
        link, draws, k = self.links.base, self.draws, len(peers)
        free, last = self._dense_state()
        index = self._index
        assert index is not None  # the caller checked
        i = index[src]
        cols = np.fromiter(map(index.__getitem__, peers), np.intp, k)
        depart = np.full(k, now)
        if link.bandwidth != math.inf:
            depart = np.maximum(depart, free[i, cols]) + np.asarray(sizes, dtype=np.float64) / link.bandwidth
            free[i, cols] = depart
        sends: np.ndarray | None = None
        keep: np.ndarray | None = None
        if link.loss:
            lost = np.flatnonzero(draws.lost.take(k) < link.loss)
            if len(lost):
                if link.loss_mode == "drop":
                    keep = np.ones(k, dtype=bool)
                    keep[lost] = False
                    self.dropped += len(lost)
                else:
                    sends = np.ones(k)
                    for j in lost.tolist():
                        sends[j] = draws.retransmissions(link.loss)
        arrive = depart + link.latency
        if keep is not None:
            arrive, cols = arrive[keep], cols[keep]
            kept = keep.tolist()
            peers = [p for p, k in zip(peers, kept, strict=True) if k]
            items = [it for it, k in zip(items, kept, strict=True) if k]
            if metas is not None:
                metas = [m for m, k in zip(metas, kept, strict=True) if k]
        n = len(peers)
        if link.jitter:
            arrive += draws.jitter[link.jitter_dist].take(n) * link.jitter
        if sends is not None:
            again = sends > 1
            arrive[again] += (sends[again] - 1) * link.rto
        if not link.constant:
            before = last[i, cols]
            if link.reorder:
                arrive = np.where(draws.reorder.take(n) < link.reorder, arrive, np.maximum(arrive, before))
            else:
                arrive = np.maximum(arrive, before)
            last[i, cols] = np.maximum(arrive, before)
        if n:
            self._wheel.push_many(arrive.tolist(), peers, src, items, metas if metas is not None else [None] * n)
            first = float(arrive.min())
            if first < self._timer_at:
                self._schedule(first)

    def _arrival(self, src: int, dst: int, size: int, now: float) -> float | None:
        silent = self.silent
        if dst in self.crashed or (silent and (src in silent or dst in silent)):
            return None
        link = self.links.link(src, dst)
        latency, bandwidth = link.latency, link.bandwidth
        serialize = 0.0 if bandwidth == math.inf else size / bandwidth
        special = bool(self.slow or self.partitions)
        if special:
            for p in (src, dst):
                if p in self.slow:
                    factor, extra = self.slow[p]
                    latency, serialize = latency * factor + extra, serialize * factor
        cpu = self.cpu
        depart = now if cpu is None else cpu.departure(src, now)
        uplink = self.links.uplink.get(src) if self.links.uplink else None
        if uplink is not None:
            depart = max(depart, self._uplink_free.get(src, 0.0)) + size / uplink
            self._uplink_free[src] = depart
        track = not link.constant or special or cpu is not None
        state: list[float] | None = None
        if serialize or track:
            state = self._state(src, dst, now)
        if serialize and state is not None:
            depart = max(depart, state[0]) + serialize
            state[0] = depart
        draws = self.draws
        sends = draws.transmissions(link.loss, link.loss_mode == "drop") if link.loss else 1
        if sends == 0:
            self._store(src, dst, state)
            return None
        arrive = depart + latency
        if link.jitter:
            arrive += draws.jitter[link.jitter_dist].one() * link.jitter
        if sends > 1:
            arrive += (sends - 1) * link.rto
        if special and self.partitions:
            held = self._cut(src, dst, now)
            if held:
                if math.isinf(held) or link.loss_mode == "drop":
                    self._store(src, dst, state)
                    return None
                arrive = max(arrive, held + latency)  # TCP resends what the partition held back
        if track and state is not None:
            last = state[1]
            if not (link.reorder and draws.reorder.one() < link.reorder):
                arrive = max(arrive, last)
            state[1] = max(arrive, last)
        self._store(src, dst, state)
        return arrive

    def _state(self, src: int, dst: int, now: float) -> list[float]:
        """``[egress idle at, latest arrival]`` of a link (a copy in dense mode: :meth:`_store` it)."""
        index = self._index
        if index is not None:
            free, last = self._dense_state()
            i, j = index[src], index[dst]
            return [float(free[i, j]), float(last[i, j])]
        key = (src << KEY_BITS) | dst
        state = self._link_state.get(key)
        if state is None:
            if len(self._link_state) >= self._prune_at:
                self._prune(now)
            state = self._link_state[key] = [0.0, 0.0]
        return state

    def _store(self, src: int, dst: int, state: list[float] | None) -> None:
        index = self._index
        if state is not None and index is not None:
            free, last = self._dense_state()
            i, j = index[src], index[dst]
            free[i, j], last[i, j] = state

    def _dense_state(self) -> tuple[np.ndarray, np.ndarray]:
        if self._dense is None:
            n = len(self.parties)
            self._dense = (np.zeros((n, n)), np.zeros((n, n)))
        return self._dense

    def _prune(self, now: float) -> None:
        """Forget link state that lies in the past: ``max(t, past) == t`` for every later send, so
        an entry at or before ``now`` changes nothing (all-to-all over 1000 parties would
        otherwise keep a million entries)."""
        table = self._link_state
        for key in [k for k, (free, last) in table.items() if free <= now and last <= now]:
            del table[key]
        self._prune_at = max(1 << 16, 2 * len(table))

    def _push(self, when: float, dst: int, src: int, item: Item) -> None:
        """A message (or ``PEER_DOWN``) arriving at ``when``, with its own instant."""
        self._wheel.push(when, dst, src, item)
        if when < self._timer_at:
            self._schedule(when)

    def _bucket(self, when: float) -> dict[int, list[Any]]:
        """The messages arriving at ``when`` in batches, ``{dst: [src, item, ...]}`` (a new
        instant is scheduled)."""
        bucket = self._buckets.get(when)
        if bucket is not None:
            return bucket
        bucket = self._buckets[when] = {}
        heapq.heappush(self._times, when)
        if when < self._timer_at:
            self._schedule(when)
        return bucket

    def _schedule(self, when: float) -> None:
        """Something now arrives at ``when``, before anything else scheduled."""
        loop = asyncio.get_running_loop()
        if getattr(loop, "source", False) is None:
            loop.source = self  # type: ignore[attr-defined]  # netsim's loop polls next_time()
        if getattr(loop, "source", None) is self:  # on a plain asyncio loop: use timers
            self._timer_at = -math.inf  # polled: no timer is ever needed
            self._loop = loop
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = loop.call_at(when, self._deliver_due)

    def next_time(self) -> float:
        t = self._wheel.head()
        times = self._times
        return times[0] if times and times[0] <= t else t

    def fire(self, now: float) -> None:
        """Deliver every message due at or before ``now``, in time order; at one instant the
        batched arrivals first (each receiver's together, in send order, receivers in the order of
        their first message: one node's batch at once keeps its state in the CPU's cache), then
        the others in send order. On netsim's loop, go on with the later events for as long as
        delivering made nothing runnable and no timer is due first: the loop's fast-forward
        (:meth:`netsim.clock._VirtualSelector._fast_forward`, same rules) without a loop pass per
        event, which with jitter is one per message."""
        times, wheel, transports, crashed = self._times, self._wheel, self._transports, self.crashed
        loop = self._loop
        inf = math.inf
        while True:
            cur, pos = wheel.cur, wheel.pos
            tw = cur[pos][0] if pos < len(cur) else wheel.head()
            tb = times[0] if times else inf
            t = tb if tb <= tw else tw
            if t > now:
                if t == inf or loop is None or loop._ready or loop._stopping or loop.source is not self:
                    return
                scheduled = loop._scheduled
                if scheduled and (scheduled[0]._when < loop._now + loop._clock_resolution
                                  or not t < scheduled[0]._when):
                    return
                loop._advance_to(t)
                now = t
            if tb <= tw:
                self._fire_bucket(heapq.heappop(times))
                continue
            _, dst, src, item, meta = wheel.cur[wheel.pos]
            wheel.pos += 1
            tr = transports.get(dst)
            if tr is not None and dst not in crashed:
                self.delivered += tr._arrive_one(src, item, meta)

    def _fire_bucket(self, when: float) -> None:
        transports, crashed = self._transports, self.crashed
        for dst, inbox in self._buckets.pop(when).items():
            t = transports.get(dst)
            if t is not None and dst not in crashed:
                self.delivered += t._arrive_many(inbox, 0)

    def _deliver_due(self) -> None:
        loop = asyncio.get_running_loop()
        self.fire(loop.time())
        due = self.next_time()
        if due < math.inf:
            self._timer_at = due
            self._timer = loop.call_at(due, self._deliver_due)
        else:
            self._timer_at, self._timer = math.inf, None

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


class SimTransport:
    """A :class:`~mpc.transport.base.Transport` over a :class:`SimNetwork`, with direct delivery
    (``set_sink``) and, in object mode, the message path (``send_messages``, ``set_message_sink``)."""

    __slots__ = ("network", "party_id", "stats", "_inbox", "_waiter", "_closed", "_sink", "_msg_sink",
                 "_context")
    immediate_send = True  # send() never suspends: the node may skip a task per message

    def __init__(self, network: SimNetwork, party: int) -> None:
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


__all__ = ["BARRIERS", "KEY_BITS", "STAR_FROM", "WIRES", "Monitor", "Observer", "SendHook", "SimNetwork", "SimTransport"]
