"""Arrival times of a :class:`~netsim.transport.SimNetwork`'s messages: the link model
(:mod:`netsim.links`) and the active faults applied to each send, and the per-link state that
makes links FIFO and bandwidth-limited.

Random draws come from seeded streams (:mod:`netsim.draws`), in send order, so the order of events
depends only on the seed; :meth:`Arrivals._route_many` computes a batch's arrival times at once,
the same times from the same draws as :meth:`Arrivals._arrival` one by one. Link state exists only
for links that carry traffic and need it (finite bandwidth, jitter, loss) and is pruned once it
lies in the past; up to ``DENSE_MAX`` parties it is two n x n arrays instead.

:class:`Arrivals` is a base class of :class:`~netsim.transport.SimNetwork` (whose constructor
sets the state declared here): the methods run per message, so they read the network's own
attributes, with no object in between.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .cpu import CpuModel
from .delivery import Delivery
from .draws import Draws
from .links import LinkTable

KEY_BITS = 21  # party ids are below 2^20 (the codec's bound); a link is (src << 21) | dst


class Arrivals(Delivery):
    """When a message sent now arrives (``None``: it is lost), and the link state behind it."""

    parties: tuple[int, ...]
    links: LinkTable
    draws: Draws
    cpu: CpuModel | None
    silent: set[int]
    slow: dict[int, tuple[float, float]]  # party -> (factor, extra delay s)
    partitions: list[tuple[float, float, int, frozenset[int] | None]]  # start, heal, party, others
    dropped: int
    _link_state: dict[int, list[float]]  # per link that needs it: [egress idle at, latest arrival]
    _index: dict[int, int] | None  # party -> row of the dense arrays (None: more than DENSE_MAX parties)
    _dense: tuple[np.ndarray, np.ndarray] | None
    _uplink_free: dict[int, float]
    _prune_at: int

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


__all__ = ["KEY_BITS", "Arrivals"]
