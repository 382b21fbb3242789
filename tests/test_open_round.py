"""Openings in a ring (Context.open_round, mpc/retained.py): each party takes the t shares of the
t parties after it instead of everyone's, a party whose sender is gone pulls the next live
party's share, and the pulls themselves are attacked: outsiders, repeats, floods, malformed or
late pulls, pulls of a share that is not an opening's."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from harness import Wire, outputs, scenario, sim
from round_attack import EVIL, SESSION, _frame, _raw, _run

from mpc.context import _ring
from mpc.errors import ProtocolError
from mpc.message import CONTROL
from mpc.retained import KEEP, KEEP_BYTES, PENDING, Retained
from mpc.rng import Csprng
from netsim import SimNetwork
from protocols.common import Scheme, frozen, open_values, snapshot

pytestmark = pytest.mark.timeout(60)

X, Y = np.array([3, -2, 1, 0, 7]), np.array([-1, 2, 5, 7, -3])


def _chain(n: int, t: int, k: int, faults: list[dict[str, Any]], observers: list[Any] = ()) -> Any:
    return sim(scenario("mulchain", n, {1: X, 2: Y}, sharing="shamir", threshold=t, options={"k": k},
                        faults=faults, network={"latency_ms": 1}), observers)


def test_the_ring() -> None:
    assert _ring((1, 2, 3, 4, 5), 1, 2)[:3] == ((2, 3), (5, 4), (4, 5))
    assert _ring((1, 2, 3, 4, 5), 5, 2)[:3] == ((1, 2), (4, 3), (3, 4))
    assert _ring((2, 4, 9), 9, 1) == ((2,), (4,), (4,), frozenset({2, 4, 9}))
    # every party is taken from by exactly d others: the senders and receivers are one relation
    for n, d in ((5, 2), (7, 3), (4, 1)):
        group = tuple(range(1, n + 1))
        takes = {p: set(_ring(group, p, d)[0]) for p in group}
        for p in group:
            assert {q for q in group if p in takes[q]} == set(_ring(group, p, d)[1])


@pytest.mark.parametrize(("n", "t"), [(3, 1), (4, 1), (5, 2), (7, 3), (7, 2)])
def test_a_chain_opens_right_with_n_times_t_messages_a_round(n: int, t: int) -> None:
    wire = Wire()
    rep = _chain(n, t, 4, [], [wire])
    assert rep.ok, rep.reason
    assert all(np.asarray(o).tolist() == (X * Y**4).tolist() for o in outputs(rep).values())
    for r in range(1, 5):
        sends = [(s, d) for s, d, tag, _ in wire.messages if tag == f"on/r{r}/open"]
        assert len(sends) == n * t, (r, len(sends))
        assert {d for _, d in sends} == set(range(1, n + 1))  # everyone takes t shares


@pytest.mark.parametrize(("n", "t", "crash"), [(3, 1, [3]), (5, 2, [3]), (5, 2, [2, 4]), (7, 2, [1, 4, 5, 6])])
def test_a_chain_survives_crashes_mid_chain_by_pulling(n: int, t: int, crash: list[int]) -> None:
    """Parties crash after their round-2 share went out; their ring takers pull the next live
    parties' shares and the survivors open x·y^5 (n − |crash| ≥ t + 1)."""
    wire = Wire()
    rep = _chain(n, t, 5, [{"party": p, "crash": "after:on/r2/open"} for p in crash], [wire])
    assert set(outputs(rep)) == set(range(1, n + 1)) - set(crash), rep.reason
    assert all(np.asarray(o).tolist() == (X * Y**5).tolist() for o in outputs(rep).values())
    # from round 3 on, every survivor takes t shares of survivors, some of them pulled from
    # outside its ring (its own senders crashed)
    group = tuple(range(1, n + 1))
    for r in range(3, 6):
        sends = {(s, d) for s, d, tag, _ in wire.messages if tag == f"on/r{r}/open"}
        for p in set(group) - set(crash):
            taken = {s for s, d in sends if d == p}
            assert len(taken) == t and not taken & set(crash), (r, p, taken)
        assert any(s not in _ring(group, d, t)[0] for s, d in sends), r  # pulled


