"""One connection of the TCP transport (:mod:`.tcp`): the party-id hello after the TLS handshake,
then length-prefixed frames parsed in the event loop's read callback, straight into a reused
buffer (a frame larger than that buffer is read into its own, one copy from the kernel), and writes
into the transport's buffer with a high-water mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Mapping
from typing import Protocol, cast

from ..errors import ProtocolError, TransportError
from .tls import party_name

MAGIC = b"MPCT"
VERSION = 1
HELLO = struct.Struct(">4sBII")  # magic, version, sender id, receiver id
HEADER = struct.Struct(">I")
RECV_BUFFER = 256 * 1024  # frames up to this size are parsed in place, many per read
BIG_CHUNK = 8 * 1024 * 1024  # the first buffer of a larger frame; the next ones double, as bytes arrive
HELLO_BUFFER = 64  # before the hello: anyone may connect, so an idle connection must cost little
HIGH_WATER = 64 << 20  # buffered bytes per connection before a send waits (a round's worth of 10^6)
LOW_WATER = 16 << 20
HANDSHAKE_TIMEOUT_S = 10.0


def _cert_names(cert: Mapping[str, object] | None) -> set[str]:
    """Every name a verified peer certificate carries (CN and DNS subject-alternative names)."""
    if not cert:
        return set()
    names = {v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"}  # type: ignore[attr-defined]
    names |= {v for k, v in cert.get("subjectAltName", ()) if k == "DNS"}  # type: ignore[attr-defined]
    return names


class Owner(Protocol):
    """What a connection needs from its transport."""

    @property
    def party_id(self) -> int: ...

    tls: bool
    max_message_bytes: int

    def loop(self) -> asyncio.AbstractEventLoop: ...

    def adopt(self, conn: PairConnection) -> bool:
        """Make ``conn`` its pair's connection (False: the pair has or had one)."""

    def lost(self, conn: PairConnection) -> None:
        """An established connection went away."""

    def deliver(self, peer: int, data: bytes | None) -> None: ...

    def refused(self, conn: PairConnection, why: str) -> None:
        """A connection was refused (before it carried data)."""

    def rejected(self, err: ProtocolError) -> None:
        """A frame was rejected."""


