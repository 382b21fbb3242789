"""Pure pieces of secure aggregation: secret sharing of keys, share encryption, the SecAgg+ graph,
mask arithmetic with headroom, and the uniformity of a masked input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.errors import ConfigError, ProtocolError
from mpc.rng import Csprng
from mpc.sharing import SharingError
from protocols.secagg import crypto, masks

pytestmark = pytest.mark.timeout(60)


@given(st.binary(min_size=32, max_size=32))
def test_limbs_round_trip(secret: bytes) -> None:
    limbs = crypto.secret_to_limbs(secret)
    assert limbs.shape == (crypto.LIMBS,) and int(limbs.max()) < (1 << 61) - 1
    assert crypto.limbs_to_secret(limbs) == secret


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 30), st.data())
def test_shares_rebuild_from_any_threshold_subset(n: int, data: st.DataObject) -> None:
    t = data.draw(st.integers(2, n))
    points = sorted(data.draw(st.sets(st.integers(1, 5000), min_size=n, max_size=n)))
    secret = data.draw(st.binary(min_size=32, max_size=32))
    shares = crypto.share_secrets([secret], points, t, Csprng())[:, 0]
    subset = sorted(data.draw(st.sets(st.sampled_from(range(n)), min_size=t, max_size=t)))
    got = crypto.reconstruct_secret([points[i] for i in subset], shares[subset])
    assert got == secret


def test_degree_zero_is_no_sharing() -> None:
    with pytest.raises(SharingError):
        crypto.share_secrets([bytes(32)], [1, 2, 3], 1, Csprng())


def test_fewer_than_threshold_shares_do_not_rebuild() -> None:
    secret = Csprng().random_bytes(32)
    points = list(range(1, 11))
    shares = crypto.share_secrets([secret], points, 6, Csprng())[:, 0]
    limbs = crypto.reconstruct_many(points[:5], shares[:5])
    assert not np.array_equal(limbs, crypto.secret_to_limbs(secret))


def test_owners_with_their_own_points_rebuild_together() -> None:
    """reconstruct_each (SecAgg+: one vectorised Lagrange over owners with different holders)
    gives what reconstructing each owner alone gives; bad point sets are refused."""
    rng, gen = Csprng(), np.random.default_rng(5)
    t, owners = 6, 40
    secrets = [rng.random_bytes(32) for _ in range(owners)]
    points, stacked = [], []
    for secret in secrets:
        holders = sorted(gen.choice(np.arange(1, 5000), 11, replace=False).tolist())
        shares = crypto.share_secrets([secret], holders, t, rng)[:, 0]
        pick = sorted(gen.choice(11, t, replace=False).tolist())
        points.append([holders[i] for i in pick])
        stacked.append(shares[pick])
        assert crypto.reconstruct_secret(points[-1], stacked[-1]) == secret
    limbs = crypto.reconstruct_each(np.array(points), np.stack(stacked))
    assert [crypto.limbs_to_secret(row) for row in limbs] == secrets
    for bad in ([1, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 1 << 32]):
        with pytest.raises(SharingError):
            crypto.reconstruct_each(np.array([bad]), np.stack(stacked[:1]))


def test_share_encryption_is_bound_to_round_and_direction() -> None:
    rng = Csprng()
    a_sk, a_pk = crypto.x25519_keypair(rng)
    b_sk, b_pk = crypto.x25519_keypair(rng)
    sid, other_sid = rng.random_bytes(32), rng.random_bytes(32)
    k_ab = crypto.agree(a_sk, b_pk, sid, crypto.INFO_ENC)
    assert k_ab == crypto.agree(b_sk, a_pk, sid, crypto.INFO_ENC)
    assert k_ab != crypto.agree(a_sk, b_pk, other_sid, crypto.INFO_ENC)
    sk_share = np.arange(crypto.LIMBS, dtype=np.uint64)
    b_share = np.arange(crypto.LIMBS, dtype=np.uint64) + 7
    ct = crypto.encrypt_shares(k_ab, sid, 3, 5, sk_share, b_share)
    got = crypto.decrypt_shares(k_ab, sid, 3, 5, ct)
    assert np.array_equal(got[0], sk_share) and np.array_equal(got[1], b_share)
    with pytest.raises(ProtocolError):
        crypto.decrypt_shares(k_ab, other_sid, 3, 5, ct)  # replayed into another round
    with pytest.raises(ProtocolError):
        crypto.decrypt_shares(k_ab, sid, 5, 3, ct)  # reflected back to its sender
    with pytest.raises(ProtocolError):
        crypto.decrypt_shares(k_ab, sid, 3, 5, ct[:-1] + bytes([ct[-1] ^ 1]))


@pytest.mark.parametrize(("n", "k"), [(10, 4), (101, 14), (1000, 20), (7, 6), (7, 9)])
def test_harary_graph_is_regular_symmetric_and_seeded(n: int, k: int) -> None:
    ids = list(range(1, n + 1))
    seed = b"round-seed"
    g = crypto.harary_neighbours(ids, k, seed)
    want = min(k + k % 2, n - 1)
    assert set(g) == set(ids)
    assert all(len(vs) == want and u not in vs for u, vs in g.items())
    assert all(u in g[v] for u, vs in g.items() for v in vs)
    assert g == crypto.harary_neighbours(ids, k, seed)
    assert all(crypto.harary_neighbours(ids, k, seed, only=u) == {u: g[u]} for u in ids[:5])
    if want < n - 1:
        assert g != crypto.harary_neighbours(ids, k, b"another-seed")


def test_pairwise_masks_cancel_and_self_masks_are_removed() -> None:
    rng = np.random.default_rng(4)
    xs = {u: rng.integers(-1000, 1000, 257) for u in (1, 2, 3)}
    seeds = {(1, 2): b"a" * 32, (1, 3): b"b" * 32, (2, 3): b"c" * 32}
    pair = {u: {v: seeds[tuple(sorted((u, v)))] for v in xs if v != u} for u in xs}
    selfs = {u: bytes([u]) * 32 for u in xs}
    ys = {u: masks.mask_input(masks.encode_input(xs[u], 3, None), selfs[u], pair[u], u) for u in xs}
    total = masks.unmask_sum(ys.values(), selfs.values(), [], 257)
    assert np.array_equal(masks.decode_sum(total, None), xs[1] + xs[2] + xs[3])
    # client 3 dropped after sharing: its pairwise masks with 1 and 2 are rebuilt and removed
    ys12 = {u: masks.mask_input(masks.encode_input(xs[u], 3, None), selfs[u], pair[u], u) for u in (1, 2)}
    total = masks.unmask_sum(ys12.values(), (selfs[1], selfs[2]), [(1, 3, pair[1][3]), (2, 3, pair[2][3])], 257)
    assert np.array_equal(masks.decode_sum(total, None), xs[1] + xs[2])


@pytest.mark.parametrize("dim", [1, 7, 1000, (1 << 15) + 1, 70_000])
def test_stacked_masks_equal_one_mask_at_a_time(dim: int) -> None:
    """add_masks stacks short keystreams into one reduction; the sum must be the per-mask one
    (wrap-around mod 2^64 included) on both sides of the streaming cut-off."""
    rng = Csprng()
    seeds = [(rng.random_bytes(32), sign) for sign in (1, -1, 1, 1, -1, -1, 1) * 5]
    base = rng.uint64(dim)
    stacked, one_by_one = base.copy(), base.copy()
    masks.add_masks(stacked, seeds)
    for seed, sign in seeds:
        masks.add_mask(one_by_one, seed, sign)
    assert np.array_equal(stacked, one_by_one)


def test_headroom_refuses_inputs_that_could_wrap() -> None:
    n = 1000
    bound = masks.input_bound(n)
    worst = np.array([bound, -bound, 0], dtype=np.int64)
    acc = np.zeros(3, dtype=np.uint64)
    for _ in range(n):
        acc += masks.encode_input(worst, n, None)
    assert np.array_equal(masks.decode_sum(acc, None), worst * n)  # no wrap at either extreme
    with pytest.raises(ConfigError):
        masks.encode_input(np.array([bound + 1]), n, None)
    with pytest.raises(ConfigError):
        masks.encode_input(np.array([0.5]), n, None)  # reals need fixed point
    reals = masks.encode_input(np.array([-1.25, 3.5]), n, 16)
    assert np.array_equal(masks.decode_sum(reals, 16), [-1.25, 3.5])


# 19 chi-square checks run per test: at the 0.1% level (330.5) about 2% of clean runs fail by
# chance. 390 is the ~1e-7 level for 255 degrees of freedom (Wilson-Hilferty); a real leak of
# input structure gives values in the thousands, so the test keeps its power.
CHI2_CRIT = 390.0


def _chi2_uniform_bytes(data: np.ndarray) -> float:
    counts = np.bincount(data.view(np.uint8), minlength=256).astype(np.float64)
    expect = counts.sum() / 256
    return float(((counts - expect) ** 2 / expect).sum())


def test_masked_input_is_indistinguishable_from_uniform() -> None:
    """The server's view of one honest client's masked input, for a constant and a wildly
    different input: both pass a chi-square test for uniform bytes (255 degrees of freedom; the
    critical value: CHI2_CRIT), per byte position too, and neither correlates with the input."""
    from protocols.secagg.inprocess import run_round
    from protocols.secagg.phases import Kind
    from protocols.secagg.params import Params

    dim = 1 << 15
    params = Params.make((1, 2, 3, 4), {"threshold": 3})
    views = {}
    for label, x1 in (("zeros", np.zeros(dim, dtype=np.int64)), ("ramp", np.arange(dim, dtype=np.int64) * 10**9)):
        inputs = {u: np.zeros(dim, dtype=np.int64) for u in params.clients}
        inputs[1] = x1
        trace = run_round(params, inputs)
        assert trace.server_error is None
        (y,) = [m["y"] for m in trace.sent[1] if m["kind"] == Kind.MASKED_INPUT.value]
        views[label] = y
        assert _chi2_uniform_bytes(y) < CHI2_CRIT
        for pos in range(8):  # every byte of the 64-bit words, low to high
            assert _chi2_uniform_bytes(np.ascontiguousarray(y.view(np.uint8).reshape(-1, 8)[:, pos])) < CHI2_CRIT
        top = (y >> np.uint64(63)).astype(np.float64)
        assert abs(float(np.corrcoef(top, (x1 > np.median(x1)).astype(np.float64) + 1e-12 * np.arange(dim))[0, 1])) < 0.05
    # two-sample test on the top byte: the two views are drawn from the same distribution
    a = np.bincount((views["zeros"] >> np.uint64(56)).astype(np.int64), minlength=256).astype(np.float64)
    b = np.bincount((views["ramp"] >> np.uint64(56)).astype(np.int64), minlength=256).astype(np.float64)
    chi2 = float((((a - b) ** 2) / np.maximum(a + b, 1)).sum())
    assert chi2 < CHI2_CRIT
