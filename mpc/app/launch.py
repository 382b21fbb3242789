"""Real runs: every party is its own OS process talking pynng over loopback.

Rendezvous through the launcher: each party binds its listening sockets on ports the OS picks,
reports them on stdout, and receives the addresses to dial on stdin. Results come back as files
in the codec's format (never pickle). A crash fault ends the party's process abruptly.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mpc import codec
from mpc.errors import ConfigError
from mpc.app.runner import Outcome, Report, check, neighbors, new_session, node_ids, run_party
from mpc.app.scenario import Scenario, load
from mpc.transport.tcp import new_transport

CRASH_EXIT = 75
Spawn = Callable[[int], Awaitable[Any]]  # stderr fd -> a process with stdin, stdout, wait, kill, returncode
FLUSH_BEFORE_CRASH_S = 0.2  # let nng's I/O threads put already-sent messages on the wire


def progress(text: str) -> None:
    """A one-line status on an interactive terminal (nothing when output is captured)."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\x1b[2K[mpc] {text}")
        sys.stderr.flush()


def _stderr_tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


async def _readline(proc: asyncio.subprocess.Process, deadline: float) -> dict:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
    if not line:
        raise ConfigError("party process exited during start-up")
    return json.loads(line)


async def _launch(scn: Scenario, workdir: Path, tls: bool = False, spawn: Spawn | None = None,
                  transport: str | None = None) -> tuple[dict[int, Outcome], float]:
    if scn.path is None:
        raise ConfigError("real runs need a scenario file (the parties load it themselves)")
    ids = node_ids(scn)
    session = new_session()
    tls_dir = None
    if tls:
        from mpc.identity import generate

        tls_dir = workdir / "tls"
        generate(tls_dir, list(ids), days=1)
    procs: dict[int, asyncio.subprocess.Process] = {}
    env = {"OPENBLAS_NUM_THREADS": "1", **os.environ, "PYTHONUNBUFFERED": "1"}  # no BLAS thread pool per party: faster start-up
    t0 = time.perf_counter()
    try:
        for pid in ids:
            with (workdir / f"party-{pid}.err").open("wb") as err:
                if spawn is not None:  # e.g. mpc.app.forkserver.ForkServer.spawn: same streams, no imports
                    procs[pid] = await spawn(err.fileno())  # type: ignore[assignment]
                else:
                    procs[pid] = await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "mpc.app.party",
                        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err, env=env,
                    )
            cfg = {"scenario": str(Path(scn.path).resolve()), "party": pid, "parties": list(ids),
                   "session": session.hex(), "result": str(workdir / f"party-{pid}.out"),
                   "tls_dir": str(tls_dir) if tls_dir else None, "transport": transport or scn.transport}
            procs[pid].stdin.write((json.dumps(cfg) + "\n").encode())  # type: ignore[union-attr]
        deadline = time.monotonic() + 60.0
        listening = {pid: (await _readline(p, deadline))["listening"] for pid, p in procs.items()}
        for pid, p in procs.items():
            dial = {str(i): listening[i][str(pid)] for i in neighbors(scn, pid, ids) if i < pid}
            p.stdin.write((json.dumps({"dial": dial}) + "\n").encode())  # type: ignore[union-attr]
            await p.stdin.drain()  # type: ignore[union-attr]
        progress(f"{len(ids)} parties listening, connecting and running")
        limit = max(120.0, 20 * scn.timeout_s)
        done = 0
        for finished in asyncio.as_completed([p.wait() for p in procs.values()], timeout=limit):
            await finished
            done += 1
            progress(f"{done}/{len(ids)} parties finished")
    except (TimeoutError, ConfigError, KeyError, json.JSONDecodeError, OSError) as exc:
        # OSError: a party died early (broken pipe) or could not be spawned
        for p in procs.values():
            if p.returncode is None:
                p.kill()
        await asyncio.gather(*(p.wait() for p in procs.values()))
        tails = {pid: _stderr_tail(workdir / f"party-{pid}.err") for pid in ids}
        raise ConfigError(f"real run did not complete ({type(exc).__name__}: {exc}); stderr: {tails}") from None
    except BaseException:  # cancelled or interrupted: leave no party process behind
        for p in procs.values():
            if p.returncode is None:
                p.kill()
        raise
    elapsed = time.perf_counter() - t0
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[2K")
    outcomes: dict[int, Outcome] = {}
    for pid, p in procs.items():
        out = workdir / f"party-{pid}.out"
        if p.returncode == CRASH_EXIT:
            outcomes[pid] = Outcome(status="crashed")
        elif p.returncode == 0 and out.exists():
            outcomes[pid] = _read_outcome(out.read_bytes())
        else:
            outcomes[pid] = Outcome(status="error", error="ProcessFailed", error_kinds=("ProcessFailed",),
                                    message=f"exit code {p.returncode}: {_stderr_tail(workdir / f'party-{pid}.err')}")
    return outcomes, elapsed


def _read_outcome(data: bytes) -> Outcome:
    from protocols.registry import PartyResult

    d = codec.decode(data)
    result = None
    if d["status"] == "ok":
        result = PartyResult(d["output"], d.get("meta") or {})
    return Outcome(status=d["status"], result=result, error=d["error"], error_kinds=tuple(d["error_kinds"]),
                   message=d["message"], protocol_s=d["protocol_s"], stats=d["stats"])


def run_real(scn: Scenario, *, tls: bool = False, spawn: Spawn | None = None, transport: str | None = None) -> Report:
    """Run every party of ``scn`` as its own process; ``tls`` gives them fresh mutual-TLS identities;
    ``spawn`` replaces ``python -m mpc.app.party`` (e.g. :meth:`mpc.app.forkserver.ForkServer.spawn`);
    ``transport`` (nng | tcp) overrides the scenario's."""
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mpc-run-") as tmp:
        outcomes, elapsed = asyncio.run(_launch(scn, Path(tmp), tls, spawn, transport))
    reason = check(scn, outcomes)
    return Report(scn.name, "real", reason is None, reason, outcomes, elapsed, time.perf_counter() - wall)


# -- the party process --------------------------------------------------------------------
def _crash_now() -> None:
    time.sleep(FLUSH_BEFORE_CRASH_S)
    os._exit(CRASH_EXIT)


def party_main() -> None:
    cfg = json.loads(sys.stdin.readline())
    scn = load(cfg["scenario"])
    pid, ids = int(cfg["party"]), tuple(cfg["parties"])
    creds = None
    if cfg.get("tls_dir"):
        from mpc.identity import load_creds

        creds = load_creds(cfg["tls_dir"], pid)
    transport = new_transport(cfg.get("transport") or "nng", pid, tls=creds)
    peers = neighbors(scn, pid, ids)
    bound = transport.bind([p for p in peers if p > pid])
    print(json.dumps({"listening": {str(k): v for k, v in bound.items()}}), flush=True)
    dial = {int(k): v for k, v in json.loads(sys.stdin.readline())["dial"].items()}
    transport.connect(dial, list(peers))

    def arm_timed_crashes() -> None:  # at_ms counts from the moment every neighbour is connected
        for fault in scn.faults_of(pid):
            if fault.crash_at_s is not None:
                asyncio.get_running_loop().call_later(fault.crash_at_s, os._exit, CRASH_EXIT)

    async def main() -> Outcome:
        return await run_party(scn, pid, transport, session=bytes.fromhex(cfg["session"]),
                               on_crash=_crash_now, parties=ids, on_ready=arm_timed_crashes)

    outcome = run_event_loop(main())
    output = outcome.result.output if outcome.result is not None else None
    meta = dict(outcome.result.meta) if outcome.result is not None else {}
    Path(cfg["result"]).write_bytes(codec.encode({
        "status": outcome.status, "output": output, "meta": meta, "error": outcome.error,
        "error_kinds": list(outcome.error_kinds), "message": outcome.message,
        "protocol_s": outcome.protocol_s, "stats": dict(outcome.stats),
    }))


def run_event_loop(coro):  # type: ignore[no-untyped-def]
    """Run ``coro`` on uvloop when it is installed, else on asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


__all__ = ["CRASH_EXIT", "party_main", "run_event_loop", "run_real"]
