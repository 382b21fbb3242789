"""Real runs: every party is its own OS process talking pynng over loopback.

Rendezvous through the launcher: each party binds its listening sockets on ports the OS picks,
reports them on stdout, and receives the addresses to dial on stdin (see :mod:`mpc.app.party`).
Outcomes come back on stdout in the codec's format (never pickle); nothing is written to disk
unless ``log_dir`` is given. With ``tls``, fresh identities live in a private directory (on
``/dev/shm`` where it exists) only until every party has loaded its own; then it is removed.

Process hygiene. The parties form one process group (a terminal's Ctrl-C reaches only the
launcher, which ends them all with one ``killpg``); each party also dies with the launcher
(``PR_SET_PDEATHSIG``), so even SIGKILL of ``mpc run`` leaves no party behind.

Timeouts (documented in docs/deployment.md):
- start-up: every party must report its listening addresses within ``STARTUP_S`` (+ 0.1 s per
  party); then each node's hello barrier waits ``max(30, timeout_s)`` for its peers;
- watchdog: the whole run may take at most ``max(120, 20 × timeout_s)``; once the first party
  has finished, the others get ``2 × timeout_s + 10`` s more. A party still running then is killed
  and reported (``frozen`` when it was stopped, e.g. by SIGSTOP, else ``Unresponsive``); the
  outcomes of every other party are kept. When every party still running is stopped, the
  watchdog does not wait: they are killed within ``POLL_S``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO, Any

from mpc import codec
from mpc.errors import ConfigError
from mpc.app.party import CRASH_EXIT, PARENT_ENV, run_event_loop
from mpc.app.runner import Outcome, Report, check, neighbors, new_session, node_ids
from mpc.app.scenario import Scenario
from mpc.app.validate import validate

Spawn = Callable[[int], Awaitable[Any]]  # stderr fd -> a process with stdin, stdout, wait, kill, returncode, pid
STARTUP_S = 60.0
POLL_S = 0.5  # how often the watchdog looks for parties that are all stopped
REAP_S = 5.0  # how long the launcher waits for killed parties to be reaped
# a party is one event-loop thread: numpy's BLAS thread pools would only spin up at import and
# compete with the other parties for the cores (the user's environment still wins)
PARTY_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def watchdog_s(scn: Scenario) -> float:
    return max(120.0, 20 * scn.timeout_s)


def settle_s(scn: Scenario) -> float:
    return 2 * scn.timeout_s + 10.0


def progress(text: str) -> None:
    """A one-line status on an interactive terminal (nothing when output is captured)."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\x1b[2K[mpc] {text}")
        sys.stderr.flush()


def _tail(fh: IO[bytes], lines: int = 5) -> str:
    try:
        fh.flush()
        size = os.fstat(fh.fileno()).st_size
        data = os.pread(fh.fileno(), 8192, max(0, size - 8192))
    except (OSError, ValueError):
        return ""
    return " | ".join(data.decode(errors="replace").strip().splitlines()[-lines:])


