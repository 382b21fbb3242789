"""Red team: a malicious party with a valid identity against the job and survivor agreements
(virtual time).

Party 3 runs the honest protocol but lies in the agreement steps around it: different views to
different parties (equivocation), views or echoes to some parties only, false, malformed,
duplicated and replayed echoes. What must hold (mpc/agreement.py, docs/threat-model.md): every
honest party that returns a decision returns the same one, and one that cannot returns a typed
error naming the liar among its suspects; never a wrong output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import netsim
from mpc import Node, NodeConfig, agreement
from mpc.agreement import ECHO, END_TAG, JOB_TAG, echo_digest, job_view
from mpc.errors import ComputationAborted, Equivocation, MpcError, PartyDropped, ProtocolError
from mpc.job import JobDescriptor
from mpc.message import peek_route
from netsim import SimNetwork
from protocols import secure_sum

pytestmark = pytest.mark.timeout(30)
IDS = (1, 2, 3)


class Liar(Node):
    """Party 3: computes honestly, lies in one agreement step (``step``: END_TAG or JOB_TAG).

    ``views[p]``: what recipient ``p`` gets instead of the real view (absent or None: the real one;
    ``OMIT``: nothing). ``echo_to``: the parties its echo goes to (None: all). ``tailor``: each
    recipient's echo says what that recipient itself received (the smartest cover for a lie).
    ``echo_lie[p]``: turns the echo meant for ``p`` into what it gets instead. ``replay_to``: in the second
    computation, send the echo that party 1 sent us in the first to these parties as our own."""

    step = END_TAG
    views: dict[int, Any] = {}
    echo_to: tuple[int, ...] | None = None
    tailor = False
    echo_lie: dict[int, Callable[[bytes], bytes]] = {}
    replay_to: tuple[int, ...] = ()

    got: dict[int, Any]  # what it received, what it sent, the echoes it received: set by _configure
    sent: dict[int, Any]
    echoes_got: list[dict[int, Any]]

    async def recv_many(self, instance: str, tag: str, senders: tuple[int, ...], timeout: float) -> dict[int, Any]:
        got = await super().recv_many(instance, tag, senders, timeout)
        if tag == self.step:
            self.got = {p: v for p, v in got.items() if not isinstance(v, BaseException)}
        elif tag == self.step + ECHO:
            self.echoes_got.append(got)
        return got

    async def send_many(self, instance: str, tag: str, payloads: Any, *, same: bool) -> None:
        if tag == self.step and self.views:
            payloads = {p: v if self.views.get(p) is None else self.views[p] for p, v in payloads.items()}
            payloads = {p: v for p, v in payloads.items() if v is not OMIT}
            self.sent, same = dict(payloads), False
        elif tag == self.step + ECHO:
            if self.tailor:
                payloads = {p: echo_digest(instance, self.step, IDS, {**self.got, 3: self.sent[p]}) for p in payloads}
            payloads = {p: self.echo_lie[p](v) if p in self.echo_lie else v for p, v in payloads.items()
                        if self.echo_to is None or p in self.echo_to}
            if self.replay_to and len(self.echoes_got) == 1:
                payloads = {**payloads, **{p: self.echoes_got[0][1] for p in self.replay_to}}
            same = False
        await super().send_many(instance, tag, payloads, same=same)


OMIT = object()


def _sums(attacker: type[Node], session: bytes, setup: Any = None, after_start: Any = None,
          runs: int = 1, job: Any = None, nodes: dict[int, Node] | None = None) -> list[Any]:
    """Parties 1..3 each run ``runs`` unnamed additive secure_sums (the last one's result or error
    and the virtual time it ended at are returned); party 3 is ``attacker``."""

    async def main() -> list[Any]:
        net = SimNetwork(IDS, {"latency_ms": 2})

        async def one(pid: int) -> Any:
            cfg = NodeConfig(party_id=pid, parties=IDS, session=session, timeout=1.0)
            node = (attacker if pid == 3 else Node).from_config(cfg, net.transport(pid))
            if nodes is not None:
                nodes[pid] = node
            if pid == 3 and setup is not None:
                setup(node)
            async with node:
                if pid == 3 and after_start is not None:
                    await after_start(node)
                await asyncio.sleep(0.1)
                for _ in range(runs):
                    begun = asyncio.get_running_loop().time()
                    try:
                        out: Any = await node.run(secure_sum, np.array([pid, 1]), sharing="additive", job=job)
                    except Exception as exc:  # noqa: BLE001
                        out = exc
                took = asyncio.get_running_loop().time() - begun
                return out if nodes is None else (out, took)

        return list(await asyncio.gather(*(one(p) for p in IDS)))

    return netsim.run(main())


def _run(views: dict[int, Any], **kw: Any) -> list[Any]:
    return _sums(Liar, b"redteam-agree", setup=lambda node: _configure(node, views=views, **kw))


def _configure(node: Node, **kw: Any) -> None:
    node.got, node.sent, node.echoes_got = {}, {}, []  # type: ignore[attr-defined]
    for k, v in kw.items():
        setattr(node, k, v)


SPLIT = {1: None, 2: {"ok": False, "kind": "ComputationAborted"}}  # party 1: its real (ok) view


def _no_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-round agreement this module attacked before the echo round existed."""

    async def none(*_a: Any, **_kw: Any) -> None:
        return None

    monkeypatch.setattr(agreement, "echo", none)


