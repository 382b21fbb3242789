"""``mpc bench netsim``: what simulating many parties costs (wall, CPU, memory per party).

Two workloads per party count: the all-to-all secure sum of the scenarios (n^2 messages per
round, so it stops being feasible long before 10,000 parties), and a star (every party sends one
vector to a hub, party 0), which isolates the per-party cost of nodes, transports and mailboxes.
"""

from __future__ import annotations

import asyncio
import gc
import resource
import time
from typing import Any

import numpy as np

from mpc.app.bench._common import BenchConfig, Row

STAR_HUB = 0
ALL_TO_ALL_LIMIT = 2000  # 4 n^2 messages: beyond this a run takes many minutes


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def all_to_all(n: int, size: int) -> Row:
    from mpc.app.runner import run_sim
    from mpc.app.scenario import parse

    scn = parse({"name": f"sum-{n}", "protocol": "sum", "parties": n, "sharing": "additive", "seed": 1,
                 "timeout_s": 60, "inputs": {"default": {"random": size, "low": -1000, "high": 1000}},
                 "network": {"latency_ms": 40}})
    gc.collect()
    cpu = time.process_time()
    report = run_sim(scn)
    d = report.as_dict()
    return Row(suite="netsim", name="sum all-to-all", params={"parties": n, "size": size},
               median_s=report.wall_s, min_s=report.wall_s, max_s=report.wall_s,
               extra={"ok": report.ok, "cpu_s": time.process_time() - cpu, "virtual_s": report.elapsed_s,
                      "messages": d["messages"], "us_cpu_per_message": (time.process_time() - cpu) / d["messages"] * 1e6,
                      "peak_rss_mb": _peak_mb()})


async def _star_party(ctx: Any, x: np.ndarray | None) -> np.ndarray | None:
    if ctx.party_id == STAR_HUB:
        got = await ctx.gather("up", [p for p in ctx.parties if p != STAR_HUB])
        return np.sum(np.stack([np.asarray(v, dtype=np.int64) for v in got.values()]), axis=0)
    await ctx.send(STAR_HUB, "up", x)
    return None


def star(n: int, size: int) -> Row:
    import netsim
    from mpc.node import Node

    ids = tuple(range(n + 1))
    rng = np.random.default_rng(1)
    inputs = {p: rng.integers(-1000, 1000, size) for p in ids[1:]}
    stats: dict[str, float] = {}

    async def main() -> np.ndarray | None:
        net = netsim.build_network(ids, {"latency_ms": 40})
        nodes = [Node(p, transport=net.transport(p), parties=ids, session=b"star", timeout=60.0,
                      neighbors=None if p == STAR_HUB else (STAR_HUB,)) for p in ids]
        stats["rss_nodes_mb"] = _rss_mb()
        results = await asyncio.gather(*(_run_star(node, inputs.get(node.party_id)) for node in nodes))
        return results[0]

    gc.collect()
    rss, cpu, wall = _rss_mb(), time.process_time(), time.perf_counter()
    total = netsim.run(main())
    wall = time.perf_counter() - wall
    ok = total is not None and bool(np.array_equal(total, np.sum(np.stack(list(inputs.values())), axis=0)))
    return Row(suite="netsim", name="star to a hub", params={"parties": n, "size": size},
               median_s=wall, min_s=wall, max_s=wall,
               extra={"ok": ok, "cpu_s": time.process_time() - cpu,
                      "kb_per_idle_node": (stats["rss_nodes_mb"] - rss) * 1024 / (n + 1),
                      "rss_growth_mb": _rss_mb() - rss})


async def _run_star(node: Any, x: np.ndarray | None) -> np.ndarray | None:
    async with node:
        return await node.run(_star_party, x)


def run(cfg: BenchConfig) -> list[Row]:
    counts = (10, 100) if cfg.quick else (cfg.parties or (100, 1000))
    size = 8 if cfg.quick else (min(cfg.sizes[0], 1000) if cfg.sizes else 8)
    rows = [star(n, size) for n in counts]
    rows += [all_to_all(n, size) for n in counts if n <= ALL_TO_ALL_LIMIT]
    return rows
