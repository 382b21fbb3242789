"""Fuzz: thousands of hostile frames over real pynng sockets into a running computation.

Party 3 computes honestly and, at the same time, pushes hostile frames down its own connections
to parties 1 and 2: mutated copies of its real messages, truncations, huge length fields, decoding
bombs, replays, messages for another session and messages claiming another sender. A frame that
decodes to a well-formed, fresh message in the live session from party 3 is not hostile — it is
party 3 speaking, which the semi-honest model lets it do — so the generator skips those.

Asserted: every sum is right at every party, no party fails, every hostile frame is counted as a
rejected ProtocolError (none as an internal error), and resident memory (sampled every 32 frames and
every sum) grows by less than the budget.
The per-peer cut-off is disabled here (``reject_burst=None``) so that every frame reaches the
decoder; ``test_ingress_attacks`` shows the cut-off.
"""

from __future__ import annotations

import asyncio
import os
import random
import struct
from collections import Counter

import msgpack
import numpy as np
import pytest

from mpc import Node
from mpc.codec import DECODED_PER_ENVELOPE_BYTE, Limits
from mpc.errors import ProtocolError
from mpc.message import CONTROL, WIRE_VERSION, Message
from protocols import secure_sum
from tests.nng_mesh import IDS, close_all, connect, mesh

pytestmark = pytest.mark.real_time
SESSION = b"fuzz-session"
LIMITS = Limits(reject_burst=None, max_buffered_bytes_per_sender=64 << 20)
# what the process may hold beyond its baseline: each receiver's buffer for party 3, one message
# being decoded, frames in flight (bounded by the bomb size), and slack for the computation itself
BUDGET = 2 * LIMITS.max_buffered_bytes_per_sender + DECODED_PER_ENVELOPE_BYTE * LIMITS.max_envelope_bytes + (48 << 20)


