"""What a protocol sees: its id, the parties, tagged messaging, a CSPRNG, the clock, a logger.

Protocols are ``async def f(ctx, ...)``; they never touch sockets, wall clocks or entropy
directly, so the same code runs over pynng and inside netsim's virtual time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Iterable, Mapping, Set
from typing import Any, Protocol

from .errors import PartyDropped, QuorumLost
from .rng import Csprng


class Port(Protocol):
    """What a :class:`Context` needs from the node under it (``Node`` implements it; a test may
    pass a fake): identity, parties, tagged sends, keyed receives, who is known to be gone."""

    @property
    def party_id(self) -> int: ...
    @property
    def parties(self) -> tuple[int, ...]: ...
    @property
    def rng(self) -> Csprng: ...
    @property
    def timeout(self) -> float: ...
    @property
    def log(self) -> logging.Logger: ...
    @property
    def down(self) -> Set[int]:
        """Parties known to have dropped (a live view)."""
        ...

    async def send_many(self, instance: str, tag: str, payloads: Mapping[int, Any], *, same: bool) -> None: ...
    async def recv_one(self, instance: str, tag: str, sender: int, timeout: float) -> Any: ...
    def recv_many(self, instance: str, tag: str, senders: tuple[int, ...], timeout: float, /) -> Awaitable[dict[int, Any]]: ...
    def slow(self, instance: str, /) -> set[int]:
        """The parties that missed an opening's deadline in ``instance`` (a live set, forgotten
        with the computation)."""
        ...
    def recv_enough(self, instance: str, tag: str, senders: tuple[int, ...], enough: int, timeout: float, /
                    ) -> Awaitable[dict[int, Any]]:
        """``recv_many`` that ends as soon as ``enough`` payloads are in."""
        ...
    def traffic(self) -> dict[str, int]:
        """Messages and bytes this node has sent and received so far."""
        ...
    def keep(self, instance: str, tag: str, payload: Any, group: frozenset[int], sent: tuple[int, ...], /
             ) -> tuple[int, ...]:
        """Keep an opening share for pulls by ``group`` (not by those it is ``sent`` to with the
        round); returns who pulled it already."""
        ...
    async def pull(self, instance: str, tag: str, peers: tuple[int, ...], /) -> None:
        """Ask ``peers`` for their opening share of ``(instance, tag)``."""
        ...


class Context:
    """Messaging scoped to one protocol instance; round tags may be nested with :meth:`child`."""

    def __init__(self, node: Port, instance: str, prefix: str = "") -> None:
        self._node = node
        self.instance = instance
        self._prefix = prefix
        self.party_id: int = node.party_id
        self.parties: tuple[int, ...] = node.parties
        self.rng: Csprng = node.rng
        self.timeout: float = node.timeout
        self.log: logging.Logger = node.log
        # the node's session id (public): binds per-run signatures (SecAgg's round id) to this run
        self.session: bytes = getattr(node, "session", b"")

    @functools.cached_property
    def peers(self) -> tuple[int, ...]:
        # computed on first use: with 10,000 simulated parties a copy per context is 80 kB each
        return tuple(p for p in self.parties if p != self.party_id)

    # -- structure --------------------------------------------------------------------
    def child(self, name: str) -> Context:
        """A context whose round tags are prefixed with ``name/`` (for sub-protocols)."""
        return Context(self._node, self.instance, f"{self._prefix}{name}/")

    @property
    def alive(self) -> tuple[int, ...]:
        """Parties not known to have dropped (this party included)."""
        down = self._node.down
        return tuple(p for p in self.parties if p not in down)

    def now(self) -> float:
        """The event loop's clock (virtual under netsim)."""
        return asyncio.get_running_loop().time()

    def _tag(self, tag: str) -> str:
        return self._prefix + tag

    # -- sending ----------------------------------------------------------------------
    async def send(self, peer: int, tag: str, payload: Any) -> None:
        await self.scatter(tag, {peer: payload})

    async def broadcast(self, tag: str, payload: Any, to: Iterable[int] | None = None) -> None:
        """Send one payload to ``to`` (default: every party, this one included)."""
        targets = self.parties if to is None else to
        await self._node.send_many(self.instance, self._prefix + tag, dict.fromkeys(targets, payload), same=True)

    async def scatter(self, tag: str, payloads: Mapping[int, Any]) -> None:
        """Send ``payloads[p]`` to each party ``p`` (this party's own entry stays local)."""
        await self._node.send_many(self.instance, self._tag(tag), payloads, same=False)

    # -- receiving --------------------------------------------------------------------
    async def recv(self, sender: int, tag: str, timeout: float | None = None) -> Any:
        return await self._node.recv_one(self.instance, self._tag(tag), sender, self.timeout if timeout is None else timeout)

    async def gather(
        self,
        tag: str,
        senders: Iterable[int] | None = None,
        *,
        quorum: int | None = None,
        timeout: float | None = None,
    ) -> dict[int, Any]:
        """Collect ``tag`` from ``senders`` (default: every party).

        Waits until every sender has answered or is known dropped (connection lost or silent past
        the deadline). Without ``quorum`` every sender is required and a missing one raises
        :class:`PartyDropped`; with it, fewer than ``quorum`` answers raise :class:`QuorumLost`.
        """
        who = self.parties if senders is None else tuple(senders)
        deadline = self.timeout if timeout is None else timeout
        got: dict[int, Any] = {}
        missing = list(_take(got, await self._node.recv_many(self.instance, self._tag(tag), who, deadline)))
        if quorum is None:
            if missing:
                raise PartyDropped(missing[0], f"missing {self._tag(tag)!r} from {missing}")
        elif len(got) < quorum:
            raise QuorumLost(missing, needed=quorum, have=len(got))
        return got

    async def exchange(
        self, tag: str, payload: Any, *, among: Iterable[int] | None = None, quorum: int | None = None
    ) -> dict[int, Any]:
        """Broadcast ``payload`` to the live parties of ``among`` (default: all) and gather theirs.

        One round. Parties already known to have dropped are neither sent to nor waited for;
        ``quorum`` (if given) is checked against the answers. This party's own entry is
        ``payload`` itself (it is not sent through the node), in the order of ``among``.
        """
        node = self._node
        down = node.down
        group = self.parties if among is None else tuple(among)
        live = group
        if down:  # usually nobody: then every round skips this
            live = tuple(p for p in group if p not in down)
            if self.party_id in group and self.party_id not in live:
                live = (*live, self.party_id)
            if quorum is None and len(live) < len(group):
                gone = sorted(set(group) - set(live))
                raise PartyDropped(gone[0], f"needed for {self._tag(tag)!r} but gone (with {gone[1:]})")
        me, full = self.party_id, self._prefix + tag
        others = _without(live, me) if len(live) <= 64 else tuple(p for p in live if p != me)
        await node.send_many(self.instance, full, dict.fromkeys(others, payload), same=True)
        results = await node.recv_many(self.instance, full, others, self.timeout) if others else {}
        got: dict[int, Any] = {}
        missing: list[int] = []
        for s in live:
            if s == me:
                got[s] = payload
                continue
            r = results[s]
            if isinstance(r, BaseException):
                if not isinstance(r, PartyDropped):
                    raise r
                missing.append(s)
            else:
                got[s] = r
        if missing and quorum is None:
            raise PartyDropped(missing[0], f"missing {full!r} from {missing}")
        if quorum is not None and len(got) < quorum:
            raise QuorumLost(set(group) - set(got), needed=quorum, have=len(got))
        return got

    async def open_round(self, tag: str, payload: Any, *, among: tuple[int, ...], need: int) -> dict[int, Any]:
        """An opening's round with the fewest messages: ``need`` shares (this party's and those of
        the ``need − 1`` parties after it in ``among``, cyclically) instead of everyone's.

        Each party sends its share to the ``need − 1`` parties before it: n·(need − 1) messages a
        round instead of n·(n − 1) (a Shamir opening of degree t needs t + 1 shares). A sender
        known or found to be gone is replaced by the next live parties of the ring, which are
        *pulled* (their nodes keep their shares, :mod:`mpc.retained`); fewer than ``need`` shares
        raise :class:`QuorumLost`. Returns at least ``need`` entries (this party's is ``payload``).
        With ``need`` ≥ the group's size, or outside the group, it is :meth:`exchange`.
        """
        node, me = self._node, self.party_id
        if need >= len(among) or me not in among:
            return await self.exchange(tag, payload, among=among, quorum=need)
        senders, receivers, spares, members = _ring(among, me, need - 1)
        full = self._prefix + tag
        pulled = node.keep(self.instance, full, payload, members, receivers)
        down = node.down
        to = receivers
        if pulled or down:
            to = tuple(p for p in dict.fromkeys((*receivers, *pulled)) if p not in down)
        await node.send_many(self.instance, full, dict.fromkeys(to, payload), same=True)
        ask = senders if not down else tuple(p for p in senders if p not in down)
        got: dict[int, Any] = {me: payload}
        # parties that missed a deadline in an earlier opening of this computation: a slow
        # sender is replaced at once (and still waited for with its replacement), a slow spare is
        # pulled last, so that a silent party costs its takers one timeout per computation, not
        # one per round (else they fall behind the others round after round, and the survivors'
        # agreement, which waits for everyone's view, gives up on them)
        slow = node.slow(self.instance)
        if slow and not slow.isdisjoint(ask):
            spares, new = _pick(spares, down, slow, sum(p in slow for p in ask))
            if new:
                await node.pull(self.instance, full, new)
            late = _take(got, await node.recv_enough(self.instance, full, (*ask, *new), need - 1, self.timeout))
        else:  # (the common case: everyone's share, at most need − 1)
            late = _take(got, await node.recv_many(self.instance, full, ask, self.timeout)) if ask else ()
        missed = len(got) < need and bool(late)  # the wait ended at its deadline, short
        last = False
        while len(got) < need:
            if missed:
                slow.update(late)
            # replacements: the next live parties of the ring not asked yet, as many as shares
            # are missing (a sender known to be gone), or all of them once a wait ended at its
            # deadline short (a silent party, or one a timeout behind: a second silent party
            # must not cost a second timeout). Those that missed a deadline are waited for with
            # them (a share a moment late still counts): the first ``short`` shares end the wait.
            # With nobody left to pull, those late get one more deadline, then it is lost.
            short, down = need - len(got), node.down
            spares, new = _pick(spares, down, slow, len(spares) if missed else short)
            late = tuple(p for p in late if p not in down)
            if not new and (last or not late):
                raise QuorumLost(set(among) - set(got), needed=need, have=len(got))
            last = not new
            if new:
                await node.pull(self.instance, full, new)
            wait = tuple(p for p in (*late, *new) if p not in node.down)  # (a pull may find one gone)
            if wait:
                late = _take(got, await node.recv_enough(self.instance, full, wait, short, self.timeout))
            missed = len(got) < need
        if slow:
            slow.difference_update(got)  # in time again
        return got

    def stats(self) -> dict[str, int]:
        return self._node.traffic()


