"""The one party harness of the tests: in-process parties over netsim (``run_parties``,
``run_nodes``), scenario dicts run through the simulated runner (``sim``), raw wire views."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from mpc import Node
from mpc.message import Message
from netsim import SimNetwork
from mpc.app.runner import Report, run_sim
from mpc.app.scenario import parse


def scenario(protocol: str, parties: int, inputs: dict[int, Any], **kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": f"test-{protocol}", "protocol": protocol, "parties": parties,
                           "seed": kw.pop("seed", 1), "timeout_s": kw.pop("timeout_s", 5.0),
                           "inputs": {str(p): (v.tolist() if isinstance(v, np.ndarray) else v)
                                      for p, v in inputs.items()}}
    doc.update(kw)
    return doc


def sim(doc: dict[str, Any], observers: list[Any] = ()) -> Report:
    """Run a scenario dict over netsim; ``observers`` see every message on the wire."""
    return run_sim(parse(doc), observers=observers)


class Wire:
    """Records decoded messages: ``(src, dst, tag, payload)``."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, int, str, Any]] = []

    def __call__(self, sent_at: float, arrives_at: float | None, src: int, dst: int, data: bytes) -> None:
        msg = Message.from_bytes(data)
        if msg.instance:
            self.messages.append((src, dst, msg.tag, msg.payload))

    def payloads(self, tag: str) -> dict[int, Any]:
        """One payload per sender for ``tag`` (all-to-all rounds send the same share to everyone)."""
        return {src: p for src, _dst, t, p in self.messages if t == tag}


def outputs(report: Report) -> dict[int, np.ndarray]:
    return {p: np.asarray(o.result.output) for p, o in report.outcomes.items()
            if o.status == "ok" and o.result is not None and o.result.output is not None}


def metas(report: Report) -> dict[int, dict[str, Any]]:
    return {p: dict(o.result.meta) for p, o in report.outcomes.items() if o.result is not None}


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


async def run_nodes(ids: tuple[int, ...], fn: Any, *args: Any, timeout: float = 5.0, **kw: Any) -> dict[int, Any]:
    """Run the protocol ``fn(ctx, *args, **kw)`` once at every party; exceptions are returned."""
    return await run_parties(ids, lambda node: node.run(fn, *args, **kw), timeout=timeout)