async def _line(proc: Any, deadline: float, what: str) -> dict[str, Any]:
    line = await asyncio.wait_for(proc.stdout.readline(), max(0.1, deadline - time.monotonic()))
    if not line:
        try:
            code = await asyncio.wait_for(proc.wait(), 5.0)
        except TimeoutError:
            code = None
        how = ("still running with its stdout closed" if code is None else
               f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}")
        raise ConfigError(f"party process {proc.pid} exited during start-up before '{what}' ({how})")
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def _stopped(pid: int) -> bool:
    """Whether the process is stopped (state T in /proc: SIGSTOP, or a debugger)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] in ("T", "t")


class PartyGroup:
    """The started party processes, their stderr and how to end them all at once."""

    def __init__(self, scn: Scenario, log_dir: Path | None) -> None:
        self.scn = scn
        self.log_dir = log_dir
        self.procs: dict[int, Any] = {}
        self.errs: dict[int, IO[bytes]] = {}
        self.pgid: int | None = None
        self.frozen: set[int] = set()

    def stderr_for(self, pid: int) -> IO[bytes]:
        # without a log directory: an unlinked file (nothing to clean up, even after SIGKILL)
        fh: IO[bytes] = ((self.log_dir / f"party-{pid}.log").open("w+b") if self.log_dir is not None
                         else tempfile.TemporaryFile())
        self.errs[pid] = fh
        return fh

    def kill_all(self) -> None:
        """SIGKILL every party still running (a stopped one too)."""
        live = [p for p in self.procs.values() if p.returncode is None]
        if self.pgid is not None and live:  # a live member keeps the group id from being reused
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pgid, signal.SIGKILL)
        for p in live:
            with contextlib.suppress(ProcessLookupError):
                p.kill()

    def tail(self, pid: int) -> str:
        return _tail(self.errs[pid]) if pid in self.errs else ""

    def close(self) -> None:
        for fh in self.errs.values():
            fh.close()


async def _spawn(group: PartyGroup, pid: int, env: dict[str, str], spawn: Spawn | None) -> Any:
    err = group.stderr_for(pid)
    if spawn is not None:  # e.g. mpc.app.forkserver.ForkServer.spawn: the server's process group
        return await spawn(err.fileno())
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mpc.app.party",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err, env=env,
        process_group=0 if group.pgid is None else group.pgid,
    )
    if group.pgid is None:
        group.pgid = proc.pid
    return proc


async def _collect(proc: Any) -> bytes:
    """Everything the party still writes (its outcome line), then its exit."""
    rest = await proc.stdout.read()
    await proc.wait()
    return bytes(rest)


async def _launch(scn: Scenario, group: PartyGroup, tls: bool, spawn: Spawn | None,
                  verbose: int, transport: str | None = None) -> tuple[dict[int, Outcome], float]:
    try:
        return await _start_and_wait(scn, group, tls, spawn, verbose, transport)
    finally:  # done, failed, cancelled or interrupted: end and reap every party while the loop lives
        await _reap(group)


async def _reap(group: PartyGroup) -> None:
    """Kill what still runs, then wait (bounded) so that no child is reaped, and no pipe closed,
    after the event loop is gone (asyncio prints warnings and tracebacks for those)."""
    group.kill_all()
    waits = [asyncio.ensure_future(p.wait()) for p in group.procs.values()]
    if waits:
        await asyncio.wait(waits, timeout=REAP_S)
    for p in group.procs.values():
        stdin = getattr(p, "stdin", None)
        if stdin is not None:
            stdin.close()


async def _start_and_wait(scn: Scenario, group: PartyGroup, tls: bool, spawn: Spawn | None,
                          verbose: int, transport: str | None = None) -> tuple[dict[int, Outcome], float]:
    if scn.path is None:
        raise ConfigError("real runs need a scenario file (the parties load it themselves)")
    ids = node_ids(scn)
    session = new_session()
    doc = _scenario_table(scn.path)
    env = {**PARTY_ENV, **os.environ, "PYTHONUNBUFFERED": "1", PARENT_ENV: str(os.getpid())}
    t0 = time.perf_counter()
    with _identities(ids if tls else ()) as creds:
        for pid in ids:
            proc = group.procs[pid] = await _spawn(group, pid, env, spawn)
            cfg = {"scenario": str(Path(scn.path).resolve()), "party": pid, "parties": list(ids),
                   "session": session.hex(), "tls": creds.get(pid), "verbose": verbose,
                   "transport": transport or scn.transport, "doc": doc}
            proc.stdin.write((json.dumps(cfg) + "\n").encode())
        deadline = time.monotonic() + STARTUP_S + 0.1 * len(ids)
        listening = {pid: (await _line(p, deadline, "listening"))["listening"] for pid, p in group.procs.items()}
        for pid, p in group.procs.items():
            dial = {str(i): listening[i][str(pid)] for i in neighbors(scn, pid, ids) if i < pid}
            p.stdin.write((json.dumps({"dial": dial}) + "\n").encode())
            await p.stdin.drain()
        for p in group.procs.values():
            await _line(p, deadline, "ready")
    progress(f"{len(ids)} parties connecting and running")
    finished = await _wait_all(scn, group)
    elapsed = time.perf_counter() - t0
    if sys.stderr.isatty():
        sys.stderr.write("\r\x1b[2K")
    return {pid: _outcome(group, pid, finished.get(pid)) for pid in ids}, elapsed


def _scenario_table(path: str | Path) -> Any:
    """The scenario file's table as JSON values, for the parties to parse without reading the file
    and loading a TOML parser again; ``None`` (they read the file, and report what is wrong with it)
    when it holds a TOML date or can no longer be read."""
    import tomllib

    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
        json.dumps(doc)
    except (OSError, TypeError, ValueError):  # TypeError: a date; ValueError: not TOML any more
        return None
    return doc


async def _wait_all(scn: Scenario, group: PartyGroup) -> dict[int, bytes]:
    """Each party's last output; the watchdog kills stragglers but keeps everyone else's outcome."""
    tasks = {asyncio.ensure_future(_collect(p)): pid for pid, p in group.procs.items()}
    pending = set(tasks)
    out: dict[int, bytes] = {}
    hard = time.monotonic() + watchdog_s(scn)
    settle = None
    while pending:
        limit = hard if settle is None else min(hard, settle)
        done, pending = await asyncio.wait(pending, timeout=min(POLL_S, max(0.0, limit - time.monotonic())),
                                           return_when=asyncio.FIRST_COMPLETED)
        if not done:
            if time.monotonic() >= limit or (out and all(_stopped(group.procs[tasks[t]].pid) for t in pending)):
                break  # the watchdog; or everyone still running is frozen: nobody is left to wait for
            continue
        for task in done:
            out[tasks[task]] = task.result()
        progress(f"{len(out)}/{len(tasks)} parties finished")
        if settle is None:
            settle = time.monotonic() + settle_s(scn)
    if pending:
        group.frozen = {tasks[t] for t in pending if _stopped(group.procs[tasks[t]].pid)}
        group.kill_all()
        await asyncio.gather(*pending, return_exceptions=True)
    return out


def _outcome(group: PartyGroup, pid: int, rest: bytes | None) -> Outcome:
    proc = group.procs[pid]
    if rest is None:
        if pid in group.frozen:
            return Outcome(status="crashed", message="frozen (stopped); killed by the watchdog")
        return Outcome(status="error", error="Unresponsive", error_kinds=("Unresponsive",),
                       message=f"no result {settle_s(group.scn):g}s after the first party finished; killed")
    if proc.returncode == CRASH_EXIT:
        return Outcome(status="crashed")
    lines = [ln for ln in rest.splitlines() if ln.startswith(b'{"outcome"')]
    if proc.returncode == 0 and lines:
        return _read_outcome(base64.b64decode(json.loads(lines[-1])["outcome"]))
    return Outcome(status="error", error="ProcessFailed", error_kinds=("ProcessFailed",),
                   message=f"exit code {proc.returncode}: {group.tail(pid)}")


def _read_outcome(data: bytes) -> Outcome:
    from protocols.registry import PartyResult

    d = codec.decode(data, codec.Limits(max_message_bytes=1 << 34))
    result = None
    if d["status"] == "ok":
        result = PartyResult(d["output"], d.get("meta") or {})
    return Outcome(status=d["status"], result=result, error=d["error"], error_kinds=tuple(d["error_kinds"]),
                   message=d["message"], protocol_s=d["protocol_s"], stats=d["stats"])


@contextlib.contextmanager
def _identities(ids: tuple[int, ...]) -> Iterator[dict[int, dict[str, str]]]:
    """Fresh TLS identities for one run, removed when every party has loaded its own (or on any exit)."""
    if not ids:
        yield {}
        return
    from mpc.identity import generate

    shm = Path("/dev/shm")  # memory, never a disk, unless TMPDIR says otherwise
    where = None if os.environ.get("TMPDIR") or not (shm.is_dir() and os.access(shm, os.W_OK)) else shm
    tmp = Path(tempfile.mkdtemp(prefix="mpc-keys-", dir=where))
    try:
        creds = generate(tmp, list(ids), days=1)
        yield {pid: {"cert_key_file": c.cert_key_file, "ca_file": c.ca_file} for pid, c in creds.items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_real(scn: Scenario, *, tls: bool = False, spawn: Spawn | None = None,
             log_dir: Path | None = None, verbose: int = 0, transport: str | None = None) -> Report:
    """Run every party of ``scn`` as its own process; ``tls`` gives them fresh mutual-TLS identities;
    ``spawn`` replaces ``python -m mpc.app.party`` (e.g. :meth:`mpc.app.forkserver.ForkServer.spawn`);
    ``log_dir`` keeps each party's log as ``party-<id>.log``; ``transport`` (nng | tcp) overrides the
    scenario's."""
    validate(scn, real=True, identities=tls)
    wall = time.perf_counter()
    group = PartyGroup(scn, log_dir)
    try:
        outcomes, elapsed = asyncio.run(_launch(scn, group, tls, spawn, verbose, transport))
    except (TimeoutError, ConfigError, KeyError, json.JSONDecodeError, OSError) as exc:
        # OSError: a party died early (broken pipe) or could not be spawned
        group.kill_all()
        tails = {pid: group.tail(pid) for pid in group.procs}
        tails = {pid: t for pid, t in tails.items() if t}
        raise ConfigError(f"real run did not complete ({type(exc).__name__}: {exc})"
                          + (f"; stderr: {tails}" if tails else "")) from None
    finally:
        group.kill_all()  # interrupted, failed or done: no party outlives the launcher
        group.close()
    reason = check(scn, outcomes)
    return Report(scn.name, "real", reason is None, reason, outcomes, elapsed, time.perf_counter() - wall)


__all__ = ["CRASH_EXIT", "PARTY_ENV", "run_event_loop", "run_real", "settle_s", "watchdog_s"]