def test_too_many_crashes_lose_the_quorum() -> None:
    rep = _chain(5, 2, 5, [{"party": p, "crash": "after:on/r2/open"} for p in (1, 3, 5)])
    assert not outputs(rep)
    assert {o.error for p, o in rep.outcomes.items() if p in (2, 4)} == {"QuorumLost"}


async def test_a_pull_that_comes_before_the_share_waits_for_it() -> None:
    """n = 3, t = 1: party 2 takes party 3's share, but 3 is gone before the round, so 2 pulls
    party 1's at once. Party 1 is a second late to the round: its node keeps the pull and sends
    the share with its own round. Party 2 opens at 1 s, not at its 2 s deadline."""
    ids = (1, 2, 3)
    scheme = Scheme.make("shamir", ids)
    shares = scheme.share(np.array([11, 12], np.uint64), Csprng(b"p" * 32))
    net = SimNetwork(ids, wire="bytes")
    at: dict[int, float] = {}

    async def proto(ctx: Any) -> Any:
        if ctx.party_id == 3:
            net.crash(3)
            await asyncio.sleep(10)
        await asyncio.sleep(1.0 if ctx.party_id == 1 else 0.01)
        out = (await open_values(ctx, scheme, shares[ctx.party_id - 1], "r1/open")).tolist()
        at[ctx.party_id] = ctx.now()
        return out

    async def body(node: Any) -> Any:
        try:
            return await node.run(proto)
        finally:
            if node.party_id == 1:
                assert not node._retained._pending and len(node._retained) == 0  # given, then forgotten

    res = await _run(ids, body, network=net)
    assert res[1] == [11, 12] and res[2] == [11, 12], res
    assert at[2] == pytest.approx(at[1], abs=0.01) and 1.0 <= at[2] < 1.1


# -- the attacker's pulls ---------------------------------------------------------------------
def _pull(instance: str, tag: str, sender: int = EVIL, **extra: Any) -> bytes:
    return _frame(CONTROL, "pull", sender, {"instance": instance, "tag": tag, **extra})


async def _opening_with(attack: Any, ids: tuple[int, ...] = (1, 2, 3), group: tuple[int, ...] = (1, 2, 3),
                        ) -> tuple[dict[int, Any], dict[int, Any]]:
    """Honest parties of ``group`` open [5, 6] (round "r1/open"), overwrite their share array and
    then wait 1 s; party EVIL
    runs ``attack(ctx)`` instead (it may also take part in the opening itself)."""
    scheme = Scheme.make("shamir", group)
    shares = scheme.share(np.array([5, 6], np.uint64), Csprng(b"q" * 32))
    nodes: dict[int, Any] = {}

    async def proto(ctx: Any) -> Any:
        nodes[ctx.party_id] = ctx._node
        if ctx.party_id == EVIL:
            return await attack(ctx, shares)
        mine = shares[group.index(ctx.party_id)].copy()
        out = (await open_values(ctx, scheme, mine, "r1/open")).tolist()
        mine[:] = 0  # the caller reuses its array: what a later pull gets is the share as opened
        await asyncio.sleep(1.0)
        return out

    res = await _run(ids, lambda node: node.run(proto, name="c"), network=SimNetwork(ids, wire="bytes"))
    return res, nodes


def _rejected(node: Any) -> list[str]:
    return [str(e) for e in node.rejected if e.peer == EVIL]


