"""``--compare mpyc``: run the equivalent MPyC program as m local parties, each its own OS process.

MPyC's own ``-M m`` launcher spawns parties on fixed ports (11365 + i), which collide when two
benchmarks share a machine, so we start every party ourselves with ``-M m -I i -B base`` on a
free port range, ``--no-log``. Figures: the slowest party's protocol time (its own clock, from
after ``mpc.start()`` to the opened output), and the launcher's spawn-to-exit wall time.
"""

from __future__ import annotations

import importlib.util
import json
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

from mpc.app.bench._common import Skipped

PROGRAM = Path(__file__).with_name("_mpyc_program.py")
TIMEOUT_S = 300.0


def available() -> str | None:
    """``None`` when MPyC is importable, else why not."""
    if importlib.util.find_spec("mpyc") is None:
        return "MPyC is not installed (pip install 'mpc-runtime[compare]')"
    return None


def require() -> None:
    why = available()
    if why:
        raise Skipped(why)


def _free_base(m: int) -> int:
    for _ in range(200):
        base = random.randrange(20000, 60000 - m)
        socks = []
        try:
            for i in range(m):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range for MPyC parties")


@dataclass(slots=True, kw_only=True)
class MpycRun:
    protocol_s: float  # slowest party
    elapsed_s: float  # first spawn → last exit
    ready_s: float  # first spawn → last party connected
    extra: dict[str, Any] = field(default_factory=dict)  # task-specific figures of party 0


def run(task: str, parties: int, n: int = 0, timeout: float = TIMEOUT_S) -> MpycRun:
    """Run one MPyC computation with ``parties`` local parties; raises if any party's check fails."""
    require()
    base = _free_base(parties)
    procs = []
    t0_wall, t0 = time.time(), time.perf_counter()
    for i in range(parties):
        cmd = [sys.executable, str(PROGRAM), "-M", str(parties), "-I", str(i), "-B", str(base), "--no-log", task, str(n)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            if p.returncode != 0 or not out.strip():
                raise RuntimeError(f"MPyC party exited with {p.returncode}: {err.strip()[-300:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    elapsed = time.perf_counter() - t0
    if not all(r["ok"] for r in results):
        raise RuntimeError(f"MPyC {task} {n} with {parties} parties opened a wrong result")
    return MpycRun(protocol_s=max(r["protocol_s"] for r in results), elapsed_s=elapsed,
                   ready_s=max(r["ready"] for r in results) - t0_wall,
                   extra={k: v for k, v in results[0].items() if k not in ("pid", "ready", "protocol_s", "ok")})


__all__ = ["MpycRun", "available", "require", "run"]