def test_without_the_echo_an_equivocating_party_splits_the_honest_parties(monkeypatch):
    # the control: the attack below wins against the one-round agreement
    _no_echo(monkeypatch)
    r1, r2, _ = _run(SPLIT)
    assert isinstance(r1, np.ndarray) and r1.tolist() == [6, 3], r1
    assert isinstance(r2, ComputationAborted), r2


@pytest.mark.parametrize("tailor", [False, True], ids=["plain-echo", "tailored-echo"])
def test_an_equivocating_party_cannot_make_one_honest_party_output_and_another_abort(tailor):
    """Party 3 tells party 1 "ok" and party 2 "aborted" at the survivor agreement (and, tailored,
    echoes to each what that one received). Both honest parties abort, naming party 3."""
    r1, r2, _ = _run(SPLIT, tailor=tailor)
    for r in (r1, r2):
        assert isinstance(r, Equivocation), r
        assert 3 in r.suspects and r.party == 3, (r, r.suspects)
    if not tailor:  # its echo contradicts what it sent party 2: party 2 can prove it
        assert r2.suspects == (3,) and r2.peer == 3


def test_above_the_vector_size_one_digest_per_echo_still_catches_an_equivocation(monkeypatch):
    # sessions of more than ECHO_VECTOR_MAX parties echo one digest (n^2 echoes of n digests each
    # would dominate): the equivocation is still caught, but only the echoing party can be named
    monkeypatch.setattr(agreement, "ECHO_VECTOR_MAX", 2)
    r1, r2, _ = _run(SPLIT)
    for r in (r1, r2):
        assert isinstance(r, Equivocation) and r.suspects == () and r.reporter in (1, 2, 3), r


def test_a_party_that_sends_its_view_to_some_only_makes_every_honest_party_abort_alike():
    r1, r2, _ = _run({2: OMIT})
    for r in (r1, r2):
        assert isinstance(r, PartyDropped) and r.party == 3, r


def test_equivocating_about_the_job_is_caught_before_any_share_leaves_an_honest_party(monkeypatch):
    """Per-computation job agreement: party 3 shows party 2 a descriptor with another fixed-point
    setting and party 1 the real one. Without the echo, party 1 went on and sent its shares."""
    real, other = _job(), _job(fractional_bits=16)
    lie = {2: job_view(other)}

    def attack() -> tuple[list[Any], list[tuple[int, str]]]:
        sent: list[tuple[int, str]] = []
        observer = netsim_observer(sent)
        with monkeypatch.context() as m:
            m.setattr(SimNetwork, "__init__", _observed(SimNetwork.__init__, observer))
            res = _sums(Liar, b"redteam-job", setup=lambda node: _configure(node, step=JOB_TAG, views=lie), job=real)
        return res, sent

    res, sent = attack()
    for r in res[:2]:
        assert isinstance(r, Equivocation) and 3 in r.suspects, r
    honest_tags = {tag for src, tag in sent if src in (1, 2)}
    assert honest_tags <= {JOB_TAG, JOB_TAG + ECHO, END_TAG, END_TAG + ECHO, "hello", "bye"}, honest_tags
    with monkeypatch.context() as m:  # the control: the same lie without the echo round
        _no_echo(m)
        _, sent = attack()
    assert any(src == 1 and tag == "share" for src, tag in sent)


