"""netsim: an in-memory network for running many parties in one process, under faults.

The runner uses two entry points, :func:`build_network` and :func:`run`; everything else is
netsim's own business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from .transport import SimNetwork, SimTransport

T = TypeVar("T")


def build_network(parties: Iterable[int], network: Mapping[str, Any], *, seed: int = 0,
                  faults: Sequence[Any] = ()) -> SimNetwork:
    """A network for a scenario's ``[network]`` table (latency_ms, loss; more to come)."""
    return SimNetwork(
        parties,
        latency=float(network.get("latency_ms", 0.0)) / 1000.0,
        loss=float(network.get("loss", 0.0)),
        seed=seed,
    )


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a simulation to completion (currently on asyncio's default loop, in real time)."""
    return asyncio.run(coro)


__all__ = ["SimNetwork", "SimTransport", "build_network", "run"]
