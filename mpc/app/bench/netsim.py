"""``mpc bench netsim``: what simulating many parties costs (wall, CPU, memory per party).

Workloads per party count: the all-to-all secure sum of ``scenarios/sum-1000-sim.toml`` (fixed
40 ms links) and of ``sum-1000-wan-sim.toml`` (the ``wan`` preset: jitter, bandwidth, losses), in
netsim's object wire mode; the fixed-latency sum again in byte mode (every message encoded and
decoded, as over a real transport) where it stays affordable; and a star (every party sends one
vector to a hub, party 0), which isolates the per-party cost of nodes, transports and mailboxes.

Each all-to-all row runs in a fresh process, so that its peak resident memory is its own:
``kb_per_party`` is (peak RSS − RSS before the run) / parties.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from mpc.app.bench._common import BenchConfig, Row

STAR_HUB = 0
ALL_TO_ALL_LIMIT = 2000  # 2 n^2 messages (4 n^2 with mesh barriers): beyond this a run takes minutes
BYTES_LIMIT = 400  # byte mode costs ~2x: its row stops at this many parties
NETWORKS: Mapping[str, Mapping[str, Any]] = {"fixed": {"latency_ms": 40}, "wan": {"preset": "wan"}}


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_all_to_all(n: int, size: int, network: str = "fixed", wire: str = "objects") -> dict[str, Any]:
    """Run the all-to-all sum of ``n`` parties in this process; what it cost."""
    from mpc.app.runner import run_sim
    from mpc.app.scenario import parse

    scn = parse({"name": f"sum-{n}-{network}", "protocol": "sum", "parties": n, "sharing": "additive", "seed": 21,
                 "timeout_s": 60, "inputs": {"default": {"random": size, "low": -1000, "high": 1000}},
                 "network": {**NETWORKS[network], "wire": wire}})
    gc.collect()
    rss, cpu = _rss_mb(), time.process_time()
    report = run_sim(scn)
    cpu = time.process_time() - cpu
    d = report.as_dict()
    return {"ok": report.ok, "wall_s": report.wall_s, "cpu_s": cpu, "virtual_s": report.elapsed_s,
            "messages": d["messages"], "us_cpu_per_message": cpu / max(1, d["messages"]) * 1e6,
            "peak_rss_mb": _peak_mb(), "kb_per_party": max(0.0, _peak_mb() - rss) * 1024 / n}


def all_to_all(n: int, size: int, network: str = "fixed", wire: str = "objects", *, isolate: bool = False) -> Row:
    """A row for the all-to-all sum; ``isolate`` runs it in a fresh process (its own peak memory)."""
    if isolate:
        out = subprocess.run([sys.executable, "-m", "mpc.app.bench.netsim", json.dumps([n, size, network, wire])],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"netsim bench child failed: {out.stderr.strip()[-500:]}")
        m = json.loads(out.stdout.strip().splitlines()[-1])
    else:
        m = measure_all_to_all(n, size, network, wire)
    wall = m.pop("wall_s")
    return Row(suite="netsim", name=f"sum all-to-all, {network}, {wire}", params={"parties": n, "size": size},
               median_s=wall, min_s=wall, max_s=wall, rate=m["messages"] / wall if wall > 0 else None,
               unit="msg/s", extra=m)


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
    for n in counts:
        if n > ALL_TO_ALL_LIMIT:
            continue
        rows += [all_to_all(n, size, network, isolate=True) for network in NETWORKS]
        if n <= BYTES_LIMIT:
            rows.append(all_to_all(n, size, "fixed", "bytes", isolate=True))
    return rows


if __name__ == "__main__":  # one isolated all-to-all measurement: prints it as JSON
    n, size, network, wire = json.loads(sys.argv[1])
    print(json.dumps(measure_all_to_all(n, size, network, wire)))
