"""Deadlines of many waits under one loop timer (a mailbox's ``recv_many`` waits).

A dependent round would otherwise start and cancel a timer per wait. Here a wait's deadline is an
entry in a table; one timer is armed for the earliest entry, and a wait that ends in time just
leaves the table (the timer stays armed). When the timer fires it ends what is due and re-arms
for the next deadline, so each wait still ends by its own deadline; a stale firing costs one scan.
"""

from __future__ import annotations

import asyncio

CLOCK_STEP = 1e-3  # uvloop's clock granularity: a timer due sooner than this after now runs at once


def expire(done: asyncio.Future[None]) -> None:
    """End a wait: its future is set (the waiter then sees who is still missing)."""
    if not done.done():
        done.set_result(None)


class Deadlines:
    """One loop's table of wait deadlines (``add`` / ``discard`` a wait's future) and its timer."""

    __slots__ = ("_loop", "_waits", "_timer", "_at")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waits: dict[asyncio.Future[None], float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._at = 0.0

    def add(self, done: asyncio.Future[None], timeout: float) -> None:
        at = self._loop.time() + timeout
        self._waits[done] = at
        if self._timer is None or at < self._at:
            self._arm(at)

    def discard(self, done: asyncio.Future[None]) -> None:
        self._waits.pop(done, None)

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._at = self._loop.call_at(at, self._fire), at

    def _fire(self) -> None:
        self._timer = None
        now, waits = self._loop.time(), self._waits
        early = now < self._at  # the loop's clock is coarser than the deadline (uvloop: 1 ms steps)
        due = [done for done, at in waits.items() if at <= now]
        for done in due:
            del waits[done]
            expire(done)
        if waits:
            # fired early: re-arming for the same instant would run again at once until the clock's
            # next step (a busy loop of up to 1 ms, measured by the red team); wait for that step
            at = min(waits.values())
            self._arm(max(at, now + CLOCK_STEP) if early else at)


__all__ = ["CLOCK_STEP", "Deadlines", "expire"]
