from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from mpc import Node
from netsim import SimNetwork


async def run_parties(
    n: int | Sequence[int],
    body: Callable[[Node], Awaitable[Any]],
    *,
    latency: float = 0.0,
    timeout: float = 2.0,
    network: SimNetwork | None = None,
) -> dict[int, Any]:
    """Run ``body(node)`` at every party over one in-memory network; exceptions are returned."""
    ids = tuple(range(1, n + 1)) if isinstance(n, int) else tuple(n)
    net = network or SimNetwork(ids, latency=latency)

    async def one(pid: int) -> Any:
        async with Node(pid, transport=net.transport(pid), parties=ids, timeout=timeout,
                        session=b"test-session") as node:
            return await body(node)

    results = await asyncio.gather(*(one(p) for p in ids), return_exceptions=True)
    return dict(zip(ids, results, strict=True))


@pytest.fixture
def parties():
    return run_parties