def test_an_echo_sent_to_some_only_changes_no_decision_and_costs_at_most_the_echo_deadline():
    nodes: dict[int, Node] = {}
    (r1, t1), (r2, t2), _ = _sums(Liar, b"redteam-echo-some", nodes=nodes,
                                  setup=lambda node: _configure(node, echo_to=(1,)))
    assert r1.tolist() == r2.tolist() == [6, 3], (r1, r2)
    assert t2 <= t1 + agreement.ECHO_WAIT * 1.0 + 0.1, (t1, t2)


def test_a_false_echo_to_one_party_makes_only_that_party_abort_never_output_wrongly():
    """The documented limit (no unanimity): party 3 echoes to party 2 alone that party 1's view was
    something else. Party 2 cannot tell whether 1 or 3 lies and aborts; party 1 outputs, correctly."""
    r1, r2, _ = _run({}, echo_lie={2: lambda real: b"\x01" * 32 + real[32:]})  # party 1's entry
    assert isinstance(r1, np.ndarray) and r1.tolist() == [6, 3], r1
    assert isinstance(r2, Equivocation) and r2.suspects == (1, 3) and r2.party == 1 and r2.reporter == 3, r2
    for malformed in (lambda real: real[:40], lambda real: np.frombuffer(real, np.uint8), lambda real: None):
        r1, r2, _ = _run({}, echo_lie={2: malformed})  # a malformed echo: provably party 3's
        assert isinstance(r1, np.ndarray) and r1.tolist() == [6, 3], r1
        assert type(r2) is ProtocolError and r2.peer == 3 and "malformed agreement echo" in str(r2), r2


def test_a_replayed_echo_is_pinned_on_the_party_that_replays_it():
    """In the second computation party 3 sends party 2, as its own echo, the echo party 1 sent it in
    the first (the views were the same: only the binding to the computation tells them apart)."""
    r1, r2, _ = _sums(Liar, b"redteam-replay", runs=2, setup=lambda node: _configure(node, replay_to=(2,)))
    assert isinstance(r1, np.ndarray) and r1.tolist() == [6, 3], r1
    assert isinstance(r2, Equivocation) and r2.suspects == (3,), r2


def test_a_second_echo_in_the_same_step_is_rejected_and_changes_nothing():
    """Party 3 sends its real echo, then a different one (as if correcting itself after seeing the
    others'): the second copy is a rejected duplicate, the outcome is the honest one."""

    class Twice(Node):
        async def send_many(self, instance: str, tag: str, payloads: Any, *, same: bool) -> None:
            await super().send_many(instance, tag, payloads, same=same)
            if tag == END_TAG + ECHO:
                await self._send_all([(p, self._message(instance, tag, bytes(96))) for p in (1, 2)])

    nodes: dict[int, Node] = {}
    (r1, _), (r2, _), _ = _sums(Twice, b"redteam-twice", nodes=nodes)
    assert r1.tolist() == r2.tolist() == [6, 3], (r1, r2)
    assert nodes[1].rejected_count == nodes[2].rejected_count == 1


def test_a_party_cannot_pin_its_abort_on_an_honest_party():
    # party 3 claims to relay an abort that party 1 originated; party 1 reported ok
    forged = {"ok": False, "kind": "ProtocolError", "relayed": True, "by": 1}
    r1, r2, r3 = _run({1: forged, 2: forged})
    for r in (r1, r2):
        assert isinstance(r, ProtocolError), r
        assert r.peer == 3, f"the honest parties blame party {r.peer} for party 3's forged abort"


def test_a_mid_session_star_hello_does_not_split_the_next_agreement():
    """Party 3, after the start barrier, tells party 2 alone (one extra hello, its own incarnation)
    that the session is a star: party 2 then sent its END view to the root and waited for a
    decision the mesh root never sends (PartyDropped), while party 1 output."""
    from mpc.message import CONTROL
    from mpc.node import HELLO

    async def star_hello_to_2(node: Node) -> None:
        payload = {"count": node._instances, "star": True, "job": node._job_digest,
                   "incarnation": node._incarnation}
        await node._send_all([(2, node._message(CONTROL, HELLO, payload))])

    r1, r2, _ = _sums(Node, b"redteam-star", after_start=star_hello_to_2)
    assert isinstance(r1, np.ndarray) and isinstance(r2, np.ndarray), (r1, r2)


