"""Start-up: how long until N local parties (real OS processes) are connected, have run a trivial
computation (a one-element secure sum, opened and checked) and have exited, as ``mpc run`` does it;
and where that time goes: starting the interpreter, importing what a party imports, and the rest
(rendezvous, connecting, the hello barrier, the protocol, the close barrier, exit), over each
transport, with the CPU time every party used. The same runs with parties forked from
:class:`mpc.app.forkserver.ForkServer` (real processes, imports paid once), cold and warm.

``--compare mpyc`` runs MPyC doing the same work with the same number of local parties, each its
own OS process: start, connect, a one-element secure sum opened and checked, shut down, exit
(``mpyc start+sum+shutdown``, the reference of ``speedup_vs_mpyc``); and, for reference, its empty
program (``mpc.start()``, ``mpc.shutdown()``: ``mpyc start+shutdown``, ``speedup_vs_mpyc_empty``).

Like MPyC's installed modules, ours are imported from bytecode (``__pycache__``), as after ``pip
install``: the suite compiles them first when they are not (an environment with
``PYTHONDONTWRITEBYTECODE`` never writes them, and every party would compile every module from
source at every start). ``bytecode_cached`` in each row says whether that worked.
"""

from __future__ import annotations

import compileall
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from mpc.app.bench._common import BenchConfig, Row, stats
from mpc.app.bench import _mpyc
from mpc.app.forkserver import ForkServer
from mpc.app.bench._scenario import run_scenario
from mpc.app.launch import PARTY_ENV

SUITE = "startup"
TRANSPORTS = ("nng", "tcp")
PARTY_IMPORTS = "import mpc.app.party, mpc.transport.{transport}, uvloop"  # what a party of a sum imports
PACKAGES = ("mpc", "protocols", "netsim")
T = TypeVar("T")


def trivial(parties: int) -> dict:
    return {"name": f"bench-startup-{parties}", "protocol": "sum", "parties": parties, "sharing": "shamir",
            "inputs": {str(p): [p] for p in range(1, parties + 1)}}


def compile_runtime() -> bool:
    """Write the runtime's bytecode caches where they are missing or stale (what ``pip install``
    does for an installed package); ``False`` when they could not all be written."""
    import mpc

    root = Path(mpc.__file__).resolve().parent.parent
    return all(compileall.compile_dir(root / pkg, quiet=1) for pkg in PACKAGES)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def with_cpu(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and the CPU seconds its child processes used (every one is reaped before it returns)."""
    before = _children_cpu()
    out = fn()
    return out, _children_cpu() - before


def spawn_all(parties: int, code: str) -> float:
    """Seconds to start ``parties`` interpreters running ``code`` at once (in a party's
    environment) and see them all exit."""
    env = {**PARTY_ENV, **os.environ}
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(parties)]
    for p in procs:
        if p.wait(timeout=60) != 0:
            raise RuntimeError(f"{code!r} failed with exit code {p.returncode}")
    return time.perf_counter() - t


def _forked(parties: int, repeat: int) -> list[Row]:
    """The same runs with parties forked from a pre-imported server (cold: server start included)."""
    cold, warm = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        with ForkServer() as fs:
            started = time.perf_counter() - t
            cold.append(started + run_scenario(trivial(parties), spawn=fs.spawn).elapsed_s)
            warm += [run_scenario(trivial(parties), spawn=fs.spawn).elapsed_s for _ in range(2)]
    return [
        Row(suite=SUITE, name="mpc run (fork server, cold)", params={"parties": parties}).set_times(cold),
        Row(suite=SUITE, name="mpc run (fork server, warm)", params={"parties": parties}).set_times(warm),
    ]


def _mpyc_row(name: str, task: str, n: int, parties: int, repeat: int) -> Row:
    params = {"parties": parties}
    why = _mpyc.available()
    if why is not None:
        return Row(suite=SUITE, name=name, params=params, skipped=why)
    runs = [with_cpu(lambda: _mpyc.run(task, parties, n)) for _ in range(repeat)]
    row = Row(suite=SUITE, name=name, params=params).set_times([r.elapsed_s for r, _ in runs])
    row.extra["ready_s"] = stats([r.ready_s for r, _ in runs])[0]
    row.extra["cpu_per_party_s"] = stats([cpu / parties for _, cpu in runs])[0]
    return row


def _ours(parties: int, repeat: int, cached: bool) -> list[Row]:
    params = {"parties": parties}
    interp = stats([spawn_all(parties, "pass") for _ in range(repeat)])[0]
    runs: dict[str, list[Any]] = {t: [] for t in TRANSPORTS}
    for _ in range(repeat):  # interleaved, so that load changes hit both transports alike
        for t in TRANSPORTS:
            runs[t].append(with_cpu(lambda: run_scenario({**trivial(parties), "transport": t})))
    rows = []
    for t in TRANSPORTS:
        imports = stats([spawn_all(parties, PARTY_IMPORTS.format(transport=t)) for _ in range(repeat)])[0]
        row = Row(suite=SUITE, name="mpc run (subprocess launcher)" + ("" if t == "nng" else f", {t}"),
                  params=params)
        row.set_times([f.elapsed_s for f, _ in runs[t]])
        row.extra.update({
            "interpreters_s": interp,
            "imports_s": imports - interp,
            "protocol_s": stats([f.protocol_s for f, _ in runs[t]])[0],
            "cpu_per_party_s": stats([cpu / parties for _, cpu in runs[t]])[0],
            "bytecode_cached": cached,
        })
        rows.append(row)
    return rows


def run(cfg: BenchConfig) -> list[Row]:
    rows: list[Row] = []
    repeat = max(3, cfg.repeats()) if not cfg.quick else 1
    cached = compile_runtime()
    for parties in cfg.parties_or((3, 5), (3,)):
        params = {"parties": parties}
        theirs: dict[str, Row] = {}
        if "mpyc" in cfg.compare:  # the same work as ours; then MPyC's empty program
            theirs["speedup_vs_mpyc"] = _mpyc_row("mpyc start+sum+shutdown", "sum", 1, parties, repeat)
            if not cfg.quick:
                theirs["speedup_vs_mpyc_empty"] = _mpyc_row("mpyc start+shutdown", "startup", 0, parties, repeat)
        ours = _ours(parties, repeat, cached)
        ours += _forked(parties, repeat)  # warm: connect + hello + protocol + close + exit, nothing else
        for r in ours:
            for ratio, ref in theirs.items():
                if ref.skipped is None:
                    r.ratios[ratio] = ref.median_s / r.median_s
        rows += ours + list(theirs.values())
    return rows
