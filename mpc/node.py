"""The node: owns identity, transport, mailbox and protocol instances.

```python
peers = {1: "tcp://127.0.0.1:9100", 2: "tcp://127.0.0.1:9200"}
async with Node(1, peers, session="payroll-2026-11") as node:
    total = await node.run(secure_sum, my_vector)
```

Several nodes may live in one process and one event loop: nothing here is global.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar

from . import codec
from .context import Context
from .errors import ConfigError, Crashed, MpcError, PartyDropped, ProtocolError, TransportError
from .mailbox import Mailbox
from .message import CONTROL, Message
from .rng import Csprng
from .transport.base import PEER_DOWN, Transport

if TYPE_CHECKING:
    from .transport.nng import TlsCreds

P = ParamSpec("P")
R = TypeVar("R")
HELLO, BYE = "hello", "bye"
Barrier = Literal["mesh", "star"]
SendObserver = Callable[[str], None]
"""Called with the full round tag after every send of this node (e.g. a crash fault trigger)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """Everything a node needs besides its transport and its CSPRNG; validated at construction.

    ``session`` binds every message of a run: parties of one run share it, and two runs never do
    (there is no default). ``neighbors`` are the peers this node talks to (``None``: all of
    them). ``barrier`` is the shape of the start and close barriers: ``"mesh"`` — every party
    tells every neighbour; passing it proves every link carried a message. ``"star"`` — every party
    tells the lowest id (the root), which answers everyone once all have arrived: O(n) messages;
    passing it proves every party started and reached the root, not that every pairwise link is up
    (a send on a link still being set up waits, bounded by the transport's send timeout). Leaves of
    a star must have the root among their neighbours.
    """

    party_id: int
    parties: tuple[int, ...]
    session: bytes
    timeout: float = 10.0
    connect_timeout: float = 30.0
    limits: codec.Limits = codec.DEFAULT_LIMITS
    neighbors: tuple[int, ...] | None = None
    barrier: Barrier = "mesh"

    def __post_init__(self) -> None:
        parties = tuple(sorted(set(self.parties)))
        object.__setattr__(self, "parties", parties)
        if self.party_id not in parties:
            raise ConfigError(f"party {self.party_id} is not among the parties {list(parties)}")
        if not isinstance(self.session, bytes) or not 0 < len(self.session) <= 64:
            raise ConfigError("the session must be 1 to 64 bytes that every party of this run (and no other run) uses")
        if not (self.timeout >= 0 and self.connect_timeout >= 0):
            raise ConfigError("timeouts must be non-negative numbers of seconds")
        if self.barrier not in ("mesh", "star"):
            raise ConfigError(f"unknown barrier {self.barrier!r} (mesh | star)")
        if self.neighbors is not None:
            neighbors = tuple(sorted(set(self.neighbors) - {self.party_id}))
            unknown = set(neighbors) - set(parties)
            if unknown:
                raise ConfigError(f"neighbours {sorted(unknown)} are not among the parties")
            object.__setattr__(self, "neighbors", neighbors)
        if self.barrier == "star" and self.party_id != self.root and self.root not in self.peers:
            raise ConfigError(f"a star barrier needs the root (party {self.root}) among party {self.party_id}'s neighbours")

    @property
    def root(self) -> int:
        """The lowest party id: the centre of a star barrier."""
        return self.parties[0]

    @property
    def peers(self) -> tuple[int, ...]:
        """The parties this node talks to (its neighbours, or every other party)."""
        if self.neighbors is not None:
            return self.neighbors
        return tuple(p for p in self.parties if p != self.party_id)


def session_bytes(session: bytes | str) -> bytes:
    """A session given as text is its UTF-8 bytes."""
    return session.encode() if isinstance(session, str) else session


