"""Every SecureArray operation against numpy on the same plaintext, over both schemes, both
preprocessing sources and both bit modes, with edge values (0, ±(2^(k−1) − 1), equal operands)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secarray_harness import CONFIGS, IDS, owned, run

from protocols.secarray import concatenate, stack, where

pytestmark = pytest.mark.timeout(120)

K = 32
B = (1 << (K - 1)) - 1  # largest magnitude of a k-bit value
EDGES = [0, 1, -1, B, -B, B - 1, -B + 1, 1 << 30, -(1 << 30)]
ints = st.one_of(st.sampled_from(EDGES), st.integers(-B, B))


@st.composite
def pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 9))
    x = np.asarray(draw(st.lists(ints, min_size=n, max_size=n)), dtype=np.int64)
    y = np.asarray(draw(st.lists(ints, min_size=n, max_size=n)), dtype=np.int64)
    same = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    y[np.asarray(same)] = x[np.asarray(same)]  # equal operands
    return x, y


def _elementwise(x: np.ndarray, y: np.ndarray, sharing: str, source: str, bits: str) -> None:
    c = int(x[0])  # a public operand equal to an element

    async def body(s):  # type: ignore[no-untyped-def]
        a, b = owned(s, 1, x), owned(s, 2, y)
        return await s.reveal(a + b, a - b, -a, a + 5, 7 - a, a * 3, a < b, a <= b, a > b, a >= b, a == b,
                              a != b, a < c, a >= c, a == c, where(a < b, a, b), abs(a), a.relu())

    got = run(body, sharing=sharing, source=source, bits=bits)
    want = [x + y, x - y, -x, x + 5, 7 - x, x * 3, x < y, x <= y, x > y, x >= y, x == y, x != y,
            x < c, x >= c, x == c, np.minimum(x, y), np.abs(x), np.maximum(x, 0)]
    for p, outs in got.items():
        for k, (g, w) in enumerate(zip(outs, want, strict=True)):
            assert np.array_equal(np.asarray(g), np.asarray(w).astype(np.int64)), (p, k, g, w)


@pytest.mark.parametrize(("sharing", "source", "bits"), CONFIGS, ids=IDS)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xy=pairs())
def test_elementwise_and_comparisons(sharing: str, source: str, bits: str, xy: tuple[np.ndarray, np.ndarray]) -> None:
    _elementwise(*xy, sharing, source, bits)


@pytest.mark.parametrize(("sharing", "source", "bits"), CONFIGS, ids=IDS)
def test_boundaries_exhaustive(sharing: str, source: str, bits: str) -> None:
    """Every pair of edge values, including the extremes of the range against each other."""
    xs, ys = np.meshgrid(np.asarray(EDGES), np.asarray(EDGES))
    _elementwise(xs.reshape(-1), ys.reshape(-1), sharing, source, bits)


@st.composite
def matrices(draw: st.DrawFn) -> np.ndarray:
    r, c = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    vals = draw(st.lists(st.one_of(st.sampled_from([0, B, -B, 5, 5]), st.integers(-B, B)), min_size=r * c, max_size=r * c))
    return np.asarray(vals, dtype=np.int64).reshape(r, c)


@pytest.mark.parametrize(("sharing", "source", "bits"), CONFIGS, ids=IDS)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=matrices())
def test_axes_tournaments_sort_and_shapes(sharing: str, source: str, bits: str, m: np.ndarray) -> None:
    async def body(s):  # type: ignore[no-untyped-def]
        a = owned(s, 1, m)
        return await s.reveal(a.max(axis=0), a.max(axis=1), a.min(axis=1), a.argmax(axis=1), a.argmin(axis=0),
                              a.argmax(axis=0), a.sum(axis=0), a.sum(axis=1), a.sum(), a.sort(axis=1), a.sort(axis=0),
                              a[0], a[:, ::-1], a.T, a.reshape(-1), concatenate([a, a], axis=1), stack([a[0], a[-1]]),
                              a.flatten()[[0, 0]])

    got = run(body, sharing=sharing, source=source, bits=bits)
    want = [m.max(0), m.max(1), m.min(1), m.argmax(1), m.argmin(0), m.argmax(0), m.sum(0), m.sum(1), m.sum(),
            np.sort(m, 1), np.sort(m, 0), m[0], m[:, ::-1], m.T, m.reshape(-1), np.concatenate([m, m], 1),
            np.stack([m[0], m[-1]]), m.reshape(-1)[[0, 0]]]
    for outs in got.values():
        for k, (g, w) in enumerate(zip(outs, want, strict=True)):
            assert np.array_equal(np.asarray(g), np.asarray(w)), (k, g, w)


@pytest.mark.parametrize(("sharing", "source", "bits"), CONFIGS, ids=IDS)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), r=st.integers(1, 4), c=st.integers(1, 5))
def test_products_and_matmul(sharing: str, source: str, bits: str, seed: int, r: int, c: int) -> None:
    g = np.random.default_rng(seed)  # public test data
    lim = 1 << 14  # sums of c products of two 15-bit values stay inside 32 bits
    A, v, w = g.integers(-lim, lim, (r, c)), g.integers(-lim, lim, c), g.integers(-lim, lim, c)
    A[0, 0] = 0

    async def body(s):  # type: ignore[no-untyped-def]
        a, x, y = owned(s, 1, A), owned(s, 2, v), owned(s, 3, w)
        return await s.reveal(x * y, a @ x, x @ y, a @ w, A.T @ x[:r] if r <= c else x, a * a, (x * y) * x)

    got = run(body, sharing=sharing, source=source, bits=bits)
    want = [v * w, A @ v, v @ w, A @ w, A.T @ v[:r] if r <= c else v, A * A, v * w * v]
    for outs in got.values():
        for k, (gv, wv) in enumerate(zip(outs, want, strict=True)):
            assert np.array_equal(np.asarray(gv), np.asarray(wv)), (k, gv, wv)


@pytest.mark.parametrize(("sharing", "source", "bits"), CONFIGS, ids=IDS)
def test_reveal_to_chosen_parties(sharing: str, source: str, bits: str) -> None:
    """Only the chosen parties learn a value; the others get None (and no share of it travels to
    them: a private reveal is a section of the messages addressed to the receiver only)."""
    x, y = np.arange(6) - 3, np.arange(6)[::-1].copy()

    async def body(s):  # type: ignore[no-untyped-def]
        a, b = owned(s, 1, x), owned(s, 2, y)
        lt, total = await s.reveal(a < b, a + b, to=[2])
        mx = await a.max().reveal(to=[1, 3])
        return lt, total, mx

    got = run(body, sharing=sharing, source=source, bits=bits)
    assert got[1][0] is None and got[3][0] is None and got[2][1] is not None
    assert np.array_equal(got[2][0], x < y) and np.array_equal(got[2][1], x + y)
    assert got[2][2] is None and int(got[1][2]) == int(got[3][2]) == x.max()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 11, 12])
def test_sorting_network_sorts_every_01_input(n: int) -> None:
    """The 0-1 principle: a comparator network sorts everything iff it sorts all 2^n bit vectors."""
    from protocols.secarray.nonlinear import merge_layers

    v = (np.arange(1 << n)[:, None] >> np.arange(n)[None, :]) & 1
    for a, b in merge_layers(n):
        lo, hi = np.minimum(v[:, a], v[:, b]), np.maximum(v[:, a], v[:, b])
        v[:, a], v[:, b] = lo, hi
    assert np.all(np.diff(v, axis=1) >= 0)
    layers = len(merge_layers(n))
    d = (n - 1).bit_length()
    assert layers <= d * (d + 1) // 2
