"""Preprocessing: dealer and DN07 pools reconstruct to valid triples, double sharings and masks."""

from __future__ import annotations

import numpy as np
import pytest
from harness import run_nodes

from mpc.field import GF61
from mpc.sharing import lagrange_at_zero, shamir_consistent
from protocols.common import Scheme
from protocols.dn07 import dn07_prepare, extract, extraction_matrix
from protocols.dealer import DEALER, dealer_prepare, dealer_serve
from protocols.triples import FULL_MASK, Need, Pool, PoolExhausted, top_bits

pytestmark = pytest.mark.timeout(60)


def _open(scheme: Scheme, rows: dict[int, np.ndarray], degree: int | None = None) -> np.ndarray:
    if scheme.kind == "additive":
        return np.sum(np.stack(list(rows.values())), axis=0, dtype=np.uint64)
    deg = scheme.t if degree is None else degree
    pts = tuple(sorted(rows))
    assert shamir_consistent(pts, np.stack([rows[p] for p in pts]), deg)
    use = pts[: deg + 1]
    lam = lagrange_at_zero(use)
    acc = np.zeros_like(rows[use[0]])
    for p, c in zip(use, lam, strict=True):
        acc = GF61.add(acc, GF61.scale(rows[p], c))
    return acc


def _check_pool(scheme: Scheme, pools: dict[int, Pool], need: Need) -> None:
    dom = scheme.domain
    trip = {p: pool.triples(need.triples) for p, pool in pools.items()}
    a = _open(scheme, {p: v[0] for p, v in trip.items()})
    b = _open(scheme, {p: v[1] for p, v in trip.items()})
    c = _open(scheme, {p: v[2] for p, v in trip.items()})
    np.testing.assert_array_equal(c, dom.mul(a, b))
    assert len(np.unique(a)) > need.triples - 2  # random, not constant
    if need.doubles:
        dbl = {p: pool.doubles(need.doubles) for p, pool in pools.items()}
        r_t = _open(scheme, {p: v[0] for p, v in dbl.items()})
        r_2t = _open(scheme, {p: v[1] for p, v in dbl.items()}, degree=2 * scheme.t)
        np.testing.assert_array_equal(r_t, r_2t)
        # the degree-2t shares are really of degree 2t, not t
        pts = tuple(sorted(dbl))
        assert scheme.t == 0 or not shamir_consistent(pts, np.stack([dbl[p][1] for p in pts]), scheme.t)
    if need.masks:
        msk = {p: pool.masks(need.masks) for p, pool in pools.items()}
        m = _open(scheme, {p: v[0] for p, v in msk.items()})
        m_hi = _open(scheme, {p: v[1] for p, v in msk.items()})
        m_top = _open(scheme, {p: v[2] for p, v in msk.items()})
        contributors = next(iter(pools.values())).mask_contributors
        if need.mask_bits == FULL_MASK:  # uniform over the domain, with its top bit
            B = top_bits(dom)
            assert int(m.max()) >= 1 << (B - 2)
            np.testing.assert_array_equal(m_top, m >> np.uint64(B - 1))
            np.testing.assert_array_equal(m_hi, m >> np.uint64(need.frac_bits))
            assert 0 < int(m_top.sum()) < need.masks
            return
        assert not m_top.any()
        assert int(m.max()) < contributors << need.mask_bits
        # r = Σ (r_hi_j·2^f + r_lo_j): r − r_hi·2^f = Σ r_lo_j < contributors·2^f
        low = m.astype(object) - m_hi.astype(object) * (1 << need.frac_bits)
        assert all(0 <= int(v) < contributors << need.frac_bits for v in low)
    with pytest.raises(PoolExhausted):
        next(iter(pools.values())).triples(1)


NEED = Need(triples=3000, doubles=500, masks=700, frac_bits=8, mask_bits=30)


@pytest.mark.parametrize(("kind", "n", "t", "bits"), [("additive", 3, None, 30), ("shamir", 3, 1, 30),
                                                     ("shamir", 5, 2, 30), ("additive", 3, None, FULL_MASK),
                                                     ("shamir", 5, 2, FULL_MASK)])
