"""A pre-imported fork server for real runs: party processes in a fraction of the start-up time.

Starting a party with ``python -m mpc.app.party`` costs an interpreter plus ~0.2 s of imports (numpy,
asyncio, cryptography, pynng, uvloop) per process, and N parties pay it at once on few cores.
The fork server imports the runtime (and every protocol module) once, then forks one child per
party on request. Children are real OS processes with their own address space, stdin, stdout and
stderr, so the launcher's rendezvous and crash faults work unchanged.

Safety of fork: the server never creates a pynng socket, starts a thread, runs an event loop or
draws randomness, so a child starts from a clean state (nng initializes lazily in the child; the
CSPRNG is keyed from ``os.urandom`` in the child). Requests come over a Unix socket in Linux's
abstract namespace (no file to clean up); each carries the child's three standard streams as file
descriptors.

Lifetime: the server runs in its own process group with every child it forks, and dies with its
launcher (``PR_SET_PDEATHSIG``), as each child dies with the server: SIGKILL of ``mpc run``
leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
from typing import Any

from mpc.app.party import PARENT_ENV, die_with_parent, exit_now

READY = "ready"


# -- the server process -------------------------------------------------------------------
def _preload() -> None:
    import numpy  # noqa: F401
    import uvloop  # noqa: F401

    import mpc.app.party  # noqa: F401
    import mpc.transport.nng  # noqa: F401
    import protocols.api  # noqa: F401  (every protocol: the registry imports some only when a job runs them)
    import protocols.registry  # noqa: F401
    import protocols.secagg.protocol  # noqa: F401
    import protocols.secarray  # noqa: F401


def _child(conn: socket.socket, fds: list[int], server_side: list[Any], server: int) -> None:
    """In the forked child: become a party process (keeping none of the server's descriptors)."""
    code = 1
    try:
        die_with_parent(server)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for obj in server_side:  # listener, wake-up pipe, selector, other children's connections
            with contextlib.suppress(OSError):
                if isinstance(obj, int):
                    os.close(obj)
                else:
                    obj.close()
        conn.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the party reads the rendezvous here
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        from mpc.app.party import party_main

        party_main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # a party's crash is reported through its exit status and stderr
        import traceback

        traceback.print_exc()
    finally:
        exit_now(code)


def serve(path: str) -> None:
    parent = os.environ.get(PARENT_ENV)
    die_with_parent(int(parent) if parent else None)
    _preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(_address(path))
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select through the wakeup fd
    children: dict[int, socket.socket] = {}
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    me = os.getpid()
    print(READY, flush=True)
    while True:
        for key, _ in sel.select(timeout=1.0):
            if key.fileobj is wake_r:
                os.read(wake_r, 512)
                continue
            conn, _ = listener.accept()
            try:
                msg, fds, _, _ = socket.recv_fds(conn, 1024, 3)
            except OSError:
                conn.close()
                continue
            if msg == b"quit":
                for fd in fds:
                    os.close(fd)
                conn.close()
                return
            if len(fds) != 3:
                for fd in fds:
                    os.close(fd)
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                _child(conn, fds, [listener, wake_r, wake_w, sel, *children.values()], me)
            for fd in fds:
                os.close(fd)
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            children[pid] = conn
        while children:  # reap every finished child and tell its launcher how it ended
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid in children:
                status_conn = children.pop(pid)
                with contextlib.suppress(OSError):
                    status_conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
                status_conn.close()


def _address(name: str) -> str:
    return "\0" + name  # Linux abstract namespace


# -- the launcher's side ------------------------------------------------------------------
class ForkedProcess:
    """The parts of ``asyncio.subprocess.Process`` that :mod:`mpc.app.launch` uses."""

    def __init__(self, pid: int, stdin: asyncio.StreamWriter, stdout: asyncio.StreamReader,
                 status: asyncio.StreamReader, transports: list[Any]) -> None:
        # the status connection's writer is kept: a collected StreamWriter closes its socket
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None
        self._status = status
        self._transports = transports

    async def wait(self) -> int:
        if self.returncode is None:
            line = await self._status.readline()
            self.returncode = int(json.loads(line)["exit"]) if line else -signal.SIGKILL
            for t in self._transports:
                t.close()
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


class ForkServer:
    """``with ForkServer() as fs: run_real(scn, spawn=fs.spawn)``; the server process ends on exit."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.path = f"mpc-forkserver-{os.getpid()}-{os.urandom(8).hex()}"  # abstract: no file
        env = {**os.environ, "PYTHONUNBUFFERED": "1", PARENT_ENV: str(os.getpid())}
        self._proc = subprocess.Popen([sys.executable, "-m", "mpc.app.forkserver", self.path],
                                      stdout=subprocess.PIPE, text=True, env=env, process_group=0)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()  # blocks until the imports are done
        if line != READY:
            self.close()
            raise RuntimeError(f"fork server did not start (said {line!r})")

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server and every child it forked (they share its process group; the server is
        not reaped before the signal, so its group id cannot have been reused)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()

    async def spawn(self, stderr: int) -> ForkedProcess:
        """A new party process whose stderr is the file descriptor ``stderr``."""
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(_address(self.path))
            socket.send_fds(sock, [b"spawn"], [in_r, out_w, stderr])
        finally:
            os.close(in_r)
            os.close(out_w)
        sock.setblocking(False)
        status, conn_writer = await asyncio.open_unix_connection(sock=sock)
        line = await status.readline()
        if not line:
            raise RuntimeError("fork server closed the connection")
        pid = int(json.loads(line)["pid"])
        loop = asyncio.get_running_loop()
        stdout = asyncio.StreamReader()
        out_t, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdout), os.fdopen(out_r, "rb", 0))
        in_t, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, os.fdopen(in_w, "wb", 0))
        stdin = asyncio.StreamWriter(in_t, protocol, None, loop)
        return ForkedProcess(pid, stdin, stdout, status, [in_t, out_t, conn_writer])


if __name__ == "__main__":
    serve(sys.argv[1])
