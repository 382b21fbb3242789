"""Messages are keyed, not ordered: buffered by ``(instance, round tag, sender)``.

An early message waits for its receiver; a receiver waits for its message until a deadline.
Each key is delivered at most once (a second copy is a replay), messages for finished
instances are rejected, and what a peer may leave buffered is bounded per sender — in messages
and in decoded bytes (the charge :func:`mpc.codec.decode_charged` computes). A sender over its
quota loses its own *oldest* early messages first: a flood of made-up future tags fills only the
flooder's quota, never displaces another sender's messages, and cannot get the flooder's own later
in-protocol message refused. A message some receiver is already waiting for is never buffered as
early, so it is never evicted. A sender whose messages keep being rejected is cut off
(:meth:`Mailbox.strike`).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from .codec import DEFAULT_LIMITS, Limits
from .deadlines import Deadlines, expire
from .errors import PartyDropped, ProtocolError
from .message import Message

Key = tuple[str, str, int]
MAX_FINISHED = 1 << 16


@functools.lru_cache(maxsize=16)
def _members(parties: tuple[int, ...]) -> frozenset[int]:
    """One shared set per party list: thousands of simulated nodes must not each hold a copy."""
    return frozenset(parties)


class _Group:
    __slots__ = ("remaining", "done")

    def __init__(self, remaining: int, done: asyncio.Future[None]) -> None:
        self.remaining = remaining
        self.done = done


class _Collector:
    """One :meth:`Mailbox.recv_many` waiting on ``(instance, tag)``: payloads go straight into
    ``got`` (no future per sender); ``done`` is set once nobody in ``pending`` is left, or once
    ``enough`` payloads came (a ring opening's replacements: the first ones needed end the wait)."""

    __slots__ = ("pending", "got", "done", "failed", "enough")

    def __init__(self, pending: set[int], done: asyncio.Future[None], enough: int | None = None) -> None:
        self.pending = pending
        self.got: dict[int, Any] = {}  # sender -> payload, or the PartyDropped that replaced it
        self.done = done
        self.failed = False  # some entry of got is a PartyDropped
        self.enough = len(pending) if enough is None else enough  # payloads still wanted

    def settle(self, sender: int, value: Any) -> None:
        """``sender``'s payload arrived."""
        self.pending.discard(sender)
        self.got[sender] = value
        self.enough -= 1
        if (not self.pending or self.enough <= 0) and not self.done.done():
            self.done.set_result(None)

    def drop(self, sender: int, exc: PartyDropped) -> None:
        """``sender`` is gone: its entry is ``exc``."""
        self.failed = True
        self.pending.discard(sender)
        self.got[sender] = exc
        if not self.pending and not self.done.done():
            self.done.set_result(None)


class Mailbox:
    def __init__(self, session: bytes, parties: tuple[int, ...], limits: Limits = DEFAULT_LIMITS) -> None:
        self.session = session
        self.parties = _members(tuple(parties))
        self.limits = limits
        self._slots: dict[Key, asyncio.Future[Any]] = {}
        self._consumed: dict[str, dict[str, set[int]]] = {}  # instance -> tag -> senders received
        self._finished: dict[str, None] = {}  # insertion-ordered set, bounded
        # buffered before anyone asked, per sender, oldest first: key -> charge
        self._early: dict[int, dict[Key, int]] = {}
        self._early_bytes: dict[int, int] = {}
        self.evicted: dict[int, int] = {}  # early messages dropped to make room, per sender
        self._strikes: dict[int, tuple[float, float]] = {}  # sender -> (level, at)
        self.cut_off: set[int] = set()
        self._down: set[int] = set()
        self._watch: dict[Key, list[_Group]] = {}  # slots a recv_many waits on, and its group
        self._collect: dict[tuple[str, str], _Collector] = {}  # (instance, tag) a recv_many waits on
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadlines: Deadlines | None = None

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        # the node's loop, looked up once: asyncio.get_running_loop() costs a getpid() system call
        # on CPython 3.11, several times per round
        self._loop = asyncio.get_running_loop()
        self._deadlines = Deadlines(self._loop)
        return self._loop

    @property
    def down(self) -> set[int]:
        """Parties known to have dropped (the live set: read it, do not change it)."""
        return self._down

    def deliver(self, msg: Message, size: int = 0) -> None:
        """Store a message from the network (``size``: the memory it holds, its decoded charge);
        raises :class:`ProtocolError` to reject it."""
        self.put(msg.session, msg.instance, msg.tag, msg.sender, msg.payload, size)

    def put(self, session: bytes, instance: str, tag: str, sender: int, payload: Any, size: int = 0) -> None:
        """:meth:`deliver` of a message's fields (a decoded round message needs no object)."""
        if session != self.session:
            raise ProtocolError("message for another session", peer=sender)
        if sender not in self.parties:
            raise ProtocolError(f"unknown sender {sender}", peer=sender)
        if sender in self.cut_off:
            raise ProtocolError("sender is cut off", peer=sender)
        if instance in self._finished:
            raise ProtocolError(f"message for finished instance {instance!r}", peer=sender)
        taken = self._consumed.get(instance)
        if taken is not None and sender in taken.get(tag, ()):
            raise ProtocolError(f"replayed message {instance}/{tag}", peer=sender)
        if self._collect:
            collector = self._collect.get((instance, tag))
            if collector is not None:
                if sender in collector.pending:
                    collector.settle(sender, payload)
                    return
                if sender in collector.got:
                    raise ProtocolError(f"duplicate message {instance}/{tag}", peer=sender)
        key = (instance, tag, sender)
        fut = self._slots.get(key)
        if fut is not None and fut.done():
            raise ProtocolError(f"duplicate message {instance}/{tag}", peer=sender)
        if fut is None:
            self._make_room(sender, size)
            fut = (self._loop or self._bind_loop()).create_future()
            self._slots[key] = fut
            self._early.setdefault(sender, {})[key] = size
            self._early_bytes[sender] = self._early_bytes.get(sender, 0) + size
        fut.set_result(payload)
        if key in self._watch:
            self._settled(key)

    def _make_room(self, sender: int, size: int) -> None:
        """Evict ``sender``'s oldest early messages until one of ``size`` fits its quota."""
        if size > self.limits.max_buffered_bytes_per_sender:
            raise ProtocolError(f"a message holding {size} bytes exceeds the per-sender buffer", peer=sender)
        early = self._early.get(sender)
        if not early:
            return
        while early and (len(early) >= self.limits.max_buffered_per_sender
                         or self._early_bytes[sender] + size > self.limits.max_buffered_bytes_per_sender):
            self._forget(next(iter(early)))
            self.evicted[sender] = self.evicted.get(sender, 0) + 1

    def strike(self, sender: int, now: float) -> bool:
        """Count a rejected message from ``sender``; True once, when it crosses the limit and is
        cut off (marked down: waits on it fail with :class:`PartyDropped`)."""
        burst = self.limits.reject_burst
        if burst is None or sender in self.cut_off:
            return False
        level, at = self._strikes.get(sender, (0.0, now))
        level = max(0.0, level - (now - at) * self.limits.reject_rate) + 1
        self._strikes[sender] = (level, now)
        if level <= burst:
            return False
        self.cut_off.add(sender)
        for key in list(self._early.get(sender, ())):
            self._forget(key)
        self.mark_down(sender, f"cut off after more than {burst} rejected messages")
        return True

    def mark_down(self, party: int, reason: str = "connection lost") -> None:
        """Fail every wait on ``party`` whose message has not arrived; later waits fail at once."""
        self._down.add(party)
        for collector in list(self._collect.values()):
            if party in collector.pending:
                collector.drop(party, PartyDropped(party, reason))
        for (_inst, _tag, sender), fut in list(self._slots.items()):
            if sender == party and not fut.done():
                fut.set_exception(PartyDropped(party, reason))
                if (_inst, _tag, sender) in self._watch:
                    self._settled((_inst, _tag, sender))

    def mark_up(self, party: int) -> None:
        """``party`` is back (a new incarnation): later waits on it wait again, and what its old
        incarnation left buffered unread is dropped."""
        self._down.discard(party)
        for key in list(self._early.get(party, ())):
            self._forget(key)

    def _settled(self, key: Key) -> None:
        for group in self._watch.pop(key):
            group.remaining -= 1
            if group.remaining == 0 and not group.done.done():
                group.done.set_result(None)

    async def recv(self, instance: str, tag: str, sender: int, timeout: float) -> Any:
        key = (instance, tag, sender)
        if sender in self._consumed.get(instance, {}).get(tag, ()):
            raise ProtocolError(f"{instance}/{tag} from {sender} was already received", peer=sender)
        fut = self._slots.get(key)
        collector = self._collect.get((instance, tag))
        if collector is not None and sender in collector.pending:
            raise ProtocolError(f"{instance}/{tag} from {sender} is already being awaited", peer=sender)
        if fut is None:
            if sender in self._down:
                raise PartyDropped(sender, "connection lost")
            loop = self._loop or self._bind_loop()
            fut = loop.create_future()
            self._slots[key] = fut
            # one timer on the waiter itself (cheaper than asyncio.timeout + shield per message)
            timer = loop.call_later(timeout, _expire_one, fut, sender, tag, timeout)
            try:
                await fut
            except BaseException:  # dropped, timed out, or this waiter was cancelled
                self._forget(key)
                raise
            finally:
                timer.cancel()
        elif not fut.done():
            raise ProtocolError(f"{instance}/{tag} from {sender} is already being awaited", peer=sender)
        payload = fut.result()  # an early message, or the one just awaited
        self._forget(key)
        self._received(instance, tag).add(sender)
        return payload

    async def recv_many(self, instance: str, tag: str, senders: tuple[int, ...], timeout: float,
                        enough: int | None = None) -> dict[int, Any]:
        """:meth:`recv` from each sender under one shared deadline; a missing sender's entry is a
        :class:`PartyDropped` instead of its payload. One timer for all: with thousands of senders a
        task and a timer per sender would dominate. ``enough``: the wait ends as soon as that many
        payloads are in (the others' entries are then PartyDropped too, and their messages, should
        they come, are buffered as early ones, not refused); alone on ``(instance, tag)`` only.

        Through one :class:`_Collector`: buffered messages are taken now, the others are stored by
        :meth:`deliver` as they come; one future in all, and a deadline in :class:`~mpc.deadlines.Deadlines`."""
        if (instance, tag) in self._collect:
            return await self._recv_group(instance, tag, senders, timeout)
        consumed = self._consumed.get(instance, {}).get(tag, ())
        slots, down = self._slots, self._down
        out: dict[int, Any] = {}
        pending: set[int] = set()
        check: Any = senders
        if len(slots) <= len(senders) and down.isdisjoint(senders) and (
                not consumed or consumed.isdisjoint(senders)):
            # nobody down or received already: only the few buffered ones (early messages, a
            # scatter's own entry) need the loop below; the others are awaited (set operations, in C)
            who = set(senders)
            if slots:
                check = [k[2] for k in slots if k[2] in who and k[0] == instance and k[1] == tag]
                pending = who.difference(check)
            else:  # nothing buffered at all: wait for everyone
                check, pending = (), who
        for s in check:
            if s in consumed:
                raise ProtocolError(f"{instance}/{tag} from {s} was already received", peer=s)
            fut = slots.get((instance, tag, s))
            if fut is not None and not fut.done():
                raise ProtocolError(f"{instance}/{tag} from {s} is already being awaited", peer=s)
            if fut is not None:
                out[s] = fut
            elif s in down:
                out[s] = PartyDropped(s, "connection lost")
            else:
                pending.add(s)
        if enough is not None:  # what was buffered counts
            enough -= sum(1 for v in out.values() if isinstance(v, asyncio.Future) and v.exception() is None)
            if enough <= 0:
                pending = set()  # (their entries below: not within this wait)
                out.update((s, PartyDropped(s, f"no {tag!r} message needed")) for s in senders if s not in out)
        if pending:
            loop = self._loop or self._bind_loop()
            collector = self._collect[(instance, tag)] = _Collector(pending, loop.create_future(), enough)
            deadlines = self._deadlines
            assert deadlines is not None
            deadlines.add(collector.done, timeout)
            try:
                await collector.done
            finally:  # cancelled: what arrived meanwhile is dropped, later messages are buffered
                deadlines.discard(collector.done)
                del self._collect[(instance, tag)]
            if not collector.pending and not collector.failed:  # every awaited payload arrived
                arrived = collector.got
                for s, fut in out.items():  # buffered before the call (a few)
                    if not isinstance(fut, asyncio.Future) or fut.exception() is not None:
                        break
                    self._forget((instance, tag, s))
                    arrived[s] = fut.result()
                else:
                    self._received(instance, tag).update(senders)
                    return {s: arrived[s] for s in senders}
                out = {**arrived, **out}  # (the futures not taken yet stay in out)
            else:
                out.update(collector.got)
            for s in collector.pending:
                out[s] = PartyDropped(s, f"no {tag!r} message within {timeout:g}s")
        got = self._received(instance, tag)
        result: dict[int, Any] = {}
        for s in senders:
            value = out[s]
            if isinstance(value, asyncio.Future):  # buffered before the call
                self._forget((instance, tag, s))
                value = value.exception() or value.result()
            if not isinstance(value, BaseException):
                got.add(s)
            result[s] = value
        return result

    async def _recv_group(self, instance: str, tag: str, senders: tuple[int, ...], timeout: float) -> dict[int, Any]:
        """:meth:`recv_many` while another one already collects ``(instance, tag)``: a future per
        slot, settled through a :class:`_Group`."""
        consumed = self._consumed.get(instance, {}).get(tag, ())
        loop = self._loop or self._bind_loop()
        slots: dict[int, asyncio.Future[Any]] = {}
        out: dict[int, Any] = {}
        for s in senders:
            if s in consumed:
                raise ProtocolError(f"{instance}/{tag} from {s} was already received", peer=s)
            key = (instance, tag, s)
            fut = self._slots.get(key)
            if fut is None:
                if s in self._down:
                    out[s] = PartyDropped(s, "connection lost")
                    continue
                fut = self._slots[key] = loop.create_future()
            slots[s] = fut
        pending = [(instance, tag, s) for s, f in slots.items() if not f.done()]
        if pending:
            # one future for the whole group, settled by deliver/mark_down: no callback per slot
            group = _Group(len(pending), loop.create_future())
            for key in pending:
                self._watch.setdefault(key, []).append(group)
            timer = loop.call_later(timeout, expire, group.done)
            try:
                await group.done
            except BaseException:  # cancelled: leave no timer-less slot behind
                for key in pending:
                    self._forget(key)
                raise
            finally:
                timer.cancel()
                for key in pending:
                    waiting = self._watch.get(key)
                    if waiting is not None and group in waiting:
                        waiting.remove(group)
                        if not waiting:
                            del self._watch[key]
        got = self._received(instance, tag)
        for s, fut in slots.items():
            if not fut.done() or fut.cancelled():
                out[s] = PartyDropped(s, f"no {tag!r} message within {timeout:g}s")
            elif fut.exception() is not None:
                out[s] = fut.exception()
            else:
                out[s] = fut.result()
                got.add(s)
            self._forget((instance, tag, s))
        return {s: out[s] for s in senders}

    def _received(self, instance: str, tag: str) -> set[int]:
        """The senders whose ``(instance, tag)`` message was received (a second one is a replay)."""
        tags = self._consumed.get(instance)
        if tags is None:
            tags = self._consumed[instance] = {}
        got = tags.get(tag)
        if got is None:
            got = tags[tag] = set()
        return got

    def _forget(self, key: Key) -> None:
        fut = self._slots.pop(key, None)
        if fut is not None and not fut.done():
            fut.cancel()
        early = self._early.get(key[2])
        if early is not None and key in early:
            self._early_bytes[key[2]] -= early.pop(key)

    def finished(self, instance: str) -> bool:
        """Whether ``instance`` finished here (one of the last ``MAX_FINISHED``)."""
        return instance in self._finished

    def finish(self, instance: str) -> None:
        """Drop everything buffered for ``instance``; later messages for it are rejected."""
        for key in [k for k in self._slots if k[0] == instance]:
            self._forget(key)
        self._consumed.pop(instance, None)
        self._finished[instance] = None
        if len(self._finished) > MAX_FINISHED:
            self._finished.pop(next(iter(self._finished)))


def _expire_one(fut: asyncio.Future[Any], sender: int, tag: str, timeout: float) -> None:
    if not fut.done():
        fut.set_exception(PartyDropped(sender, f"no {tag!r} message within {timeout:g}s"))


__all__ = ["Mailbox"]