async def test_a_pull_from_outside_the_opening_is_refused_and_gets_nothing() -> None:
    """The opening is among 1, 3, 4; party 2 (in the session, not in the opening) pulls party
    1's share: refused, and no share of it ever reaches party 2."""

    async def attack(ctx: Any, shares: Any) -> Any:
        await asyncio.sleep(0.1)  # party 1 has kept its share by now
        await _raw(ctx, (1,), _pull("c", "r1/open"))
        got = await ctx.gather("r1/open", [1], quorum=0, timeout=1.0)
        return got

    res, nodes = await _opening_with(attack, ids=(1, 2, 3, 4), group=(1, 3, 4))
    assert res[1] == res[3] == res[4] == [5, 6]
    assert res[EVIL] == {}  # nothing came
    assert any("not part of" in r for r in _rejected(nodes[1])), _rejected(nodes[1])


async def test_a_second_pull_of_one_share_is_refused() -> None:
    """A member may pull a share once (what an all-to-all opening sends it anyway); twice is refused."""

    async def attack(ctx: Any, shares: Any) -> Any:
        await asyncio.sleep(0.1)
        await _raw(ctx, (1,), _pull("c", "r1/open"))
        await _raw(ctx, (1,), _pull("c", "r1/open"))
        got = await ctx.gather("r1/open", [1], timeout=1.0)
        return got[1].tolist()

    res, nodes = await _opening_with(attack)
    assert res[EVIL] == shares_of(1)
    assert sum("again" in r for r in _rejected(nodes[1])) == 1, _rejected(nodes[1])


def shares_of(p: int) -> list[int]:
    return Scheme.make("shamir", (1, 2, 3)).share(np.array([5, 6], np.uint64), Csprng(b"q" * 32))[p - 1].tolist()


async def test_a_pull_flood_is_bounded_and_the_node_keeps_serving() -> None:
    """Pulls of shares that do not exist wait, at most PENDING per peer; the rest are refused,
    and the honest parties' opening is unaffected."""

    async def attack(ctx: Any, shares: Any) -> Any:
        for i in range(PENDING + 20):
            await _raw(ctx, (1,), _pull("c", f"nothing/{i}"))
        return await ctx.gather("r1/open", [3], timeout=1.0)  # as a taker in the ring: 2 takes 3's

    res, nodes = await _opening_with(attack)
    assert res[1] == res[3] == [5, 6]
    assert sum("more than" in r for r in _rejected(nodes[1])) >= 1
    assert max(nodes[1]._retained._pending_count.values(), default=0) <= PENDING


@pytest.mark.parametrize("payload", [None, [1], {"instance": "c"}, {"instance": 1, "tag": "r1/open"},
                                     {"instance": "c", "tag": "x" * 300}, {"instance": "", "tag": "r"},
                                     {"instance": "c", "tag": "r1/open", "more": 1}])
async def test_a_malformed_pull_is_refused(payload: Any) -> None:
    async def attack(ctx: Any, shares: Any) -> Any:
        await asyncio.sleep(0.1)
        await _raw(ctx, (1,), _frame(CONTROL, "pull", EVIL, payload))
        return None

    res, nodes = await _opening_with(attack)
    assert res[1] == res[3] == [5, 6]
    assert any("malformed pull" in r for r in _rejected(nodes[1])), _rejected(nodes[1])


async def test_a_pull_in_another_session_is_refused() -> None:
    async def attack(ctx: Any, shares: Any) -> Any:
        await asyncio.sleep(0.1)
        await _raw(ctx, (1,), _frame(CONTROL, "pull", EVIL, {"instance": "c", "tag": "r1/open"}, session=b"x" * 12))
        return None

    res, nodes = await _opening_with(attack)
    assert res[1] == res[3] == [5, 6] and SESSION != b"x" * 12
    assert any("another session" in r for r in _rejected(nodes[1]))
    assert not nodes[1]._retained._pending