@functools.lru_cache(maxsize=256)
def _without(parties: tuple[int, ...], me: int) -> tuple[int, ...]:
    """``parties`` without ``me`` (the same few small groups every round; large ones are not cached)."""
    return tuple(p for p in parties if p != me)


def _take(got: dict[int, Any], results: dict[int, Any]) -> tuple[int, ...]:
    """Move the payloads of ``results`` into ``got``; the senders whose entry is a
    :class:`PartyDropped` are returned, any other error is raised."""
    missing = []
    for s, r in results.items():
        if not isinstance(r, BaseException):
            got[s] = r
        elif isinstance(r, PartyDropped):
            missing.append(s)
        else:
            raise r
    return tuple(missing)


def _pick(spares: tuple[int, ...], down: Set[int], slow: Set[int], k: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The next ``k`` live parties of ``spares``, those not known to be slow first; returns the
    spares left (the live ones not picked) and the picked."""
    live = [p for p in spares if p not in down]
    if slow:
        live.sort(key=slow.__contains__)  # (stable: ring order otherwise)
    picked = tuple(live[:k])
    return tuple(p for p in spares if p not in down and p not in picked), picked


@functools.lru_cache(maxsize=256)
def _ring(group: tuple[int, ...], me: int, d: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...],
                                                           frozenset[int]]:
    """``me``'s place in the ring of ``group``: the ``d`` parties after it (its senders), the ``d``
    before it (its receivers), the rest after its senders in ring order (its replacements), and
    the group as a set."""
    k, n = group.index(me), len(group)
    after = tuple(group[(k + i) % n] for i in range(1, n))
    return after[:d], tuple(group[(k - i) % n] for i in range(1, d + 1)), after[d:], frozenset(group)


__all__ = ["Context", "Port"]
