"""A node's control plane, mixed into :class:`~mpc.node.Node`: the hello and bye barriers (mesh or
star), what a hello carries (the computation counter, the job digest, the star claim and the
incarnation id: a new one is a restarted peer), lost and cut-off peers, and another party's
early abort of a computation that runs here.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .agreement import DECISION, END_TAG, Shape, compact_cause
from .config import NodeConfig
from .errors import PartyDropped, ProtocolError, TransportError
from .mailbox import Mailbox
from .message import CONTROL, MAX_NAME, Message
from .retained import Retained
from .sending import SendPath

HELLO, BYE = "hello", "bye"
PULL = "pull"  # a party asks for an opening share it was not sent (see mpc.retained)
MAX_EARLY_ABORTS = 1024


class ControlPlane(SendPath):
    """The control plane of :class:`~mpc.node.Node`, on top of its sending side (the state of
    both is set up by ``Node._setup``)."""

    party_id: int
    session: bytes
    config: NodeConfig
    neighbors: tuple[int, ...]
    mailbox: Mailbox
    log: logging.Logger
    _started: bool
    _instances: int
    _shape: Shape
    _control: dict[str, set[int]]
    _control_event: asyncio.Event
    _waiting: dict[str, set[int]]
    _hello_notes: dict[int, str]
    _count_votes: dict[int, int]
    _incarnation: int
    _seen: NDArray[np.uint64] | None
    _seen_other: dict[int, int]
    _job_digest: bytes | None
    _job_differs: set[int]
    _star_claims: set[int]
    _running: dict[str, asyncio.Future[Any]]
    _abort_cause: dict[str, dict[str, Any]]
    _early_aborts: dict[str, dict[str, Any]]
    _background: set[asyncio.Task[None]]
    _retained: Retained

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

    def _gone(self, peer: int, reason: str) -> None:
        self.mailbox.mark_down(peer, reason)
        for waiting in self._waiting.values():
            waiting.discard(peer)
        self._control_event.set()

    def _on_control(self, msg: Message) -> None:
        if msg.session != self.session:
            self._hello_notes[msg.sender] = "is in another session (check the session both sides use)"
            raise ProtocolError("control message for another session", peer=msg.sender)
        if msg.tag not in self._control and msg.tag != PULL:
            raise ProtocolError(f"unknown control message {msg.tag!r}", peer=msg.sender)
        if msg.sender not in self.mailbox.parties:
            raise ProtocolError("control message from a party outside this session", peer=msg.sender)
        if msg.tag == PULL:
            self._on_pull(msg.sender, msg.payload)
            return
        if msg.tag == HELLO:
            self._on_hello(msg.sender, msg.payload)
        self._control[msg.tag].add(msg.sender)
        waiting = self._waiting[msg.tag]
        if msg.sender in waiting:
            waiting.discard(msg.sender)
            if not waiting:
                self._control_event.set()

    # -- pulled opening shares (mpc.retained) -------------------------------------------
    def keep(self, instance: str, tag: str, payload: Any, group: frozenset[int],
             sent: tuple[int, ...]) -> tuple[int, ...]:
        """Keep this party's opening share of ``(instance, tag)`` for pulls by ``group`` (not by
        those it is ``sent`` to with the round); returns the members that pulled it already (the
        caller sends it to them with the round)."""
        return self._retained.keep(instance, tag, payload, group, sent)

    def slow(self, instance: str) -> set[int]:
        """The parties that missed an opening's deadline in ``instance`` (:meth:`Retained.slow`)."""
        return self._retained.slow(instance)

    async def pull(self, instance: str, tag: str, peers: tuple[int, ...]) -> None:
        """Ask ``peers`` for their opening share of ``(instance, tag)`` (it arrives as their
        ordinary message of that round); a peer that cannot be reached is marked down."""
        msg = self._message(CONTROL, PULL, {"instance": instance, "tag": tag})
        for peer, r in zip(peers, await self._send_all([(p, msg) for p in peers]), strict=True):
            if isinstance(r, TransportError):
                self._unreachable(peer, r)
            elif r is not None:
                raise r

    def _on_pull(self, peer: int, payload: Any) -> None:
        if not (isinstance(payload, dict) and len(payload) == 2 and type(payload.get("instance")) is str
                and type(payload.get("tag")) is str and 0 < len(payload["instance"]) <= MAX_NAME
                and 0 < len(payload["tag"]) <= MAX_NAME):
            raise ProtocolError("malformed pull", peer=peer)
        instance, tag = payload["instance"], payload["tag"]
        if self.mailbox.finished(instance):
            return  # over here: the puller's wait ends at its deadline, as for a party gone
        ready, share = self._retained.pull(peer, instance, tag)
        if ready:
            self._give(instance, tag, (peer,), share)

    def _give(self, instance: str, tag: str, peers: tuple[int, ...], share: Any) -> None:
        """Send a kept share to the peers that pulled it, in the background (a send to a peer
        that cannot be reached marks it down, as any send does)."""
        task = asyncio.get_running_loop().create_task(
            self.send_many(instance, tag, dict.fromkeys(peers, share), same=True))
        self._background.add(task)
        task.add_done_callback(self._given)

    def _given(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.warning("party %d: a pulled share was not sent (%s)", self.party_id,
                             type(task.exception()).__name__)

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


__all__ = ["BYE", "HELLO", "ControlPlane"]
