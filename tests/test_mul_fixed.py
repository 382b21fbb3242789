"""Fixed point: truncation stays within the documented bound; meanvar matches plaintext."""

from __future__ import annotations

import numpy as np
import pytest
from harness import metas, outputs, run_nodes, scenario, sim

from mpc.errors import ConfigError
from mpc.fixedpoint import decode_fixed, encode_fixed
from protocols.beaver import Beaver
from protocols.common import Scheme, share_inputs
from protocols.fixed import FixedParams, fixed_mul, truncate
from protocols.sum import encode_input
from protocols.dealer import DEALER, dealer_prepare, dealer_serve
from protocols.triples import Need

pytestmark = pytest.mark.timeout(60)


async def _fixed_products(kind: str, n: int, t: int | None, source: str, x: np.ndarray, y: np.ndarray,
                          f: int, int_bits: int) -> tuple[np.ndarray, FixedParams]:
    scheme = Scheme.make(kind, range(1, n + 1), t)
    params = FixedParams.plan(scheme, f, int_bits, 1 if source == "dealer" else n, min_kappa=8)
    need = Need(triples=x.size) + params.need(x.size)

    async def party(ctx):  # type: ignore[no-untyped-def]
        if ctx.party_id == DEALER:
            return await dealer_serve(ctx, scheme)
        mine = {1: x, 2: y}.get(ctx.party_id)
        shares = await share_inputs(ctx, encode_input(mine, scheme, f), scheme, (1, 2))
        if source == "dealer":
            pool = await dealer_prepare(ctx, scheme, need)
        else:
            from protocols.dn07 import dn07_prepare

            pool = await dn07_prepare(ctx, scheme, need)
        bv = Beaver(ctx.child("on"), scheme, pool)
        z = await fixed_mul(bv, shares[1], shares[2], params)
        return decode_fixed(scheme.domain.decode(await bv.open(z)), f)

    ids = ((DEALER,) if source == "dealer" else ()) + scheme.parties
    res = await run_nodes(ids, party)
    outs = [res[p] for p in scheme.parties]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
    return outs[0], params


@pytest.mark.parametrize(("kind", "n", "t", "source"), [
    ("additive", 3, None, "dealer"), ("shamir", 3, 1, "dealer"), ("shamir", 3, 1, "dn07"), ("shamir", 5, 2, "dn07"),
])
async def test_truncation_error_within_bound(kind: str, n: int, t: int | None, source: str) -> None:
    f, int_bits = 12, 5
    rng = np.random.default_rng(n)
    x = rng.uniform(-31.9, 31.9, 4000)
    y = rng.uniform(-31.9, 31.9, 4000)
    x[:6] = [0.0, -0.0001, 31.9, -31.9, 1.0, -1.0]
    y[:6] = [5.5, 0.0001, 31.9, 31.9, -1.0, -1.0]
    got, params = await _fixed_products(kind, n, t, source, x, y, f, int_bits)
    # compare with the exact product of the *encoded* inputs: the truncation error alone
    exact = decode_fixed(encode_fixed(x, f), f) * decode_fixed(encode_fixed(y, f), f)
    err = np.abs(got - exact)
    bound = params.error_bound(1 if source == "dealer" else n)
    assert err.max() < bound
    assert bound == (1 + (0 if source == "dealer" else n // 2)) * 2.0**-f
    # probabilistic rounding is unbiased-ish: errors take both signs
    assert (got - exact).min() < 0 < (got - exact).max()


def test_plan_rejects_too_little_statistical_security() -> None:
    scheme = Scheme.make("shamir", (1, 2, 3), 1)
    with pytest.raises(ConfigError):
        FixedParams.plan(scheme, 20, 10, 3, min_kappa=12)  # k = 61 leaves nothing
    p = FixedParams.plan(Scheme.make("additive", (1, 2, 3)), 16, 4, 1)
    assert p.value_bits == 41 and p.kappa == 63 - 41 - 1 and p.mask_bits == 41 + p.kappa


async def test_truncate_of_known_values() -> None:
    """Truncating k·2^f + r gives k, off by at most the bound (one dealer: less than 1 unit)."""
    scheme = Scheme.make("shamir", (1, 2, 3), 1)
    params = FixedParams.plan(scheme, 10, 8, 1)
    vals = np.array([-(1 << 35), -1025, -1, 0, 1, 1023, 1024, 5 << 20, (1 << 35) - 1], dtype=np.int64)

    async def party(ctx):  # type: ignore[no-untyped-def]
        if ctx.party_id == DEALER:
            return await dealer_serve(ctx, scheme)
        mine = vals if ctx.party_id == 1 else None
        shares = await share_inputs(ctx, encode_input(mine, scheme, None), scheme, (1,))
        pool = await dealer_prepare(ctx, scheme, params.need(vals.size))
        bv = Beaver(ctx, scheme, pool)
        return scheme.domain.decode(await bv.open(await truncate(bv, shares[1], params)))

    res = await run_nodes((0, 1, 2, 3), party)
    exact = vals / 1024.0
    assert np.all(np.abs(res[1] - exact) < 1.0)


@pytest.mark.parametrize(("sharing", "t", "triples", "n"), [("additive", None, "dealer", 3), ("shamir", 1, "dn07", 3),
                                                           ("shamir", 2, "dealer", 5)])
def test_meanvar_matches_numpy(sharing: str, t: int | None, triples: str, n: int) -> None:
    rng = np.random.default_rng(7)
    ins = {p: rng.uniform(-10.0, 10.0, 300) for p in range(1, n + 1)}
    kw = {"sharing": sharing, "triples": triples, "fractional_bits": 14, "options": {"int_bits": 4},
          "expect": {"tolerance": 1e-2}}  # the tight bound is checked below
    if t is not None:
        kw["threshold"] = t
    rep = sim(scenario("meanvar", n, ins, **kw))
    assert rep.ok, rep.reason
    data = np.stack(list(ins.values()))
    got = outputs(rep)[1]
    m = metas(rep)[1]
    # mean: only encoding error; variance: encoding (≤ 2·|x|·2^-(f+1) + mean terms) + truncation bound
    np.testing.assert_allclose(got[:300], data.mean(axis=0), atol=2.0**-15)
    enc = 2 * 10 * 2.0**-15 + 2 * 10 * 2.0**-15
    assert np.abs(got[300:] - data.var(axis=0)).max() < m["truncation_error_bound"] + enc
    assert m["kappa"] >= 12