class PairConnection(asyncio.BufferedProtocol):
    """One side of a pair's connection: the handshake, then frames parsed into a reused buffer."""

    def __init__(self, owner: Owner, peer: int, dialer: bool) -> None:
        self.owner = owner
        self.peer = peer  # the party this connection must lead to
        self.dialer = dialer
        self.transport: asyncio.Transport | None = None
        self.established = False
        self.handshake: asyncio.Future[None] = owner.loop().create_future()
        # the frame buffer is allocated once the hello passed: until then the peer is anyone
        self._buf = bytearray(HELLO_BUFFER)
        self._view = memoryview(self._buf)
        self._start = 0  # unparsed bytes are _buf[_start:_end]
        self._end = 0
        # a frame larger than _buf is read straight into buffers of its own, allocated as its bytes
        # arrive (chunks doubling from BIG_CHUNK): a declared length alone reserves no memory
        self._big: bytearray | None = None
        self._big_pos = 0
        self._big_chunks: list[bytearray] = []
        self._big_need = 0  # the frame's declared length
        self._big_got = 0
        self._skip = 0  # bytes of a rejected frame still to discard
        self._paused = False
        self._drained: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._names: set[str] = set()  # the verified certificate's names (TLS only)

    # -- asyncio callbacks ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=HIGH_WATER, low=LOW_WATER)
        if self.owner.tls and not self._certificate_names(self.peer if self.dialer else None):
            return
        if self.dialer:
            transport.write(HELLO.pack(MAGIC, VERSION, self.owner.party_id, self.peer))
        self._timer = self.owner.loop().call_later(HANDSHAKE_TIMEOUT_S, self._handshake_timeout)

    def _certificate_names(self, expected: int | None) -> bool:
        assert self.transport is not None
        names = _cert_names(self.transport.get_extra_info("peercert"))
        self._names = names
        if expected is not None and party_name(expected) not in names:
            self._reject(f"certificate does not name {party_name(expected)}")
            return False
        return True

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._big is not None:
            return memoryview(self._big)[self._big_pos:]
        if self._skip:
            return self._view[: min(self._skip, RECV_BUFFER)]  # scratch: discarded bytes
        if self._end == len(self._buf):
            self._compact()
        return self._view[self._end:]

    def buffer_updated(self, nbytes: int) -> None:
        if self._big is not None:
            self._big_pos += nbytes
            self._big_got += nbytes
            if self._big_pos == len(self._big):
                if self._big_got < self._big_need:  # the next chunk: at most what was received so far
                    self._big_chunks.append(self._big)
                    self._big = bytearray(min(self._big_need - self._big_got, max(BIG_CHUNK, self._big_got)))
                    self._big_pos = 0
                    return
                chunks, self._big = [*self._big_chunks, self._big], None
                self._big_chunks = []
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                self.owner.deliver(self.peer, data)  # type: ignore[arg-type]  # bytes-like, handed off
            return
        if self._skip:
            self._skip -= nbytes
            return
        self._end += nbytes
        if not self.established:
            if not self._read_hello():
                return
        self._parse()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if not self.handshake.done():
            self.handshake.set_exception(TransportError(
                f"party {self.owner.party_id}: connection to {self.peer} closed during the handshake"))
            self.handshake.exception()  # retrieved: a rejected listener-side connection has no waiter
        self._wake_writer()
        if self.established:
            self.owner.lost(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake_writer()

    # -- handshake ------------------------------------------------------------------------
    def _read_hello(self) -> bool:
        if self._end - self._start < HELLO.size:
            return False
        magic, version, sender, receiver = HELLO.unpack_from(self._buf, self._start)
        self._start += HELLO.size
        me = self.owner.party_id
        if magic != MAGIC or version != VERSION:
            self._reject("not a party of this runtime (bad hello)")
            return False
        if receiver != me or sender != self.peer:
            self._reject(f"hello from {sender} to {receiver} on the connection of pair ({me}, {self.peer})")
            return False
        if self.owner.tls and party_name(sender) not in self._names:
            self._reject(f"claims to be party {sender} but its certificate names {sorted(self._names)}")
            return False
        if not self.dialer and not self.owner.adopt(self):
            self._reject("a second connection for an established pair")
            return False
        if not self.dialer:
            assert self.transport is not None
            self.transport.write(HELLO.pack(MAGIC, VERSION, me, sender))
        else:
            self.owner.adopt(self)
        self.established = True
        rest = self._end - self._start  # bytes after the hello, in the same read
        buf = bytearray(RECV_BUFFER)
        buf[:rest] = self._view[self._start:self._end]
        self._buf, self._view, self._start, self._end = buf, memoryview(buf), 0, rest
        if self._timer is not None:
            self._timer.cancel()
        if not self.handshake.done():
            self.handshake.set_result(None)
        return True

    def _handshake_timeout(self) -> None:
        if not self.established:
            self._reject(f"no hello within {HANDSHAKE_TIMEOUT_S:g}s")

    def _reject(self, why: str) -> None:
        self.owner.refused(self, why)
        if not self.handshake.done():
            self.handshake.set_exception(TransportError(
                f"party {self.owner.party_id}: connection to {self.peer} rejected: {why}"))
            self.handshake.exception()
        if self.transport is not None:
            self.transport.abort()

    # -- frames ---------------------------------------------------------------------------
    def _parse(self) -> None:
        buf, view, limit = self._buf, self._view, self.owner.max_message_bytes
        start, end = self._start, self._end
        deliver, peer = self.owner.deliver, self.peer
        while end - start >= 4:
            (n,) = HEADER.unpack_from(buf, start)
            body = start + 4
            if n > limit:
                self.owner.rejected(ProtocolError(
                    f"frame of {n} bytes rejected (allowed up to {limit})", peer=peer))
                take = min(n, end - body)
                start = body + take
                self._skip = n - take
                if self._skip:
                    break
                continue
            if end - body >= n:
                start = body + n
                deliver(peer, view[body:start].tobytes())
                continue
            if n > RECV_BUFFER - 4:  # will not fit: dedicated buffers, filled by the socket directly
                have = end - body
                big = bytearray(min(n, max(BIG_CHUNK, have)))
                big[:have] = view[body:end]
                self._big, self._big_pos, self._big_need, self._big_got = big, have, n, have
                start = end
            break
        if start == end:
            self._start = self._end = 0
        else:
            self._start = start
            if RECV_BUFFER - end < 4096:
                self._compact()

    def _compact(self) -> None:
        n = self._end - self._start
        self._buf[:n] = self._view[self._start:self._end]
        self._start, self._end = 0, n

    # -- sending --------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        assert self.transport is not None
        n = len(data)
        if n <= 65536:
            self.transport.write(HEADER.pack(n) + data)
        else:
            self.transport.writelines((HEADER.pack(n), data))

    @property
    def paused(self) -> bool:
        return self._paused

    async def drain(self, timeout: float) -> None:
        if not self._paused:
            return
        if self._drained is None or self._drained.done():
            self._drained = self.owner.loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._drained)
        except TimeoutError:
            raise TransportError(f"party {self.owner.party_id}: send to {self.peer} timed out") from None
        if self.transport is None or self.transport.is_closing():
            raise TransportError(f"party {self.owner.party_id}: peer {self.peer} went down during a send")

    def _wake_writer(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)


__all__ = ["HANDSHAKE_TIMEOUT_S", "HEADER", "HELLO", "MAGIC", "RECV_BUFFER", "VERSION", "Owner", "PairConnection"]
