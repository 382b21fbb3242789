"""The node: owns identity, transport, mailbox and protocol instances.

```python
peers = {1: "tcp://127.0.0.1:9100", 2: "tcp://127.0.0.1:9200"}
async with Node(1, peers, session="payroll-2026-11") as node:
    total = await node.run(secure_sum, my_vector)
```

Several nodes may live in one process and one event loop: nothing here is global.

A computation is ``node.run(protocol, *args, name=..., job=..., **kwargs)``: ``name`` matches it
across parties (any order, concurrently; once per session; default: a per-node counter), ``job``
(a :class:`~mpc.job.JobDescriptor`) is compared before anything is sent, and afterwards the live
parties agree to all output or all abort (:mod:`mpc.agreement`). A party that restarts says
hello with a new incarnation id; the others fail what it owed them and take it into the next
computation.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import bisect
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from . import codec
from .agreement import (
    AGREEMENT_TAGS,
    DECISION,
    END_TAG,
    JOB_TAG,
    Decision,
    Shape,
    agreed_error,
    compact_cause,
    decide_end,
    decide_job,
    end_view,
    job_view,
    settle,
)
from .config import Barrier, NodeConfig, session_bytes
from .context import Context, Port
from .errors import (
    CodecError,
    ConfigError,
    Crashed,
    Excluded,
    MpcError,
    NameInUse,
    PartyDropped,
    ProtocolError,
    TransportError,
)
from .job import JobDescriptor
from .mailbox import Mailbox
from .message import CONTROL, MAX_NAME, Message, _build, _decode_generic, decode_array_parts
from .rng import Csprng
from .transport.base import PEER_DOWN, DirectDelivery, MessageTransport, Transport, sends_immediately, try_sender

if TYPE_CHECKING:
    from .transport.nng import TlsCreds

R = TypeVar("R")
HELLO, BYE = "hello", "bye"
MAX_EARLY_ABORTS = 1024
SERVED_JOB = "~job"  # the instance of the start-up job agreement in a star (names cannot start with ~)
SendObserver = Callable[[str], None]
"""Called with the full round tag after every send of this node (e.g. a crash fault trigger)."""


class Node:
    """One party: identity, transport, mailbox and the protocol instances it runs.

    ``Node(party_id, peers={id: address}, session=...)`` opens a pynng transport (``tls`` for
    mutual TLS; ``transport_kind="tcp"`` for the asyncio TCP one); ``Node(party_id, transport=t, parties=ids, session=...)`` runs over a given
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
        job: JobDescriptor | None = None,
        rng: Csprng | None = None,
        tls: TlsCreds | None = None,
        transport_kind: str = "nng",
    ) -> None:
        if transport is None:
            if peers is None:
                raise ConfigError("Node needs either peers (addresses) or a transport")
            from .transport.tcp import new_transport

            transport = new_transport(transport_kind, party_id, peers, tls=tls,
                                      max_message_bytes=limits.max_message_bytes)
            parties = tuple(peers)
        if parties is None:
            parties = (party_id, *transport.peers)
        config = NodeConfig(
            party_id=party_id, parties=tuple(parties), session=session_bytes(session), timeout=timeout,
            connect_timeout=connect_timeout, limits=limits,
            neighbors=None if neighbors is None else tuple(neighbors), barrier=barrier, job=job,
            transport=transport_kind,
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
            from .transport.tcp import new_transport

            transport = new_transport(config.transport, config.party_id, peers, tls=tls,
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
        self._immediate = sends_immediately(transport)
        self._try_send = try_sender(transport)
        self.session = config.session
        self.timeout = config.timeout
        self.connect_timeout = config.connect_timeout
        self.rng = rng if rng is not None else Csprng()
        self.limits = config.limits
        self.log = logging.getLogger(f"mpc.party{config.party_id}")
        self.mailbox = Mailbox(config.session, config.parties, config.limits)
        self.rejected: list[ProtocolError] = []  # the last few rejected messages, for inspection
        self.rejected_count = 0
        self._send_observers: list[SendObserver] = []
        self._instances = 0
        self._control: dict[str, set[int]] = {HELLO: set(), BYE: set()}
        self._control_event = asyncio.Event()
        self._waiting: dict[str, set[int]] = {HELLO: set(), BYE: set()}
        self._hello_notes: dict[int, str] = {}  # why a connected peer's hello was refused
        self._pump_task: asyncio.Task[None] | None = None
        self._started = False
        # the transport's message path (netsim's object mode): no codec between in-process nodes
        self._send_messages: Callable[[list[tuple[int, Message]]], dict[int, TransportError]] | None = None
        # O(1) state per node beyond the hello set (10^6 simulated links must stay cheap)
        # the computation counter the peers' first hellos reported, with how many reported it (one
        # vote per peer, usually one distinct value): the most reported one is adopted, not the
        # largest, so that one peer cannot renumber another party's unnamed computations
        self._count_votes: dict[int, int] = {}
        # this incarnation's id, and the last one seen per neighbour (8 bytes per link, allocated
        # on the first hello; a hello from a party that is not a neighbour goes to a dict): a hello
        # with a new id comes from a restarted process; a replayed one changes nothing
        self._incarnation = int.from_bytes(os.urandom(8), "little") | 1
        self._seen: NDArray[np.uint64] | None = None
        self._seen_other: dict[int, int] = {}
        self._job_digest = None if config.job is None else config.job.digest()
        self._job_differs: set[int] = set()  # peers whose hello named another job (usually none)
        self._names: set[str] = set()
        self._running: dict[str, asyncio.Future[Any]] = {}
        self._abort_cause: dict[str, dict[str, Any]] = {}  # instance -> the abort that stopped it
        self._early_aborts: dict[str, dict[str, Any]] = {}  # aborts for instances not started here yet
        self._background: set[asyncio.Task[None]] = set()
        self._shape = Shape(party_id=config.party_id, peers=config.peers, root=config.root, star=config.star)
        self._star_claims: set[int] = set()  # (the root) peers whose hello said star

    def add_send_observer(self, observer: SendObserver) -> None:
        """Call ``observer(tag)`` after every send (the application layer's crash faults use it;
        an exception it raises, such as :class:`Crashed`, ends the running protocol)."""
        self._send_observers.append(observer)

    # -- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, then pass the start barrier: every neighbour (mesh) or the root (star) answered."""
        if self._started:
            return
        try:
            await self.transport.start(self.connect_timeout)  # at its deadline: which peer failed, why
            if isinstance(self.transport, DirectDelivery):
                self.transport.set_sink(self.ingress)  # direct delivery: one task hop less per message
            else:
                self._pump_task = asyncio.create_task(self._pump(), name=f"mpc-pump-{self.party_id}")
            if isinstance(self.transport, MessageTransport) and self.transport.objects:
                self.transport.set_message_sink(self.accept)
                self._send_messages = self.transport.send_messages
            await self._barrier(HELLO, self.connect_timeout)
            if self._shape.star and not self.config.star:  # a root turned to the star by hellos
                claims = self._star_claims
                self._shape = dataclasses.replace(self._shape, mesh=tuple(p for p in self.neighbors if p not in claims))
            if self.config.job is not None:
                await self._agree_served_job(self.config.job)
        except PartyDropped:
            await self._shutdown()
            if self._hello_notes:  # connected, but a peer's hello said why it cannot be ours
                raise ConfigError(f"party {self.party_id}: " + "; ".join(
                    f"party {p} {why}" for p, why in sorted(self._hello_notes.items()))) from None
            raise
        except BaseException:
            await self._shutdown()
            raise
        if self._instances == 0:
            # a restarted party: the others' counter says how many unnamed computations ran, so
            # the next unnamed one has the same instance id everywhere
            self._instances = self._peer_count()
        self._started = True

    async def _agree_served_job(self, job: JobDescriptor) -> None:
        """The hellos carried every party's job digest. In a mesh each party saw them all: if any
        two differ, every party sees a digest unlike its own, so all of them (and only then) run
        one round with the full descriptors to name the differing fields. In a star the root
        compares the digests (and the descriptors of those whose digest differs from its own)
        and tells everyone."""
        if not self._shape.star and not self._job_differs:
            return
        # a leaf whose digest the root's hello matched sends only the digest: the root reads a
        # descriptor only where the digests differ, and n full descriptors (each O(n) party ids)
        # at the root would be O(n^2)
        root = self._shape.root
        full = not self._shape.star or self.party_id == root or root in self._job_differs
        try:
            decision = await settle(self, self._shape, SERVED_JOB, JOB_TAG, job_view(job, full), decide_job,
                                    self.timeout)
        finally:
            self.mailbox.finish(SERVED_JOB)
        if decision is not None:
            raise agreed_error(decision, self.party_id, None)

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
        for task in list(self._background):
            task.cancel()
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
        payload = None
        if kind == HELLO:
            payload = {"count": self._instances, "star": self.config.star, "job": self._job_digest,
                       "incarnation": self._incarnation}
        msg = self._message(CONTROL, kind, payload)
        for p, r in zip(live, await self._send_all([(p, msg) for p in live]), strict=True):
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
            self._gone(peer, "connection lost")
            return
        if peer in self.mailbox.cut_off:
            return  # not even decoded
        try:
            # a round's one-array message is read by hand; anything else by the general codec
            parts = decode_array_parts(data, self.limits)
            if parts is None:
                self._accept(peer, *_decode_generic(Message, data, self.limits))  # (not the array form)
            elif parts[3] == peer and parts[1] != CONTROL and parts[2] not in AGREEMENT_TAGS:
                self.mailbox.put(*parts)  # a protocol's message (what _accept would do), no object
            else:
                self._accept(peer, _build(Message, *parts[:5]), parts[5])
        except Exception as exc:  # noqa: BLE001 - whatever a peer sends, the node keeps serving
            self._reject(peer, exc)

    def accept(self, peer: int, msg: Message, size: int, charge: int) -> None:
        """Ingress of a message that arrived as an object (a transport's message path): the same
        checks as for decoded bytes; its payload is an immutable snapshot, ``size`` its wire size,
        ``charge`` what decoding it would have charged (:func:`mpc.codec.decode_charged`)."""
        if peer in self.mailbox.cut_off:
            return
        try:
            if size > self.limits.max_message_bytes:
                raise CodecError(f"message of {size} bytes exceeds the limit of {self.limits.max_message_bytes}")
            self._accept(peer, msg, charge)
        except Exception as exc:  # noqa: BLE001 - whatever a peer sends, the node keeps serving
            self._reject(peer, exc)

    def _accept(self, peer: int, msg: Message, charge: int) -> None:
        if msg.sender != peer:
            raise ProtocolError(f"claims to be party {msg.sender}", peer=peer)
        if msg.instance == CONTROL:
            self._on_control(msg)
        else:
            self.mailbox.deliver(msg, charge)
            if msg.tag in AGREEMENT_TAGS:
                self._on_early_abort(msg)

    def _reject(self, peer: int, exc: Exception) -> None:
        if not isinstance(exc, ProtocolError):
            # the type only: the text of an arbitrary exception could quote peer data
            self.log.error("party %d: internal error (%s) on a message from %d",
                           self.party_id, type(exc).__name__, peer)
            exc = ProtocolError(f"message could not be processed: {type(exc).__name__}", peer=peer)
        if exc.peer is None:
            exc.peer = peer
        # kept for inspection without its traceback: the frames that decoded the message would keep
        # the decoded payload (up to ~20 MiB per 256 KiB envelope) alive outside the sender's quota
        exc.__traceback__ = exc.__context__ = exc.__cause__ = None
        self.rejected_count += 1
        self.rejected = [*self.rejected[-31:], exc]
        if self.rejected_count <= 32 or self.rejected_count % 1000 == 0:  # a flood is not a log flood
            self.log.warning("party %d rejected a message from %d (%d so far): %s", self.party_id, peer,
                             self.rejected_count, exc)
        if self.mailbox.strike(peer, asyncio.get_running_loop().time()):
            self.log.warning("party %d: cut off party %d: too many rejected messages", self.party_id, peer)
            self._gone(peer, "cut off")

    def _gone(self, peer: int, reason: str) -> None:
        self.mailbox.mark_down(peer, reason)
        for waiting in self._waiting.values():
            waiting.discard(peer)
        self._control_event.set()

    def _on_control(self, msg: Message) -> None:
        if msg.session != self.session:
            self._hello_notes[msg.sender] = "is in another session (check the session both sides use)"
            raise ProtocolError("control message for another session", peer=msg.sender)
        if msg.tag not in self._control:
            raise ProtocolError(f"unknown control message {msg.tag!r}", peer=msg.sender)
        if msg.sender not in self.mailbox.parties:
            raise ProtocolError("control message from a party outside this session", peer=msg.sender)
        if msg.tag == HELLO:
            self._on_hello(msg.sender, msg.payload)
        self._control[msg.tag].add(msg.sender)
        waiting = self._waiting[msg.tag]
        if msg.sender in waiting:
            waiting.discard(msg.sender)
            if not waiting:
                self._control_event.set()

    def _on_hello(self, peer: int, payload: Any) -> None:
        if not (isinstance(payload, dict) and isinstance(payload.get("count"), int) and 0 <= payload["count"] < 1 << 62
                and isinstance(payload.get("star"), bool) and isinstance(payload.get("job"), bytes | None)
                and isinstance(payload.get("incarnation"), int) and 0 < payload["incarnation"] < 1 << 64):
            raise ProtocolError("malformed hello", peer=peer)
        if payload["star"] and not self._started and self.party_id == self.config.root:
            self._star_claims.add(peer)
        if payload["star"] and not self._shape.star and not self._started and self.party_id == self.config.root:
            # one party's neighbours are not everyone: the root answers its agreement steps (as
            # the star barrier does), else it would not answer that party. Only the root: a party
            # that talks to everyone keeps the mesh (a star claim sent to it alone handed its
            # outcome to the root, which could then feed it a wrong output unchecked). Only at
            # the start barrier: a later hello (one party's, to one party) flipping the shape
            # made that party alone wait for a root decision no one sends, splitting outcomes
            self._shape = Shape(party_id=self.party_id, peers=self.neighbors, root=self.config.root, star=True)
        if payload["job"] != self._job_digest:
            self._job_differs.add(peer)
        else:
            self._job_differs.discard(peer)
        if self._seen is None:
            self._seen = np.zeros(len(self.neighbors), dtype=np.uint64)
        slot = bisect.bisect_left(self.neighbors, peer)
        if slot < len(self.neighbors) and self.neighbors[slot] == peer:
            known = int(self._seen[slot])
            self._seen[slot] = payload["incarnation"]
        else:
            known = self._seen_other.get(peer, 0)
            self._seen_other[peer] = payload["incarnation"]
        if not known:  # this peer's first hello: its one vote for the counter
            self._count_votes[payload["count"]] = self._count_votes.get(payload["count"], 0) + 1
        if known and known != payload["incarnation"]:
            self._peer_restarted(peer)

    def _peer_count(self) -> int:
        """The computation counter most peers reported (ties: the smaller)."""
        if not self._count_votes:
            return 0
        return min(self._count_votes, key=lambda c: (-self._count_votes[c], c))

    def _peer_restarted(self, peer: int) -> None:
        """A new incarnation of ``peer`` said hello: what its old one owed us is lost (waits on it
        fail now), it takes part in the next computation, and it needs our hello to start."""
        self.log.info("party %d: party %d restarted", self.party_id, peer)
        self.mailbox.mark_down(peer, "it restarted; its part of the computation in flight is lost")
        self.mailbox.mark_up(peer)
        self._control[BYE].discard(peer)
        star, root = self.config.barrier == "star", self.config.root
        if self._started and (not star or root in (self.party_id, peer)):
            task = asyncio.get_running_loop().create_task(self._tell(HELLO, (peer,), tolerate_down=True))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _on_early_abort(self, msg: Message) -> None:
        """Another party's abort ended its run: stop ours now rather than wait out its deadline."""
        p = msg.payload
        # only what the sender itself can vouch for: its own abort, or (a star leaf) the root's
        # decision. A relayed cause, or a "decision" in a mesh, names another party as the origin:
        # one forged to one honest party stopped it, it relayed the cause, the party named adopted
        # it too, and every party blamed that honest party. (The agreement still reads relayed
        # views, checking each against its origin's own.)
        if (msg.tag == END_TAG and isinstance(p, dict) and p.get("ok") is False and p.get("kind") != "Excluded"
                and not p.get("relayed")):
            cause = {**compact_cause(p), "by": msg.sender}
        elif (msg.tag.endswith(DECISION) and isinstance(p, dict) and self._shape.star
              and msg.sender == self._shape.root):
            cause = compact_cause(p)
        else:
            return
        task = self._running.pop(msg.instance, None)
        if task is None:  # not started here yet: stop it as soon as it starts
            self._early_aborts[msg.instance] = cause
            while len(self._early_aborts) > MAX_EARLY_ABORTS:
                self._early_aborts.pop(next(iter(self._early_aborts)))
        elif not task.done():
            self._abort_cause[msg.instance] = cause
            task.cancel()

    # -- sending ----------------------------------------------------------------------
    def _message(self, instance: str, tag: str, payload: Any) -> Message:
        # every send builds one: the slot-writing constructor, ~3x cheaper than the dataclass __init__
        return _build(Message, self.session, instance, tag, self.party_id, payload)

    async def send_many(self, instance: str, tag: str, payloads: Mapping[int, Any], *, same: bool) -> None:
        """Send to several parties at once; a payload for this party is delivered locally."""
        if same and self._try_send is not None and self._send_messages is None and payloads:
            # a round's broadcast to live peers (the common case): encoded once, written directly
            members, down, me = self.mailbox.parties, self.mailbox.down, self.party_id
            if me not in payloads and members.issuperset(payloads) and (not down or down.isdisjoint(payloads)):
                waiting = self._broadcast(instance, tag, payloads)
                if waiting is None:
                    for observer in self._send_observers:
                        observer(tag)
                    return
                payloads = {peer: payloads[peer] for peer in waiting}  # sent again below: they wait
        msg: Message | None = None
        sends: list[tuple[int, Message]] = []
        members, down = self.mailbox.parties, self.mailbox.down  # sets: O(1) per peer at any scale
        for peer, payload in payloads.items():
            if peer == self.party_id:
                self.mailbox.deliver(self._message(instance, tag, payload))
                continue
            if peer not in members:
                raise ConfigError(f"unknown party {peer}")
            if peer in down:
                continue  # it is gone; the protocol's quorum logic decides whether that matters
            if not same or msg is None:
                msg = self._message(instance, tag, payload)
            sends.append((peer, msg))
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

    def _broadcast(self, instance: str, tag: str, payloads: Mapping[int, Any]) -> list[int] | None:
        """:meth:`send_many` of one payload to known, live peers over a ``try_send`` transport,
        without a coroutine or a list per send: a peer that cannot be written to is marked down;
        returns the peers whose send buffer was full (None: none), for the general path."""
        data = self._message(instance, tag, next(iter(payloads.values()))).to_bytes()
        try_send = self._try_send
        assert try_send is not None
        waiting: list[int] | None = None
        for peer in payloads:
            try:
                if try_send(peer, data):
                    continue
            except TransportError as exc:  # a peer we cannot send to is treated like one that dropped
                self.log.info("party %d: %s", self.party_id, exc)
                self.mailbox.mark_down(peer, str(exc))
                continue
            waiting = [peer] if waiting is None else [*waiting, peer]  # above the high-water mark
        return waiting

    async def _send_all(self, sends: list[tuple[int, Message]]) -> list[BaseException | None]:
        """Send each ``(peer, message)`` concurrently; a failed send's exception is returned in its place.

        A message object repeated in ``sends`` (a broadcast) is encoded once. On a transport's
        message path nothing is encoded. A transport whose ``send`` never suspends (netsim's,
        marked ``immediate_send``) is called in a plain loop: a task per message would dominate a
        simulation of thousands of parties. A single send is awaited directly too (no task, which
        matters for dependent round trips).
        """
        out: list[BaseException | None] = []
        if self._send_messages is not None:
            failed = self._send_messages(sends)  # an unencodable payload raises, as to_bytes() below
            return [failed.get(peer) for peer, _ in sends] if failed else [None] * len(sends)
        encoded: list[tuple[int, bytes]] = []
        last: tuple[Message, bytes] | None = None
        for peer, msg in sends:
            if last is None or last[0] is not msg:
                last = (msg, msg.to_bytes())
            encoded.append((peer, last[1]))
        try_send = self._try_send
        if try_send is not None:  # no coroutine per message; await only the sends that must wait
            waiting: list[int] = []
            for i, (peer, data) in enumerate(encoded):
                try:
                    sent = try_send(peer, data)
                except Exception as exc:  # as gather(return_exceptions=True) would hand it back
                    out.append(exc)
                    continue
                out.append(None)
                if not sent:
                    waiting.append(i)
            if waiting:
                done = await asyncio.gather(*(self.transport.send(*encoded[i]) for i in waiting), return_exceptions=True)
                for i, r in zip(waiting, done, strict=True):
                    out[i] = r
            return out
        if len(encoded) > 1 and not self._immediate:
            return list(await asyncio.gather(*(self.transport.send(p, d) for p, d in encoded), return_exceptions=True))
        for peer, data in encoded:
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
    def _claim(self, protocol: Callable[..., Any], name: str | None) -> str:
        if name is None:  # the default for sequential programs: the same call order everywhere
            self._instances += 1
            return f"{getattr(protocol, '__name__', 'protocol')}#{self._instances}"
        if not isinstance(name, str) or not name or len(name) > MAX_NAME or "#" in name or name.startswith("~"):
            raise ConfigError(f"a computation name is 1..{MAX_NAME} characters without '#' or a leading '~'")
        if name in self._names:
            raise NameInUse(f"the computation name {name!r} was already used in this session")
        self._names.add(name)
        return name

    async def _agree(self, ctx: Context, tag: str, view: Any, decide: Callable[..., Decision]) -> Decision:
        return await settle(self, self._shape, ctx.instance, tag, view, decide, self.timeout)

    async def _computation(self, ctx: Context, job: JobDescriptor | None,
                           body: Callable[[], Awaitable[R]]) -> R:
        """The job agreement (if any), then the protocol: one task, which another party's abort cancels."""
        if job is not None:
            outside = set(job.parties) - self.mailbox.parties  # the shared frozenset, not a copy per node
            if outside:
                raise ConfigError(f"the job names parties {sorted(outside)} that are not in this session")
            decision = await self._agree(ctx, JOB_TAG, job_view(job), decide_job)
            if decision is not None:
                raise agreed_error(decision, self.party_id, None)
        return await body()

    async def run(
        self,
        protocol: Callable[..., Awaitable[R]],
        *args: Any,
        name: str | None = None,
        job: JobDescriptor | None = None,
        **kwargs: Any,
    ) -> R:
        """Run ``protocol(ctx, *args, **kwargs)`` as one computation and return its result.

        ``name`` identifies the computation at every party (computations with different names may
        run concurrently, started in any order; a name is used once per session). Without it, a
        per-node counter numbers the computations: every party must then start them in the same
        order. ``job``: the parties first compare their public job descriptors and all raise
        :class:`JobMismatch` (naming the fields) if they differ; nothing else was sent. Afterwards
        (unless the config turns it off) the live parties agree: all return their output, or all
        raise the same type of error.
        """
        if not self._started:
            raise ConfigError("the node is not started: use 'async with node:' or 'await node.start()' first")
        instance = self._claim(protocol, name)
        ctx = Context(self, instance)
        result: Any = None
        error: Exception | None = None
        try:
            try:
                task = asyncio.ensure_future(self._computation(ctx, job, lambda: protocol(ctx, *args, **kwargs)))
                self._running[instance] = task
                early = self._early_aborts.pop(instance, None)
                if early is not None:
                    self._abort_cause[instance] = early
                    task.cancel()
                try:
                    result = await task
                finally:
                    self._running.pop(instance, None)
            except Crashed:
                raise
            except asyncio.CancelledError:
                if instance not in self._abort_cause:
                    raise
            except Exception as exc:  # noqa: BLE001 - the survivors learn of it, then it is raised
                error = exc
            if not self.config.survivor_agreement:
                if error is not None:
                    raise error
                return result
            cause = self._abort_cause.get(instance)
            decision = await self._agree(ctx, END_TAG, end_view(result, error, cause), decide_end)
            if decision is None and error is None and cause is None:
                return result
            if isinstance(error, Excluded):
                raise error  # the others' outcome is theirs: this party simply has none
            agreed = agreed_error(decision or {"kind": "ComputationAborted"}, self.party_id, error)
            if agreed is error:
                raise error
            raise agreed from error
        finally:
            self._abort_cause.pop(instance, None)
            self._early_aborts.pop(instance, None)  # views that arrived during the agreement itself
            self.mailbox.finish(instance)


if TYPE_CHECKING:  # Node is what a Context talks to (checked by mypy, no runtime cost)
    def _node_is_a_port(node: Node) -> Port:
        return node


__all__ = ["Barrier", "Node", "NodeConfig", "SendObserver", "session_bytes"]
