"""The queue of messages that arrive each at its own instant (jitter, loss, bandwidth, faults).

A heap entry per message costs ``O(log n)`` comparisons of scattered objects at every push and
pop, and an all-to-all round over 1000 parties has a million messages in flight. Here a message is
appended to the bin of its arrival time (``int(when / width)``, O(1)); a heap holds only the
bins' numbers, and a bin is sorted (by time, stably: equal times keep send order) once, when it
becomes the earliest. A message that lands in the bin being drained is inserted into its sorted
rest. With ``width`` at most the smallest link latency that never happens (a message sent now
arrives at least one latency later, past the current bin); with a smaller latency it is correct,
only slower.

Records are ``(when, dst, src, item, meta)`` tuples (``meta``: the network's, passed through); the network reads them from :attr:`Wheel.cur`
at :attr:`Wheel.pos` (after :meth:`Wheel.head`) and advances ``pos`` itself.
"""

from __future__ import annotations

import bisect
import heapq
import math
from operator import itemgetter
from typing import Any

Record = tuple[float, int, int, Any, Any]
_WHEN = itemgetter(0)
MIN_WIDTH = 1e-6  # seconds: a bin per microsecond at the finest
MAX_WIDTH = 1e-3  # a millisecond at the coarsest: sorting stays cheap, a drained bin frees its memory


def bin_width(min_latency: float) -> float:
    """The bin width for links of at least ``min_latency`` seconds (see the module docstring)."""
    return min(max(min_latency, MIN_WIDTH), MAX_WIDTH)


class Wheel:
    __slots__ = ("width", "cur", "pos", "_bin", "_bins", "_heap")

    def __init__(self, width: float) -> None:
        self.width = width
        self.cur: list[Record] = []  # the bin being drained, sorted; records before pos are done
        self.pos = 0
        self._bin = -1  # the number of the bin in cur (-1: none)
        self._bins: dict[int, list[Record]] = {}  # bins not yet sorted, in push order
        self._heap: list[int] = []  # their numbers

    def push(self, when: float, dst: int, src: int, item: Any, meta: Any = None) -> None:
        b = int(when / self.width)
        if b <= self._bin:
            if b == self._bin:  # after the equal times already there: FIFO
                bisect.insort_right(self.cur, (when, dst, src, item, meta), self.pos, key=_WHEN)
                return
            self._unload()  # an earlier bin than the one being drained (rare): put it back
        lst = self._bins.get(b)
        if lst is None:
            lst = self._bins[b] = []
            heapq.heappush(self._heap, b)
        lst.append((when, dst, src, item, meta))

    def push_many(self, whens: list[float], dsts: list[int], src: int, items: list[Any], metas: list[Any]) -> None:
        """:meth:`push` for each ``(when, dst, item, meta)`` in order, from ``src``."""
        width, bins, heap = self.width, self._bins, self._heap
        for when, dst, item, meta in zip(whens, dsts, items, metas, strict=True):
            b = int(when / width)
            if b <= self._bin:
                self.push(when, dst, src, item, meta)
                continue
            lst = bins.get(b)
            if lst is None:
                lst = bins[b] = []
                heapq.heappush(heap, b)
            lst.append((when, dst, src, item, meta))

    def _unload(self) -> None:
        rest = self.cur[self.pos:]
        if rest:
            self._bins[self._bin] = rest  # sorted already: sorting it again is linear
            heapq.heappush(self._heap, self._bin)
        self.cur, self.pos, self._bin = [], 0, -1

    def head(self) -> float:
        """The arrival time of the earliest record (``inf``: none); makes it ``cur[pos]``."""
        pos, cur = self.pos, self.cur
        if pos < len(cur):
            return cur[pos][0]
        if not self._heap:
            if cur:
                self.cur, self.pos = [], 0  # drained: let its records go
            return math.inf
        b = heapq.heappop(self._heap)
        lst = self._bins.pop(b)
        lst.sort(key=_WHEN)
        self.cur, self.pos, self._bin = lst, 0, b
        return lst[0][0]

    def clear(self) -> None:
        self.cur, self.pos, self._bin = [], 0, -1
        self._bins.clear()
        self._heap.clear()


__all__ = ["MAX_WIDTH", "MIN_WIDTH", "Record", "Wheel", "bin_width"]
