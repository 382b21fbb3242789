"""Fixed-point reals: products truncate to ⌊x·y·2^f⌋ or one unit above (exactly what the
truncation promises), comparisons of encodings, division by public values, means, matmul."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secarray_harness import CONFIGS, IDS, owned, run

from mpc.fixedpoint import decode_fixed, encode_fixed

pytestmark = pytest.mark.timeout(120)
F = 16
reals = st.one_of(st.sampled_from([0.0, 2.0**-F, -(2.0**-F), 0.5, -0.5, 1.5 * 2.0**-F, 1000.0, -1000.0]),
                  st.floats(-2000, 2000, allow_nan=False))


def _enc(v: np.ndarray) -> np.ndarray:
    return encode_fixed(v, F)


def _units(got: np.ndarray, exact_units: np.ndarray) -> np.ndarray:
    """How many units of 2^-f the result lies above ⌊exact⌋ (must be 0 or 1)."""
    return np.rint(np.asarray(got) * 2**F).astype(np.int64) - np.floor(exact_units).astype(np.int64)


@pytest.mark.parametrize(("sharing", "source", "bits"), CONFIGS, ids=IDS)
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xs=st.lists(reals, min_size=1, max_size=8), ys=st.lists(reals, min_size=1, max_size=8))
def test_fixed_products_and_comparisons(sharing: str, source: str, bits: str, xs: list[float], ys: list[float]) -> None:
    n = min(len(xs), len(ys))
    x, y = np.asarray(xs[:n]), np.asarray(ys[:n])
    y[::3] = x[::3]
    ex, ey = _enc(x), _enc(y)  # what is shared: the encodings

    async def body(s):  # type: ignore[no-untyped-def]
        a, b = owned(s, 1, x, fixed=True), owned(s, 2, y, fixed=True)
        return await s.reveal(a * b, a < b, a == b, a >= 0.5, a + b, a * 3, a / 4, a * 0.25, a.mean(), abs(a))

    got = run(body, sharing=sharing, source=source, bits=bits)
    for outs in got.values():
        prod, lt, eq, ge, total, times3, quarter, quarter2, mean, absolute = outs
        assert set(_units(prod, ex * ey / 2**F).tolist()) <= {0, 1}
        assert np.array_equal(lt, ex < ey) and np.array_equal(eq, ex == ey)
        assert np.array_equal(ge, ex >= _enc(0.5))
        assert np.array_equal(total, decode_fixed(ex + ey, F))
        assert np.array_equal(times3, decode_fixed(3 * ex, F))
        for q in (quarter, quarter2):
            assert set(_units(q, ex * _enc(0.25) / 2**F).tolist()) <= {0, 1}
        total_real = float(np.sum(ex)) / 2**F  # mean = sum · enc(1/n): 1/n's encoding error scales with the sum
        assert abs(float(mean) - total_real / n) <= abs(total_real) * 2.0 ** -(F + 1) + 2.0 ** -F
        assert np.array_equal(absolute, decode_fixed(np.abs(ex), F))


@pytest.mark.parametrize(("sharing", "source", "bits"), CONFIGS, ids=IDS)
def test_fixed_matvec_truncates_once_per_output(sharing: str, source: str, bits: str) -> None:
    g = np.random.default_rng(5)  # public test data
    M, v = g.uniform(-8, 8, (3, 7)), g.uniform(-8, 8, 7)
    eM, ev = _enc(M), _enc(v)

    async def body(s):  # type: ignore[no-untyped-def]
        a, b = owned(s, 1, M, fixed=True), owned(s, 2, v, fixed=True)
        return await s.reveal(a @ b, a @ v)

    for shared, public in run(body, sharing=sharing, source=source, bits=bits).values():
        exact = (eM.astype(object) @ ev.astype(object)).astype(np.float64) / 2**F
        assert set(_units(shared, exact).tolist()) <= {0, 1}
        assert set(_units(public, exact).tolist()) <= {0, 1}


def test_truncation_rounds_down_or_up_by_one_unit_only_over_many_values() -> None:
    """10^4 products in each scheme: never outside {⌊·⌋, ⌊·⌋ + 1}, and both occur (a real rounding)."""
    g = np.random.default_rng(9)
    x, y = g.uniform(-100, 100, 10_000), g.uniform(-100, 100, 10_000)
    ex, ey = _enc(x), _enc(y)
    for sharing in ("additive", "shamir"):
        async def body(s):  # type: ignore[no-untyped-def]
            return await (owned(s, 1, x, fixed=True) * owned(s, 2, y, fixed=True)).reveal()

        got = run(body, sharing=sharing)[1]
        units = _units(got, ex.astype(object) * ey.astype(object) / 2**F)
        assert set(units.tolist()) == {0, 1}


divisors = st.one_of(st.sampled_from([1.0, -1.0, 0.5, 3.0, -7.0, 900.0, 2.0**-6, 1000.0]),
                     st.floats(0.05, 1500).flatmap(lambda v: st.sampled_from([v, -v])))


@pytest.mark.parametrize(("sharing", "source", "bits"), CONFIGS, ids=IDS)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(xs=st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=4, max_size=4),
       ys=st.lists(divisors, min_size=4, max_size=4))
def test_division_by_shared_values(sharing: str, source: str, bits: str, xs: list[float], ys: list[float]) -> None:
    """Newton's reciprocal after normalisation: relative error within 2^-14 of x̃/ỹ (the encoded
    operands), plus a few units of 2^-16; and 1/y for a public numerator."""
    x, y = decode_fixed(_enc(np.asarray(xs)), F), decode_fixed(_enc(np.asarray(ys)), F)

    async def body(s):  # type: ignore[no-untyped-def]
        a, b = owned(s, 1, x, fixed=True), owned(s, 2, y, fixed=True)
        return await s.reveal(a / b, 1 / b)

    for q, inv in run(body, sharing=sharing, source=source, bits=bits).values():
        for got, want in ((q, x / y), (inv, 1 / y)):
            assert np.all(np.abs(got - want) <= np.abs(want) * 2.0**-14 + 4 * 2.0**-F), (got, want)