def _rss() -> int:
    """This process's resident memory now (Linux), in bytes."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _frame(env: bytes, bodies: bytes = b"") -> bytes:
    return struct.pack("<I", len(env)) + env + bodies


def _head(session: bytes, instance: str, tag: str, sender: int) -> bytes:
    return msgpack.packb([WIRE_VERSION, session, instance, tag, sender], use_bin_type=True)[1:]


class Hostile:
    """Seeded generator of hostile frames (test randomness, nothing secret)."""

    KINDS = {"mutated": 30, "truncated": 15, "huge length": 10, "bomb": 4, "replay": 15, "wrong session": 13,
             "spoofed sender": 13}

    def __init__(self, seed: int, bomb_sizes: tuple[int, ...]) -> None:
        self.rng = random.Random(seed)
        self.bomb_sizes = bomb_sizes
        self.seen: list[bytes] = []  # party 3's real frames so far (to mutate and replay)
        self.delivered: dict[int, set[tuple[str, str]]] = {1: set(), 2: set()}  # queued before anything hostile
        self.counts: Counter[str] = Counter()
        self.skipped = 0

    def _is_party3_speaking(self, data: bytes, peer: int) -> bool:
        try:
            msg = Message.from_bytes(data, LIMITS)
        except ProtocolError:
            return False
        return msg.session == SESSION and msg.sender == 3 and (msg.instance, msg.tag) not in self.delivered[peer]

    def next(self, peer: int) -> bytes:
        kinds, weights = list(self.KINDS), list(self.KINDS.values())
        while True:
            kind = self.rng.choices(kinds, weights)[0]
            data = getattr(self, "_" + kind.replace(" ", "_"))()
            # only these can turn into a fresh message of party 3's; the others are invalid by construction
            if kind not in ("mutated", "replay") or not self._is_party3_speaking(data, peer):
                self.counts[kind] += 1
                return data
            self.skipped += 1

    def _base(self) -> bytes:
        return self.rng.choice(self.seen) if self.seen else Message(
            session=SESSION, instance="secure_sum#1", tag="share", sender=3, payload=np.arange(3, dtype=np.uint64)
        ).to_bytes()

    def _mutated(self) -> bytes:
        b = bytearray(self._base())
        for _ in range(self.rng.randint(1, 4)):
            op, i = self.rng.randrange(4), self.rng.randrange(len(b))
            if op == 0:
                b[i] ^= 1 << self.rng.randrange(8)
            elif op == 1:
                b[i:i] = self.rng.randbytes(self.rng.randint(1, 8))
            elif op == 2:
                del b[i:i + self.rng.randint(1, 8)]
            else:
                b[i] = self.rng.choice((0x00, 0x7F, 0x80, 0xC1, 0xDD, 0xDF, 0xFF))
        return bytes(b)

    def _truncated(self) -> bytes:
        b = self._base()
        return b[: self.rng.randrange(len(b))]

    def _huge_length(self) -> bytes:
        head = _head(SESSION, "secure_sum#1", "share", 3)
        big = struct.pack(">I", 0xFFFFFFFF)
        return self.rng.choice((
            b"\xff\xff\xff\xff" + self._base()[4:],  # envelope length past the frame
            _frame(b"\x96" + head + b"\xdd" + big),  # array of 2^32-1 items
            _frame(b"\x96" + head + b"\xc6" + big + b"x"),  # bin of 2^32-1 bytes
            _frame(b"\x96" + head + b"\xdb" + big),  # str of 2^32-1 bytes
            _frame(b"\x96" + head + b"\xdf" + big),  # map of 2^32-1 entries
            _frame(b"\x96" + head + b"\xc7\x0a\x01\x03\x02" + big + big),  # uint64 array of 2^64 elements
            _frame(b"\x96" + head + b"\xc9" + big + b"\x01"),  # ext of 2^32-1 bytes
        ))

    def _bomb(self) -> bytes:
        n = self.rng.choice(self.bomb_sizes)
        session = b"another-session"  # decoded in full, then refused
        payload = b"\xdd" + struct.pack(">I", n) + self.rng.choice((b"\x90", b"\x80", b"\xec")) * n
        if self.rng.random() < 0.2:
            return _frame(b"\x96" + _head(SESSION, "x", "y", 3) + b"\x91" * 5000)  # depth bomb
        return _frame(b"\x96" + _head(session, "secure_sum#9", "bomb", 3) + payload)

    def _replay(self) -> bytes:
        return self.rng.choice(self.seen) if self.seen else self._wrong_session()

    def _wrong_session(self) -> bytes:
        return Message(session=b"other" + self.rng.randbytes(4), instance="secure_sum#1", tag="share", sender=3,
                       payload=np.arange(4, dtype=np.uint64)).to_bytes()

    def _spoofed_sender(self) -> bytes:
        return Message(session=SESSION, instance=f"secure_sum#{self.rng.randint(1, 50)}", tag="share",
                       sender=self.rng.choice((1, 2, 0, 7)), payload=np.zeros(3, dtype=np.uint64)).to_bytes()


async def _fuzz(count: int, rounds: int, seed: int, bomb_sizes: tuple[int, ...]) -> None:
    ts, bound = mesh()
    connect(ts, bound)
    gen = Hostile(seed, bomb_sizes)
    real_send = ts[3].send

    async def recording_send(peer: int, data: bytes) -> None:  # party 3's real traffic, kept to replay
        await real_send(peer, data)
        msg = Message.from_bytes(data)
        if msg.instance != CONTROL:  # a replayed hello is harmless and not an error: leave those out
            gen.delivered[peer].add((msg.instance, msg.tag))
            gen.seen.append(data)

    ts[3].send = recording_send  # type: ignore[method-assign]
    inputs_rng = np.random.default_rng(seed)
    inputs = [{p: inputs_rng.integers(-1000, 1000, 4).tolist() for p in IDS} for _ in range(rounds)]
    started = asyncio.Event()
    samples: list[int] = []
    completed = dict.fromkeys(IDS, 0)
    stop_after: list[int] = []  # set once the last hostile frame is out: every party stops at that round

    async def attack() -> int:
        await started.wait()
        sent = 0
        for k in range(count):
            peer = 1 + k % 2
            await real_send(peer, gen.next(peer))
            sent += 1
            if k % 32 == 0:
                samples.append(_rss())
                await asyncio.sleep(0)  # interleave with the computation
        stop_after.append(max(max(completed.values()) + 1, rounds))
        return sent

    async def party(p: int) -> tuple[list[list[int]], Node]:
        async with Node(p, transport=ts[p], parties=IDS, session=SESSION, timeout=20, connect_timeout=10,
                        limits=LIMITS) as node:
            started.set()
            outs = []
            # keep computing until every hostile frame is out, and one sum more (all of them read)
            while not stop_after or completed[p] <= stop_after[0]:
                r = completed[p]
                outs.append((await node.run(secure_sum, np.array(inputs[r % rounds][p]))).tolist())
                completed[p] += 1
                samples.append(_rss())
            return outs, node

    base = peak = _rss()
    try:
        t0 = asyncio.get_running_loop().time()
        *results, sent = await asyncio.wait_for(asyncio.gather(*(party(p) for p in IDS), attack()), 600)
        elapsed = asyncio.get_running_loop().time() - t0
    finally:
        await close_all(ts)
    peak = max(samples)

    expected = [np.sum([inputs[r][p] for p in IDS], axis=0).tolist() for r in range(rounds)]
    for p, (outs, node) in zip(IDS, results):
        assert outs == [expected[r % rounds] for r in range(len(outs))], f"party {p}: wrong output"
        assert len(outs) == stop_after[0] + 1 and not node.down
    rejected = {p: node.rejected_count for p, (_, node) in zip(IDS, results)}
    internal = [e for _, node in results for e in node.rejected if "could not be processed" in str(e)]
    print(f"\nfuzz: {sent} hostile frames in {elapsed:.1f}s ({dict(gen.counts)}; {gen.skipped} well-formed "
          f"party-3 messages skipped); rejected per party {rejected}; sums computed {len(results[0][0])}, "
          f"all right; resident memory grew by at most {(peak - base) / 2**20:.0f} MiB (sampled {len(samples)} times; "
          f"budget {BUDGET / 2**20:.0f} MiB)")
    assert sent == count
    assert rejected[1] + rejected[2] == count and rejected[3] == 0
    assert not internal
    assert peak - base < BUDGET


@pytest.mark.timeout(60)
async def test_fuzz_10k_hostile_frames_into_a_running_sum():
    await _fuzz(10_000, rounds=5, seed=1, bomb_sizes=(100, 1_000, 5_000))


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_fuzz_100k_hostile_frames_into_a_running_sum():
    await _fuzz(100_000, rounds=20, seed=2, bomb_sizes=(1_000, 10_000, 100_000))
