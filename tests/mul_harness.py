"""Helpers for the multiplication tests: scenario dicts run over netsim, and raw views."""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc.message import Message
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
    scn = parse(doc)
    if not observers:
        return run_sim(scn)
    import netsim

    original = netsim.build_network

    def build(*args: Any, **kwargs: Any) -> Any:
        net = original(*args, **kwargs)
        net.observers.extend(observers)
        return net

    netsim.build_network = build
    try:
        return run_sim(scn)
    finally:
        netsim.build_network = original


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


async def run_nodes(ids: tuple[int, ...], fn: Any, *args: Any, timeout: float = 5.0, **kw: Any) -> dict[int, Any]:
    """Run ``fn(ctx, *args, **kw)`` at every node of a fresh in-memory network; exceptions are returned."""
    import asyncio

    from mpc.errors import MpcError
    from mpc.node import Node
    from netsim import SimNetwork

    net = SimNetwork(ids)

    async def one(pid: int) -> Any:
        try:
            async with Node(pid, transport=net.transport(pid), parties=ids, session=b"t", timeout=timeout) as node:
                return await node.run(fn, *args, **kw)
        except MpcError as exc:
            return exc

    results = await asyncio.gather(*(one(p) for p in ids))
    return dict(zip(ids, results, strict=True))
