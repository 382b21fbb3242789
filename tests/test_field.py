import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpc.field import GF61, Z64, ArithmeticMismatch
from mpc.rng import Csprng

P = GF61.modulus
elems = st.lists(st.integers(0, P - 1), min_size=1, max_size=40)
words = st.lists(st.integers(0, (1 << 64) - 1), min_size=1, max_size=40)


def arr(xs):
    return np.array(xs, dtype=np.uint64)


@given(elems, st.data())
@settings(max_examples=300, deadline=None)
def test_gf61_ops_match_python_ints(a, data):
    b = data.draw(st.lists(st.integers(0, P - 1), min_size=len(a), max_size=len(a)))
    A, B = arr(a), arr(b)
    assert GF61.add(A, B).tolist() == [(x + y) % P for x, y in zip(a, b)]
    assert GF61.sub(A, B).tolist() == [(x - y) % P for x, y in zip(a, b)]
    assert GF61.mul(A, B).tolist() == [(x * y) % P for x, y in zip(a, b)]
    assert GF61.neg(A).tolist() == [(-x) % P for x in a]
    assert int(GF61.sum(A)) == sum(a) % P


@given(elems, st.integers(-(1 << 70), 1 << 70))
@settings(max_examples=200, deadline=None)
def test_gf61_scale_and_inverse(a, c):
    assert GF61.scale(arr(a), c).tolist() == [(x * c) % P for x in a]
    if c % P:
        assert GF61.inv(c) * c % P == 1


def test_gf61_extremes():
    edge = arr([0, 1, P - 1, P - 2, (1 << 32) - 1, 1 << 32, (1 << 60) + 12345])
    for x in edge.tolist():
        for y in edge.tolist():
            assert int(GF61.mul(arr([x]), arr([y]))[0]) == x * y % P
    big = np.full(100_000, P - 1, dtype=np.uint64)
    assert int(GF61.sum(big)) == (100_000 * (P - 1)) % P


@given(words, st.data())
@settings(max_examples=200, deadline=None)
def test_z64_ops_match_python_ints(a, data):
    b = data.draw(st.lists(st.integers(0, (1 << 64) - 1), min_size=len(a), max_size=len(a)))
    A, B = arr(a), arr(b)
    M = 1 << 64
    assert Z64.add(A, B).tolist() == [(x + y) % M for x, y in zip(a, b)]
    assert Z64.sub(A, B).tolist() == [(x - y) % M for x, y in zip(a, b)]
    assert Z64.mul(A, B).tolist() == [(x * y) % M for x, y in zip(a, b)]
    assert int(Z64.sum(A)) == sum(a) % M


@given(st.lists(st.integers(-(1 << 59), 1 << 59), min_size=1, max_size=30))
def test_signed_encoding_roundtrip(values):
    for dom in (GF61, Z64):
        assert dom.decode(dom.encode(np.array(values, dtype=np.int64))).tolist() == values


def test_mixing_shapes_or_dtypes_raises():
    with pytest.raises(ArithmeticMismatch):
        GF61.add(arr([1, 2]), arr([1, 2, 3]))
    with pytest.raises(ArithmeticMismatch):
        Z64.mul(arr([1]), np.array([1], dtype=np.int64))
    with pytest.raises(ArithmeticMismatch):
        GF61.encode(np.array([1 << 61], dtype=np.int64))


def test_random_field_elements_are_canonical_and_spread():
    r = GF61.random(Csprng(), 200_000)
    assert r.dtype == np.uint64 and int(r.max()) < P
    # top bit of 61 set about half the time: a crude check that the mask keeps full entropy
    frac = float(np.mean(r >> np.uint64(60)))
    assert 0.48 < frac < 0.52


def test_seeded_csprng_is_deterministic_and_keyed():
    k = bytes(range(32))
    assert np.array_equal(Csprng(k).uint64(10), Csprng(k).uint64(10))
    assert not np.array_equal(Csprng(k).uint64(10), Csprng(bytes(32)).uint64(10))
    assert not np.array_equal(Csprng().uint64(4), Csprng().uint64(4))
