"""Red team 2: the shape of the agreement steps (mesh or star) as an attacker sets it.

A hello's ``star`` flag makes an honest party run its agreement steps through the root (it sends
its view to the root only and takes the root's decision). The root of a mesh session is one
party like any other: if it could flip an honest party to the star, that party would output
whatever the root's decision says, without ever comparing its output with the other honest
parties' (the survivor agreement's ``outputs_differ`` check is the one thing that stops a
cheating party from making honest parties output different sums). Virtual time (netsim).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

import netsim
from mpc import Node, NodeConfig
from mpc.agreement import DECISION, END_TAG
from mpc.errors import MpcError
from mpc.message import CONTROL
from mpc.node import HELLO
from netsim import SimNetwork
from protocols import secure_sum

pytestmark = pytest.mark.timeout(30)


def _sums(liars: dict[int, type[Node]], ids: tuple[int, ...], session: bytes) -> dict[int, Any]:
    """Every party runs one additive secure_sum of ``[pid, 1]``; result or error per party."""

    async def main() -> dict[int, Any]:
        net = SimNetwork(ids, {"latency_ms": 2})

        async def one(pid: int) -> Any:
            cfg = NodeConfig(party_id=pid, parties=ids, session=session, timeout=1.0)
            async with liars.get(pid, Node).from_config(cfg, net.transport(pid)) as node:
                await asyncio.sleep(0.1)
                try:
                    return await node.run(secure_sum, np.array([pid, 1]), sharing="additive")
                except MpcError as exc:
                    return exc

        return dict(zip(ids, await asyncio.gather(*(one(p) for p in ids)), strict=True))

    return netsim.run(main())


class RootFlipsTwo(Node):
    """The root (party 1, lowest id) of a mesh session. At the start barrier it tells party 2
    alone that the session is a star; in the sum it sends party 2 an opening share off by one;
    in the survivor agreement it drops party 2's view (so that its echo matches what party 3,
    who never gets party 2's view, saw) and tells party 2 "all ok"."""

    victim = 2

    async def _tell(self, kind: str, peers: tuple[int, ...], tolerate_down: bool) -> None:
        if kind == HELLO and self.victim in peers:
            payload = {"count": self._instances, "star": True, "job": self._job_digest, "incarnation": self._incarnation}
            await self._send_all([(self.victim, self._message(CONTROL, HELLO, payload))])
            peers = tuple(p for p in peers if p != self.victim)
        await super()._tell(kind, peers, tolerate_down)

    async def send_many(self, instance: str, tag: str, payloads: Any, *, same: bool) -> None:
        if tag.endswith("open") and self.victim in payloads:
            payloads = {**payloads, self.victim: np.asarray(payloads[self.victim]) + np.uint64(1)}
            same = False
        await super().send_many(instance, tag, payloads, same=same)

    async def recv_many(self, instance: str, tag: str, senders: tuple[int, ...], timeout: float) -> dict[int, Any]:
        got = await super().recv_many(instance, tag, senders, timeout)
        if tag == END_TAG:
            got.pop(self.victim, None)
        return got

    async def _agree(self, ctx: Any, tag: str, view: Any, decide: Any) -> Any:
        decision = await super()._agree(ctx, tag, view, decide)
        if tag == END_TAG:
            await super().send_many(ctx.instance, tag + DECISION, {self.victim: None}, same=True)
        return decision


def _no_two_honest_outputs_differ(results: dict[int, Any], honest: tuple[int, ...], expected: list[int]) -> None:
    outputs = {p: results[p].tolist() for p in honest if isinstance(results[p], np.ndarray)}
    assert all(isinstance(results[p], np.ndarray | MpcError) for p in honest), results
    assert all(v == expected for v in outputs.values()), f"honest parties output {outputs}, the sum is {expected}"


def test_the_root_cannot_flip_an_honest_party_to_a_star_and_feed_it_a_wrong_sum():
    ids = (1, 2, 3)
    results = _sums({1: RootFlipsTwo}, ids, b"redteam2-root-star")
    _no_two_honest_outputs_differ(results, (2, 3), [6, 3])


