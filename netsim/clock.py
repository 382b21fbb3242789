"""A virtual-time asyncio event loop: the clock jumps to the next timer whenever every task waits.

asyncio's ``_run_once`` asks its selector to block until the earliest timer is due. Here the
selector never blocks on a timer: it moves the loop's clock to that timer's deadline and returns
at once (SimPy's rule: simulated time advances only by events). So ``loop.time()``,
``call_later``, ``asyncio.sleep`` and ``asyncio.timeout`` all run in virtual time and a simulated
minute costs microseconds. Real file descriptors (the loop's self-pipe) are still polled without
blocking, so ``call_soon_threadsafe`` keeps working.

When nothing is ready and no timer is pending, no event can ever happen again: the loop raises
:class:`Deadlock` instead of blocking forever (unless worker threads of the default executor may
still wake it, in which case it waits for them in real time, boundedly). Work in threads takes no
virtual time, and a pending timer does not wait for a thread: ``wait_for(to_thread(f), 1)`` times
out at once if ``f`` is slow. Simulated code should not use threads.
"""

from __future__ import annotations

import asyncio
import functools
import math
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from mpc.errors import MpcError

T = TypeVar("T")
EXECUTOR_WAIT_S = 30.0  # real seconds to wait for a worker thread before calling it a deadlock


class Deadlock(MpcError):
    """Every task waits for something that no timer, message or thread can ever bring."""


class _VirtualSelector(selectors.BaseSelector):
    """Wraps a real selector; ``select(timeout)`` advances the virtual clock instead of sleeping."""

    def __init__(self) -> None:
        self._real = selectors.DefaultSelector()
        self.loop: VirtualTimeLoop | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = self._real.select(0)
        if events:
            return events
        loop = self.loop
        assert loop is not None  # set by the loop's constructor, before any select
        source = loop.source
        due = source.next_time() if source is not None else math.inf
        if timeout != 0:
            scheduled = loop._scheduled  # type: ignore[attr-defined]
            target = min(due, scheduled[0]._when if scheduled else math.inf)
            if math.isinf(target):
                if loop._default_executor is not None:  # type: ignore[attr-defined]
                    events = self._real.select(EXECUTOR_WAIT_S)
                    if events:
                        return events
                raise Deadlock(
                    f"deadlock at virtual time {loop.time():.6f} s: every task waits and no timer is pending"
                )
            loop._advance_to(target)
        if due <= loop._now:
            source.fire(loop._now)  # type: ignore[union-attr]  # its callbacks run in this iteration
        return []


class EventSource(Protocol):
    """Timed events kept outside the loop's timer heap (netsim's in-flight messages)."""

    def next_time(self) -> float:
        """The time of the earliest pending event (``inf``: none)."""

    def fire(self, now: float) -> None:
        """Handle every event due at ``now``."""


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose ``time()`` is virtual; see the module docstring."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self.advanced = 0  # how many times the clock jumped (a cheap progress measure)
        self._cpu_hook: Callable[..., Any] | None = None
        # one source of timed events polled by the selector: no TimerHandle and no extra loop
        # iteration per event (with jitter, each simulated message arrives at its own instant)
        self.source: EventSource | None = None

    @property
    def cpu_hook(self) -> Callable[..., Any] | None:
        """A wrapper of every ``call_soon`` callback (see :mod:`netsim.cpu`), or ``None``."""
        return self._cpu_hook

    @cpu_hook.setter
    def cpu_hook(self, hook: Callable[..., Any] | None) -> None:
        # Shadow call_soon on the instance only while hooked: an override would tax every task step.
        self._cpu_hook = hook
        if hook is None:
            self.__dict__.pop("call_soon", None)
        else:
            self.__dict__["call_soon"] = functools.partial(self._hooked_call_soon, hook)

    def _hooked_call_soon(self, hook: Callable[..., Any], callback: Callable[..., Any], *args: Any,
                          context: Any = None) -> asyncio.Handle:
        return super().call_soon(hook, callback, *args, context=context)

    def time(self) -> float:
        return self._now

    def _advance_to(self, target: float) -> None:
        # Land exactly on the next deadline (no float drift from now + (when - now)).
        if target > self._now:
            self._now = target
            self.advanced += 1


def new_loop() -> VirtualTimeLoop:
    return VirtualTimeLoop()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion in virtual time (like :func:`asyncio.run`)."""
    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(coro)


__all__ = ["Deadlock", "EventSource", "VirtualTimeLoop", "new_loop", "run"]
