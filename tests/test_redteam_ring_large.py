"""Red team: openings in a ring for LARGE unverified Shamir openings (0373a5f): correctness under
crashes, kept shares without copies (snapshot / frozen), and the byte bound of kept shares."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from harness import Wire, outputs, scenario, sim

pytestmark = pytest.mark.timeout(120)


def _ins(n_in: int, size: int, seed: int) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {p: rng.integers(-1000, 1000, size) for p in range(1, n_in + 1)}


@pytest.mark.parametrize(("proto", "n", "t", "triples", "crash", "at"), [
    ("mul", 5, 2, "dealer", (3,), "on/r1/open"), ("mul", 5, 2, "dealer", (2, 4), "on/r1/open"),
    ("mul", 7, 2, "dealer", (1, 4, 5, 6), "on/r1/open"), ("mul", 7, 3, "dealer", (2, 3, 7), "on/r1/open"),
    ("mul", 7, 2, "dn07", (3, 6), "on/r1/open"), ("mul", 7, 2, "dn07", (3, 6), "pre/reduce"),
    ("mul", 7, 2, "dn07", (1, 7), "pre/reduce"),
    ("dot", 7, 2, "dealer", (2, 5), "on/r1/reduce"), ("dot", 7, 2, "dn07", (4, 7), "on/r1/reduce"),
    ("dot", 7, 2, "dn07", (1, 2), "on/r1/reduce"),
])
def test_large_openings_survive_crashes_after_the_first_online_round(proto: str, n: int, t: int, triples: str,
                                                                      crash: tuple[int, ...], at: str) -> None:
    """Every live party opens the plaintext product after parties crash right after a large
    opening of the ring (their takers must pull the next live party's kept share)."""
    ins = _ins(2, 4000, seed=n + len(crash))
    faults = [{"party": p, "crash": f"after:{at}"} for p in crash]
    rep = sim(scenario(proto, n, ins, sharing="shamir", threshold=t, triples=triples, faults=faults,
                       network={"latency_ms": 1}))
    assert rep.ok, rep.reason
    if proto == "mul":
        want: Any = (ins[1] * ins[2]).tolist()
    else:
        want = int(sum(int(a) * int(b) for a, b in zip(ins[1], ins[2], strict=True)))
    got = outputs(rep)
    live = {p for p in range(1, n + 1) if p not in crash}
    assert live <= set(got), (sorted(got), rep.reason)
    assert {p for p, o in rep.outcomes.items() if o.status == "crashed"} == set(crash)
    for p in live:
        assert np.asarray(got[p]).tolist() == want, p


def _chain(n: int, crash: tuple[int, ...], size: int) -> tuple[Any, np.ndarray]:
    x, y = np.arange(size) % 5 - 2, np.arange(size) % 3 - 1
    rep = sim(scenario("mulchain", n, {1: x, 2: y}, sharing="shamir", threshold=2, options={"k": 6},
                       faults=[{"party": p, "crash": "after:on/r2/open"} for p in crash], network={"latency_ms": 1}))
    return rep, x * y**6


@pytest.mark.parametrize("budget", [1, 64000])
@pytest.mark.parametrize(("n", "crash"), [(5, (3,)), (7, (3, 5))])
def test_a_byte_budget_below_two_rounds_still_survives_a_crash(
        monkeypatch: pytest.MonkeyPatch, n: int, crash: tuple[int, ...], budget: int) -> None:
    """KEEP_BYTES scaled down below one round's masked share (2·4000·8 = 64000 bytes) or to one
    round. When only the newest share was kept whatever its size, the takers of the crashed
    party pulled shares their next live party had already evicted (it was a round ahead), and
    every live party failed with QuorumLost where all-to-all survived (at the real 256 MiB: a
    product of more than ~8.4·10^6 elements). The newest two are kept now: the chain survives."""
    import mpc.retained as retained

    monkeypatch.setattr(retained, "KEEP_BYTES", budget)
    rep, want = _chain(n, crash, 4000)
    live = [p for p in rep.outcomes if p not in crash]
    assert rep.ok, {p: (rep.outcomes[p].status, rep.outcomes[p].error) for p in live}
    got = outputs(rep)
    assert all(got[p].tolist() == want.tolist() for p in live if p)


async def test_an_attacker_pulling_large_kept_shares_again_gets_each_at_most_once_more() -> None:
    """n = 3, t = 1, four large openings (50,000 elements, 400 kB a share). The attacker, a
    member, takes part, then pulls every round's share from both honest parties twice. Each
    honest party sends each large share to it at most once: party 3, its ring sender, with the
    round only (a pull of what the round sent it is refused); party 1, which gave it nothing
    with the round, to the first pull only (the second is refused). Both keep within the byte
    budget, and the honest parties open every value right."""
    import asyncio

    from mpc.message import CONTROL, Message
    from mpc.retained import KEEP_BYTES
    from mpc.rng import Csprng
    from netsim import SimNetwork
    from protocols.common import Scheme, open_values
    from round_attack import EVIL, _frame, _raw, _run

    ids, rounds, size = (1, 2, 3), 4, 50_000
    scheme = Scheme.make("shamir", ids)
    values = [np.arange(size, dtype=np.uint64) * (r + 3) for r in range(rounds)]
    shares = [scheme.share(v, Csprng(bytes([r + 1]) * 32)) for r, v in enumerate(values)]
    net = SimNetwork(ids, wire="bytes")
    copies: dict[tuple[int, str], int] = {}

    def watch(sent_at: float, arrives_at: float | None, src: int, dst: int, data: bytes) -> None:
        if dst == EVIL and len(data) > size:
            msg = Message.from_bytes(data)
            copies[(src, msg.tag)] = copies.get((src, msg.tag), 0) + 1

    net.observers.append(watch)
    nodes: dict[int, Any] = {}

    async def proto(ctx: Any) -> Any:
        me = ctx.party_id
        nodes[me] = ctx._node
        out = []
        for r in range(rounds):
            out.append((await open_values(ctx, scheme, shares[r][me - 1], f"r{r}/open")).tolist() == values[r].tolist())
        if me == EVIL:
            for _ in range(2):
                for r in range(rounds):
                    await _raw(ctx, (1, 3), _frame(CONTROL, "pull", EVIL, {"instance": "c", "tag": f"r{r}/open"}))
                await asyncio.sleep(0.3)
        else:
            await asyncio.sleep(1.0)
            kept = ctx._node._retained
            out.append(kept._bytes == sum(a.nbytes for a, *_ in kept._kept.values()) <= KEEP_BYTES
                       and len(kept) <= rounds)
        return out

    res = await _run(ids, lambda node: node.run(proto, name="c"), network=net, timeout=3.0)
    assert res[1] == res[3] == [True] * (rounds + 1), res
    for r in range(rounds):
        assert copies.get((1, f"r{r}/open"), 0) <= 1, copies
        assert copies.get((3, f"r{r}/open"), 0) == 1, copies
    for p, why, count in ((1, "again", rounds), (3, "sent with the round", 2 * rounds)):
        refused = [str(e) for e in nodes[p].rejected if e.peer == EVIL and why in str(e)]
        assert len(refused) >= count, (p, [str(e) for e in nodes[p].rejected])


@pytest.mark.parametrize(("proto", "triples", "crash", "at"), [
    ("mul", "dn07", (2, 4, 6), "pre/b0/agree"), ("dot", "dealer", (1, 4, 7), "pre/need"),
    ("dot", "dn07", (3, 5, 6), "pre/b0/agree"),
])
def test_a_degree_2t_ring_opening_short_of_2t_plus_1_fails_everywhere_with_one_error(
        proto: str, triples: str, crash: tuple[int, ...], at: str) -> None:
    """n = 7, t = 2: a degree reduction needs 2t + 1 = 5 shares and goes around the ring
    (n > 2t + 1). Three crashes before it leave 4: every live party must fail with QuorumLost
    (the pulls run out of live parties), none may output."""
    ins = _ins(2, 3000, seed=7)
    faults = [{"party": p, "crash": f"after:{at}"} for p in crash]
    rep = sim(scenario(proto, 7, ins, sharing="shamir", threshold=2, triples=triples, faults=faults,
                       timeout_s=1.0, network={"latency_ms": 1}))
    assert not rep.ok
    live = [p for p in range(1, 8) if p not in crash]
    assert {p for p, o in rep.outcomes.items() if o.status == "crashed"} == set(crash)
    assert {rep.outcomes[p].error for p in live} == {"QuorumLost"}, {p: rep.outcomes[p].error for p in live}
    assert not outputs(rep)