def test_five_parties_the_root_cannot_flip_an_honest_party_to_a_star():
    ids = (1, 2, 3, 4, 5)
    results = _sums({1: RootFlipsTwo}, ids, b"redteam2-root-star5")
    _no_two_honest_outputs_differ(results, (2, 3, 4, 5), [15, 5])


class FlipsTheRoot(RootFlipsTwo):
    """A non-root party (the highest id) of a mesh session tells the root alone that the session
    is a star (the root must then answer star leaves, so it does run the star), and sends the
    root an opening share off by one. The root's star decision covers every party's view (the
    mesh parties send theirs to all), so it sees the differing digest."""

    victim = 1

    async def recv_many(self, instance: str, tag: str, senders: tuple[int, ...], timeout: float) -> dict[int, Any]:
        return await Node.recv_many(self, instance, tag, senders, timeout)

    async def _agree(self, ctx: Any, tag: str, view: Any, decide: Any) -> Any:
        return await Node._agree(self, ctx, tag, view, decide)


@pytest.mark.parametrize("ids", [(1, 2, 3), (1, 2, 3, 4, 5)])
def test_a_party_that_flips_the_root_to_a_star_makes_no_honest_party_output_a_wrong_sum(ids):
    results = _sums({ids[-1]: FlipsTheRoot}, ids, b"redteam2-flip-root")
    _no_two_honest_outputs_differ(results, ids[:-1], [sum(ids), len(ids)])


def test_the_root_and_a_colluder_cannot_flip_an_honest_party_to_a_star():
    """Five parties, two colluders (t = 2): party 5 sends the star hello to party 2 and the root
    (party 1) feeds party 2 a wrong opening share and an "all ok" decision."""

    class Flipper(RootFlipsTwo):
        async def send_many(self, instance: str, tag: str, payloads: Any, *, same: bool) -> None:
            await Node.send_many(self, instance, tag, payloads, same=same)

        async def recv_many(self, instance: str, tag: str, senders: tuple[int, ...], timeout: float) -> dict[int, Any]:
            return await Node.recv_many(self, instance, tag, senders, timeout)

        async def _agree(self, ctx: Any, tag: str, view: Any, decide: Any) -> Any:
            return await Node._agree(self, ctx, tag, view, decide)

    class Feeder(RootFlipsTwo):
        async def _tell(self, kind: str, peers: tuple[int, ...], tolerate_down: bool) -> None:
            await Node._tell(self, kind, peers, tolerate_down)

    ids = (1, 2, 3, 4, 5)
    results = _sums({1: Feeder, 5: Flipper}, ids, b"redteam2-collude-star")
    _no_two_honest_outputs_differ(results, (2, 3, 4), [15, 5])


class ForgedDecision(Node):
    """Party 3 of a mesh session: right after its input shares, sends party 1 alone a survivor
    "decision" (a message only a star's root sends) that names honest party 2 as the cause."""

    async def send_many(self, instance: str, tag: str, payloads: Any, *, same: bool) -> None:
        await super().send_many(instance, tag, payloads, same=same)
        if tag.endswith("share"):
            forged = {"kind": "PartyDropped", "party": 2, "by": 2}
            await super().send_many(instance, END_TAG + DECISION, {1: forged}, same=True)


def test_a_forged_decision_in_a_mesh_pins_no_blame_on_an_honest_party():
    results = _sums({3: ForgedDecision}, (1, 2, 3), b"redteam2-forged-decision")
    _no_two_honest_outputs_differ(results, (1, 2), [6, 3])
    for p in (1, 2):
        r = results[p]
        if isinstance(r, MpcError):
            assert getattr(r, "peer", None) not in (1, 2) and getattr(r, "party", None) not in (1, 2), (p, repr(r))


