"""The node: owns identity, transport, mailbox and protocol instances.

```python
async with Node(party_id=1, peers={1: "tcp://127.0.0.1:9100", 2: "tcp://127.0.0.1:9200"}) as node:
    total = await node.run(secure_sum, my_vector)
```

Several nodes may live in one process and one event loop: nothing here is global.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from . import codec
from .context import Context
from .errors import ConfigError, Crashed, MpcError, PartyDropped, ProtocolError, TransportError
from .mailbox import Mailbox
from .message import CONTROL, Message
from .rng import Csprng
from .transport.base import PEER_DOWN, DirectDelivery, Transport, sends_immediately

P = ParamSpec("P")
R = TypeVar("R")
HELLO, BYE = "hello", "bye"


@dataclass(frozen=True, slots=True, kw_only=True)
class CrashFault:
    """Crash this party after it sends round ``after`` (a tag, or its last path segment)."""

    after: str


class Node:
    def __init__(
        self,
        party_id: int,
        peers: Mapping[int, str] | None = None,
        *,
        transport: Transport | None = None,
        parties: tuple[int, ...] | None = None,
        session: bytes = b"mpc-default-session",
        timeout: float = 10.0,
        connect_timeout: float = 30.0,
        rng: Csprng | None = None,
        limits: codec.Limits = codec.DEFAULT_LIMITS,
        crash: CrashFault | None = None,
        on_crash: Callable[[], None] | None = None,
        tls: Any = None,
        neighbors: tuple[int, ...] | None = None,
        transport_kind: str = "nng",
    ) -> None:
        if transport is None:
            if peers is None:
                raise ConfigError("Node needs either peers (addresses) or a transport")
            from .transport.tcp import new_transport

            transport = new_transport(transport_kind, party_id, peers, tls=tls,
                                      max_message_bytes=limits.max_message_bytes)
            parties = tuple(sorted(peers))
        if parties is None:
            parties = tuple(sorted({party_id, *transport.peers}))
        if party_id not in parties:
            raise ConfigError(f"party {party_id} is not among the parties {parties}")
        self.party_id = party_id
        self.parties = parties
        # the peers this node exchanges hello/bye with (all, unless the protocol is not a mesh)
        self.neighbors = tuple(p for p in (parties if neighbors is None else neighbors) if p != party_id)
        self.transport = transport
        self._immediate = sends_immediately(transport)
        self.session = session
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.rng = rng if rng is not None else Csprng()
        self.limits = limits
        self.log = logging.getLogger(f"mpc.party{party_id}")
        self.mailbox = Mailbox(session, parties, limits)
        self.rejected: list[ProtocolError] = []  # the last few rejected messages, for inspection
        self.rejected_count = 0
        self._crash = crash
        self._on_crash = on_crash
        self._instances = 0
        self._control: dict[str, set[int]] = {HELLO: set(), BYE: set()}
        self._control_event = asyncio.Event()
        self._waiting: dict[str, set[int]] = {HELLO: set(), BYE: set()}
        self._pump_task: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------
    async def __aenter__(self) -> Node:
        await self.transport.start(self.connect_timeout)
        if isinstance(self.transport, DirectDelivery):
            self.transport.set_sink(self.ingress)  # direct delivery: one task hop less per message
        else:
            self._pump_task = asyncio.create_task(self._pump(), name=f"mpc-pump-{self.party_id}")
        try:
            await self._barrier(HELLO, self.connect_timeout)
        except BaseException:
            await self._shutdown()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is not None and issubclass(exc_type, Crashed):
            await self._shutdown()  # a crashed party says no goodbye
            return
        with contextlib.suppress(MpcError, TimeoutError):
            await self._barrier(BYE, min(self.timeout, 5.0), tolerate_down=True)
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump_task
            self._pump_task = None
        await self.transport.close()

    async def _barrier(self, kind: str, timeout: float, tolerate_down: bool = False) -> None:
        """Tell every peer ``kind`` and wait until every peer said it too (or went away)."""
        peers = list(self.neighbors)
        down = self.mailbox.down
        live = [p for p in peers if p not in down]
        data = self._message(CONTROL, kind, None).to_bytes()
        try:
            async with asyncio.timeout(timeout):
                results = await self._send_all([(p, data) for p in live])
                for p, r in zip(live, results, strict=True):
                    if isinstance(r, BaseException) and not tolerate_down:
                        raise PartyDropped(p, f"cannot reach it: {r}")
                # a set that _on_control and lost connections shrink: O(1) per answer, not O(peers)
                down = self.mailbox.down
                waiting = self._waiting[kind] = {p for p in peers if p not in self._control[kind] and p not in down}
                while waiting:
                    self._control_event.clear()
                    await self._control_event.wait()
        except TimeoutError:
            waiting = [p for p in peers if p not in self._control[kind]]
            if not waiting:  # everyone answered; only our own sends were slow (a loaded loop)
                return
            raise PartyDropped(waiting[0], f"no {kind} within {timeout:g}s (also waiting for {waiting[1:]})") from None
        dropped = [p for p in peers if p not in self._control[kind]]
        if dropped and not tolerate_down:
            raise PartyDropped(dropped[0], f"went away before {kind}")

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
            msg, charge = Message.from_bytes_charged(data, self.limits)
            if msg.sender != peer:
                raise ProtocolError(f"claims to be party {msg.sender}", peer=peer)
            if msg.instance == CONTROL:
                self._on_control(msg)
            else:
                self.mailbox.deliver(msg, charge)
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
        self._after_send(tag)

    async def _send_all(self, sends: list[tuple[int, bytes]]) -> list[BaseException | None]:
        """Send each ``(peer, data)`` concurrently; a failed send's exception is returned in its place.

        A transport whose ``send`` never suspends (netsim's, marked ``immediate_send``) is called in
        a plain loop: a task per message would dominate a simulation of thousands of parties. A
        single send is awaited directly too (no task, which matters for dependent round trips).
        """
        if len(sends) > 1 and not self._immediate:
            return list(await asyncio.gather(*(self.transport.send(p, d) for p, d in sends), return_exceptions=True))
        out: list[BaseException | None] = []
        for peer, data in sends:
            try:
                await self.transport.send(peer, data)
                out.append(None)
            except Exception as exc:  # as gather(return_exceptions=True) would hand it back
                out.append(exc)
        return out

    def _after_send(self, tag: str) -> None:
        crash = self._crash
        if crash is not None and (tag == crash.after or tag.rsplit("/", 1)[-1] == crash.after):
            self._crash = None
            self.log.info("party %d: crash fault after %r", self.party_id, tag)
            if self._on_crash is not None:
                self._on_crash()

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


__all__ = ["CrashFault", "Node"]
