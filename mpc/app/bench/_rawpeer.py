"""Raw pynng between two OS processes: the physical limit our transport is measured against (and
the same round trip over a plain socket and over our TCP transport).

Run as a script (``python _rawpeer.py``) this file is the far end: a ``Pair0`` socket that echoes
(``E``), swallows (``S``) or acknowledges (``F``) messages; it imports nothing but pynng so that
it starts fast. Imported, :class:`RawPeer` spawns it and measures round trips and throughput.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pynng

ECHO, SINK, FLUSH, ACK, QUIT = b"E", b"S", b"F", b"A", b"Q"
RECV_TIMEOUT_MS = 60_000
IDLE_POLL_MS = 1000


def _serve() -> None:
    parent = os.getppid()
    with pynng.Pair0(recv_max_size=0, recv_timeout=IDLE_POLL_MS, send_timeout=RECV_TIMEOUT_MS) as sock:
        listener = sock.listen("tcp://127.0.0.1:0")
        print(str(listener.local_address).rsplit(":", 1)[1], flush=True)
        while True:
            try:
                data = sock.recv()
            except pynng.Timeout:
                if os.getppid() != parent:  # the measuring process is gone: do not linger
                    return
                continue
            op = data[:1]
            if op == ECHO:
                sock.send(data)
            elif op == FLUSH:
                sock.send(ACK)
            elif op == QUIT:
                return


class RawPeer:
    """A far-end process and a dialled socket to it (``with RawPeer() as peer: ...``)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())], stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None
        port = int(self._proc.stdout.readline())
        self.sock = pynng.Pair0(recv_max_size=0, recv_timeout=RECV_TIMEOUT_MS, send_timeout=RECV_TIMEOUT_MS)
        self.sock.dial(f"tcp://127.0.0.1:{port}", block=True)

    def __enter__(self) -> RawPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.sock.send(QUIT)
        except pynng.NNGException:
            pass
        self.sock.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def round_trip(self, nbytes: int, iters: int) -> float:
        """Mean seconds of one echo of an ``nbytes`` message, over ``iters`` back-to-back echoes."""
        msg = ECHO + bytes(max(0, nbytes - 1))
        self.sock.send(msg)
        self.sock.recv()  # warm the connection
        t = time.perf_counter()
        for _ in range(iters):
            self.sock.send(msg)
            self.sock.recv()
        return (time.perf_counter() - t) / iters

    def stream(self, nbytes: int, count: int) -> float:
        """Seconds to push ``count`` one-way messages of ``nbytes`` and get them acknowledged."""
        msg = SINK + bytes(max(0, nbytes - 1))
        t = time.perf_counter()
        for _ in range(count):
            self.sock.send(msg)
        self.sock.send(FLUSH)
        self.sock.recv()
        return time.perf_counter() - t

    def throughput(self, nbytes: int, total: int = 64 << 20) -> float:
        """Bytes per second moved one way in messages of ``nbytes`` (at least 4 messages)."""
        count = max(4, total // max(1, nbytes))
        return nbytes * count / self.stream(nbytes, count)

    def seconds_to_move(self, total_bytes: int, message_bytes: int, tries: int = 3) -> float:
        """What raw pynng needs to move ``total_bytes`` in ``message_bytes`` messages, one way.

        The best of ``tries`` measurements (of up to 64 MB each): load from other processes only
        slows a transfer down, and this is a bound.
        """
        if total_bytes <= 0:
            return 0.0
        size = max(1, min(message_bytes, total_bytes))
        best = max(self.throughput(size, total=min(total_bytes, 64 << 20)) for _ in range(tries))
        return total_bytes / best


def _serve_tcp() -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    print(srv.getsockname()[1], flush=True)
    conn, _ = srv.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while data := conn.recv(1 << 16):
        conn.sendall(data)


def tcp_round_trip(nbytes: int, iters: int, repeat: int) -> list[float]:
    """Mean seconds of one echo of ``nbytes`` over a plain TCP socket to another process: the OS floor."""
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "tcp"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            msg = bytes(nbytes)
            out = []
            for _ in range(repeat):
                t = time.perf_counter()
                for _ in range(iters):
                    conn.sendall(msg)
                    got = 0
                    while got < nbytes:
                        got += len(conn.recv(nbytes - got))
                out.append((time.perf_counter() - t) / iters)
        return out
    finally:
        proc.wait(timeout=10)


def _serve_transport() -> None:
    """Far end of :func:`transport_round_trip`: party 1 of a TcpTransport pair, echoing until closed."""
    import asyncio

    import uvloop

    from mpc.transport.tcp import TcpTransport

    async def main() -> None:
        t = TcpTransport(1)
        print(t.bind([2])[2], flush=True)
        t.connect({}, [2])
        await t.start(30)
        while True:
            peer, data = await t.recv()
            if data is None:
                break
            await t.send(peer, data)
        await t.close()

    uvloop.run(main())


def transport_round_trip(nbytes: int, iters: int, repeat: int) -> list[float]:
    """Mean seconds of one echo of ``nbytes`` between two processes over our TCP transport (uvloop)."""
    import asyncio

    import uvloop

    from mpc.transport.tcp import TcpTransport

    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "transport"], stdout=subprocess.PIPE,
                            text=True)

    async def main() -> list[float]:
        assert proc.stdout is not None
        t = TcpTransport(2)
        t.connect({1: proc.stdout.readline().strip()}, [1])
        await t.start(30)
        got: asyncio.Queue[bytes | None] = asyncio.Queue()
        t.set_sink(lambda _peer, data: got.put_nowait(data))
        msg = bytes(nbytes)
        out = []
        for _ in range(repeat):
            s = time.perf_counter()
            for _ in range(iters):
                await t.send(1, msg)
                await got.get()
            out.append((time.perf_counter() - s) / iters)
        await t.close()
        return out

    try:
        return uvloop.run(main())
    finally:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    {"tcp": _serve_tcp, "transport": _serve_transport}.get(sys.argv[1] if len(sys.argv) > 1 else "", _serve)()
