"""The delivery schedule of a :class:`~netsim.transport.SimNetwork`: when each sent message
arrives, and delivering it then.

With fixed latency and no faults, a round's messages all arrive at one instant: they wait in one
bucket per instant, appended in send order, and a heap holds the distinct instants, not one entry
per message. Otherwise (jitter, loss, bandwidth, faults: each draw usually makes its own instant)
they go to a :class:`~netsim.wheel.Wheel`, binned by arrival time and sorted a bin at a time.
Equal times keep send order, and bucketed arrivals come first at an instant. Messages are
delivered by :meth:`Delivery.fire` from netsim's loop (one loop event for everything due, and for
the events after it while nothing became runnable), or from a timer on a plain asyncio loop,
straight into each receiver's transport, each receiver's batch of an instant together.

:class:`Delivery` is a base class of :class:`~netsim.transport.SimNetwork` (whose constructor
sets the state declared here): the methods run per message, so they read the network's own
attributes, with no object in between.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from typing import Any

from .endpoint import Item, SimTransport
from .wheel import Wheel


class Delivery:
    """The schedule of a network's messages in flight (see the module docstring)."""

    crashed: set[int]
    delivered: int
    _transports: dict[int, SimTransport]
    _times: list[float]  # heap of the distinct instants that have a bucket
    _buckets: dict[float, dict[int, list[Any]]]  # instant -> {dst: [src, item, meta, ...]}
    _wheel: Wheel  # every other message
    _timer: asyncio.TimerHandle | None
    _timer_at: float  # when the timer fires (-inf: netsim's loop polls next_time())
    _loop: Any  # netsim's loop, once this network is its event source

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


__all__ = ["Delivery"]
