"""The accept side of the TCP transport (:mod:`.tcp`): what an accepted connection may cost before
it has proved anything.

Anyone who can reach a party's port can open connections to it. asyncio's TLS server builds, at
accept time, an ``SSLProtocol`` with its own 256 KiB buffer plus OpenSSL's state, before a single
byte arrives; with no cap on their number, a flood of connections that never finish the handshake
held ~256 KiB each. So each listener here accepts plain TCP itself and admits connections in two
bounded stages, oldest dropped first:

- *waiting* (TLS only): accepted, no byte received yet. It costs a socket, a reader and a timer (no
  TLS state): at most :data:`MAX_WAITING` per listener. The first byte (a genuine dialer sends its
  ClientHello at once) moves it on; the kernel still holds that byte for the TLS layer.
- *admitted*: in the TLS handshake (``loop.connect_accepted_socket`` with the server context: the
  upgrade) or, after it, waiting for the party-id hello. Under TLS each holds the TLS buffers:
  at most :data:`MAX_ADMITTED_TLS` per listener (plain: :data:`MAX_WAITING`, 64 bytes each).

A connection over a cap evicts the oldest one of its stage; every connection has
``HANDSHAKE_TIMEOUT_S`` from accept to hello. Both are counted
(``stats.connections_dropped``; the first few and every 1000th logged). The real peer still gets in
during a flood: its dialer sends at once and completes in milliseconds, so it is the youngest in
each stage, and a dialer retries until its deadline. What one listener can be made to hold:
``MAX_WAITING`` sockets plus ``MAX_ADMITTED_TLS`` TLS handshakes (measured in
``tests/test_redteam_tcp.py``).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Protocol

from .tcp_conn import HANDSHAKE_TIMEOUT_S, PairConnection

MAX_WAITING = 64
MAX_ADMITTED_TLS = 8
ACCEPT_PAUSE_S = 0.05  # after a failed accept (out of file descriptors, a reset in the backlog)


class AcceptOwner(Protocol):
    """What an acceptor needs from its transport."""

    @property
    def closing(self) -> bool: ...

    def loop(self) -> asyncio.AbstractEventLoop: ...

    def accepted(self, peer: int) -> PairConnection:
        """A new listener-side connection for ``peer`` (the protocol object)."""

    def forget(self, conn: PairConnection) -> None:
        """``conn`` will never be connected (its TLS handshake failed or it was dropped)."""

    def dropped(self, peer: int, why: str) -> None:
        """An accepted connection was closed before its handshake ended."""


def _handshake_failure(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc} (a dialer from another CA, or plain TCP?)"
    if isinstance(exc, TimeoutError):
        return f"no TLS handshake within {HANDSHAKE_TIMEOUT_S:g}s"
    return ("the dialer closed the connection during the TLS handshake (it did not accept our "
            "certificate, or it is not a party)")


class Acceptor:
    """Accepts the connections of one listening socket, the one for the pair with ``peer``."""

    def __init__(self, owner: AcceptOwner, peer: int, sock: socket.socket, ctx: ssl.SSLContext | None) -> None:
        self.owner = owner
        self.peer = peer
        self.sock = sock
        self.ctx = ctx
        self.waiting: dict[socket.socket, asyncio.TimerHandle] = {}  # oldest first
        self.admitted: dict[object, Callable[[], None]] = {}  # oldest first: key -> how to drop it
        self.max_admitted = MAX_ADMITTED_TLS if ctx is not None else MAX_WAITING
        self._tasks: set[asyncio.Task[None]] = set()
        self._task = owner.loop().create_task(self._accept_loop(), name=f"mpc-accept-{peer}")

    async def _accept_loop(self) -> None:
        loop = self.owner.loop()
        while not self.owner.closing:
            try:
                raw, _ = await loop.sock_accept(self.sock)
            except OSError as exc:
                if self.owner.closing:
                    return
                self.owner.dropped(self.peer, f"accept failed: {exc}")
                await asyncio.sleep(ACCEPT_PAUSE_S)
                continue
            raw.setblocking(False)
            if self.ctx is None:
                self._admit(raw)
            else:
                self._wait_first_byte(raw)

    # -- waiting for the first byte (TLS) -----------------------------------------------
    def _wait_first_byte(self, raw: socket.socket) -> None:
        loop = self.owner.loop()
        self.waiting[raw] = loop.call_later(HANDSHAKE_TIMEOUT_S, self._drop_waiting, raw,
                                            f"no TLS handshake within {HANDSHAKE_TIMEOUT_S:g}s")
        loop.add_reader(raw.fileno(), self._first_byte, raw)
        if len(self.waiting) > MAX_WAITING:
            self._drop_waiting(next(iter(self.waiting)), f"more than {MAX_WAITING} connections "
                               "waiting to start a TLS handshake (the oldest is dropped)")

    def _unwait(self, raw: socket.socket) -> bool:
        timer = self.waiting.pop(raw, None)
        if timer is None:
            return False
        timer.cancel()
        self.owner.loop().remove_reader(raw.fileno())
        return True

    def _drop_waiting(self, raw: socket.socket, why: str) -> None:
        if self._unwait(raw):
            raw.close()
            self.owner.dropped(self.peer, why)

    def _first_byte(self, raw: socket.socket) -> None:
        if self._unwait(raw):
            self._admit(raw)

    # -- admitted: the TLS handshake, then the party-id hello -----------------------------
    def _admit(self, raw: socket.socket) -> None:
        task = self.owner.loop().create_task(self._handshake(raw))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handshake(self, raw: socket.socket) -> None:
        loop = self.owner.loop()
        task = asyncio.current_task()
        assert task is not None
        conn: PairConnection | None = None

        def factory() -> PairConnection:
            nonlocal conn
            conn = self.owner.accepted(self.peer)
            return conn

        def drop() -> None:  # the TLS handshake is cancelled; after it, the connection is aborted
            if conn is not None and conn.transport is not None:
                conn.transport.abort()
            else:
                task.cancel()

        key = object()
        self.admitted[key] = drop
        if len(self.admitted) > self.max_admitted:
            oldest = next(iter(self.admitted))
            self.admitted.pop(oldest)()
            self.owner.dropped(self.peer, f"more than {self.max_admitted} connections in their handshake "
                                          "(the oldest is dropped)")
        try:
            if self.ctx is None:
                await loop.connect_accepted_socket(factory, raw)
            else:
                await loop.connect_accepted_socket(factory, raw, ssl=self.ctx,
                                                   ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
        except asyncio.CancelledError:  # dropped (counted by whoever dropped it), or closing
            self._gone(key, conn)
            return
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            self._gone(key, conn)
            if not self.owner.closing:
                self.owner.dropped(self.peer, _handshake_failure(exc))
            return
        assert conn is not None
        if key not in self.admitted:  # dropped as its handshake completed
            if conn.transport is not None:
                conn.transport.abort()
            return
        # until its hello passes (or it is refused, or times out) it stays admitted
        conn.handshake.add_done_callback(lambda _f: self.admitted.pop(key, None))

    def _gone(self, key: object, conn: PairConnection | None) -> None:
        """The handshake failed or was cancelled (asyncio closed the socket)."""
        self.admitted.pop(key, None)
        if conn is not None:
            self.owner.forget(conn)

    async def close(self) -> None:
        """Stop accepting; close what waits or handshakes (established connections are the owner's)."""
        self._task.cancel()
        for raw in list(self.waiting):
            if self._unwait(raw):
                raw.close()
        for drop in list(self.admitted.values()):
            drop()
        self.admitted.clear()
        await asyncio.gather(self._task, *self._tasks, return_exceptions=True)
