"""pynng transport: one ``Pair0`` socket per party pair; the lower id listens, the higher id dials.

Connection set-up is retried by nng in the background; :meth:`NngTransport.start` waits until every
peer's connection has been accepted and, at its deadline, raises one :class:`TransportError` that
says per peer what happened (see :mod:`.diagnose`). Under TLS both ends pin the other's party id
(certificate CN ``party-<id>``): the dialer through the TLS server name, the listener by reading the
dialer's CN before the pipe is attached and closing it if it names another party. A peer is
reported :data:`PEER_DOWN` only when its *accepted* pipe goes away (after a short grace period, so
that data it sent first is read first): refused connections — a second dialer, raw TCP, a certified
party that is not this pair's peer — never disturb an established pair.
A restarted peer's new accepted pipe makes it up again: sends to it work again.

A dialer cannot see the listener's verdict on its pipe (the pipe is up on the dialing side before
the listener has read the certificate and maybe closed it), so the listener sends :data:`ADMIT` as
the first frame of every pipe it keeps, and a dialer counts its peer connected only once that frame
has arrived. (An earlier version slept a fixed 100 ms instead: on a loaded machine a refusal came
later than that and a refused dialer called itself connected.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

import pynng

from ..errors import ConfigError, TransportError
from .base import PEER_DOWN, Endpoint, pair_port, static_listen_addresses
from .diagnose import LinkState, connect_failure, probe_early
from .tls import TlsCreds, party_name

DOWN_GRACE_S = 0.25
# messages nng queues per peer while the pipe is busy: the previous send's completion runs on nng's
# task thread, and a send arriving before it would otherwise come back "busy" and take the slow
# awaited path (1 in 20 sends of a multiplication chain did); discarded when the peer is reported down
SEND_BUFFER = 4
_lib, _ffi = pynng.lib, pynng.ffi
_NONBLOCK = _lib.NNG_FLAG_NONBLOCK
_EAGAIN = _lib.NNG_EAGAIN
# the listener's "I kept your pipe" frame: a zero length prefix with trailing bytes, which the codec
# would reject, so it can never be mistaken for (or pass as) a message
ADMIT = b"\x00\x00\x00\x00mpc-admitted"


TASK_THREADS = 2  # nng's minimum (its default: 2 per CPU)
_tuned = False


def _tune_nng() -> None:
    """Before nng starts its threads (the process's first socket): as few task threads as nng
    allows. Every message crosses nng's task queue, a received one twice (header, then body), and
    each hand-off wakes an idle task thread: with fewer of them, more often the running one takes
    the next task itself (a raw 3-party round: 24-27 instead of 33 futex calls per party, ~10 fewer
    context switches in all). nng ignores this once it runs (a process that opened a pynng socket
    before)."""
    global _tuned
    if not _tuned:
        _tuned = True
        _lib.nng_init_set_parameter(_lib.NNG_INIT_NUM_TASK_THREADS, TASK_THREADS)
        _lib.nng_init_set_parameter(_lib.NNG_INIT_MAX_TASK_THREADS, TASK_THREADS)


def _port_of(listener: pynng.Listener) -> int:
    # pynng's SockAddr.port is byte-swapped on little-endian hosts; its str() is right.
    return int(str(listener.local_address).rsplit(":", 1)[1])


def peer_cn(pipe: pynng.Pipe) -> str | None:
    """The common name of the certificate the other end of a TLS pipe presented (nng ≥ 1.11)."""
    out = pynng.ffi.new("char **")
    if pynng.lib.nng_pipe_get_string(pipe.pipe, b"tls-peer-cn", out) != 0 or out[0] == pynng.ffi.NULL:
        return None
    try:
        return str(pynng.ffi.string(out[0]).decode("utf-8", "replace"))
    finally:
        pynng.lib.nng_strfree(out[0])


def _remote(pipe: pynng.Pipe) -> str:
    try:
        return str(pipe.remote_address)
    except Exception:  # noqa: BLE001 - a diagnostic only
        return "an unknown address"


class NngTransport(Endpoint):
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
        _tune_nng()
        self._setup_endpoint(party_id, peers)
        self._host = host
        self._send_timeout_ms = int(send_timeout * 1000)
        self._max = max_message_bytes
        self._tls = tls
        self._scheme = "tls+tcp" if tls else "tcp"
        self._sockets: dict[int, pynng.Pair0] = {}
        self._handles: dict[int, object] = {}  # peer -> the nng_socket handle the data path calls nng with
        self._msgp = _ffi.new("nng_msg **")  # the receive out-parameter, reused (one event loop thread)
        self._links: dict[int, LinkState] = {}
        self._reader_fds: list[int] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._closing = False
        self._connected = asyncio.Event()
        self._down_reported: set[int] = set()
        self._down_events: dict[int, asyncio.Event] = {}  # wakes sends stuck on a vanished peer

    # -- set-up -------------------------------------------------------------------------
    def _new_socket(self, peer: int, server: bool, address: str) -> pynng.Pair0:
        sock = pynng.Pair0(recv_max_size=self._max, send_timeout=self._send_timeout_ms,
                           send_buffer_size=SEND_BUFFER)
        link = self._links[peer] = LinkState(peer, server, address)
        if self._tls is not None:
            # the dialer checks that the listener is the party it meant to reach (server name);
            # the listener checks the dialer's name in _admit
            sock.tls_config = pynng.TLSConfig(
                pynng.TLSConfig.MODE_SERVER if server else pynng.TLSConfig.MODE_CLIENT,
                server_name=None if server else party_name(peer),
                ca_files=[self._tls.ca_file],
                cert_key_file=self._tls.cert_key_file,
                auth_mode=pynng.TLSConfig.AUTH_MODE_REQUIRED,
            )
        # callbacks go on before listen/dial, so no pipe escapes them
        sock.add_pre_pipe_connect_cb(lambda pipe: self._admit(link, pipe))
        sock.add_post_pipe_connect_cb(lambda pipe: self._accepted(link, pipe))
        sock.add_post_pipe_remove_cb(lambda pipe: self._removed(link, pipe))
        self._sockets[peer] = sock
        self._handles[peer] = sock.socket
        return sock

    def _listen(self, peer: int, address: str) -> pynng.Listener:
        sock = self._new_socket(peer, server=True, address=address)
        try:
            return sock.listen(address)
        except pynng.AddressInUse:
            raise TransportError(f"party {self.party_id}: cannot listen on {address} for party {peer}: "
                                 f"address in use") from None
        except pynng.NNGException as exc:
            raise TransportError(f"party {self.party_id}: cannot listen on {address} for party {peer}: "
                                 f"{exc}") from None

    def _dial(self, peer: int, address: str) -> None:
        sock = self._new_socket(peer, server=False, address=address)
        try:
            sock.dial(address, block=False)
        except pynng.NNGException as exc:
            raise TransportError(f"party {self.party_id}: cannot dial party {peer} at {address}: {exc}") from None

    def bind(self, higher_peers: list[int]) -> dict[int, str]:
        """Listen (on OS-chosen ports) for every higher-id peer; returns ``{peer: address}``."""
        bound = {}
        for peer in higher_peers:
            listener = self._listen(peer, f"{self._scheme}://{self._host}:0")
            bound[peer] = self._links[peer].address = f"{self._scheme}://{self._host}:{_port_of(listener)}"
        return bound

    def connect(self, dial: Mapping[int, str], all_peers: list[int]) -> None:
        """Dial every lower-id peer at the address it bound for us; nng retries until it is up."""
        self._peers = tuple(sorted(all_peers))
        for peer, addr in dial.items():
            self._dial(peer, addr)
        missing = [p for p in self._peers if p not in self._sockets]
        if missing:
            raise ConfigError(f"party {self.party_id}: no address for peers {missing}")

    def _setup_static(self) -> None:
        assert self._static is not None
        pairs = static_listen_addresses(self._static)
        for peer in self._peers:
            if peer > self.party_id:
                self._listen(peer, pairs[(self.party_id, peer)])
            else:
                self._dial(peer, pairs[(peer, self.party_id)])

    async def start(self, timeout: float) -> None:
        """Wait until every peer's connection is accepted; at the deadline raise a
        :class:`TransportError` saying, per missing peer, what happened."""
        self._loop = asyncio.get_running_loop()
        if self._static is not None and not self._sockets:
            try:
                self._setup_static()
            except BaseException:
                await self.close()
                raise
        for peer, sock in self._sockets.items():
            # nng raises this descriptor while messages wait: the event loop polls it, so receiving
            # runs no Python on nng's threads (no GIL hand-off, no cross-thread wake-up per message)
            fd = sock.recv_fd
            self._reader_fds.append(fd)
            self._loop.add_reader(fd, self._readable, peer, fd)
        for link in self._links.values():
            if link.listening and link.pipe is not None:
                self._admit_frame(link.peer)  # accepted before the loop was known
        t0 = self._loop.time()
        deadline = t0 + timeout
        probed = False
        while True:
            missing = [p for p in self._peers if not self._links[p].connected]
            if not missing:
                break
            now = self._loop.time()
            left = deadline - now
            if not probed and now - t0 >= timeout / 2:
                probed = True
                await probe_early(self.party_id, [self._links[p] for p in missing], self._tls, now - t0)
                continue
            if left <= 0:
                links = [self._links[p] for p in missing]
                raise TransportError(await connect_failure(self.party_id, links, self._tls, timeout))
            self._connected.clear()
            # the wake-up comes from nng's thread; the cap covers a wake-up that raced the clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), min(left, 0.2))
        self._started = True

    # -- pipe events (nng's threads) ----------------------------------------------------
    def _admit(self, link: LinkState, pipe: pynng.Pipe) -> None:
        """Before a pipe is attached: refuse the wrong party and a second connection. A pipe
        closed here never fires the remove event, so it cannot make the real peer look down."""
        reason = None
        if self._tls is not None:
            cn = peer_cn(pipe)
            if cn != party_name(link.peer):
                reason = (f"refused a TLS connection from {_remote(pipe)} presenting "
                          f"{cn or 'no name'!r} (expected {party_name(link.peer)!r})")
        # (a dialer's own new pipe while the last one's remove event is still on its way replaces it:
        # nng redials only after a pipe closed)
        if reason is None and link.pipe is not None and link.listening:
            reason = (f"refused a second connection from {_remote(pipe)} while party {link.peer} is "
                      f"connected (another process using party id {link.peer}?)")
        if reason is not None:
            link.note(reason.split(" from ", 1)[0], reason)
            self._stats.connections_refused += 1
            with contextlib.suppress(pynng.NNGException):
                pipe.close()

    def _accepted(self, link: LinkState, pipe: pynng.Pipe) -> None:
        if pipe.closed:
            return
        if link.pipe is not None and not self._started:  # a dialer's pipe replacing a closed one
            self._count_drop(link)
        link.pipe = pipe.id
        if link.listening:
            self._call_in_loop(lambda: self._admit_frame(link.peer))
        self._call_in_loop(self._connected.set)
        self._call_in_loop(lambda: self._peer_up(link.peer))

    def _admit_frame(self, peer: int) -> None:
        """Tell the dialer we kept its pipe (in the loop; before any data frame we send it)."""
        sock = self._sockets[peer]
        try:
            sock.send(ADMIT, block=False)
        except pynng.TryAgain:
            self._loop.create_task(sock.asend(ADMIT))  # type: ignore[union-attr]
        except pynng.NNGException:
            pass  # closed meanwhile: the remove event says so

    def _peer_up(self, peer: int) -> None:
        if peer in self._down_reported:  # a restarted peer came back: sends to it work again
            self._down_reported.discard(peer)
            self._down_events.pop(peer, None)

    def _removed(self, link: LinkState, pipe: pynng.Pipe) -> None:
        if link.pipe != pipe.id:
            return  # a connection Pair0 refused (it never carried data): the pair is undisturbed
        link.pipe = None
        if not self._started:  # not down yet: start() waits for it to come back until its deadline
            self._count_drop(link)
            return
        if not self._closing:
            self._call_in_loop(lambda: self._loop.call_later(DOWN_GRACE_S, self._report_down, link))  # type: ignore[union-attr]

    @staticmethod
    def _count_drop(link: LinkState) -> None:
        link.drops_before_start += 1
        link.note("drops", f"the connection {'from' if link.listening else 'to'} party {link.peer} opened "
                  f"and closed {link.drops_before_start} time(s)")

    def _call_in_loop(self, fn: object) -> None:
        loop = self._loop
        if loop is not None and not self._closing:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(fn)  # type: ignore[arg-type]

    def _report_down(self, link: LinkState) -> None:
        if self._closing or link.peer in self._down_reported:
            return
        if link.pipe is not None:
            return  # it reconnected within the grace period
        self._down_reported.add(link.peer)
        sock = self._sockets[link.peer]
        with contextlib.suppress(pynng.NNGException):  # nothing queued for it reaches a restarted peer
            sock.send_buffer_size = 0
            sock.send_buffer_size = SEND_BUFFER
        self._down_event(link.peer).set()
        self._put(link.peer, PEER_DOWN)

    def _down_event(self, peer: int) -> asyncio.Event:
        ev = self._down_events.get(peer)
        if ev is None:
            ev = self._down_events[peer] = asyncio.Event()
        return ev

    def _readable(self, peer: int, fd: int) -> None:
        """One message per event, through nng's C API (no pynng wrapper, no exception per empty
        poll): Pair0 holds at most one received message, and its descriptor stays raised while one
        waits, so the loop calls this again for the next."""
        msgp = self._msgp
        rv = _lib.nng_recvmsg(self._handles[peer], msgp, _NONBLOCK)
        if rv:
            if rv != _EAGAIN:  # the socket is closed
                if not self._closing:
                    self._report_down(self._links[peer])
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(fd)  # type: ignore[union-attr]
            return
        msg = msgp[0]
        try:
            n = _lib.nng_msg_len(msg)
            data = _ffi.buffer(_lib.nng_msg_body(msg), n)[:] if n else b""
            if n == len(ADMIT) and data == ADMIT and not self._links[peer].listening:
                # an admission; before start it admits the pipe it came on (the pipe events run on
                # nng's threads, possibly after the frame is read, so the admission names its pipe
                # instead of flagging "the" current one); after start a repeated one, or a restarted
                # listener's
                if not self._started:
                    self._links[peer].admitted_pipe = int(_lib.nng_pipe_id(_lib.nng_msg_get_pipe(msg)))
                    self._connected.set()
                return
        finally:
            _lib.nng_msg_free(msg)
        stats = self._stats
        stats.messages_received += 1
        stats.bytes_received += n
        self._put(peer, data)

    # -- data path ----------------------------------------------------------------------
    def _socket_for(self, peer: int) -> pynng.Pair0:
        sock = self._sockets.get(peer)
        if sock is None:
            raise TransportError(f"party {self.party_id}: unknown peer {peer}")
        if self._closing:
            raise TransportError(f"party {self.party_id}: transport closed")
        if peer in self._down_reported:
            raise TransportError(f"party {self.party_id}: peer {peer} is down")
        return sock

    def try_send(self, peer: int, data: bytes) -> bool:
        """Send without waiting (see :class:`~mpc.transport.base.TrySend`): False when the pipe is
        busy and only :meth:`send` can wait for it."""
        self._socket_for(peer)
        # a non-blocking send saves the cross-thread completion of an aio send (it halves the
        # round-trip time on loopback); nng's C API directly saves pynng's wrapper and its exception
        rv = _lib.nng_send(self._handles[peer], _ffi.from_buffer(data), len(data), _NONBLOCK)
        if rv:
            if rv == _EAGAIN:
                return False
            raise TransportError(f"party {self.party_id}: send to {peer} failed: "
                                 f"{_ffi.string(_lib.nng_strerror(rv)).decode()}")
        stats = self._stats
        stats.messages_sent += 1
        stats.bytes_sent += len(data)
        return True

    async def send(self, peer: int, data: bytes) -> None:
        if self.try_send(peer, data):
            return
        sock = self._socket_for(peer)
        try:  # the pipe is busy: wait for it (or for the peer to be reported down)
            await self._send_waiting(peer, sock, data, self._down_event(peer))
        except pynng.Timeout as exc:
            raise TransportError(f"party {self.party_id}: send to {peer} timed out") from exc
        except pynng.NNGException as exc:
            raise TransportError(f"party {self.party_id}: send to {peer} failed: {exc}") from exc
        self._stats.messages_sent += 1
        self._stats.bytes_sent += len(data)

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

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._loop is not None:
            for fd in self._reader_fds:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(fd)
        self._reader_fds.clear()
        for sock in self._sockets.values():
            sock.close()


__all__ = ["NngTransport", "TlsCreds", "pair_port", "party_name", "peer_cn", "static_listen_addresses"]
