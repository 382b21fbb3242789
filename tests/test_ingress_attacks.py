"""Attacks on a node's ingress, from the attacker's side, over real pynng sockets.

The attacker is party 3: it takes part in the sum honestly, and also pushes hostile frames down
its own connection to party 1 (so they arrive with the right sender and session when it wants).
"""

from __future__ import annotations

import struct
import tracemalloc

import pytest

from mpc.codec import DECODED_PER_ENVELOPE_BYTE, Limits
from mpc.errors import CodecError, PartyDropped
from mpc.message import WIRE_VERSION, Message
from mpc.node import Node
from tests.nng_mesh import IDS, close_all, connect, mesh, run_sum

pytestmark = [pytest.mark.timeout(90), pytest.mark.real_time]
INPUTS = {1: [1, 2, 3], 2: [10, 20, 30], 3: [100, 200, 300]}
SUM = [111, 222, 333]


def _raw(session: bytes, instance: str, tag: str, sender: int, payload_packed: bytes) -> bytes:
    """A message whose payload is arbitrary pre-packed msgpack (what an attacker controls)."""
    import msgpack

    head = msgpack.packb([WIRE_VERSION, session, instance, tag, sender], use_bin_type=True)
    env = b"\x96" + head[1:] + payload_packed  # a 6-element array: the 5 fields, then the payload
    return struct.pack("<I", len(env)) + env


def _empty_arrays(count: int, pad: int = 0) -> bytes:
    """msgpack: [count empty arrays, pad bytes of bin]: ~64 bytes of Python objects per wire byte."""
    body = b"\xdd" + struct.pack(">I", 2) + b"\xdd" + struct.pack(">I", count) + b"\x90" * count
    return body + b"\xc6" + struct.pack(">I", pad) + bytes(pad)


def _ok(res: dict) -> None:  # type: ignore[type-arg]
    for p, r in res.items():
        assert not isinstance(r, BaseException), (p, r)
        assert r[0] == [SUM] * len(r[0]), (p, r[0])
        assert not r[1].down, (p, r[1].down)


async def test_a_decoded_memory_bomb_stays_within_the_stated_budget():
    # the budget a node states for one sender: what it may leave buffered, plus one message being
    # decoded (80 bytes of objects per envelope byte at most), plus the frame itself
    limits = Limits(max_buffered_bytes_per_sender=48 << 20)  # the default envelope cap (256 KiB)
    budget = limits.max_buffered_bytes_per_sender + DECODED_PER_ENVELOPE_BYTE * limits.max_envelope_bytes \
        + 2 * limits.max_envelope_bytes + (16 << 20)
    big = _raw(b"bomb", "secure_sum#1", "x", 3, _empty_arrays(1_000_000, pad=9 << 20))  # 10 MB, 10^6 arrays
    near = [_raw(b"bomb", "secure_sum#9", f"future/{k}", 3, _empty_arrays(250_000)) for k in range(5)]
    assert len(big) > 10_000_000 and all(len(n) < limits.max_envelope_bytes for n in near)
    ts, bound = mesh()
    connect(ts, bound)

    async def bomb(p: int, node: Node) -> None:
        if p == 3:
            for data in [big, big, *near]:
                await ts[3].send(1, data)

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        res = await run_sum(ts, b"bomb", INPUTS, during=bomb, limits=limits, timeout=30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await close_all(ts)
    _ok(res)
    node1 = res[1][1]
    assert sum(isinstance(e, CodecError) and "envelope" in str(e) for e in node1.rejected) == 2
    assert node1.mailbox.evicted.get(3, 0) >= 3  # the near-cap bombs pushed each other out
    print(f"peak traced memory {peak / 2**20:.0f} MiB, budget {budget / 2**20:.0f} MiB")
    assert peak < budget


async def test_a_flood_of_future_tags_does_not_stop_the_flooders_own_messages():
    ts, bound = mesh()
    connect(ts, bound)
    flood = 10_000

    async def flood_party1(p: int, node: Node) -> None:
        if p == 3:  # valid, in-session messages for rounds that will never come
            for k in range(flood):
                await ts[3].send(1, Message(session=b"flood", instance="secure_sum#1", tag=f"future/{k}",
                                            sender=3, payload=k).to_bytes())

    try:
        res = await run_sum(ts, b"flood", INPUTS, during=flood_party1)
    finally:
        await close_all(ts)
    _ok(res)  # party 3's real share and partial sum got through at party 1
    node1 = res[1][1]
    assert node1.mailbox.evicted[3] >= flood - node1.limits.max_buffered_per_sender
    assert not node1.mailbox.cut_off


async def test_zero_byte_frames_are_protocol_errors_and_the_sum_is_right():
    ts, bound = mesh()
    connect(ts, bound)

    async def empty_frames(p: int, node: Node) -> None:
        if p == 3:
            for _ in range(100):
                await ts[3].send(1, b"")

    try:
        res = await run_sum(ts, b"zero", INPUTS, during=empty_frames)
    finally:
        await close_all(ts)
    _ok(res)
    node1 = res[1][1]
    assert sum(isinstance(e, CodecError) and "truncated" in str(e) for e in node1.rejected) >= 32
    assert node1.rejected_count >= 100


async def test_a_peer_that_keeps_sending_garbage_is_cut_off_and_reported():
    ts, bound = mesh()
    connect(ts, bound)
    nodes = {}

    async def garbage(p: int, node: Node) -> None:
        nodes[p] = node
        if p == 3:
            for k in range(200):
                await ts[3].send(1, bytes([k % 256]) * (k + 1))

    try:
        res = await run_sum(ts, b"garbage", INPUTS, during=garbage, limits=Limits(reject_burst=100), timeout=2)
    finally:
        await close_all(ts)
    assert isinstance(res[1], PartyDropped) and res[1].party == 3
    assert nodes[1].mailbox.cut_off == {3} and 3 in nodes[1].down
    assert 100 < nodes[1].rejected_count < 200  # what came after the cut-off was not even decoded
    for p in IDS:
        assert not isinstance(res[p], BaseException) or isinstance(res[p], PartyDropped), res[p]
