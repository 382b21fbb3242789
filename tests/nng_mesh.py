"""Three parties on real pynng sockets in one event loop, for attack and fuzz tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from mpc import Node
from mpc.codec import DEFAULT_LIMITS, Limits
from mpc.transport.nng import NngTransport, TlsCreds
from protocols import secure_sum

IDS = (1, 2, 3)
During = Callable[[int, Node], Awaitable[None]]


def mesh(creds: dict[int, TlsCreds] | None = None) -> tuple[dict[int, NngTransport], dict[int, dict[int, str]]]:
    ts = {p: NngTransport(p, tls=creds[p] if creds else None) for p in IDS}
    bound = {p: ts[p].bind([q for q in IDS if q > p]) for p in IDS}
    return ts, bound


def connect(ts: dict[int, NngTransport], bound: dict[int, dict[int, str]]) -> None:
    for p in IDS:
        ts[p].connect({q: bound[q][p] for q in IDS if q < p}, [q for q in IDS if q != p])


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


async def run_sum(ts: dict[int, NngTransport], session: bytes, inputs: dict[int, list[int]], *,
                  during: During | None = None, limits: Limits = DEFAULT_LIMITS, timeout: float = 10.0,
                  rounds: int = 1) -> dict[int, Any]:
    """Each party enters a Node, runs ``during`` (an attacker's hook), then ``rounds`` secure sums;
    returns each party's list of outputs (or the exception that ended it) and checks nobody was
    reported down unless an exception says so."""

    async def party(p: int) -> Any:
        async with Node(p, transport=ts[p], parties=IDS, session=session, timeout=timeout,
                        connect_timeout=10, limits=limits) as node:
            if during is not None:
                await during(p, node)
            outs = []
            for _ in range(rounds):
                outs.append((await node.run(secure_sum, np.array(inputs[p]))).tolist())
            return outs, node

    res = await asyncio.wait_for(asyncio.gather(*(party(p) for p in IDS), return_exceptions=True), 60 + timeout)
    return dict(zip(IDS, res))


async def close_all(ts: dict[int, NngTransport]) -> None:
    for t in ts.values():
        await t.close()