class StarLiar(Node):
    """At the start barrier, tells party 2 (only) that the session is a star (its agreement steps
    then go through the root, party 1, which still runs the mesh)."""

    async def _tell(self, kind: str, peers: tuple[int, ...], tolerate_down: bool) -> None:
        from mpc.message import CONTROL
        from mpc.node import HELLO

        if kind == HELLO and 2 in peers:
            payload = {"count": self._instances, "star": True, "job": self._job_digest, "incarnation": self._incarnation}
            await self._send_all([(2, self._message(CONTROL, HELLO, payload))])
            peers = tuple(p for p in peers if p != 2)
        await super()._tell(kind, peers, tolerate_down)


def test_a_star_hello_at_the_start_barrier_makes_no_honest_party_decide_differently():
    """Party 2 sends its survivor view to the root only and waits for a root decision; party 1
    runs the mesh. The shape itself is not agreed (a limit: an honest party may abort), but no two
    honest parties return different outcomes and nobody returns a wrong output."""
    r1, r2, _ = _sums(StarLiar, b"redteam-star-start")
    outputs = [r for r in (r1, r2) if isinstance(r, np.ndarray)]
    assert all(r.tolist() == [6, 3] for r in outputs), (r1, r2)
    assert all(isinstance(r, np.ndarray) or isinstance(r, MpcError) for r in (r1, r2)), (r1, r2)


class CountLiar(Node):
    """At the start barrier, tells party 2 (only) that 5 unnamed computations already ran."""

    async def _tell(self, kind: str, peers: tuple[int, ...], tolerate_down: bool) -> None:
        from mpc.message import CONTROL
        from mpc.node import HELLO

        if kind == HELLO and 2 in peers:
            payload = {"count": 5, "star": False, "job": self._job_digest, "incarnation": self._incarnation}
            await self._send_all([(2, self._message(CONTROL, HELLO, payload))])
        await super()._tell(kind, peers, tolerate_down)


def test_one_peer_cannot_desynchronise_an_honest_partys_computation_counter():
    """The hello's count lets a restarted party adopt the others' counter. Taking the largest count
    any peer reported let party 3 renumber party 2's unnamed computations (secure_sum#6 where the
    others run secure_sum#1): every unnamed computation of the session then failed."""

    r1, r2, r3 = _sums(CountLiar, b"redteam-count")
    for r in (r1, r2, r3):
        assert isinstance(r, np.ndarray) and r.tolist() == [6, 3], r


class FakeRestart(Node):
    """Right after its input shares, tells party 2 (only) that it restarted (a new incarnation)."""

    async def send_many(self, instance: str, tag: str, payloads: Any, *, same: bool) -> None:
        await super().send_many(instance, tag, payloads, same=same)
        if tag.endswith("share"):
            from mpc.message import CONTROL
            from mpc.node import HELLO

            payload = {"count": 0, "star": False, "job": self._job_digest, "incarnation": self._incarnation ^ 2}
            await self._send_all([(2, self._message(CONTROL, HELLO, payload))])


def test_a_fake_restart_hello_mid_computation_leaves_the_honest_parties_agreeing():
    # held: party 2 fails its waits on party 3, and the survivor agreement makes party 1 abort too
    r1, r2, _ = _sums(FakeRestart, b"redteam-restart")
    assert type(r1) is type(r2), (r1, r2)
    assert not isinstance(r1, np.ndarray) or r1.tolist() == r2.tolist() == [6, 3]


def _job(**kw: Any) -> JobDescriptor:
    base = dict(protocol="sum", parties=IDS, input_parties=IDS, sharing="additive", threshold=0)
    return JobDescriptor(**{**base, **kw})


def netsim_observer(sent: list[tuple[int, str]]) -> Any:
    return lambda at, arr, src, dst, data: sent.append((src, peek_route(data)[1]))


def _observed(init: Any, observer: Any) -> Any:
    def wrapped(self: SimNetwork, *a: Any, **kw: Any) -> None:
        init(self, *a, **kw)
        self.observers.append(observer)

    return wrapped