async def test_a_pull_never_gets_a_share_that_was_not_opened() -> None:
    """Only opening shares are kept: a pull of the input-sharing round's tag (a private share)
    waits for a share that never comes; nothing reaches the attacker."""

    async def attack(ctx: Any, shares: Any) -> Any:
        await _raw(ctx, (1,), _pull("c", "share"))
        return await ctx.gather("share", [1], quorum=0, timeout=1.5)

    scheme = Scheme.make("shamir", (1, 2, 3))

    async def proto(ctx: Any) -> Any:
        if ctx.party_id == EVIL:
            return await attack(ctx, None)
        mine = scheme.share(np.array([9], np.uint64), ctx.rng)
        await ctx.scatter("share", {p: mine[k] for k, p in enumerate((1, 2, 3)) if p != EVIL})
        got = await ctx.gather("share", [p for p in (1, 3) if p != ctx.party_id], timeout=1.0)
        await asyncio.sleep(1.0)
        return len(got)

    res = await _run((1, 2, 3), lambda node: node.run(proto, name="c"))
    assert res[1] == res[3] == 1 and res[EVIL] == {}


def test_retained_is_bounded() -> None:
    r = Retained()
    group = frozenset({1, 2, 3})
    for i in range(KEEP + 10):
        r.keep("i", f"t{i}", i, group)
    assert len(r) == KEEP
    assert r.pull(2, "i", "t0") == (False, None)  # evicted: the pull waits (the puller's deadline ends it)
    assert r.pull(2, "i", f"t{KEEP + 9}") == (True, KEEP + 9)
    with pytest.raises(ProtocolError):
        r.pull(4, "i", f"t{KEEP + 8}")
    assert r.keep("i", "t0", 0, group) == (2,)  # the waiting pull is served with the round
    r.finish("i")
    assert len(r) == 0 and not r._pending and not any(r._pending_count.values())


def test_retained_bounds_the_bytes_of_large_shares_but_keeps_the_newest() -> None:
    r = Retained()
    group = frozenset({1, 2, 3})
    big = np.zeros(KEEP_BYTES // 8 // 3, np.uint64)  # a third of the budget each
    for i in range(5):
        r.keep("i", f"t{i}", big, group)
    assert len(r) == 3 and r._bytes == 3 * big.nbytes <= KEEP_BYTES
    assert r.pull(2, "i", "t1") == (False, None) and r.pull(2, "i", "t4")[0]  # oldest gone first
    huge = np.zeros(KEEP_BYTES // 8 + 1, np.uint64)
    r.keep("i", "huge", huge, group)
    r.keep("i", "huge2", huge, group, (1,))
    # the newest two stay, whatever their size (a party one round ahead serves the round before)
    assert len(r) == 2 and r.pull(3, "i", "huge")[0] and r.pull(3, "i", "huge2")[0]
    with pytest.raises(ProtocolError, match="sent with the round"):
        r.pull(1, "i", "huge2")  # its receiver had it with the round: no second copy
    r.finish("i")
    assert len(r) == 0 and r._bytes == 0


def test_a_large_opening_goes_around_the_ring_too() -> None:
    """A 1000-element product among 5 parties (t = 2): each online round is n·t messages."""
    wire = Wire()
    x, y = np.arange(-500, 500), np.arange(1000) % 7 - 3
    rep = sim(scenario("mul", 5, {1: x, 2: y}, sharing="shamir", threshold=2), [wire])
    assert rep.ok, rep.reason
    assert all(np.asarray(o).tolist() == (x * y).tolist() for o in outputs(rep).values())
    for tag in ("on/r1/open", "on/r2/output"):
        assert sum(1 for _, _, t, _ in wire.messages if t == tag) == 5 * 2, tag


def test_snapshot_copies_unless_nothing_can_write() -> None:
    a = np.arange(4, dtype=np.uint64)
    view = a[:2]
    view.setflags(write=False)  # read-only, but its base is not: a copy
    s = snapshot(view)
    assert s is not view and not s.flags.writeable
    a[0] = 9
    assert s.tolist() == [0, 1]
    f = frozen(np.arange(3, dtype=np.uint64))
    assert snapshot(f) is f
