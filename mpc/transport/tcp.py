"""asyncio TCP transport (uvloop when the loop is uvloop): one connection per party pair, the lower
id listens and the higher id dials (the pynng transport's addressing: party i listens for peer j on
``base_port + j``), length-prefixed frames, optional mutual TLS with pinned party identities.

Why a second transport: pynng moves each received message across nng's poller thread, a task
thread and a pollable pipe, and each send is a syscall plus a futex wake. Here a frame is parsed in
the event loop's own read callback and handed straight to the node's ingress (no task, no queue),
and a send is a write into the connection's buffer; only above a high-water mark does it wait.

Wire format (one connection: :mod:`.tcp_conn`), after the TLS handshake if any: the dialer sends ``HELLO`` (magic, version, its id,
the id it means to reach); the listener checks it (and, under TLS, that the certificate names that
party) and answers with its own ``HELLO``; the dialer checks that the answer names the peer it
dialed (and, under TLS, the listener's certificate). Then frames: a 4-byte big-endian length and
that many bytes. An oversized frame is rejected here (its bytes are skipped as they stream in, so
the connection stays in step and the pair stays up); everything else, an empty frame included, is
handed over unread, for the node to reject what does not decode.

Peer down: reported once (:data:`PEER_DOWN`) when the established connection of a pair goes away.
A rejected connection (bad hello, wrong certificate, a second connection for an established pair)
is closed without touching the established one. ``start`` waits for every pair and, at its deadline,
raises :class:`TransportError` saying per missing peer what happened, as the pynng transport does.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import ConfigError, ProtocolError, TransportError
from .base import PEER_DOWN, Endpoint
from .base import pair_port
from .tcp_accept import Acceptor
from .tcp_conn import PairConnection
from .tls import TlsCreds, party_name

if TYPE_CHECKING:  # pynng is imported only when a run chooses it
    from .nng import NngTransport

log = logging.getLogger("mpc.transport.tcp")

DIAL_BACKOFF_S = (0.005, 0.25)  # first and largest pause between dial attempts
MAX_REJECTED = 32
MAX_NOTES = 6


def _host_port(address: str) -> tuple[str, int]:
    """``tcp://host:port``, ``tls+tcp://host:port`` or ``host:port``."""
    rest = address.split("://", 1)[-1]
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"bad address {address!r}: expected tcp://host:port")
    return host.strip("[]") or "127.0.0.1", int(port)


