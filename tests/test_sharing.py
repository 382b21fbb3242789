import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.field import GF61, Z64
from mpc.rng import Csprng
from mpc.sharing import (
    SharingError,
    additive_reconstruct,
    additive_share,
    lagrange_at_zero,
    shamir_consistent,
    shamir_reconstruct,
    shamir_share,
)


@pytest.mark.parametrize("n,t", [(3, 1), (4, 1), (5, 2), (7, 3), (6, 0)])
def test_every_subset_of_t_plus_one_shares_reconstructs(n, t):
    rng = Csprng()
    secret = GF61.encode(np.array([0, 1, -1, 123456789, -(1 << 59)], dtype=np.int64))
    ids = list(range(1, n + 1))
    shares = shamir_share(secret, ids, t, rng)
    for subset in itertools.combinations(range(n), t + 1):
        pts = [ids[i] for i in subset]
        got = shamir_reconstruct(pts, shares[list(subset)])
        assert np.array_equal(got, secret)
    assert shamir_consistent(ids, shares, t)


def test_t_shares_do_not_determine_the_secret():
    # with t shares, both candidate secrets are consistent: the t-subset alone interpolates
    # (degree t − 1) to something unrelated to the secret
    rng = Csprng()
    secret = np.array([42], dtype=np.uint64)
    shares = shamir_share(secret, [1, 2, 3, 4, 5], 2, rng)
    guess = shamir_reconstruct([1, 2], shares[:2])
    assert not np.array_equal(guess, secret)


def test_inconsistent_shares_are_detected():
    shares = shamir_share(np.array([7, 8], dtype=np.uint64), [1, 2, 3, 4], 1, Csprng())
    shares[3, 0] = GF61.add(shares[3, :1], np.array([1], dtype=np.uint64))[0]
    assert not shamir_consistent([1, 2, 3, 4], shares, 1)


@given(st.lists(st.integers(-(1 << 63), (1 << 63) - 1), min_size=1, max_size=20), st.integers(1, 8))
@settings(max_examples=100, deadline=None)
def test_additive_roundtrip(values, n):
    secret = Z64.encode(np.array(values, dtype=np.int64))
    shares = additive_share(secret, n, Csprng(), Z64)
    assert shares.shape == (n, len(values))
    assert Z64.decode(additive_reconstruct(shares, Z64)).tolist() == values


def test_lagrange_is_cached_and_sums_to_one():
    a = lagrange_at_zero((1, 2, 3))
    assert lagrange_at_zero((1, 2, 3)) is a
    assert sum(a) % GF61.modulus == 1  # interpolating the constant 1


def test_bad_parameters():
    s = np.array([1], dtype=np.uint64)
    with pytest.raises(SharingError):
        shamir_share(s, [1, 2, 3], 3, Csprng())
    with pytest.raises(SharingError):
        shamir_share(s, [0, 1, 2], 1, Csprng())
    with pytest.raises(SharingError):
        shamir_reconstruct([1, 1], np.zeros((2, 1), dtype=np.uint64))
