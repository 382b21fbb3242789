"""The public typed API runs every shipped computation without the registry (virtual time)."""

import asyncio

import numpy as np
import pytest

import netsim
import protocols
from mpc import ConfigError, Node
from netsim import SimNetwork

pytestmark = pytest.mark.timeout(60)


def run_all(ids, fn, inputs, **kw):
    async def main():
        net = SimNetwork(ids, {"latency_ms": 1})

        async def one(pid):
            async with Node(pid, transport=net.transport(pid), parties=ids, session=b"api", timeout=5.0) as node:
                try:
                    return await node.run(fn, inputs.get(pid), **kw)
                except Exception as exc:  # noqa: BLE001
                    return exc

        return dict(zip(ids, await asyncio.gather(*(one(p) for p in ids)), strict=True))

    return netsim.run(main())


X = {1: np.array([3, -2, 5]), 2: np.array([4, 7, -1]), 3: np.array([-2, 1, 6])}


@pytest.mark.parametrize("triples, ids", [("dn07", (1, 2, 3)), ("dealer", (0, 1, 2, 3))])
def test_product_is_elementwise_over_all_inputs(triples, ids):
    res = run_all(ids, protocols.secure_product, X, input_parties=(1, 2, 3), triples=triples)
    for p in (1, 2, 3):
        assert res[p].tolist() == (X[1] * X[2] * X[3]).tolist()
    if triples == "dealer":
        assert res[0] is None


def test_dot_opens_as_a_scalar():
    res = run_all((1, 2, 3), protocols.secure_dot, {1: np.array([1, -1, 2]), 2: np.array([1, 1, 0])},
                  input_parties=(1, 2))
    for p in (1, 2, 3):
        assert isinstance(res[p], np.int64) and np.ndim(res[p]) == 0 and res[p] == 0
    res = run_all((1, 2, 3), protocols.secure_dot, X, input_parties=(1, 2), sharing="shamir")
    assert all(r == int(X[1] @ X[2]) for r in res.values())


def test_matvec_rows_then_vector():
    res = run_all((1, 2, 3), protocols.secure_matvec, X, input_parties=(1, 2, 3))
    want = np.stack([X[1], X[2]]) @ X[3]
    assert all(r.tolist() == want.tolist() for r in res.values())


def test_variance_is_mean_and_population_variance():
    reals = {1: np.array([1.5, -2.25]), 2: np.array([0.5, 3.0]), 3: np.array([-1.0, 0.125])}
    # few fractional bits leave room for the truncation's statistical masking (see protocols.fixed)
    res = run_all((0, 1, 2, 3), protocols.secure_variance, reals, input_parties=(1, 2, 3), triples="dealer",
                  fractional_bits=8, int_bits=4)
    data = np.stack(list(reals.values()))
    assert res[0] is None
    for mean, var in (res[p] for p in (1, 2, 3)):
        np.testing.assert_allclose(mean, data.mean(axis=0), atol=2e-2)
        np.testing.assert_allclose(var, data.var(axis=0), atol=2e-2)


def test_secure_aggregate_sums_the_clients_at_party_0():
    ids = (0, 1, 2, 3, 4)
    vecs = {p: np.arange(4) * p - 3 for p in ids[1:]}
    res = run_all(ids, protocols.secure_aggregate, vecs)
    want = sum(vecs.values()).tolist()
    assert all(np.asarray(r).tolist() == want for r in res.values())


def test_sum_and_mean_are_the_same_api():
    res = run_all((1, 2, 3), protocols.secure_mean, X, input_parties=(1, 2, 3))
    assert all(np.allclose(r, np.mean(list(X.values()), axis=0)) for r in res.values())


@pytest.mark.parametrize("kw", [{"input_parties": ()}, {"input_parties": (1, 9)}, {"input_parties": (1,), "triples": "x"},
                                {"input_parties": (1,), "triples": "dealer"}])
def test_bad_public_parameters_are_config_errors_everywhere(kw):
    res = run_all((1, 2, 3), protocols.secure_product, X, **kw)
    assert all(isinstance(r, ConfigError) for r in res.values()), res
