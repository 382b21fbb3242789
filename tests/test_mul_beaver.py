"""Beaver multiplication, dot products and chains: opened results equal plaintext arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from harness import metas, outputs, scenario, sim

from protocols.arith import ref_dot, ref_mul
from protocols.registry import Job

pytestmark = pytest.mark.timeout(60)

CONFIGS = [
    ("additive", None, "dealer", 2),
    ("additive", None, "dealer", 3),
    ("additive", None, "dealer", 4),
    ("shamir", 1, "dealer", 3),
    ("shamir", 1, "dealer", 4),
    ("shamir", 2, "dealer", 5),
    ("shamir", 1, "dn07", 3),
    ("shamir", 2, "dn07", 5),
    ("shamir", 1, "dn07", 6),
]


def _inputs(parties: int, holders: int, n: int, seed: int, big: bool = False) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)  # public test data
    hi = 1 << 19 if big else 1000
    return {p: rng.integers(-hi, hi, n) for p in range(1, holders + 1)}


def _exact(values: list[np.ndarray], modulus: int) -> np.ndarray:
    prod = np.ones(values[0].shape, dtype=object)
    for v in values:
        prod = prod * v.astype(object)
    half = modulus // 2
    return np.asarray([((int(x) + half) % modulus) - half for x in prod], dtype=np.int64)


@pytest.mark.parametrize(("sharing", "t", "triples", "n"), CONFIGS)
@pytest.mark.parametrize("holders", [2, 3])
def test_mul_equals_plaintext(sharing: str, t: int | None, triples: str, n: int, holders: int) -> None:
    holders = min(holders, n)
    ins = _inputs(n, holders, 500, seed=n * 10 + holders, big=True)
    ins[1][:4] = [0, -1, 1, -(1 << 19)]  # edges: zero, signs
    kw = {"sharing": sharing, "triples": triples} | ({"threshold": t} if t is not None else {})
    rep = sim(scenario("mul", n, ins, **kw))
    assert rep.ok, rep.reason
    modulus = (1 << 64) if sharing == "additive" else (1 << 61) - 1
    want = _exact(list(ins.values()), modulus)
    outs = outputs(rep)
    assert set(outs) == set(range(1, n + 1))
    for got in outs.values():
        np.testing.assert_array_equal(got, want)
    m = metas(rep)[1]
    layers = (holders - 1).bit_length()  # a product tree of `holders` leaves
    assert m["rounds"] == layers + 1  # one round per layer, plus the output opening
    assert m["multiplications"] == (holders - 1) * 500


def test_ring_products_wrap_like_int64() -> None:
    big = np.array([1 << 40, -(1 << 40), 3 << 50, 12345], dtype=np.int64)
    rep = sim(scenario("mul", 3, {1: big, 2: big}, sharing="additive"))
    assert rep.ok, rep.reason
    np.testing.assert_array_equal(outputs(rep)[1], big * big)  # numpy int64 wraps mod 2^64


def test_layer_is_one_message_to_its_taker() -> None:
    """Three inputs: layer 1 multiplies one pair; every online round is one message per party,
    to the one party that opens from its share (t = 1: an opening in a ring)."""
    ins = _inputs(3, 3, 1000, seed=3)
    rep = sim(scenario("mul", 3, ins, sharing="shamir", threshold=1))
    m = metas(rep)[1]
    # 2 layers + output, each: one message to one peer; shares are 8-byte elements
    assert m["rounds"] == 3
    payload = 2 * (2 * 1000 * 8) + 1000 * 8  # x−a and y−b per layer, output
    assert payload <= m["online_bytes_sent"] <= payload + 3 * 400
    # the multiplications alone: 2 layers × 1 taker × 2 elements per product, plus framing
    assert 2 * 2 * 1000 * 8 <= m["mul_online_bytes_sent"] <= 2 * (2 * 1000 * 8 + 400)


@pytest.mark.parametrize(("sharing", "t", "triples", "n"), [
    ("shamir", 1, "dealer", 3), ("shamir", 2, "dn07", 5), ("additive", None, "dealer", 3), ("shamir", 2, "dealer", 4),
])
def test_dot_equals_plaintext(sharing: str, t: int | None, triples: str, n: int) -> None:
    ins = _inputs(n, 2, 3000, seed=n)
    kw = {"sharing": sharing, "triples": triples} | ({"threshold": t} if t is not None else {})
    rep = sim(scenario("dot", n, ins, **kw))
    assert rep.ok, rep.reason
    want = int(sum(int(a) * int(b) for a, b in zip(ins[1], ins[2], strict=True)))
    for got in outputs(rep).values():
        assert got.shape == () and got.tolist() == want  # a scalar
    m = metas(rep)[1]
    if sharing == "shamir" and 2 * t < n:
        # one degree reduction: one opened element per output, whatever the vector length
        assert m["opened_elements"] == 1 + 1 and m["degree_reductions"] == 1
    else:
        assert m["opened_elements"] == 2 * 3000 + 1


def test_dot_of_three_vectors() -> None:
    ins = _inputs(3, 3, 200, seed=9)
    rep = sim(scenario("dot", 3, ins, sharing="shamir", threshold=1))
    assert rep.ok, rep.reason
    job = Job(parties=(1, 2, 3), input_parties=(1, 2, 3), sharing="shamir", threshold=1)
    assert outputs(rep)[2].tolist() == ref_dot(job, ins, {}).tolist()
    assert ref_dot(job, ins, {}).tolist() == int(np.sum(ins[1] * ins[2] * ins[3]))


@pytest.mark.parametrize(("sharing", "triples"), [("additive", "dealer"), ("shamir", "dn07")])
def test_mulchain_is_sequential(sharing: str, triples: str) -> None:
    x, y = np.array([3, -2, 1, 0]), np.array([-1, 2, 5, 7])
    rep = sim(scenario("mulchain", 3, {1: x, 2: y}, sharing=sharing, triples=triples, options={"k": 7}))
    assert rep.ok, rep.reason
    np.testing.assert_array_equal(outputs(rep)[1], x * y**7)
    m = metas(rep)[1]
    assert m["rounds"] == 8 and m["multiplications"] == 28


def test_reference_reduces_like_the_field() -> None:
    job = Job(parties=(1, 2, 3), input_parties=(1, 2), sharing="shamir", threshold=1)
    a = np.array([1 << 40, -(1 << 40)])
    p = (1 << 61) - 1
    assert ref_mul(job, {1: a, 2: a}, {}).tolist() == [(1 << 80) % p - p if (1 << 80) % p > p // 2 else (1 << 80) % p] * 2


@pytest.mark.parametrize(("sharing", "t", "triples", "n"), [("shamir", 1, "dealer", 3), ("additive", None, "dealer", 3),
                                                           ("shamir", 2, "dn07", 5)])
async def test_matvec_one_opening_per_row(sharing: str, t: int | None, triples: str, n: int) -> None:
    from harness import run_nodes

    from protocols.arith import prepare
    from protocols.beaver import Beaver
    from protocols.common import Scheme, share_inputs
    from protocols.sum import encode_input
    from protocols.dealer import DEALER, dealer_serve
    from protocols.triples import Need

    rng = np.random.default_rng(4)
    mat, vec = rng.integers(-500, 500, (6, 40)), rng.integers(-500, 500, 40)
    job = Job(parties=tuple(range(1, n + 1)), input_parties=(1, 2), sharing=sharing, threshold=t, triples=triples)
    scheme = Scheme.make(sharing, job.parties, t)

    async def party(ctx):  # type: ignore[no-untyped-def]
        if ctx.party_id == DEALER:
            return await dealer_serve(ctx.child("pre"), scheme)
        mine = {1: mat.reshape(-1), 2: np.concatenate([vec, np.zeros(200, np.int64)])}.get(ctx.party_id)
        shares = await share_inputs(ctx, encode_input(mine, scheme, None), scheme, (1, 2))
        triples_n, doubles = Beaver.dot_need(scheme, 6, 40)
        bv = Beaver(ctx.child("on"), scheme, await prepare(ctx, job, scheme, Need(triples=triples_n, doubles=doubles)))
        z = await bv.matvec(shares[1].reshape(6, 40), shares[2][:40])
        return scheme.domain.decode(await bv.open(z)), bv.opened_elements

    ids = ((DEALER,) if triples == "dealer" else ()) + job.parties
    res = await run_nodes(ids, party)
    for p in job.parties:
        got, opened = res[p]
        np.testing.assert_array_equal(got, mat @ vec)
        assert opened == (6 + 6 if sharing == "shamir" else 2 * 240 + 6)


@pytest.mark.parametrize(("sharing", "t", "triples", "n"), [("shamir", 1, "dealer", 3), ("additive", None, "dealer", 3),
                                                           ("shamir", 2, "dn07", 5)])
def test_matvec_spec(sharing: str, t: int | None, triples: str, n: int) -> None:
    """Parties 1..3 own the rows, party 4 the vector: M·v with one opened element per row (Shamir)."""
    ins = _inputs(n, 4 if n > 3 else 3, 500, seed=11)
    kw = {"sharing": sharing, "triples": triples} | ({"threshold": t} if t is not None else {})
    rep = sim(scenario("matvec", n, ins, **kw))
    assert rep.ok, rep.reason
    keys = sorted(ins)
    want = np.stack([ins[p] for p in keys[:-1]]) @ ins[keys[-1]]
    for got in outputs(rep).values():
        np.testing.assert_array_equal(got, want)
    rows = len(keys) - 1
    m = metas(rep)[1]
    assert m["opened_elements"] == (2 * rows if sharing == "shamir" else 2 * rows * 500 + rows)
