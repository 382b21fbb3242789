"""netsim's draws and vectorized batches: a batch of messages gets exactly the arrival times that
routing its messages one by one gives (object mode batches, byte mode does not), from the same
seeded streams, and a whole run takes the same simulated time in both wire modes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mpc.app.runner import run_sim
from mpc.app.scenario import load
from netsim import SimNetwork, run
from netsim.draws import CHUNK, Draws, Stream

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parent.parent


def test_a_stream_gives_the_same_values_one_by_one_or_in_batches() -> None:
    a, b = Stream(5, 1), Stream(5, 1)
    singles = [a.one() for _ in range(CHUNK + 100)]
    batched = [*b.take(10).tolist(), b.one(), *b.take(CHUNK).tolist(), *[b.one() for _ in range(89)]]
    assert singles == batched
    assert Stream(6, 1).one() != Stream(5, 1).one() != Stream(5, 2).one()
    assert Draws(1).retransmissions(0.999) == 64  # bounded


async def _arrivals(table: dict[str, Any], batched: bool) -> tuple[list[Any], int]:
    parties = tuple(range(1, 31))
    net = SimNetwork(parties, table, seed=9)
    rng = np.random.default_rng(1)
    for step in range(12):
        src = int(rng.integers(1, 31))
        peers = [int(p) for p in rng.permutation(parties) if p != src][: int(rng.integers(1, 29))]
        sizes = [int(s) for s in rng.integers(50, 200_000, len(peers))]
        items = [f"m{step}-{p}".encode() for p in peers]
        now = step * 0.003
        if batched:
            net._route_many(src, peers, items, sizes, now)
        else:
            for p, item, size in zip(peers, items, sizes, strict=True):
                net._route(src, p, item, size, None, now)
    out = []
    while net._wheel.head() != float("inf"):
        out.append(net._wheel.cur[net._wheel.pos])
        net._wheel.pos += 1
    return out, net.dropped


@pytest.mark.parametrize("table", [
    {"preset": "wan"},
    {"preset": "wan", "loss": 0.2, "reorder": 0.3},
    {"preset": "mobile", "loss": 0.2, "loss_mode": "drop"},
    {"latency_ms": 3, "jitter_ms": 1, "jitter": "exponential", "bandwidth_mbps": 1},
    {"latency_ms": 3, "bandwidth_mbps": 10},  # no jitter: FIFO and queueing only
])
def test_a_vectorized_batch_arrives_exactly_as_its_messages_one_by_one(table: dict[str, Any]) -> None:
    one_by_one, dropped = run(_arrivals(table, batched=False))
    batch, dropped_batch = run(_arrivals(table, batched=True))
    assert len(one_by_one) > 100
    assert batch == one_by_one  # the same times (exactly), receivers and order
    assert dropped_batch == dropped
    if table.get("loss_mode") == "drop":
        assert dropped > 0


def test_a_uniform_lossy_run_takes_the_same_time_in_both_wire_modes() -> None:
    scn = load(ROOT / "scenarios" / "sum-5-shamir.toml")
    scn = dataclasses.replace(scn, faults=(), network={"preset": "wan", "loss": 0.05, "reorder": 0.05})
    objects, data = (run_sim(dataclasses.replace(scn, network={**scn.network, "wire": w})) for w in ("objects", "bytes"))
    assert objects.ok and data.ok, (objects.reason, data.reason)
    assert objects.elapsed_s == data.elapsed_s
    assert objects.as_dict()["outputs"] == data.as_dict()["outputs"]
