"""A node's sending side, mixed into :class:`~mpc.node.Node`: one payload or one per peer, encoded
once per distinct message, written without a coroutine per peer where the transport allows
(``try_send``), objects on a transport's message path; a peer that cannot be written to is marked
down, and send observers (crash faults) see every send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConfigError, TransportError
from .mailbox import Mailbox
from .message import Message, _build
from .transport.base import Transport

SendObserver = Callable[[str], None]
"""Called with the full round tag after every send of this node (e.g. a crash fault trigger)."""


class SendPath:
    """The sending half of :class:`~mpc.node.Node` (its state is set up by ``Node._setup``)."""

    party_id: int
    session: bytes
    transport: Transport
    mailbox: Mailbox
    log: logging.Logger
    _immediate: bool
    _try_send: Callable[[int, bytes], bool] | None
    _send_messages: Callable[[list[tuple[int, Message]]], dict[int, TransportError]] | None
    _send_observers: list[SendObserver]

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
                    self._unreachable(peer, r)
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
            except TransportError as exc:
                self._unreachable(peer, exc)
                continue
            waiting = [peer] if waiting is None else [*waiting, peer]  # above the high-water mark
        return waiting

    def _unreachable(self, peer: int, exc: TransportError) -> None:
        """A peer we cannot send to is treated like one that dropped."""
        self.log.info("party %d: %s", self.party_id, exc)
        self.mailbox.mark_down(peer, str(exc))

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


__all__ = ["SendObserver", "SendPath"]