async def test_dealer_pool(kind: str, n: int, t: int | None, bits: int) -> None:
    scheme = Scheme.make(kind, range(1, n + 1), t)
    need = Need(triples=3000, doubles=500 if kind == "shamir" else 0, masks=700, frac_bits=8, mask_bits=bits)

    async def party(ctx):  # type: ignore[no-untyped-def]
        if ctx.party_id == DEALER:
            return await dealer_serve(ctx, scheme)
        return await dealer_prepare(ctx, scheme, need)

    res = await run_nodes((0, *scheme.parties), party)
    assert res[0]["served"] == list(scheme.parties)
    _check_pool(scheme, {p: res[p] for p in scheme.parties}, need)


@pytest.mark.parametrize(("n", "t"), [(3, 1), (5, 2), (7, 2), (4, 1)])
async def test_dn07_pool(n: int, t: int) -> None:
    scheme = Scheme.make("shamir", range(1, n + 1), t)
    res = await run_nodes(scheme.parties, dn07_prepare, scheme, NEED)
    for r in res.values():
        assert r.meta["source"] == "dn07" and r.mask_contributors == n and r.meta["batches"] == 1
    _check_pool(scheme, res, NEED)


async def test_dealer_rejects_disagreeing_requests() -> None:
    scheme = Scheme.make("additive", (1, 2), None)

    async def party(ctx):  # type: ignore[no-untyped-def]
        if ctx.party_id == DEALER:
            return await dealer_serve(ctx, scheme)
        return await dealer_prepare(ctx, scheme, Need(triples=10 * ctx.party_id))

    res = await run_nodes((0, 1, 2), party, timeout=1.0)
    assert type(res[0]).__name__ == "ProtocolError"


def test_extraction_matrix_every_square_submatrix_is_invertible() -> None:
    """Any |D| − t columns of M are invertible: honest contributions alone fix the outputs."""
    from itertools import combinations

    p = GF61.modulus
    for ids, t in [((1, 2, 3), 1), ((1, 2, 3, 4, 5), 2), ((2, 3, 5, 6, 7), 2), ((1, 2, 3, 4, 5, 6, 7), 3)]:
        m = extraction_matrix(ids, t)
        k = len(ids) - t
        for cols in combinations(range(len(ids)), k):
            sub = [[m[r][c] for c in cols] for r in range(k)]
            assert _det_mod(sub, p) != 0


def _det_mod(a: list[list[int]], p: int) -> int:
    a = [row[:] for row in a]
    det = 1
    for i in range(len(a)):
        piv = next((r for r in range(i, len(a)) if a[r][i] % p), None)
        if piv is None:
            return 0
        if piv != i:
            a[i], a[piv] = a[piv], a[i]
            det = -det
        det = det * a[i][i] % p
        inv = pow(a[i][i], p - 2, p)
        for r in range(i + 1, len(a)):
            f = a[r][i] * inv % p
            a[r] = [(x - f * y) % p for x, y in zip(a[r], a[i], strict=True)]
    return det % p


def test_extract_is_the_matrix_product() -> None:
    from mpc.rng import Csprng

    rng = Csprng(bytes(32))
    ids, t = (1, 3, 4, 6), 1
    s = {j: GF61.random(rng, 50) for j in ids}
    out = extract(ids, t, s).reshape(len(ids) - t, 50)
    m = extraction_matrix(ids, t)
    for k in range(len(ids) - t):
        want = [sum(m[k][c] * int(s[j][e]) for c, j in enumerate(ids)) % GF61.modulus for e in range(50)]
        assert out[k].tolist() == want


@pytest.mark.parametrize(("kind", "n", "t", "seeded"), [("additive", 3, None, (1, 2)), ("shamir", 5, 2, (1, 2)),
                                                      ("shamir", 3, 0, ())])
def test_dealer_sends_keys_to_the_seeded_parties(kind: str, n: int, t: int | None, seeded: tuple[int, ...]) -> None:
    from mpc.rng import Csprng
    from protocols.dealer import deal, receive, seeded_parties

    scheme = Scheme.make(kind, range(1, n + 1), t)
    assert seeded_parties(scheme) == seeded
    need = Need(triples=100, doubles=50 if kind == "shamir" else 0)
    payloads = dict(deal(scheme, need, Csprng()))
    assert list(payloads)[: len(seeded)] == list(seeded)  # keys go out first
    for p in scheme.parties:
        assert (set(payloads[p]) == {"seed"}) == (p in seeded)
    pools = {p: Pool(need, receive(payloads[p], scheme, need, p)) for p in scheme.parties}
    _check_pool(scheme, pools, need)
