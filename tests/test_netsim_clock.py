"""The virtual-time event loop: timers, timeouts and sleeps cost no wall time; deadlocks end."""

from __future__ import annotations

import asyncio
import time

import pytest

from netsim import Deadlock, VirtualTimeLoop, run

pytestmark = pytest.mark.timeout(30)


def test_sleep_and_timeout_run_in_virtual_time() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        await asyncio.sleep(3600.0)
        after_sleep = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(7.5):
                await asyncio.Event().wait()
        return after_sleep, loop.time()

    wall = time.perf_counter()
    slept, timed_out = run(main())
    assert slept == 3600.0
    assert timed_out == 3607.5
    assert time.perf_counter() - wall < 60.0  # an hour and more of virtual time, not slept


def test_timers_fire_in_order_at_exact_times() -> None:
    async def main() -> list[tuple[float, int]]:
        loop = asyncio.get_running_loop()
        seen: list[tuple[float, int]] = []
        for k, delay in enumerate([0.3, 0.1, 0.2, 0.1]):
            loop.call_later(delay, lambda k=k: seen.append((loop.time(), k)))
        await asyncio.sleep(1.0)
        return seen

    assert run(main()) == [(0.1, 1), (0.1, 3), (0.2, 2), (0.3, 0)]


def test_deadlock_is_detected_not_spun() -> None:
    async def stuck() -> None:
        await asyncio.sleep(2.0)
        await asyncio.Event().wait()  # nothing can ever set it

    with pytest.raises(Deadlock, match="virtual time 2.0"):
        run(stuck())


def test_threads_still_wake_the_loop() -> None:
    async def main() -> int:
        return await asyncio.to_thread(lambda: 41 + 1)

    assert run(main()) == 42