class Node:
    """One party: identity, transport, mailbox and the protocol instances it runs.

    ``Node(party_id, peers={id: address}, session=...)`` opens a pynng transport (``tls`` for
    mutual TLS); ``Node(party_id, transport=t, parties=ids, session=...)`` runs over a given
    transport (netsim, or a pre-connected pynng one); :meth:`from_config` takes a
    :class:`NodeConfig`. Use ``async with node:`` or :meth:`start` / :meth:`close`.
    """

    def __init__(
        self,
        party_id: int,
        peers: Mapping[int, str] | None = None,
        *,
        session: bytes | str,
        transport: Transport | None = None,
        parties: Sequence[int] | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 30.0,
        limits: codec.Limits = codec.DEFAULT_LIMITS,
        neighbors: Sequence[int] | None = None,
        barrier: Barrier = "mesh",
        rng: Csprng | None = None,
        tls: TlsCreds | None = None,
    ) -> None:
        if transport is None:
            if peers is None:
                raise ConfigError("Node needs either peers (addresses) or a transport")
            from .transport.nng import NngTransport

            transport = NngTransport(party_id, peers, tls=tls, max_message_bytes=limits.max_message_bytes)
            parties = tuple(peers)
        if parties is None:
            parties = (party_id, *transport.peers)
        config = NodeConfig(
            party_id=party_id, parties=tuple(parties), session=session_bytes(session), timeout=timeout,
            connect_timeout=connect_timeout, limits=limits,
            neighbors=None if neighbors is None else tuple(neighbors), barrier=barrier,
        )
        self._setup(config, transport, rng)

    @classmethod
    def from_config(cls, config: NodeConfig, transport: Transport | None = None, *,
                    peers: Mapping[int, str] | None = None, tls: TlsCreds | None = None,
                    rng: Csprng | None = None) -> Node:
        """A node for ``config`` over ``transport``, or over pynng to ``peers`` (addresses)."""
        if transport is None:
            if peers is None:
                raise ConfigError("Node needs either peers (addresses) or a transport")
            from .transport.nng import NngTransport

            transport = NngTransport(config.party_id, peers, tls=tls,
                                     max_message_bytes=config.limits.max_message_bytes)
        node = cls.__new__(cls)
        node._setup(config, transport, rng)
        return node

    def _setup(self, config: NodeConfig, transport: Transport, rng: Csprng | None) -> None:
        self.config = config
        self.party_id = config.party_id
        self.parties = config.parties
        # the peers this node exchanges hello/bye with (all, unless the protocol is not a mesh)
        self.neighbors = config.peers
        self.transport = transport
        self.session = config.session
        self.timeout = config.timeout
        self.connect_timeout = config.connect_timeout
        self.rng = rng if rng is not None else Csprng()
        self.limits = config.limits
        self.log = logging.getLogger(f"mpc.party{config.party_id}")
        self.mailbox = Mailbox(config.session, config.parties)
        self.rejected: list[ProtocolError] = []  # the last few rejected messages, for inspection
        self.rejected_count = 0
        self._send_observers: list[SendObserver] = []
        self._instances = 0
        self._control: dict[str, set[int]] = {HELLO: set(), BYE: set()}
        self._control_event = asyncio.Event()
        self._waiting: dict[str, set[int]] = {HELLO: set(), BYE: set()}
        self._pump_task: asyncio.Task[None] | None = None
        self._started = False

    def add_send_observer(self, observer: SendObserver) -> None:
        """Call ``observer(tag)`` after every send (the application layer's crash faults use it;
        an exception it raises, such as :class:`Crashed`, ends the running protocol)."""
        self._send_observers.append(observer)

    # -- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, then pass the start barrier: every neighbour (mesh) or the root (star) answered."""
        if self._started:
            return
        await self.transport.start(self.connect_timeout)
        set_sink = getattr(self.transport, "set_sink", None)  # DirectDelivery, once the transport types it
        if set_sink is not None:
            set_sink(self.ingress)  # direct delivery: one task hop less per message
        else:
            self._pump_task = asyncio.create_task(self._pump(), name=f"mpc-pump-{self.party_id}")
        try:
            await self._barrier(HELLO, self.connect_timeout)
        except BaseException:
            await self._shutdown()
            raise
        self._started = True

    async def close(self, *, goodbye: bool = True) -> None:
        """Pass the close barrier (unless ``goodbye`` is false: a crash says none), then release the
        transport. Idempotent."""
        if goodbye and self._started:
            with contextlib.suppress(MpcError, TimeoutError):
                await self._barrier(BYE, min(self.timeout, 5.0), tolerate_down=True)
        self._started = False
        await self._shutdown()

    async def __aenter__(self) -> Node:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        # a crashed party says no goodbye
        await self.close(goodbye=not (exc_type is not None and issubclass(exc_type, Crashed)))

    async def _shutdown(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None
        await self.transport.close()

    def _barrier_plan(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """Whom to tell first, whom to wait for, whom to tell once they all arrived."""
        peers = self.neighbors
        if self.config.barrier == "mesh":
            return peers, peers, ()
        if self.party_id == self.config.root:
            return (), peers, peers
        root = (self.config.root,)
        return root, root, ()

    async def _barrier(self, kind: str, timeout: float, tolerate_down: bool = False) -> None:
        """Tell ``kind`` and wait for it, in the configured shape (see :class:`NodeConfig`)."""
        first, wait, then = self._barrier_plan()
        try:
            async with asyncio.timeout(timeout):
                await self._tell(kind, first, tolerate_down)
                # a set that _on_control and lost connections shrink: O(1) per answer, not O(peers)
                down = self.mailbox.down
                waiting = self._waiting[kind] = {p for p in wait if p not in self._control[kind] and p not in down}
                while waiting:
                    self._control_event.clear()
                    await self._control_event.wait()
                await self._tell(kind, then, tolerate_down)
        except TimeoutError:
            missing = [p for p in wait if p not in self._control[kind]]
            if not missing:  # everyone answered; only our own sends were slow (a loaded loop)
                return
            raise PartyDropped(missing[0], f"no {kind} within {timeout:g}s (also waiting for {missing[1:]})") from None
        dropped = [p for p in wait if p not in self._control[kind]]
        if dropped and not tolerate_down:
            raise PartyDropped(dropped[0], f"went away before {kind}")

    async def _tell(self, kind: str, peers: tuple[int, ...], tolerate_down: bool) -> None:
        down = self.mailbox.down
        live = [p for p in peers if p not in down]
        if not live:
            return
        data = self._message(CONTROL, kind, None).to_bytes()
        for p, r in zip(live, await self._send_all([(p, data) for p in live]), strict=True):
            if isinstance(r, BaseException) and not tolerate_down:
                raise PartyDropped(p, f"cannot reach it: {r}")

    # -- receiving --------------------------------------------------------------------
    async def _pump(self) -> None:
        """Feed :meth:`ingress` from a transport that only offers ``recv()``."""
        while True:
            peer, data = await self.transport.recv()
            self.ingress(peer, data)

    def ingress(self, peer: int, data: bytes | None) -> None:
        """The one ingress point: bytes → Message → mailbox; bad input is rejected, never fatal."""
        if data is PEER_DOWN:
            self.log.info("party %d: connection to %d lost", self.party_id, peer)
            self.mailbox.mark_down(peer)
            for waiting in self._waiting.values():
                waiting.discard(peer)
            self._control_event.set()
            return
        try:
            msg = Message.from_bytes(data, self.limits)
            if msg.sender != peer:
                raise ProtocolError(f"claims to be party {msg.sender}", peer=peer)
            if msg.instance == CONTROL:
                self._on_control(msg)
            else:
                self.mailbox.deliver(msg, len(data))
        except Exception as exc:  # noqa: BLE001 - whatever a peer sends, the node keeps serving
            if not isinstance(exc, ProtocolError):
                # the type only: the text of an arbitrary exception could quote peer data
                self.log.error("party %d: internal error (%s) on a message from %d",
                               self.party_id, type(exc).__name__, peer)
                exc = ProtocolError(f"message could not be processed: {type(exc).__name__}", peer=peer)
            if exc.peer is None:
                exc.peer = peer
            self.rejected_count += 1
            self.rejected = [*self.rejected[-31:], exc]
            self.log.warning("party %d rejected a message from %d: %s", self.party_id, peer, exc)

    def _on_control(self, msg: Message) -> None:
        if msg.session != self.session:
            raise ProtocolError("control message for another session", peer=msg.sender)
        if msg.tag not in self._control:
            raise ProtocolError(f"unknown control message {msg.tag!r}", peer=msg.sender)
        self._control[msg.tag].add(msg.sender)
        waiting = self._waiting[msg.tag]
        if msg.sender in waiting:
            waiting.discard(msg.sender)
            if not waiting:
                self._control_event.set()

    # -- sending ----------------------------------------------------------------------
    def _message(self, instance: str, tag: str, payload: Any) -> Message:
        return Message(session=self.session, instance=instance, tag=tag, sender=self.party_id, payload=payload)

    async def send_many(self, instance: str, tag: str, payloads: Mapping[int, Any], *, same: bool) -> None:
        """Send to several parties at once; a payload for this party is delivered locally."""
        encoded: bytes | None = None
        sends = []
        members, down = self.mailbox.parties, self.mailbox.down  # sets: O(1) per peer at any scale
        for peer, payload in payloads.items():
            if peer == self.party_id:
                self.mailbox.deliver(self._message(instance, tag, payload))
                continue
            if peer not in members:
                raise ConfigError(f"unknown party {peer}")
            if peer in down:
                continue  # it is gone; the protocol's quorum logic decides whether that matters
            if not same or encoded is None:
                encoded = self._message(instance, tag, payload).to_bytes()
            sends.append((peer, encoded))
        if sends:
            for (peer, _), r in zip(sends, await self._send_all(sends), strict=True):
                if isinstance(r, TransportError):
                    # a peer we cannot send to is treated like one that dropped
                    self.log.info("party %d: %s", self.party_id, r)
                    self.mailbox.mark_down(peer, str(r))
                elif r is not None:
                    raise r
        for observer in self._send_observers:
            observer(tag)

    async def _send_all(self, sends: list[tuple[int, bytes]]) -> list[BaseException | None]:
        """Send each ``(peer, data)`` concurrently; a failed send's exception is returned in its place.

        A transport whose ``send`` never suspends (netsim's, marked ``immediate_send``) is called in
        a plain loop: a task per message would dominate a simulation of thousands of parties. A
        single send is awaited directly too (no task, which matters for dependent round trips).
        """
        if len(sends) > 1 and not getattr(self.transport, "immediate_send", False):  # netsim's marker
            return list(await asyncio.gather(*(self.transport.send(p, d) for p, d in sends), return_exceptions=True))
        out: list[BaseException | None] = []
        for peer, data in sends:
            try:
                await self.transport.send(peer, data)
                out.append(None)
            except Exception as exc:  # as gather(return_exceptions=True) would hand it back
                out.append(exc)
        return out

    # -- the Port a Context sees ---------------------------------------------------------
    @property
    def down(self) -> set[int]:
        return self.mailbox.down

    async def recv_one(self, instance: str, tag: str, sender: int, timeout: float) -> Any:
        return await self.mailbox.recv(instance, tag, sender, timeout)

    async def recv_many(self, instance: str, tag: str, senders: tuple[int, ...], timeout: float) -> dict[int, Any]:
        return await self.mailbox.recv_many(instance, tag, senders, timeout)

    def traffic(self) -> dict[str, int]:
        return self.transport.stats.as_dict()

    # -- running protocols ------------------------------------------------------------
    async def run(
        self,
        protocol: Callable[Concatenate[Context, P], Awaitable[R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Run one protocol instance; its messages are scoped by a per-node instance counter.

        Every party must start the same instances in the same order (as in MPyC's program counter).
        """
        self._instances += 1
        instance = f"{getattr(protocol, '__name__', 'protocol')}#{self._instances}"
        ctx = Context(self, instance)
        try:
            return await protocol(ctx, *args, **kwargs)
        finally:
            self.mailbox.finish(instance)


__all__ = ["Barrier", "Node", "NodeConfig", "SendObserver", "session_bytes"]