class TcpTransport(Endpoint):
    """Same constructor, ``bind``/``connect``, ``start``/``send``/``recv``/``close`` and stats as
    :class:`mpc.transport.nng.NngTransport`; ``set_sink`` delivers straight into the node."""

    immediate_send = True  # send only suspends above the high-water mark: the node needs no task per peer

    def __init__(
        self,
        party_id: int,
        peers: Mapping[int, str] | None = None,
        *,
        host: str = "127.0.0.1",
        send_timeout: float = 30.0,
        max_message_bytes: int = 1 << 30,
        tls: TlsCreds | None = None,
    ) -> None:
        if not 0 < max_message_bytes < 1 << 32:
            raise ConfigError("max_message_bytes must be in 1..2^32-1 (a 4-byte frame length)")
        self._setup_endpoint(party_id, peers)
        self._host = host
        self._send_timeout = send_timeout
        self.max_message_bytes = max_message_bytes
        self.tls = tls is not None
        self._tls = tls
        # loaded now: a launcher may delete the key files once the party has been configured
        self._server_ctx, self._client_ctx = self._ssl_context(True), self._ssl_context(False)
        self._listening: dict[int, socket.socket] = {}  # peer -> listening socket (lower id side)
        self._listen_addr: dict[int, str] = {}
        self._dial: dict[int, tuple[str, int]] = {}  # peer -> address (higher id side)
        self._acceptors: list[Acceptor] = []  # one per listening socket (the bounded accept path)
        self._conns: dict[int, PairConnection] = {}  # established, one per peer
        self._pending: dict[PairConnection, None] = {}  # accepted, handshaking
        self._arrived: dict[int, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._closing = False
        self._down_reported: set[int] = set()
        self._notes: dict[int, list[str]] = {}  # per peer: what went wrong while connecting
        self.rejected_errors: list[ProtocolError] = []  # the last few rejected frames and connections
        self.rejected_count = 0

    # -- set-up -------------------------------------------------------------------------
    def _listen_socket(self, host: str, port: int) -> socket.socket:
        try:
            sock = socket.create_server((host, port), reuse_port=False, backlog=16)
        except OSError as exc:
            raise TransportError(f"party {self.party_id}: cannot listen on {host}:{port}: {exc}") from exc
        sock.setblocking(False)
        return sock

    def _address(self, host: str, port: int) -> str:
        return f"{'tls+tcp' if self._tls else 'tcp'}://{host}:{port}"

    def bind(self, higher_peers: list[int]) -> dict[int, str]:
        """Listen (on OS-chosen ports) for every higher-id peer; returns ``{peer: address}``."""
        for peer in higher_peers:
            sock = self._listening[peer] = self._listen_socket(self._host, 0)
            self._listen_addr[peer] = self._address(self._host, sock.getsockname()[1])
        return dict(self._listen_addr)

    def connect(self, dial: Mapping[int, str], all_peers: list[int]) -> None:
        """Record where to dial every lower-id peer; ``start`` dials (retrying until its deadline)."""
        self._peers = tuple(sorted(all_peers))
        for peer, addr in dial.items():
            self._dial[peer] = _host_port(addr)
        missing = [p for p in self.peers if p not in self._listening and p not in self._dial]
        if missing:
            raise ConfigError(f"party {self.party_id}: no address for peers {missing}")

    def _setup_static(self) -> None:
        assert self._static is not None
        host, port = _host_port(self._static[self.party_id])
        for peer in self.peers:
            if peer > self.party_id:
                self._listening[peer] = self._listen_socket(host, pair_port(port, peer))
                self._listen_addr[peer] = self._address(host, pair_port(port, peer))
            else:
                phost, pport = _host_port(self._static[peer])
                self._dial[peer] = (phost, pair_port(pport, self.party_id))

    def _ssl_context(self, server: bool) -> ssl.SSLContext | None:
        if self._tls is None:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        try:
            ctx.load_cert_chain(self._tls.cert_key_file)
            ctx.load_verify_locations(self._tls.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"party {self.party_id}: cannot load TLS identity: {exc}") from exc
        ctx.verify_mode = ssl.CERT_REQUIRED  # the listener requires a client certificate too
        return ctx

    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    async def start(self, timeout: float) -> None:
        """Listen, dial, and wait until every peer's connection has passed the handshake; at the
        deadline raise a :class:`TransportError` saying, per missing peer, what happened. A second
        call (a node given an already started transport) returns at once."""
        if self._started:
            return
        self._started = True
        loop = self.loop()
        if self._static is not None and not self._listening and not self._dial:
            self._setup_static()
        deadline = loop.time() + timeout
        server_ctx, client_ctx = self._server_ctx, self._client_ctx
        for peer in self.peers:
            self._arrived.setdefault(peer, asyncio.Event())
        for peer, sock in self._listening.items():  # plain TCP accepts; TLS is started per connection
            self._acceptors.append(Acceptor(self, peer, sock, server_ctx))
        try:
            async with asyncio.timeout_at(deadline):
                dials = [self._dial_until_up(p, a, client_ctx, deadline) for p, a in self._dial.items()]
                await asyncio.gather(*dials, *(self._arrived[p].wait() for p in self._listening))
        except TimeoutError:
            pass
        except BaseException:
            await self.close()
            raise
        missing = [p for p in self.peers if p not in self._conns]
        if missing:
            await self.close()
            raise TransportError(f"party {self.party_id}: no connection within {timeout:g}s to "
                                 + "; ".join(self._why_missing(p) for p in missing))

    def _why_missing(self, peer: int) -> str:
        if peer in self._dial:
            host, port = self._dial[peer]
            where = f"party {peer}: dialing {self._address(host, port)}"
        else:
            where = f"party {peer}: listening on {self._listen_addr.get(peer, '?')}"
        notes = self._notes.get(peer) or ["no connection from it arrived" if peer not in self._dial else "no answer"]
        return f"{where}: {', then '.join(notes[-3:])}"

    def _note(self, peer: int, text: str) -> None:
        notes = self._notes.setdefault(peer, [])
        if not notes or notes[-1] != text:
            notes.append(text)
            del notes[:-MAX_NOTES]

    # -- the accept path (mpc.transport.tcp_accept) --------------------------------------
    @property
    def closing(self) -> bool:
        return self._closing

    def accepted(self, peer: int) -> PairConnection:
        conn = PairConnection(self, peer, dialer=False)
        self._pending[conn] = None
        conn.handshake.add_done_callback(lambda _f: self._pending.pop(conn, None))
        return conn

    def forget(self, conn: PairConnection) -> None:
        self._pending.pop(conn, None)

    def dropped(self, peer: int, why: str) -> None:
        self._stats.connections_dropped += 1
        self._note(peer, f"dropped a connection for party {peer}: {why}")
        self.rejected(ProtocolError(f"connection dropped: {why}", peer=peer))

    async def _dial_until_up(self, peer: int, addr: tuple[str, int], ctx: ssl.SSLContext | None,
                             deadline: float) -> None:
        loop = self.loop()
        pause = DIAL_BACKOFF_S[0]
        while True:
            try:
                _, conn = await loop.create_connection(
                    lambda: PairConnection(self, peer, dialer=True), *addr, ssl=ctx,
                    server_hostname=f"party-{peer}" if ctx else None,
                )
                await conn.handshake
                return
            except ssl.SSLCertVerificationError as exc:
                # the listener is not the party we mean to reach: no retry makes it so
                self._note(peer, f"TLS handshake failed on our side: {exc.verify_message} (the listener's "
                                 f"certificate is not from our CA or does not name {party_name(peer)})")
                return
            except ssl.SSLError as exc:
                self._note(peer, f"TLS handshake failed ({exc.reason}: a TLS/plain TCP mismatch, or another CA?)")
            except ConnectionRefusedError:
                self._note(peer, f"connection refused (nothing listens there: is party {peer} running, "
                                 "with this address?)")
            except (OSError, TransportError) as exc:
                self._note(peer, str(exc) or type(exc).__name__)
            if loop.time() + pause >= deadline:
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, DIAL_BACKOFF_S[1])

    def adopt(self, conn: PairConnection) -> bool:
        """Make ``conn`` the pair's connection unless it already has one (or had one)."""
        if self._closing or conn.peer in self._conns or conn.peer in self._down_reported:
            return False
        self._conns[conn.peer] = conn
        self._arrived[conn.peer].set()
        return True

    def lost(self, conn: PairConnection) -> None:
        if self._conns.get(conn.peer) is conn and not self._closing and conn.peer not in self._down_reported:
            self._down_reported.add(conn.peer)
            self.deliver(conn.peer, PEER_DOWN)

    def refused(self, conn: PairConnection, why: str) -> None:
        self._stats.connections_refused += 1
        self._note(conn.peer, f"refused a connection {'to' if conn.dialer else 'for'} party {conn.peer}: {why}")
        self.rejected(ProtocolError(f"connection rejected: {why}", peer=conn.peer))

    def rejected(self, err: ProtocolError) -> None:
        self.rejected_count += 1
        self.rejected_errors = [*self.rejected_errors[-(MAX_REJECTED - 1):], err]
        # anyone can open connections to be refused: a stream of them is not a log flood
        if self.rejected_count <= MAX_REJECTED or self.rejected_count % 1000 == 0:
            log.warning("party %d: %s (%d so far)", self.party_id, err, self.rejected_count)

    # -- data path ----------------------------------------------------------------------
    def deliver(self, peer: int, data: bytes | None) -> None:
        if data is not None:
            stats = self._stats
            stats.messages_received += 1
            stats.bytes_received += len(data)
        sink = self._sink
        if sink is not None:  # Endpoint._put, one call less per message
            sink(peer, data)
        else:
            self._queue.put_nowait((peer, data))

    def try_send(self, peer: int, data: bytes) -> bool:
        """Write ``data`` into the connection's buffer (see :class:`~mpc.transport.base.TrySend`):
        False, writing nothing, once the buffer is above its high-water mark."""
        conn = self._writable(peer, data)
        if conn.paused:
            return False
        conn.write(data)
        self._stats.messages_sent += 1
        self._stats.bytes_sent += len(data)
        return True

    def _writable(self, peer: int, data: bytes) -> PairConnection:
        conn = self._conns.get(peer)
        if conn is None or conn.transport is None:
            if peer not in self._peers:
                raise TransportError(f"party {self.party_id}: unknown peer {peer}")
            raise TransportError(f"party {self.party_id}: no connection to party {peer}")
        if self._closing:
            raise TransportError(f"party {self.party_id}: transport closed")
        if peer in self._down_reported or conn.transport.is_closing():
            raise TransportError(f"party {self.party_id}: peer {peer} is down")
        if len(data) > self.max_message_bytes:
            raise TransportError(f"party {self.party_id}: message of {len(data)} bytes, more than "
                                 f"{self.max_message_bytes}")
        return conn

    async def send(self, peer: int, data: bytes) -> None:
        conn = self._writable(peer, data)
        conn.write(data)
        self._stats.messages_sent += 1
        self._stats.bytes_sent += len(data)
        if conn.paused:  # above the high-water mark: only now does a send wait
            await conn.drain(self._send_timeout)

    async def close(self) -> None:
        """Close listeners and connections; data already written is flushed by the OS."""
        self._closing = True
        acceptors, self._acceptors = self._acceptors, []
        for acceptor in acceptors:
            await acceptor.close()
        for sock in self._listening.values():
            sock.close()
        for conn in [*self._conns.values(), *self._pending]:
            if conn.transport is not None:
                conn.transport.close()  # flushes the write buffer first
        await asyncio.sleep(0)  # let the loop run the close callbacks


TRANSPORT_KINDS = ("nng", "tcp")


def new_transport(kind: str, party_id: int, peers: Mapping[int, str] | None = None, *,
                  tls: TlsCreds | None = None, max_message_bytes: int = 1 << 30) -> NngTransport | TcpTransport:
    """The transport a run chose by name (``--transport``, a scenario's ``transport``, Node's
    ``transport_kind``): ``nng`` (the default) or ``tcp``."""
    if kind == "tcp":
        return TcpTransport(party_id, peers, tls=tls, max_message_bytes=max_message_bytes)
    if kind == "nng":
        from .nng import NngTransport

        return NngTransport(party_id, peers, tls=tls, max_message_bytes=max_message_bytes)
    raise ConfigError(f"transport must be one of {', '.join(TRANSPORT_KINDS)}, got {kind!r}")


__all__ = ["TRANSPORT_KINDS", "TcpTransport", "new_transport"]
