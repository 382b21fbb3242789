"""Messages are keyed, not ordered: buffered by ``(instance, round tag, sender)``.

An early message waits for its receiver; a receiver waits for its message until a deadline.
Each key is delivered at most once (a second copy is a replay), messages for finished
instances are rejected, and what a peer may leave buffered is bounded.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .errors import PartyDropped, ProtocolError
from .message import Message

Key = tuple[str, str, int]
MAX_PENDING_PER_SENDER = 4096
MAX_FINISHED = 1 << 16


class Mailbox:
    def __init__(self, session: bytes, parties: tuple[int, ...]) -> None:
        self.session = session
        self.parties = frozenset(parties)
        self._slots: dict[Key, asyncio.Future[Any]] = {}
        self._consumed: dict[str, set[tuple[str, int]]] = {}
        self._finished: dict[str, None] = {}  # insertion-ordered set, bounded
        self._pending: dict[int, int] = {}
        self._early: set[Key] = set()  # buffered before anyone asked: counted in _pending
        self._down: set[int] = set()

    @property
    def down(self) -> frozenset[int]:
        return frozenset(self._down)

    def deliver(self, msg: Message) -> None:
        """Store a message from the network; raises :class:`ProtocolError` to reject it."""
        if msg.session != self.session:
            raise ProtocolError("message for another session", peer=msg.sender)
        if msg.sender not in self.parties:
            raise ProtocolError(f"unknown sender {msg.sender}", peer=msg.sender)
        if msg.instance in self._finished:
            raise ProtocolError(f"message for finished instance {msg.instance!r}", peer=msg.sender)
        key = (msg.instance, msg.tag, msg.sender)
        if (msg.tag, msg.sender) in self._consumed.get(msg.instance, ()):
            raise ProtocolError(f"replayed message {msg.instance}/{msg.tag}", peer=msg.sender)
        fut = self._slots.get(key)
        if fut is not None and fut.done():
            raise ProtocolError(f"duplicate message {msg.instance}/{msg.tag}", peer=msg.sender)
        if fut is None:
            if self._pending.get(msg.sender, 0) >= MAX_PENDING_PER_SENDER:
                raise ProtocolError("too many buffered messages", peer=msg.sender)
            fut = asyncio.get_running_loop().create_future()
            self._slots[key] = fut
            self._early.add(key)
            self._pending[msg.sender] = self._pending.get(msg.sender, 0) + 1
        fut.set_result(msg.payload)

    def mark_down(self, party: int, reason: str = "connection lost") -> None:
        """Fail every wait on ``party`` whose message has not arrived; later waits fail at once."""
        self._down.add(party)
        for (_inst, _tag, sender), fut in list(self._slots.items()):
            if sender == party and not fut.done():
                fut.set_exception(PartyDropped(party, reason))

    async def recv(self, instance: str, tag: str, sender: int, timeout: float) -> Any:
        key = (instance, tag, sender)
        if (tag, sender) in self._consumed.get(instance, ()):
            raise ProtocolError(f"{instance}/{tag} from {sender} was already received", peer=sender)
        fut = self._slots.get(key)
        if fut is None:
            if sender in self._down:
                raise PartyDropped(sender, "connection lost")
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            self._slots[key] = fut
            # one timer on the waiter itself (cheaper than asyncio.timeout + shield per message)
            timer = loop.call_later(timeout, _expire, fut, sender, tag, timeout)
            try:
                await fut
            except BaseException:  # dropped, timed out, or this waiter was cancelled
                self._forget(key)
                raise
            finally:
                timer.cancel()
        payload = fut.result()  # an early message, or the one just awaited
        self._forget(key)
        self._consumed.setdefault(instance, set()).add((tag, sender))
        return payload

    def _forget(self, key: Key) -> None:
        fut = self._slots.pop(key, None)
        if fut is not None and not fut.done():
            fut.cancel()
        if key in self._early:
            self._early.discard(key)
            self._pending[key[2]] -= 1

    def finish(self, instance: str) -> None:
        """Drop everything buffered for ``instance``; later messages for it are rejected."""
        for key in [k for k in self._slots if k[0] == instance]:
            self._forget(key)
        self._consumed.pop(instance, None)
        self._finished[instance] = None
        if len(self._finished) > MAX_FINISHED:
            self._finished.pop(next(iter(self._finished)))


def _expire(fut: asyncio.Future[Any], sender: int, tag: str, timeout: float) -> None:
    if not fut.done():
        fut.set_exception(PartyDropped(sender, f"no {tag!r} message within {timeout:g}s"))


__all__ = ["Mailbox"]
