"""pynng transport: one ``Pair0`` socket per party pair; the lower id listens, the higher id dials.

Connection set-up is retried by nng in the background until ``start``'s deadline; a removed
pipe (closed or killed peer) is reported as :data:`PEER_DOWN` after a short grace period, so that
data the peer sent before it went away is read first — unless a new pipe to that peer came up
meanwhile (a restarted peer redials, or is redialled): then the peer is simply up again, and
sends to it work again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

import pynng

from ..errors import ConfigError, TransportError
from .base import PEER_DOWN, Sink, TransportStats

DOWN_GRACE_S = 0.25
READ_BATCH = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsCreds:
    """PEM material for mutual TLS (``tls+tcp://`` addresses)."""

    cert_key_file: str  # this party's certificate followed by its private key
    ca_file: str  # the CA that signed every party's certificate


def pair_port(base_port: int, peer: int) -> int:
    """Static deployments: party i listens for peer j (j > i) on ``base_port + j``."""
    return base_port + peer


def _port_of(listener: pynng.Listener) -> int:
    # pynng's SockAddr.port is byte-swapped on little-endian hosts; its str() is right.
    return int(str(listener.local_address).rsplit(":", 1)[1])


class NngTransport:
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
        self.party_id = party_id
        self._host = host
        self._send_timeout_ms = int(send_timeout * 1000)
        self._max = max_message_bytes
        self._tls = tls
        self._scheme = "tls+tcp" if tls else "tcp"
        self._sockets: dict[int, pynng.Pair0] = {}
        self._listen_addr: dict[int, str] = {}
        self._queue: asyncio.Queue[tuple[int, bytes | None]] = asyncio.Queue()
        self._sink: Sink | None = None
        self._reader_fds: list[int] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._down_reported: set[int] = set()
        self._down_events: dict[int, asyncio.Event] = {}  # wakes sends stuck on a vanished peer
        self._pipes: dict[int, int] = {}  # open pipes per peer (a restarted peer brings a new one)
        self.stats = TransportStats()
        self.peers: tuple[int, ...] = ()
        self._static = dict(peers) if peers is not None else None
        if self._static is not None:
            self.peers = tuple(sorted(p for p in self._static if p != party_id))

    # -- set-up -------------------------------------------------------------------------
    def _new_socket(self, peer: int, server: bool) -> pynng.Pair0:
        sock = pynng.Pair0(recv_max_size=self._max, send_timeout=self._send_timeout_ms)
        if self._tls is not None:
            # the dialer checks that the listener is the party it meant to reach
            sock.tls_config = pynng.TLSConfig(
                pynng.TLSConfig.MODE_SERVER if server else pynng.TLSConfig.MODE_CLIENT,
                server_name=None if server else f"party-{peer}",
                ca_files=[self._tls.ca_file],
                cert_key_file=self._tls.cert_key_file,
                auth_mode=pynng.TLSConfig.AUTH_MODE_REQUIRED,
            )
        return sock

    def bind(self, higher_peers: list[int]) -> dict[int, str]:
        """Listen (on OS-chosen ports) for every higher-id peer; returns ``{peer: address}``."""
        for peer in higher_peers:
            sock = self._new_socket(peer, server=True)
            listener = sock.listen(f"{self._scheme}://{self._host}:0")
            self._sockets[peer] = sock
            self._listen_addr[peer] = f"{self._scheme}://{self._host}:{_port_of(listener)}"
        return dict(self._listen_addr)

    def connect(self, dial: Mapping[int, str], all_peers: list[int]) -> None:
        """Dial every lower-id peer at the address it bound for us; nng retries until it is up."""
        self.peers = tuple(sorted(all_peers))
        for peer, addr in dial.items():
            sock = self._new_socket(peer, server=False)
            sock.dial(addr, block=False)
            self._sockets[peer] = sock
        missing = [p for p in self.peers if p not in self._sockets]
        if missing:
            raise ConfigError(f"party {self.party_id}: no address for peers {missing}")

    def _setup_static(self) -> None:
        assert self._static is not None
        me = self._static[self.party_id]
        host, _, port = me.rpartition(":")
        for peer in self.peers:
            if peer > self.party_id:
                sock = self._new_socket(peer, server=True)
                sock.listen(f"{host}:{pair_port(int(port), peer)}")
            else:
                phost, _, pport = self._static[peer].rpartition(":")
                sock = self._new_socket(peer, server=False)
                sock.dial(f"{phost}:{pair_port(int(pport), self.party_id)}", block=False)
            self._sockets[peer] = sock

    async def start(self, timeout: float) -> None:
        if self._static is not None and not self._sockets:
            try:
                self._setup_static()
            except pynng.NNGException as exc:
                raise TransportError(f"party {self.party_id}: cannot set up sockets: {exc}") from exc
        loop = self._loop = asyncio.get_running_loop()
        for peer, sock in self._sockets.items():
            sock.add_post_pipe_connect_cb(lambda _pipe, p=peer: self._pipe_added(loop, p))
            sock.add_post_pipe_remove_cb(lambda _pipe, p=peer: self._pipe_removed(loop, p))
            # nng raises this descriptor while messages wait: the event loop polls it, so receiving
            # runs no Python on nng's threads (no GIL hand-off, no cross-thread wake-up per message)
            fd = sock.recv_fd
            self._reader_fds.append(fd)
            loop.add_reader(fd, self._readable, peer, sock)

    def _pipe_added(self, loop: asyncio.AbstractEventLoop, peer: int) -> None:
        if not self._closing:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(self._peer_up, peer)

    def _peer_up(self, peer: int) -> None:
        self._pipes[peer] = self._pipes.get(peer, 0) + 1
        if peer in self._down_reported:  # it came back: sends to it may go through again
            self._down_reported.discard(peer)
            self._down_events.pop(peer, None)

    def _pipe_removed(self, loop: asyncio.AbstractEventLoop, peer: int) -> None:
        if not self._closing:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(self._pipe_gone, loop, peer)

    def _pipe_gone(self, loop: asyncio.AbstractEventLoop, peer: int) -> None:
        self._pipes[peer] = max(0, self._pipes.get(peer, 0) - 1)
        loop.call_later(DOWN_GRACE_S, self._report_down, peer)

    def _report_down(self, peer: int) -> None:
        if self._pipes.get(peer, 0) > 0:
            return  # a newer pipe to this peer is up
        if not self._closing and peer not in self._down_reported:
            self._down_reported.add(peer)
            self._down_event(peer).set()
            self._put(peer, PEER_DOWN)

    def _down_event(self, peer: int) -> asyncio.Event:
        ev = self._down_events.get(peer)
        if ev is None:
            ev = self._down_events[peer] = asyncio.Event()
        return ev

    def _readable(self, peer: int, sock: pynng.Pair0) -> None:
        for _ in range(READ_BATCH):  # bounded, so one busy peer cannot starve the loop
            try:
                data = sock.recv(block=False)
            except pynng.TryAgain:
                return
            except pynng.NNGException:
                if not self._closing:
                    self._report_down(peer)
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(sock.recv_fd)
                return
            self.stats.messages_received += 1
            self.stats.bytes_received += len(data)
            self._put(peer, data)

    # -- data path ----------------------------------------------------------------------
    async def send(self, peer: int, data: bytes) -> None:
        sock = self._sockets.get(peer)
        if sock is None:
            raise TransportError(f"party {self.party_id}: unknown peer {peer}")
        down = self._down_event(peer)
        if down.is_set():
            raise TransportError(f"party {self.party_id}: peer {peer} is down")
        try:
            try:
                # a non-blocking send saves the cross-thread completion of an aio send: it halves
                # the round-trip time on loopback; only when the pipe is busy do we wait
                sock.send(data, block=False)
            except pynng.TryAgain:
                await self._send_waiting(peer, sock, data, down)
        except pynng.Timeout as exc:
            raise TransportError(f"party {self.party_id}: send to {peer} timed out") from exc
        except pynng.NNGException as exc:
            raise TransportError(f"party {self.party_id}: send to {peer} failed: {exc}") from exc
        self.stats.messages_sent += 1
        self.stats.bytes_sent += len(data)

    async def _send_waiting(self, peer: int, sock: pynng.Pair0, data: bytes, down: asyncio.Event) -> None:
        # a send to a peer whose pipe vanished would block until send_timeout: give up when the
        # peer is reported down, so one crashed party does not stall a sender for 30 s
        sending = asyncio.ensure_future(sock.asend(data))
        waiting = asyncio.ensure_future(down.wait())
        try:
            await asyncio.wait((sending, waiting), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            sending.cancel()  # our caller gave up (a deadline): so does the send
            raise
        finally:
            waiting.cancel()
        if not sending.done():
            sending.cancel()
            raise TransportError(f"party {self.party_id}: peer {peer} went down during a send")
        sending.result()

    async def recv(self) -> tuple[int, bytes | None]:
        return await self._queue.get()

    def set_sink(self, sink: Sink | None) -> None:
        self._sink = sink
        while sink is not None and not self._queue.empty():
            sink(*self._queue.get_nowait())

    def _put(self, peer: int, data: bytes | None) -> None:
        if self._sink is not None:
            self._sink(peer, data)
        else:
            self._queue.put_nowait((peer, data))

    async def close(self) -> None:
        self._closing = True
        if self._loop is not None:
            for fd in self._reader_fds:
                self._loop.remove_reader(fd)
        self._reader_fds.clear()
        for sock in self._sockets.values():
            sock.close()


__all__ = ["NngTransport", "TlsCreds", "pair_port"]
