"""The fused field kernels (blocked and tiny paths) agree with Python big-int arithmetic, edge values included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.field import BLOCK, GF61, TINY, Z64, ArithmeticMismatch
from mpc.rng import Csprng
from mpc.sharing import lagrange_at, lagrange_at_zero, reconstruction_set, shamir_reconstruct, shamir_share

pytestmark = pytest.mark.timeout(60)
P = GF61.modulus
EDGES = [0, 1, 2, P - 1, P - 2, (1 << 32) - 1, 1 << 32, (1 << 60), P // 2, (1 << 61) - 2]
SIZES = [1, 5, TINY, TINY + 1, BLOCK + 17]  # tiny path, its edge, blocked path over several blocks


def _vectors(k: int, n: int = BLOCK + 17) -> list[np.ndarray]:
    rng = Csprng(bytes(range(32)))
    out = []
    for j in range(k):
        v = GF61.random(rng, n)
        m = min(n, len(EDGES))
        v[:m] = np.roll(np.array(EDGES, dtype=np.uint64), j)[:m]
        out.append(v)
    return out


def _ints(v: np.ndarray) -> list[int]:
    return [int(x) for x in v.reshape(-1)]


@pytest.mark.parametrize("n", SIZES)
def test_elementwise_ops_match_big_ints(n: int) -> None:
    a, b = _vectors(2, n)
    A, B = _ints(a), _ints(b)
    assert _ints(GF61.add(a, b)) == [(x + y) % P for x, y in zip(A, B)]
    assert _ints(GF61.sub(a, b)) == [(x - y) % P for x, y in zip(A, B)]
    assert _ints(GF61.mul(a, b)) == [x * y % P for x, y in zip(A, B)]
    assert _ints(GF61.neg(a)) == [-x % P for x in A]
    assert _ints(GF61.scale(a, 123456789123)) == [x * 123456789123 % P for x in A]
    out = np.empty((2, n), dtype=np.uint64)  # out= writes into a row of a batched message
    GF61.sub(a, b, out=out[1])
    GF61.add(a, b, out=out[0])
    assert _ints(out[1]) == [(x - y) % P for x, y in zip(A, B)]
    assert _ints(out[0]) == [(x + y) % P for x, y in zip(A, B)]
    assert _ints(GF61.mul(a, b, out=out[0])) == [x * y % P for x, y in zip(A, B)]
    assert _ints(GF61.reduce(a * np.uint64(7))) == [7 * x % P for x in A]  # any uint64 below 2^64 folds


@pytest.mark.parametrize("n", SIZES)
def test_beaver_combine_matches_big_ints(n: int) -> None:
    c, d, y, e, a = _vectors(5, n)
    want = [(cc + dd * yy + ee * aa) % P for cc, dd, yy, ee, aa in zip(*map(_ints, (c, d, y, e, a)))]
    assert _ints(GF61.beaver_combine(c, d, y, e, a)) == want
    out = np.empty(n, dtype=np.uint64)
    assert GF61.beaver_combine(c, d, y, e, a, out=out) is out and _ints(out) == want
    z = [v.copy() for v in (c, d, y, e, a)]
    np.testing.assert_array_equal(Z64.beaver_combine(*z), z[0] + z[1] * z[2] + z[3] * z[4])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, P - 1), min_size=5, max_size=5), st.sampled_from([1, TINY + 3]))
def test_beaver_combine_single_values(vals: list[int], n: int) -> None:
    c, d, y, e, a = (np.full(n, v, dtype=np.uint64) for v in vals)
    got = GF61.beaver_combine(c, d, y, e, a)
    assert set(_ints(got)) == {(vals[0] + vals[1] * vals[2] + vals[3] * vals[4]) % P}


@pytest.mark.parametrize("points", [(1, 2), (3, 2), (3, 1), (1, 2, 3), (2, 3, 4), (5, 1, 7, 2), (4, 5, 6, 7, 1)])
@pytest.mark.parametrize("n", [1, BLOCK + 17])
def test_lincomb_matches_big_ints(points: tuple[int, ...], n: int) -> None:
    arrays = _vectors(len(points), n)
    for coeffs in (lagrange_at_zero(points), lagrange_at(points, 11), (1, -1, 2, -3, 1, 0, 1)[: len(points)]):
        want = [sum(c * v for c, v in zip(coeffs, col)) % P for col in zip(*map(_ints, arrays))]
        assert _ints(GF61.lincomb(coeffs, arrays)) == want
    coeffs = (3, -1, 2**63, 5, -7, 1, 2)[: len(points)]
    want = [sum(c * v for c, v in zip(coeffs, col)) % 2**64 for col in zip(*map(_ints, arrays))]
    assert _ints(Z64.lincomb(coeffs, arrays)) == want


def test_row_dot_matches_big_ints() -> None:
    x, y = (v.reshape(-1, 7)[:500] for v in _vectors(2, 3500))
    want = [sum(a * b for a, b in zip(_ints(r), _ints(s))) % P for r, s in zip(x, y)]
    assert _ints(GF61.row_dot(x, y)) == want


def test_mul_lazy_bound_two_products_fit_three_can_wrap() -> None:
    """The documented bound: a lazy product stays below 3·2^61 + 2^34, so two of them plus one
    canonical term fit in 64 bits; there are operands where three exceed 2^64."""
    a, b = _vectors(2, 200_000)
    a[:3] = b[:3] = [P - 1, P - 2, (1 << 61) - 3]
    lazy = GF61.mul_lazy(a, b)
    top = max(_ints(lazy))
    assert top < 3 * 2**61 + 2**34
    assert 2 * top + P < 2**64  # beaver_combine: two lazy products and c
    assert 3 * top >= 2**64  # so "sum five lazy products" (the old docstring) wraps
    assert _ints(GF61.reduce(lazy)) == [x * y % P for x, y in zip(_ints(a), _ints(b))]


def test_mixed_shapes_and_bad_out_are_refused() -> None:
    a, b = _vectors(2, 10)
    with pytest.raises(ArithmeticMismatch):
        GF61.add(a, b[:9])
    with pytest.raises(ArithmeticMismatch):
        GF61.mul(a, b, out=np.empty(9, dtype=np.uint64))
    with pytest.raises(ArithmeticMismatch):
        GF61.sub(a, b, out=np.empty((10, 2), dtype=np.uint64)[:, 0])  # strided: writes would be lost
    with pytest.raises(ArithmeticMismatch):
        GF61.lincomb((1, 2), [a])


def test_reconstruction_set_prefers_near_ids() -> None:
    assert reconstruction_set(3, [1, 2], 2) == (3, 2)
    assert reconstruction_set(2, [3, 1], 2) == (2, 1)
    assert reconstruction_set(4, [1, 2, 3, 5, 7], 3) == (4, 3, 5)


@pytest.mark.parametrize(("points", "t", "n"), [((1, 2, 3), 1, 3 * BLOCK + 5), ((1, 2, 3, 4, 5), 4, 1000),
                                                 (tuple(range(1, 10)), 3, 20000), ((9, 40, 1000, 70000), 2, 300),
                                                 (tuple(range(1, 301)), 150, 5)])
def test_shamir_share_evaluates_one_polynomial(points: tuple[int, ...], t: int, n: int) -> None:
    """Every t + 1 of the blocked, all-points-at-once shares interpolate to the secret, and the
    polynomial has degree t (t shares plus a forged one at 0 do not pin it down)."""
    secret = _vectors(1, n)[0]
    shares = shamir_share(secret, points, t, Csprng())
    assert shares.shape == (len(points), n)
    for sub in (points[: t + 1], points[-(t + 1):]):
        idx = [points.index(p) for p in sub]
        np.testing.assert_array_equal(shamir_reconstruct(sub, shares[idx]), secret)
    if len(points) > t + 1:  # over-determined: the extra point lies on the same polynomial
        lam = lagrange_at(points[: t + 1], points[t + 1])
        np.testing.assert_array_equal(GF61.lincomb(lam, list(shares[: t + 1])), shares[t + 1])


@pytest.mark.parametrize("rows", [1, 2, 8, 9, 40])
def test_sum_over_rows_matches_big_ints(rows: int) -> None:
    a = np.stack(_vectors(rows, BLOCK + 3))
    want = [sum(col) % P for col in zip(*map(_ints, a))]
    assert _ints(GF61.sum(a, axis=0)) == want
    assert int(GF61.sum(a[:, 0], axis=0)) == want[0]


@pytest.mark.parametrize("coeffs", [[3, -5, 12, 300], [-(2**16 - 1)] * 5, [2**16 - 1, 9, -(2**16 - 1), 8, 7, 0],
                                    [7, 2**16], [P - 3, 1 << 40]])
@pytest.mark.parametrize("n", [TINY + 1, BLOCK + 17])
def test_lincomb_medium_and_large_coefficients_match_big_ints(coeffs: list[int], n: int) -> None:
    """Medium coefficients (|c| < 2^16, signed) take the 32-bit-halves path; 2^16 and 2^40 do not."""
    arrays = _vectors(len(coeffs), n)
    got = _ints(GF61.lincomb(coeffs, arrays))
    cols = zip(*(_ints(a) for a in arrays))
    assert got == [sum(c * v for c, v in zip(coeffs, col)) % P for col in cols]


def test_lincomb_medium_path_at_its_bound_does_not_wrap() -> None:
    """2^14 terms, every coefficient −(2^16 − 1), every value 0 (so p − v = p, both halves full):
    the unreduced sums are at their largest and the result is still 0; values p − 1 give Σ c."""
    k, n = 1 << 14, TINY + 1
    zeros, ones = np.zeros(n, np.uint64), np.full(n, P - 1, np.uint64)
    c = -(2**16 - 1)
    assert not GF61.lincomb([c] * k, [zeros] * k).any()
    assert _ints(GF61.lincomb([c] * k, [ones] * k)) == [(c * k * (P - 1)) % P] * n
