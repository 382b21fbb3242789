"""Start-up: how long until N local parties (real OS processes) are connected, have run a trivial
computation (a one-element secure sum) and have exited, as ``mpc run`` does it; and where that
time goes: starting the interpreter, importing the runtime, and the rest (rendezvous, connecting,
the hello barrier, the protocol, the close barrier, exit), over each transport. The same runs with parties forked from
:class:`mpc.app.forkserver.ForkServer` (real processes, imports paid once), cold and warm. ``--compare mpyc`` runs MPyC's empty
program (``mpc.start()``, ``mpc.shutdown()``) with the same number of local parties.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from mpc.app.bench._common import BenchConfig, Row, stats
from mpc.app.bench import _mpyc
from mpc.app.forkserver import ForkServer
from mpc.app.bench._scenario import run_scenario

SUITE = "startup"
TRANSPORTS = ("nng", "tcp")
RUNTIME_IMPORTS = "import mpc.app.launch, uvloop"


def trivial(parties: int) -> dict:
    return {"name": f"bench-startup-{parties}", "protocol": "sum", "parties": parties, "sharing": "shamir",
            "inputs": {str(p): [p] for p in range(1, parties + 1)}}


def spawn_all(parties: int, code: str) -> float:
    """Seconds to start ``parties`` interpreters running ``code`` at once and see them all exit."""
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(parties)]
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


def run(cfg: BenchConfig) -> list[Row]:
    rows: list[Row] = []
    repeat = max(3, cfg.repeats()) if not cfg.quick else 1
    for parties in cfg.parties_or((3, 5), (3,)):
        params = {"parties": parties}
        theirs = None
        if "mpyc" in cfg.compare:
            if _mpyc.available() is None:
                runs = [_mpyc.run("startup", parties) for _ in range(repeat)]
                theirs = Row(suite=SUITE, name="mpyc start+shutdown", params=params)
                theirs.set_times([r.elapsed_s for r in runs])
                theirs.extra["ready_s"] = stats([r.ready_s for r in runs])[0]
            else:
                theirs = Row(suite=SUITE, name="mpyc start+shutdown", params=params, skipped=_mpyc.available())
        interp = stats([spawn_all(parties, "pass") for _ in range(repeat)])[0]
        imports = stats([spawn_all(parties, RUNTIME_IMPORTS) for _ in range(repeat)])[0]
        figs: dict[str, list[Any]] = {t: [] for t in TRANSPORTS}
        for _ in range(repeat):  # interleaved, so that load changes hit both transports alike
            for t in TRANSPORTS:
                figs[t].append(run_scenario({**trivial(parties), "transport": t}))
        for t in TRANSPORTS:
            row = Row(suite=SUITE, name="mpc run (subprocess launcher)" + ("" if t == "nng" else f", {t}"),
                      params=params)
            row.set_times([f.elapsed_s for f in figs[t]])
            row.extra.update({
                "interpreters_s": interp,
                "imports_s": imports - interp,
                "protocol_s": stats([f.protocol_s for f in figs[t]])[0],
            })
            rows.append(row)
        rows += _forked(parties, repeat)  # warm: connect + hello + protocol + close + exit, nothing else
        for r in rows:
            if theirs is not None and theirs.skipped is None and r.params == params and not r.name.startswith("mpyc"):
                r.ratios["speedup_vs_mpyc"] = theirs.median_s / r.median_s
        if theirs is not None:
            rows.append(theirs)
    return rows
