"""The pynng transport's round path: nng's C API directly, a small send buffer, two task threads."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable

import pytest

from mpc.transport.base import PEER_DOWN
from mpc.transport.nng import SEND_BUFFER, NngTransport

pytestmark = [pytest.mark.timeout(60), pytest.mark.real_time]


@contextlib.asynccontextmanager
async def pair() -> AsyncIterator[tuple[NngTransport, NngTransport, str]]:
    a, b = NngTransport(1), NngTransport(2)
    try:
        bound = a.bind([2])
        b.connect({1: bound[2]}, [1])
        a.connect({}, [2])
        await asyncio.gather(a.start(10), b.start(10))
        yield a, b, bound[2]
    finally:
        await a.close()
        await b.close()


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.005)


async def test_an_empty_frame_arrives_as_empty_bytes_and_the_next_one_after_it():
    async with pair() as (a, b, _):
        assert a.try_send(2, b"")
        assert a.try_send(2, b"next")
        async with asyncio.timeout(10):
            assert await b.recv() == (1, b"")
            assert await b.recv() == (1, b"next")


async def test_a_burst_of_sends_goes_out_without_waiting_and_in_order():
    """SEND_BUFFER messages wait in nng's queue: none of them comes back "busy" (without the buffer,
    a send racing the previous one's completion did). One more fits only if the pipe has taken the
    first already (it may still be sending the admission frame: the full suite once caught that),
    so it is sent with ``send``, which waits if it must; all arrive in order."""
    async with pair() as (a, b, _):
        msgs = [f"m{i}".encode() * 100 for i in range(1 + SEND_BUFFER)]
        assert all(a.try_send(2, m) for m in msgs[:SEND_BUFFER])
        await a.send(2, msgs[-1])
        async with asyncio.timeout(10):
            got = [await b.recv() for _ in msgs]
        assert got == [(1, m) for m in msgs]
        assert a.stats.messages_sent == len(msgs) and b.stats.messages_received == len(msgs)
        assert b.stats.bytes_received == sum(map(len, msgs))


async def test_messages_queued_for_a_peer_that_went_down_never_reach_its_restarted_process():
    async with pair() as (a, b, address):
        await b.close()  # party 2 crashes
        await until(lambda: a._links[2].pipe is None)
        stale = [b"for the old process %d" % i for i in range(SEND_BUFFER)]
        assert all(a.try_send(2, m) for m in stale)  # the pipe is gone: nng queues them
        async with asyncio.timeout(10):
            assert await a.recv() == (2, PEER_DOWN)
        with pytest.raises(Exception, match="peer 2 is down"):
            a.try_send(2, b"after the report")
        again = NngTransport(2)  # party 2 restarted: dials party 1 again
        try:
            again.connect({1: address}, [1])
            await again.start(10)
            await until(lambda: 2 not in a._down_reported)
            assert a.try_send(2, b"fresh")
            async with asyncio.timeout(10):
                assert await again.recv() == (1, b"fresh")
        finally:
            await again.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or (os.cpu_count() or 1) < 2,
                    reason="counts threads in /proc; nng's default equals ours on one CPU")
def test_the_transport_starts_nng_with_fewer_task_threads():
    """Set before nng starts (the first transport); a process that opened a pynng socket first
    keeps nng's default (2 per CPU), which shows as more threads."""
    code = ("import os, sys, pynng\n"
            "from mpc.transport.nng import NngTransport\n"
            "if sys.argv[1] == 'pynng-first':\n"
            "    pynng.Pair0().close()\n"
            "t = NngTransport(1)\n"
            "t.bind([2])\n"
            "print(len(os.listdir('/proc/self/task')))\n")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    counts = {}
    for order in ("transport-first", "pynng-first"):
        out = subprocess.run([sys.executable, "-c", code, order], capture_output=True, text=True, timeout=30, env=env)
        assert out.returncode == 0, out.stderr
        counts[order] = int(out.stdout.split()[-1])
    assert counts["transport-first"] < counts["pynng-first"], counts
