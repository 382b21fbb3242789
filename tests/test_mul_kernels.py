"""The blocked kernels agree with the field's reference arithmetic, edge values included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.field import GF61, Z64
from mpc.rng import Csprng
from mpc.sharing import lagrange_at_zero
from protocols import kernels

pytestmark = pytest.mark.timeout(60)
P = GF61.modulus
EDGES = [0, 1, 2, P - 1, P - 2, (1 << 32) - 1, 1 << 32, (1 << 60), P // 2, (1 << 61) - 2]


def _vectors(k: int, n: int = 3 * kernels.BLOCK + 17) -> list[np.ndarray]:
    rng = Csprng(bytes(range(32)))
    out = []
    for j in range(k):
        v = GF61.random(rng, n)
        v[: len(EDGES)] = np.roll(np.array(EDGES, dtype=np.uint64), j)
        out.append(v)
    return out


def test_beaver_combine_matches_field() -> None:
    c, d, y, e, a = _vectors(5)
    want = GF61.add(GF61.add(c, GF61.mul(d, y)), GF61.mul(e, a))
    np.testing.assert_array_equal(kernels.beaver_combine(GF61, c, d, y, e, a), want)
    z = [v.copy() for v in (c, d, y, e, a)]
    np.testing.assert_array_equal(kernels.beaver_combine(Z64, *z), z[0] + z[1] * z[2] + z[3] * z[4])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, P - 1), min_size=5, max_size=5))
def test_beaver_combine_single_values(vals: list[int]) -> None:
    c, d, y, e, a = (np.array([v], dtype=np.uint64) for v in vals)
    assert int(kernels.beaver_combine(GF61, c, d, y, e, a)[0]) == (vals[0] + vals[1] * vals[2] + vals[3] * vals[4]) % P


@pytest.mark.parametrize("points", [(1, 2), (3, 2), (3, 1), (1, 2, 3), (2, 3, 4), (5, 1, 7, 2), (4, 5, 6, 7, 1)])
def test_lincomb_matches_field(points: tuple[int, ...]) -> None:
    arrays = _vectors(len(points))
    lam = lagrange_at_zero(points)
    want = GF61.scale(arrays[0], lam[0])
    for c, arr in zip(lam[1:], arrays[1:], strict=True):
        want = GF61.add(want, GF61.scale(arr, c))
    np.testing.assert_array_equal(kernels.lincomb(GF61, lam, arrays), want)


def test_sub_and_mul_match_field() -> None:
    a, b = _vectors(2)
    np.testing.assert_array_equal(kernels.sub(GF61, a, b), GF61.sub(a, b))
    np.testing.assert_array_equal(kernels.mul(GF61, a, b), GF61.mul(a, b))
    out = np.empty((2, a.size), dtype=np.uint64)
    kernels.sub(GF61, a, b, out=out[1])
    np.testing.assert_array_equal(out[1], GF61.sub(a, b))


def test_reconstruction_set_prefers_near_ids() -> None:
    assert kernels.reconstruction_set(3, [1, 2], 2) == (3, 2)
    assert kernels.reconstruction_set(2, [3, 1], 2) == (2, 1)
    assert kernels.reconstruction_set(4, [1, 2, 3, 5, 7], 3) == (4, 3, 5)


@pytest.mark.parametrize(("n", "t", "degree"), [(3, 1, None), (5, 2, 4), (9, 3, None), (7, 2, 0), (12, 5, 10)])
def test_share_vector_equals_reference_sharing(n: int, t: int, degree: int | None) -> None:
    """Blocked Horner with cheap small points gives exactly mpc.sharing's shares for the same draws."""
    from mpc.sharing import shamir_share
    from protocols.common import Scheme
    from protocols.triples import share_vector

    scheme = Scheme.make("shamir", range(1, n + 1), t)
    secret = _vectors(1, 2 * kernels.BLOCK + 5)[0]
    got = share_vector(scheme, secret, Csprng(bytes(32)), degree)
    ref_rng = Csprng(bytes(32))
    deg = t if degree is None else degree
    for s in range(0, secret.size, kernels.BLOCK):
        want = shamir_share(secret[s : s + kernels.BLOCK], scheme.parties, deg, ref_rng)
        np.testing.assert_array_equal(got[:, s : s + kernels.BLOCK], want)
