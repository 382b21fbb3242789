"""Optional compute cost in virtual time: ``[network] cpu_scale = 1.0`` charges each party for the
wall time its own callbacks take (times the scale), so that simulated elapsed time includes
computation, not only the network.

Each party's tasks carry its id in a context variable (set by its transport's ``start``). The
virtual-time loop runs every ``call_soon`` callback through :meth:`CpuModel.__call__`, which
measures it and advances that party's CPU clock; a message leaves at the party's CPU clock
(plus the time spent so far in the current callback), never before. The approximation: a busy
party still *receives* at once (its later sends are delayed instead), and its local timeouts do
not count its compute. Measured wall times vary from run to run: with a CPU model, traces are no
longer byte-identical for a seed; it is off by default.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

PARTY: ContextVar[int | None] = ContextVar("netsim_party", default=None)


class CpuModel:
    def __init__(self, scale: float, clock: Callable[[], float]) -> None:
        self.scale = scale
        self.clock = clock  # the loop's virtual time
        self.busy: dict[int, float] = {}  # party -> virtual time its CPU is free again
        self._current: tuple[int, float, float] | None = None  # party, virtual start, wall start

    def __call__(self, callback: Callable[..., Any], *args: Any) -> Any:
        party = PARTY.get()
        if party is None:
            return callback(*args)
        base = max(self.clock(), self.busy.get(party, 0.0))
        start = time.perf_counter()
        self._current = (party, base, start)
        try:
            return callback(*args)
        finally:
            self._current = None
            self.busy[party] = base + (time.perf_counter() - start) * self.scale

    def departure(self, party: int, now: float) -> float:
        """When a message that ``party`` sends now really leaves: after the compute before it."""
        cur = self._current
        if cur is not None and cur[0] == party:
            return cur[1] + (time.perf_counter() - cur[2]) * self.scale
        return max(now, self.busy.get(party, 0.0))

    def finished(self) -> float:
        return max(self.busy.values(), default=0.0)


__all__ = ["PARTY", "CpuModel"]