class ForgedRelay(Node):
    """Party 3: right after its input shares, sends parties 1 and 2 an END view that claims to
    relay an abort party 2 originated (its own END view in the agreement: the same to both)."""

    async def send_many(self, instance: str, tag: str, payloads: Any, *, same: bool) -> None:
        if tag == END_TAG:
            return  # its view already went out (below)
        await super().send_many(instance, tag, payloads, same=same)
        if tag.endswith("share"):
            forged = {"ok": False, "kind": "PartyDropped", "party": 2, "by": 2, "relayed": True}
            await super().send_many(instance, END_TAG, {1: forged, 2: forged, 3: forged}, same=True)


def test_a_forged_relayed_abort_pins_no_blame_on_an_honest_party():
    """Before: party 1 and 2 stopped at once, relayed "party 2 aborted", and every party agreed
    that party 2 (honest) caused the abort. Now the relayed view is checked against party 2's own
    ("ok") in the agreement and blamed on its sender."""
    results = _sums({3: ForgedRelay}, (1, 2, 3), b"redteam2-forged-relay")
    for p in (1, 2):
        r = results[p]
        assert isinstance(r, MpcError), results
        assert getattr(r, "peer", None) == 3 or getattr(r, "party", None) == 3, (p, repr(r))


def test_one_star_hello_to_the_root_neither_slows_nor_desynchronises_the_session():
    """Party 3 tells the root alone that it is a star leaf, then runs the mesh. Before: the root
    (star) sent its view to nobody, parties 2 and 3 waited two timeouts for it in every
    computation, and the root, done at once, started the next computation alone: every later
    computation of the session aborted. Now the root sends its view and echo to all and awaits
    its mesh peers' echoes: three sums in a row, each as fast as without the hello."""

    class Flip(FlipsTheRoot):
        async def send_many(self, instance: str, tag: str, payloads: Any, *, same: bool) -> None:
            await Node.send_many(self, instance, tag, payloads, same=same)

    async def main() -> dict[int, list[Any]]:
        ids = (1, 2, 3)
        net = SimNetwork(ids, {"latency_ms": 2})

        async def one(pid: int) -> list[Any]:
            cfg = NodeConfig(party_id=pid, parties=ids, session=b"redteam2-flip-3", timeout=1.0)
            async with (Flip if pid == 3 else Node).from_config(cfg, net.transport(pid)) as node:
                out = []
                for _ in range(3):
                    began = asyncio.get_running_loop().time()
                    got = await node.run(secure_sum, np.array([pid, 1]), sharing="additive")
                    out.append((got.tolist(), asyncio.get_running_loop().time() - began))
                return out

        return dict(zip(ids, await asyncio.gather(*(one(p) for p in ids)), strict=True))

    for p, runs in netsim.run(main()).items():
        assert [r for r, _ in runs] == [[6, 3]] * 3, (p, runs)
        assert all(took < 0.1 for _, took in runs), (p, runs)  # no two-timeout (2 s) wait


class SplitView(Node):
    """Parties 4 and 5 (colluding): their END view says "ok" to parties 1 and 2 and "abort" to
    party 3 (and to each other: ok); their echoes are what they received. What catches them is
    the honest parties' echoes to each other, which no colluder can touch."""

    async def send_many(self, instance: str, tag: str, payloads: Any, *, same: bool) -> None:
        if tag == END_TAG:
            lie = {"ok": False, "kind": "ComputationAborted"}
            payloads = {p: lie if p == 3 else v for p, v in payloads.items()}
            same = False
        await super().send_many(instance, tag, payloads, same=same)


def test_two_colluders_splitting_their_views_cannot_split_five_parties_outcomes():
    results = _sums({4: SplitView, 5: SplitView}, (1, 2, 3, 4, 5), b"redteam2-split5")
    honest = [results[p] for p in (1, 2, 3)]
    outputs = [r for r in honest if isinstance(r, np.ndarray)]
    assert all(isinstance(r, np.ndarray | MpcError) for r in honest), results
    # an honest party that outputs has every other honest party's agreement with it: none here,
    # since party 3 holds other views than 1 and 2 and they all exchange echoes
    assert not outputs, results
    assert all(isinstance(r, MpcError) for r in honest), results
