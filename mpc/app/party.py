"""One party process of a real run (``python -m mpc.app.party``, or forked by the fork server).

Talks to its launcher in JSON lines: reads its configuration and later the addresses to dial on
stdin; writes ``listening``, ``ready`` (credentials loaded, every socket configured) and finally
its ``outcome`` (the codec's bytes, base64) on stdout. Nothing is written to disk: the launcher
keeps no temporary directory. Logs go to stderr, timestamped and tagged with the party id.

The process dies with its launcher (``PR_SET_PDEATHSIG``), also when the launcher is killed with
SIGKILL, and it runs in the launcher's party process group, so one ``killpg`` ends a run.

Start-up: N parties import at once on a few cores, so a party imports only what its job runs (the
protocol registry, transports and TLS diagnostics import the rest on first use; the configuration
line carries the scenario's table as the launcher read it, so the party neither reads the file nor
loads a TOML parser), and it leaves without the interpreter's teardown once its outcome is written
(:func:`exit_now`).
tests/test_startup_imports.py holds the list of what a plain sum must not import.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from mpc import codec
from mpc.app.runner import LOG_FORMAT, Outcome, bound_spec, log_level, neighbors, run_party
from mpc.app.scenario import ProcessFault, Scenario, load, parse
from mpc.message import peek_route
from mpc.transport.base import Transport
from mpc.transport.tcp import new_transport
from mpc.transport.tls import TlsCreds
from netsim.faults import Crash

CRASH_EXIT = 75
FLUSH_BEFORE_FAULT_S = 0.2  # let nng's I/O threads put already-sent messages on the wire
PARENT_ENV = "MPC_LAUNCHER_PID"
T = TypeVar("T")
_PR_SET_PDEATHSIG = 1


def die_with_parent(expected_parent: int | None) -> None:
    """Ask the kernel for SIGKILL when the parent goes (Linux); exit now if it already went."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the launcher's process group still ends us
        return
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)


def _crash_now() -> None:
    time.sleep(FLUSH_BEFORE_FAULT_S)  # blocks the loop: no later send leaves
    os._exit(CRASH_EXIT)


def _freeze_now() -> None:
    time.sleep(FLUSH_BEFORE_FAULT_S)
    os.kill(os.getpid(), signal.SIGSTOP)


FAULT_ACTIONS: dict[str, Callable[[], None]] = {"crash": _crash_now, "freeze": _freeze_now}


class SendCounter:
    """A transport seen through its sends: fires a fault after the k-th message of a round, so a
    party can die between the sends of one broadcast (``sends = k`` in a ``[[faults]]`` entry)."""

    def __init__(self, inner: Transport, tag: str, sends: int, action: Callable[[], None]) -> None:
        self._inner, self._tag, self._left, self._action = inner, tag, sends, action

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def send(self, peer: int, data: bytes) -> None:
        await self._inner.send(peer, data)
        route = peek_route(data)
        if route is not None and self._left > 0 and route[1].rsplit("/", 1)[-1] == self._tag:
            self._left -= 1
            if self._left == 0:
                self._action()


def _counted_fault(scn: Scenario, pid: int) -> ProcessFault | None:
    return next((f for f in scn.faults_of(pid) if isinstance(f, ProcessFault) and f.sends), None)


def party_main() -> None:
    cfg = json.loads(sys.stdin.readline())
    pid, ids = int(cfg["party"]), tuple(cfg["parties"])
    logging.basicConfig(level=log_level(int(cfg.get("verbose", 0))), stream=sys.stderr,
                        format=LOG_FORMAT.format(pid=pid))
    # the launcher has read the file already: its table comes along (no second read, no TOML parser)
    scn = parse(cfg["doc"], cfg["scenario"]) if cfg.get("doc") is not None else load(cfg["scenario"])
    tls = cfg.get("tls")
    creds = TlsCreds(cert_key_file=tls["cert_key_file"], ca_file=tls["ca_file"]) if tls else None
    inner = new_transport(cfg.get("transport") or "nng", pid, tls=creds)
    peers = neighbors(scn, pid, ids)
    bound = inner.bind([p for p in peers if p > pid])
    _say({"listening": {str(k): v for k, v in bound.items()}})
    dial = {int(k): v for k, v in json.loads(sys.stdin.readline())["dial"].items()}
    inner.connect(dial, list(peers))
    # long-term keys, if the job uses them, are read before "ready" too
    spec = bound_spec(scn, pid, Path(tls["ca_file"]).parent if tls else None)
    _say({"ready": True})  # every TLS configuration is loaded: the launcher may delete the keys
    counted = _counted_fault(scn, pid)
    transport: Any = inner
    if counted is not None:
        transport = SendCounter(inner, str(counted.after), int(counted.sends or 0), FAULT_ACTIONS[counted.kind])

    def arm_timed_faults() -> None:  # at_ms counts from the moment every neighbour is connected
        for fault in scn.faults_of(pid):
            if isinstance(fault, Crash | ProcessFault) and fault.at_s is not None:
                action = FAULT_ACTIONS[fault.kind if isinstance(fault, ProcessFault) else "crash"]
                asyncio.get_running_loop().call_later(fault.at_s, action)

    async def main() -> Outcome:
        return await run_party(scn, pid, transport, session=bytes.fromhex(cfg["session"]),
                               on_crash=_crash_now, on_freeze=_freeze_now, parties=ids, on_ready=arm_timed_faults, spec=spec)

    outcome = run_event_loop(main())
    output = outcome.result.output if outcome.result is not None else None
    meta = dict(outcome.result.meta) if outcome.result is not None else {}
    data = codec.encode({
        "status": outcome.status, "output": output, "meta": meta, "error": outcome.error,
        "error_kinds": list(outcome.error_kinds), "message": outcome.message,
        "protocol_s": outcome.protocol_s, "stats": dict(outcome.stats),
    })
    _say({"outcome": base64.b64encode(data).decode()})


def _say(obj: dict[str, Any]) -> None:
    """One line to the launcher, written whole (an event loop may have left the pipe non-blocking)."""
    sys.stdout.flush()
    os.set_blocking(sys.stdout.fileno(), True)
    data = memoryview((json.dumps(obj) + "\n").encode())
    while data:
        data = data[os.write(sys.stdout.fileno(), data):]


def run_event_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on uvloop when it is installed, else on asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    result: T = uvloop.run(coro)
    return result


def exit_now(code: int) -> NoReturn:
    """Leave without the interpreter's teardown (finalizing numpy, asyncio and every module costs
    a party ~30 ms of CPU, paid by N parties at once): the outcome line is already written whole
    (:func:`_say`), the transport is closed, and the logs are flushed here."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def main() -> None:
    parent = os.environ.get(PARENT_ENV)
    die_with_parent(int(parent) if parent else None)
    party_main()
    exit_now(0)


if __name__ == "__main__":
    main()
