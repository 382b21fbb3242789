"""Local multi-host deployments for tests: one ``mpc node`` process per party on loopback.

Static deployments need ports chosen before the nodes start, so another process may take one in
between. A run whose node reports a port in use is retried with fresh ports (the cause of the
old ``_free_base_ports`` flake: it promised a retry it did not do).
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ATTEMPTS = 3


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_base_ports(count: int, span: int) -> list[int]:
    """Base ports p with p+1..p+span free on loopback right now (a later bind may still collide)."""
    # Below the kernel's ephemeral range: a port the OS hands out for port 0 (or as the source port
    # of an outgoing connection, e.g. a dialer of this very test) can be taken again before the
    # listener binds it; ports outside that range are only ever taken by an explicit bind.
    low, high = _ephemeral_range()
    pick = random.Random()
    bases: list[int] = []
    while len(bases) < count:
        top = (low if low - span > 10240 else 65000) - span - 1
        base = pick.randrange(10240, top) if low - span > 10240 else pick.randrange(high + 1, top)
        if any(abs(base - b) <= max(span, 1) for b in bases):
            continue
        ok = True
        for port in range(base + 1, base + span + 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            bases.append(base)
    return bases


def run_nodes(ids: list[int], write_configs: Callable[[dict[int, int]], dict[int, Path]],
              stdin: dict[int, str] | None = None, timeout: float = 90) -> dict[int, subprocess.CompletedProcess[str]]:
    """Start ``mpc node`` for every party (configs written by ``write_configs(base ports)``), wait for
    all; retried with fresh ports when a node found its port taken."""
    for _attempt in range(ATTEMPTS):
        bases = dict(zip(ids, free_base_ports(len(ids), max(ids) + 1), strict=True))
        configs = write_configs(bases)
        procs = {}
        for p in ids:
            args = [sys.executable, "-m", "mpc", "node", "--config", str(configs[p]),
                    "--json", str(configs[p].with_suffix(".json"))]
            if stdin and p in stdin:
                args += ["--jobs", "-"]
            procs[p] = subprocess.Popen(args, env=env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        # every node gets its job lines at once (communicate() one by one would hold the later
        # nodes' stdin until the earlier ones exit)
        with ThreadPoolExecutor(len(procs)) as pool:
            futures = {p: pool.submit(proc.communicate, (stdin or {}).get(p, ""), timeout)
                       for p, proc in procs.items()}
            outputs = {p: f.result() for p, f in futures.items()}
        results = {p: subprocess.CompletedProcess(procs[p].args, procs[p].returncode, *outputs[p]) for p in procs}
        if not any("in use" in (r.stdout + r.stderr).lower() for r in results.values()):
            return results
    return results
