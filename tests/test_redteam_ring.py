"""Red team of the openings in a ring (``Context.open_round``) and of the pulls that replace a
gone sender (``mpc/retained.py``, ``ControlPlane._on_pull``), from the attacker's side. Party 2
is the attacker (``round_attack.py``): a genuine member of the session and of the opening that
may send anything *as itself*; everything runs over netsim in virtual time, byte wire.

* a member that goes silent (no disconnect: a crash the others only see by their deadlines) for a
  chain of openings: the others must open every value, as they did all-to-all, in about the same
  time, and no honest party may count a strike against another;
* what a pull may get: never the *current* contents of a share array that was opened before and
  written since (a share of a value that was never opened), never a share of an opening the
  puller is not a member of (also when the pull comes first), nothing from a verified or
  additive opening, nothing once the puller is cut off;
* memory: pulls for made-up or future instances stay within ``PENDING`` per peer, pulls for
  finished ones hold nothing and cost no strike;
* a pulled attacker that answers twice is refused once and counted; the honest parties open right.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from mpc.codec import Limits
from mpc.context import _ring
from mpc.errors import PartyDropped, ProtocolError
from mpc.mailbox import Mailbox
from mpc.message import CONTROL, Message
from mpc.rng import Csprng
from netsim import SimNetwork
from protocols.common import Scheme, open_values
from mpc.retained import PENDING
from round_attack import EVIL, _frame, _raw, _run

pytestmark = pytest.mark.timeout(60)

T = 2.0  # every party's round timeout in these tests


def _chain_shares(scheme: Scheme, rounds: int) -> list[list[np.ndarray]]:
    return [scheme.share(np.array([r + 1, 7 * r + 3], np.uint64), Csprng(bytes([r + 1]) * 32)) for r in range(rounds)]


def _pull(instance: str, tag: str) -> bytes:
    return _frame(CONTROL, "pull", EVIL, {"instance": instance, "tag": tag})


# -- a silent member during a chain of openings -------------------------------------------------
@pytest.mark.parametrize(("n", "t", "silent"), [(3, 1, (2,)), (5, 2, (2,)), (7, 3, (2,)), (5, 2, (2, 3)), (5, 2, (2, 4)),
                                               (7, 3, (2, 3, 4)), (7, 3, (2, 4, 6)), (7, 3, (1, 2, 3)), (7, 2, (2, 3))])
async def test_silent_members_do_not_make_a_chain_of_openings_lose_its_quorum(n: int, t: int, silent: tuple[int, ...]) -> None:
    """The attacker (and, where named, parties that crashed without a disconnect) take no part
    at all: to the others, crashes seen only through deadlines. Their ring takers wait for them
    to their deadline and pull replacements, so they lag the others by a timeout; in the next
    round *their* takers' deadline races their share. A share that arrives just after the
    deadline must still count, a replacement that is silent too must not cost a second
    timeout, and a silent sender must not cost one every round: n − |silent| ≥ t + 1 live
    parties open every value of the chain (all-to-all: 6 rounds of one timeout each, 12 s;
    here at most one timeout per silent party), the survivors agree, and no honest party counts
    a strike against another (also not for a pulled share that comes after the computation ended
    at the puller)."""
    ids = tuple(range(1, n + 1))
    scheme = Scheme.make("shamir", ids, t)
    rounds = 6
    shares = _chain_shares(scheme, rounds)
    at: dict[int, float] = {}
    nodes: dict[int, Any] = {}

    async def proto(ctx: Any) -> Any:
        nodes[ctx.party_id] = ctx._node
        if ctx.party_id in silent:
            await asyncio.sleep(rounds * T * 3)
            return None
        out = [(await open_values(ctx, scheme, shares[r][ctx.party_id - 1], f"r{r}/open")).tolist()
               for r in range(rounds)]
        at[ctx.party_id] = ctx.now()
        return out

    async def body(node: Any) -> Any:
        out = await node.run(proto, name="chain")
        await asyncio.sleep(3 * T)  # late answers to pulls reach a finished computation
        return out

    res = await _run(ids, body, timeout=T)
    want = [[r + 1, 7 * r + 3] for r in range(rounds)]
    live = [p for p in ids if p not in silent]
    assert {p: res[p] for p in live} == {p: want for p in live}, res
    assert max(at.values()) <= len(silent) * T + 0.5, at
    assert not [(p, e) for p in live for e in nodes[p].rejected if e.peer in live]


@pytest.mark.parametrize(("n", "t"), [(3, 1), (5, 2), (7, 3)])
async def test_a_member_silent_every_other_round_costs_no_more_than_all_to_all(n: int, t: int) -> None:
    """The attacker sends its share to its ring takers in odd rounds only (all of them at once,
    up front: they wait as early messages) and nothing in even rounds, so it is taken off the
    list of slow parties every other round and costs its takers a timeout again. The honest
    parties still open every value, together (the survivors agree), in no more time than
    all-to-all, where every party waits for it in every even round: 6 timeouts for 12 rounds."""
    ids = tuple(range(1, n + 1))
    scheme = Scheme.make("shamir", ids, t)
    rounds = 12
    shares = _chain_shares(scheme, rounds)
    at: dict[int, float] = {}

    async def proto(ctx: Any) -> Any:
        if ctx.party_id == EVIL:
            takers = _ring(ids, EVIL, t)[1]
            for r in range(1, rounds, 2):
                await _raw(ctx, takers, _frame("chain", f"r{r}/open", EVIL, shares[r][EVIL - 1]))
            await asyncio.sleep(rounds * T * 2)
            return None
        out = [(await open_values(ctx, scheme, shares[r][ctx.party_id - 1], f"r{r}/open")).tolist()
               for r in range(rounds)]
        at[ctx.party_id] = ctx.now()
        return out

    res = await _run(ids, lambda node: node.run(proto, name="chain"), timeout=T)
    want = [[r + 1, 7 * r + 3] for r in range(rounds)]
    assert {p: res[p] for p in ids if p != EVIL} == {p: want for p in ids if p != EVIL}, res
    assert max(at.values()) <= rounds / 2 * T + 0.5, at


# -- what a pull may get ----------------------------------------------------------------------
async def test_a_pull_gets_the_share_that_was_opened_not_what_its_array_holds_now() -> None:
    """n = 3, t = 1. The honest parties open [5, 6] and then (their arrays are theirs again once
    ``open_values`` returned) write their share of a secret into the same array. The attacker,
    a member of the opening, pulls party 1's share afterwards: it must get the share that was
    opened, not party 1's share of the secret (which with its own share of the secret would
    give it the secret: t + 1 = 2 shares)."""
    ids = (1, 2, 3)
    scheme = Scheme.make("shamir", ids)
    opened = scheme.share(np.array([5, 6], np.uint64), Csprng(b"o" * 32))
    secret = np.array([4242, 77], np.uint64)
    hidden = scheme.share(secret, Csprng(b"h" * 32))

    async def proto(ctx: Any) -> Any:
        me = ctx.party_id
        if me == EVIL:
            # take part in the opening (its ring sender is party 3), then pull party 1's share
            await open_values(ctx, scheme, opened[me - 1].copy(), "r1/open")
            await asyncio.sleep(0.5)
            await _raw(ctx, (1,), _pull("c", "r1/open"))
            got = await ctx.gather("r1/open", [1], quorum=0, timeout=1.0)
            if not got:
                return None
            theirs = got[1]
            mine = hidden[me - 1]
            # Lagrange at 0 from the shares of parties 1 and 2
            P = scheme.domain.modulus  # x = 1, 2: λ1 = 2, λ2 = −1
            return [(2 * int(a) - int(b)) % P for a, b in zip(theirs.tolist(), mine.tolist(), strict=True)], theirs.tolist()
        buf = opened[me - 1].copy()
        out = (await open_values(ctx, scheme, buf, "r1/open")).tolist()
        buf[...] = hidden[me - 1]  # the array is the caller's again
        await asyncio.sleep(2.0)
        return out

    res = await _run(ids, lambda node: node.run(proto, name="c"))
    assert res[1] == res[3] == [5, 6], res
    assert res[EVIL] is not None, res  # a member's single pull is served ...
    reconstructed, share = res[EVIL]
    assert share == opened[0].tolist()  # ... with the share that was opened
    assert reconstructed != secret.tolist()


async def _members_open(attack: Any, scheme: Scheme, *, ids: tuple[int, ...] = (1, 2, 3), net: SimNetwork | None = None,
                        limits: Limits | None = None, delay: float = 0.0, linger: float = 1.5,
                        ) -> tuple[dict[int, Any], dict[int, Any]]:
    """The honest parties of ``scheme.parties`` wait ``delay`` s, open [5, 6] in round "r1/open"
    (computation "c") and then wait ``linger`` s; party EVIL runs ``attack(ctx, nodes)`` (every
    party's node by id)."""
    secret = scheme.share(np.array([5, 6], np.uint64), Csprng(b"m" * 32))
    nodes: dict[int, Any] = {}

    async def proto(ctx: Any) -> Any:
        nodes[ctx.party_id] = ctx._node
        if ctx.party_id == EVIL:
            await asyncio.sleep(0)  # every node is in ``nodes``
            return await attack(ctx, nodes)
        await asyncio.sleep(delay)
        out = (await open_values(ctx, scheme, secret[scheme.parties.index(ctx.party_id)], "r1/open")).tolist()
        opened[ctx.party_id] = out
        await asyncio.sleep(linger)
        return out

    kw = {} if limits is None else {"limits": limits}
    res = await _run(ids, lambda node: node.run(proto, name="c"), network=net or SimNetwork(ids, wire="bytes"), **kw)
    return res, nodes


opened: dict[int, Any] = {}  # what each honest party of the last _members_open opened (before its agreement)


def _from_evil(nodes: dict[int, Any], p: int) -> list[str]:
    return [str(e) for e in nodes[p].rejected if e.peer == EVIL]


async def test_an_outsiders_pull_that_comes_before_the_share_gets_nothing() -> None:
    """The opening is among 1, 3, 4 (party 2 is in the session only). Party 2 pulls party 1's
    share *before* party 1 reaches the round: the pull waits, and when party 1 keeps its share the
    outsider is not among those it is given to. Afterwards nothing of the opening is left."""
    seen: dict[str, Any] = {}

    async def attack(ctx: Any, nodes: dict[int, Any]) -> Any:
        await _raw(ctx, (1,), _pull("c", "r1/open"))  # party 1 has no share yet
        await asyncio.sleep(0.2)
        seen["pending"] = {k: set(v) for k, v in nodes[1]._retained._pending.items()}
        return await ctx.gather("r1/open", [1], quorum=0, timeout=2.0)

    res, nodes = await _members_open(attack, Scheme.make("shamir", (1, 3, 4)), ids=(1, 2, 3, 4), delay=0.5)
    assert res[1] == res[3] == res[4] == [5, 6], res
    assert seen["pending"] == {("c", "r1/open"): {EVIL}}  # the pull did wait ...
    assert res[EVIL] == {}  # ... and was never served
    assert not nodes[1]._retained._pending and not any(nodes[1]._retained._pending_count.values())
    assert len(nodes[1]._retained) == 0


@pytest.mark.parametrize("scheme", [Scheme.make("shamir", (1, 2, 3, 4), 1, verify=True), Scheme.make("additive", (1, 2, 3, 4))],
                         ids=["verified", "additive"])
async def test_a_verified_or_additive_openings_share_is_never_kept_or_pulled(scheme: Scheme) -> None:
    """Only unverified Shamir openings go round the ring. A verified or additive opening is
    all-to-all: the attacker (a member) gets each share once with the round, and its pulls of
    that round, before and after, never bring a second copy; nothing is kept for them."""
    ids = (1, 2, 3, 4)
    net = SimNetwork(ids, wire="bytes")
    copies: list[tuple[int, int]] = []

    def watch(sent_at: float, arrives_at: float | None, src: int, dst: int, data: bytes) -> None:
        msg = Message.from_bytes(data)
        if msg.tag == "r1/open" and dst == EVIL:
            copies.append((src, dst))

    net.observers.append(watch)
    kept: list[int] = []

    async def attack(ctx: Any, nodes: dict[int, Any]) -> Any:
        await _raw(ctx, (1, 3, 4), _pull("c", "r1/open"))  # before the round
        mine = scheme.share(np.array([5, 6], np.uint64), Csprng(b"m" * 32))[ids.index(EVIL)]
        out = (await open_values(ctx, scheme, mine, "r1/open")).tolist()
        kept.extend(len(nodes[p]._retained) for p in (1, 3, 4))
        await asyncio.sleep(0.1)
        await _raw(ctx, (1, 3, 4), _pull("c", "r1/open"))  # after it
        await asyncio.sleep(1.0)
        return out

    res, nodes = await _members_open(attack, scheme, ids=ids, net=net, delay=0.2)
    assert res == {p: [5, 6] for p in ids}, res
    assert kept == [0, 0, 0]
    assert sorted(copies) == [(1, EVIL), (3, EVIL), (4, EVIL)]  # the round's own copies, no more


async def test_a_cut_off_party_pulls_nothing() -> None:
    """The attacker, a member of the opening, first gets itself cut off by party 1 (garbage
    frames past the reject burst), then pulls party 1's share: not even read."""
    limits = Limits(reject_burst=5)

    async def attack(ctx: Any, nodes: dict[int, Any]) -> Any:
        for _ in range(8):
            await _raw(ctx, (1,), b"\x00garbage")
        await asyncio.sleep(0.5)  # party 1 kept its share meanwhile
        await _raw(ctx, (1,), _pull("c", "r1/open"))
        got.update(await ctx.gather("r1/open", [1], quorum=0, timeout=1.0))
        return got

    got: dict[int, Any] = {}
    opened.clear()
    res, nodes = await _members_open(attack, Scheme.make("shamir", (1, 2, 3)), limits=limits, delay=0.2)
    assert opened == {1: [5, 6], 3: [5, 6]}, res
    # party 1 no longer hears the attacker, party 3 does: the survivors agree on an error
    assert type(res[1]) is type(res[3]) is PartyDropped, res
    assert EVIL in nodes[1].mailbox.cut_off
    assert got == {}
    assert not nodes[1]._retained._pending


async def test_pulls_for_made_up_or_finished_computations_hold_at_most_pending_per_peer() -> None:
    """The attacker pulls 10 shares of each of 500 made-up computations (that its victim never
    runs) and 1,000 of the finished one: at most PENDING are held for it (the rest refused and
    counted), the finished computation's pulls hold nothing, and a second computation still opens
    right at every honest party."""
    ids = (1, 2, 3)
    scheme = Scheme.make("shamir", ids)
    secret = scheme.share(np.array([8, 9], np.uint64), Csprng(b"f" * 32))

    async def body(node: Any) -> Any:
        async def proto(ctx: Any) -> Any:
            return (await open_values(ctx, scheme, secret[ctx.party_id - 1], "r1/open")).tolist()

        first = await node.run(proto, name="c")
        if node.party_id == EVIL:
            for i in range(1000):
                await node.transport.send(1, _pull("c", f"r{i}/open"))
            for k in range(500):
                for i in range(10):
                    await node.transport.send(1, _pull(f"made-up-{k}", f"r{i}/open"))
        await asyncio.sleep(0.5)
        second = await node.run(proto, name="d")
        return first, second, sum(len(v) for v in node._retained._pending.values()), len(node._retained)

    nodes: dict[int, Any] = {}

    async def keep_node(node: Any) -> Any:
        nodes[node.party_id] = node
        return await body(node)

    # no cut-off: the bound must hold by itself
    res = await _run(ids, keep_node, limits=Limits(reject_burst=None))
    for p in (1, 3):
        assert res[p][:2] == ([8, 9], [8, 9]), res
    assert res[1][2] == PENDING and res[1][3] == 0, res[1]
    assert nodes[1]._retained._pending_count == {EVIL: PENDING}
    assert nodes[1].rejected_count == 5000 - PENDING  # the finished computation's 1,000: ignored, not counted
    assert all("more than" in str(e) and e.peer == EVIL for e in nodes[1].rejected)


def _with_a_crash(n: int, t: int, values: list[int], *, crashed: int
                  ) -> tuple[tuple[int, ...], Scheme, list[np.ndarray], SimNetwork, dict[int, Any]]:
    """Parties 1..n, a Shamir sharing of ``values``, the network, and the nodes by id (filled
    by :func:`_enter`); party ``crashed`` will crash as its computation starts."""
    ids = tuple(range(1, n + 1))
    scheme = Scheme.make("shamir", ids, t)
    return ids, scheme, scheme.share(np.array(values, np.uint64), Csprng(bytes(values) * 16)), \
        SimNetwork(ids, wire="bytes"), {}


async def _enter(ctx: Any, net: SimNetwork, nodes: dict[int, Any], *, crashed: int) -> None:
    nodes[ctx.party_id] = ctx._node
    if ctx.party_id == crashed:
        net.crash(crashed)
        await asyncio.sleep(30)


async def test_a_pulled_attacker_that_answers_twice_is_refused_once_and_the_value_is_right() -> None:
    """n = 3, t = 1, party 1 crashed before the round: party 3, whose ring sender was party 1,
    pulls the attacker's share. The attacker answers twice: the second copy is refused and
    counted against it, and party 3 opens the right value."""
    ids, scheme, secret, net, nodes = _with_a_crash(3, 1, [21, 22], crashed=1)
    out: dict[int, Any] = {}

    async def proto(ctx: Any) -> Any:
        await _enter(ctx, net, nodes, crashed=1)
        if ctx.party_id == EVIL:
            frame = _frame("c", "r1/open", EVIL, secret[EVIL - 1])
            await asyncio.sleep(0.3)  # party 3's pull is in by now
            await _raw(ctx, (3,), frame)
            await _raw(ctx, (3,), frame)
            await asyncio.sleep(1.0)
            return None
        await asyncio.sleep(0.1)
        out[3] = (await open_values(ctx, scheme, secret[2], "r1/open")).tolist()
        await asyncio.sleep(1.0)
        return out[3]

    await _run(ids, lambda node: node.run(proto, name="c"), network=net)
    assert out == {3: [21, 22]}
    assert [str(e) for e in nodes[3].rejected] == ["party 2: duplicate message c/r1/open"]


async def test_a_pulled_honest_party_that_is_slow_is_waited_for_once_and_not_blamed() -> None:
    """n = 4, t = 1, all honest; party 4 is gone before the round and party 1 reaches it 3 s late
    (timeout 2 s). Party 3 (whose ring sender was party 4) pulls party 1 at once, and at its
    deadline pulls party 2 too: it opens at one timeout, not two. Party 1, late, still serves
    the pull that waited for it (party 3 is in its survivors' agreement by then): no strike
    against any honest party, and everyone outputs the value."""
    ids, scheme, secret, net, nodes = _with_a_crash(4, 1, [31, 32], crashed=4)
    at: dict[int, float] = {}

    async def proto(ctx: Any) -> Any:
        await _enter(ctx, net, nodes, crashed=4)
        await asyncio.sleep(3.0 if ctx.party_id == 1 else 0.1)
        out = (await open_values(ctx, scheme, secret[ctx.party_id - 1], "r1/open")).tolist()
        at[ctx.party_id] = ctx.now()
        return out

    sends: list[tuple[float, int, int, str]] = []
    net.observers.append(lambda now, arrive, src, dst, data: sends.append((now, src, dst, Message.from_bytes(data).tag)))
    res = await _run(ids, lambda node: node.run(proto, name="c"), network=net, timeout=T)
    assert {p: res[p] for p in (1, 2, 3)} == {1: [31, 32], 2: [31, 32], 3: [31, 32]}, res
    pulls = [(round(now, 3), src, dst) for now, src, dst, tag in sends if tag == "pull"]
    assert pulls == [(0.1, 3, 1), (0.1 + T, 3, 2)], pulls
    assert (3.0, 1, 3, "r1/open") in sends  # the waiting pull, served when party 1 got there
    assert 0.1 + T <= at[3] < 0.1 + T + 0.1, at
    assert not [e for p in (1, 2, 3) for e in nodes[p].rejected], {p: nodes[p].rejected for p in (1, 2, 3)}
    assert not nodes[1]._retained._pending


async def test_a_wait_that_ends_with_enough_shares_buffers_the_rest_and_refuses_none() -> None:
    """``recv_many(enough=1)`` on two senders ends with the first share; the other's share, when
    it comes, is buffered (not refused as a duplicate or counted), and a later wait takes it. One
    already buffered counts towards ``enough``."""
    box = Mailbox(b"s", (1, 2, 3))
    task = asyncio.ensure_future(box.recv_many("i", "t", (2, 3), 5.0, 1))
    await asyncio.sleep(0.1)
    box.deliver(_m("t", 3, "three"))
    got = await task
    assert got[3] == "three" and isinstance(got[2], PartyDropped)
    box.deliver(_m("t", 2, "two"))  # late: buffered, no ProtocolError
    assert await box.recv("i", "t", 2, 1.0) == "two"
    with pytest.raises(ProtocolError):
        box.deliver(_m("t", 3, "three"))  # a replay of the taken one still is refused
    box.deliver(_m("u", 2, "early"))
    t0 = asyncio.get_running_loop().time()
    again = await box.recv_many("i", "u", (2, 3), 5.0, 1)
    assert asyncio.get_running_loop().time() == t0  # no wait at all
    assert again[2] == "early" and isinstance(again[3], PartyDropped)
    box.deliver(_m("u", 3, "late"))  # buffered, not refused
    assert await box.recv("i", "u", 3, 1.0) == "late"
    assert box._collect == {}


def _m(tag: str, sender: int, payload: Any) -> Message:
    return Message(session=b"s", instance="i", tag=tag, sender=sender, payload=payload)
