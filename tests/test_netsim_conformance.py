"""netsim's transport against the transport conformance suite, in both wire modes and on a
network with jitter, bandwidth and retransmitted losses (links stay FIFO)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from netsim import SimNetwork
from tests.transport_conformance import CHECKS, MakePair, Pair

pytestmark = pytest.mark.timeout(60)
NETWORKS: Mapping[str, Mapping[str, Any]] = {
    "objects": {"latency_ms": 1},
    "bytes": {"latency_ms": 1, "wire": "bytes"},
    "wan-lossy": {"preset": "wan", "loss": 0.05},
}


def sim_pair_factory(network: Mapping[str, Any]) -> MakePair:
    @contextlib.asynccontextmanager
    async def make_pair() -> AsyncIterator[Pair]:
        net = SimNetwork((1, 2, 3), network, seed=5)
        a, b = net.transport(1), net.transport(2)
        await a.start(1)
        await b.start(1)

        async def crash_b() -> None:
            net.crash(2)

        try:
            yield Pair(a=a, b=b, crash_b=crash_b)
        finally:
            await a.close()
            await b.close()
            net.close()

    return make_pair


@pytest.mark.parametrize("network", NETWORKS, ids=str)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_sim_transport_conforms(check: Any, network: str) -> None:
    await check(sim_pair_factory(NETWORKS[network]))
