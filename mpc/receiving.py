"""A node's receiving side, mixed into :class:`~mpc.node.Node`: the one ingress point. Bytes
become a message (a round's one-array message is read by hand, anything else by the strict
codec), the message goes to the mailbox or the control plane, and whatever a peer sends that
cannot be taken is rejected with a typed error, counted against it (a sender whose messages keep
being rejected is cut off), and never stops the node.
"""

from __future__ import annotations

import asyncio

from .agreement import AGREEMENT_TAGS
from .codec import Limits
from .control import ControlPlane
from .errors import CodecError, ProtocolError
from .message import CONTROL, Message, _build, _decode_generic, decode_array_parts
from .transport.base import PEER_DOWN


class ReceivePath(ControlPlane):
    """The receiving side of :class:`~mpc.node.Node`, over its control plane and sending side (the
    state is set up by ``Node._setup``)."""

    limits: Limits
    rejected: list[ProtocolError]
    rejected_count: int

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


__all__ = ["ReceivePath"]
