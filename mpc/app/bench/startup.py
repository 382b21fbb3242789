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


def _interleaved(parties: int, repeat: int, mpyc: dict[str, tuple[str, int]]) -> dict[str, list[Any]]:
    """``repeat`` rounds, each running every variant once (ours over each transport, then MPyC's
    tasks), so that a change of machine load during the suite hits every row alike. Each entry: a
    (figures, CPU seconds of all parties) pair."""
    runs: dict[str, list[Any]] = {key: [] for key in (*TRANSPORTS, *mpyc)}
    for _ in range(repeat):
        for t in TRANSPORTS:
            runs[t].append(with_cpu(lambda: run_scenario({**trivial(parties), "transport": t})))
        for key, (task, n) in mpyc.items():
            runs[key].append(with_cpu(lambda: _mpyc.run(task, parties, n)))
    return runs


def _ours(parties: int, repeat: int, runs: dict[str, list[Any]], cached: bool) -> list[Row]:
    params = {"parties": parties}
    interp = stats([spawn_all(parties, "pass") for _ in range(repeat)])[0]
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


def _theirs(parties: int, name: str, runs: list[Any]) -> Row:
    row = Row(suite=SUITE, name=name, params={"parties": parties}).set_times([r.elapsed_s for r, _ in runs])
    row.extra["ready_s"] = stats([r.ready_s for r, _ in runs])[0]
    row.extra["cpu_per_party_s"] = stats([cpu / parties for _, cpu in runs])[0]
    return row


def run(cfg: BenchConfig) -> list[Row]:
    rows: list[Row] = []
    repeat = max(3, cfg.repeats()) if not cfg.quick else 1
    cached = compile_runtime()
    # ratio -> (MPyC row, its task): the same work as ours first; then its empty program
    reference = {"speedup_vs_mpyc": ("mpyc start+sum+shutdown", "sum", 1),
                 "speedup_vs_mpyc_empty": ("mpyc start+shutdown", "startup", 0)}
    if cfg.quick:
        reference.pop("speedup_vs_mpyc_empty")
    compare = "mpyc" in cfg.compare
    missing = _mpyc.available() if compare else None
    for parties in cfg.parties_or((3, 5), (3,)):
        mpyc = {ratio: (task, n) for ratio, (_, task, n) in reference.items()} if compare and missing is None else {}
        runs = _interleaved(parties, repeat, mpyc)
        ours = _ours(parties, repeat, runs, cached)
        ours += _forked(parties, repeat)  # warm: connect + hello + protocol + close + exit, nothing else
        theirs: list[Row] = []
        for ratio, (name, _, _) in reference.items() if compare else ():
            if missing is not None:
                theirs.append(Row(suite=SUITE, name=name, params={"parties": parties}, skipped=missing))
                continue
            theirs.append(_theirs(parties, name, runs[ratio]))
            for r in ours:
                r.ratios[ratio] = theirs[-1].median_s / r.median_s
        rows += ours + theirs
    return rows
