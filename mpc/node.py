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
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from . import codec
from .agreement import (
    END_TAG,
    JOB_TAG,
    Decision,
    Shape,
    agreed_error,
    decide_end,
    decide_job,
    end_view,
    job_view,
    settle,
)
from .config import Barrier, NodeConfig, session_bytes
from .context import Context, Port
from .control import BYE, HELLO
from .receiving import ReceivePath
from .retained import Retained
from .sending import SendObserver
from .errors import (
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
from .message import MAX_NAME, Message
from .rng import Csprng
from .transport.base import DirectDelivery, MessageTransport, Transport, sends_immediately, try_sender

if TYPE_CHECKING:
    from .transport.nng import TlsCreds

R = TypeVar("R")
SERVED_JOB = "~job"  # the instance of the start-up job agreement in a star (names cannot start with ~)


class Node(ReceivePath):
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
        self._retained = Retained()  # opening shares others may pull (mpc.retained)
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

    # -- the Port a Context sees ---------------------------------------------------------
    @property
    def down(self) -> set[int]:
        return self.mailbox.down

    async def recv_one(self, instance: str, tag: str, sender: int, timeout: float) -> Any:
        return await self.mailbox.recv(instance, tag, sender, timeout)

    async def recv_many(self, instance: str, tag: str, senders: tuple[int, ...], timeout: float) -> dict[int, Any]:
        return await self.mailbox.recv_many(instance, tag, senders, timeout)

    async def recv_enough(self, instance: str, tag: str, senders: tuple[int, ...], enough: int,
                          timeout: float) -> dict[int, Any]:
        return await self.mailbox.recv_many(instance, tag, senders, timeout, enough)

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
            self._retained.finish(instance)


if TYPE_CHECKING:  # Node is what a Context talks to (checked by mypy, no runtime cost)
    def _node_is_a_port(node: Node) -> Port:
        return node


__all__ = ["Barrier", "Node", "NodeConfig", "SendObserver", "session_bytes"]
