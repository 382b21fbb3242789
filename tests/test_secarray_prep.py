"""The dealer's material: every kind reconstructs to what it promises (products, bit
decompositions, truncation parts), Shamir shares lie on polynomials of the right degree, seeds
replace all but one party's worth of shares, and a malformed bundle is the dealer's ProtocolError.
Also the dealer-free square-root bits."""

from __future__ import annotations

import numpy as np
import pytest

from mpc.errors import ProtocolError
from mpc.field import GF61
from mpc.rng import Csprng
from mpc.sharing import shamir_consistent
from protocols.common import Scheme
from protocols.secarray.dealerfree import bits_from_squares
from protocols.secarray.prep import DEALER, deal, pack, unpack
from protocols.secarray.rounds import reconstruct

pytestmark = pytest.mark.timeout(60)
NEED = {"triple": 40, "btriple": 50, "dabit": 30, "eda33": 20}


def _dealt(kind: str, n: int, mode: str, need: dict[str, int], t: int | None = None) -> tuple[Scheme, dict]:
    scheme = Scheme.make(kind, range(1, n + 1), t)
    dealt = deal(scheme, need, mode, Csprng(bytes(32)))
    got = {p: unpack({"seed": s, "items": pack(items, mode)}, scheme, need, mode, DEALER, p)
           for p, (s, items) in dealt.items()}
    return scheme, got


def _open(scheme: Scheme, got: dict, kind: str, comp: str, degree: int | None = None) -> np.ndarray:
    shares = {p: got[p][kind][comp] for p in scheme.parties}
    first = next(iter(shares.values()))
    if first.dtype == np.uint8:
        acc = np.zeros_like(first)
        for v in shares.values():
            acc ^= v
        return acc
    flat = {p: v.reshape(-1) for p, v in shares.items()}
    if scheme.kind == "shamir":
        d = scheme.t if degree is None else degree
        assert shamir_consistent(scheme.parties, np.stack(list(flat.values())), d)
    return reconstruct(scheme, scheme.parties[0], flat, scheme.t if degree is None else degree).reshape(first.shape)


@pytest.mark.parametrize(("sharing", "n", "t", "mode"), [("additive", 3, None, "binary"), ("additive", 5, None, "binary"),
                                                         ("shamir", 3, 1, "binary"), ("shamir", 5, 2, "binary"),
                                                         ("shamir", 5, 2, "arith"), ("shamir", 4, 1, "arith")])
def test_every_kind_reconstructs_to_its_promise(sharing: str, n: int, t: int | None, mode: str) -> None:
    need = dict(NEED)
    if sharing == "shamir":
        need = {"triple": 40, "btriple": 50, "dabit": 30, "eda61": 20, "tp16": 10, "double": 25}
    else:
        need["tz16"] = 10
    scheme, got = _dealt(sharing, n, mode, need, t)
    dom = scheme.domain
    a, b, c = (_open(scheme, got, "triple", k) for k in "abc")
    assert np.array_equal(dom.mul(a, b), c)
    ba, bb, bc = (_open(scheme, got, "btriple", k) for k in "abc")
    if mode == "binary":
        assert np.array_equal(ba & bb, bc)
    da, db = _open(scheme, got, "dabit", "a"), _open(scheme, got, "dabit", "b")
    assert set(da.tolist()) <= {0, 1} and np.array_equal(da, db.astype(np.uint64))
    eda = "eda61" if sharing == "shamir" else "eda33"
    r, bits = _open(scheme, got, eda, "r"), _open(scheme, got, eda, "bits").astype(np.uint64)
    width = bits.shape[0]
    assert np.array_equal(sum(bits[i] << np.uint64(i) for i in range(width)), r)
    if sharing == "shamir":
        assert int(r.max()) < GF61.modulus
        tr, tbits, lo = (_open(scheme, got, "tp16", k) for k in ("r", "bits", "lo"))
        assert np.array_equal(tr & np.uint64(0xFFFF), lo)
        w_t, w_2t = _open(scheme, got, "double", "t"), _open(scheme, got, "double", "2t", 2 * scheme.t)
        assert np.array_equal(w_t, w_2t)
    else:
        assert int(r.max()) < 1 << 33
        tr, hi, top = (_open(scheme, got, "tz16", k) for k in ("r", "hi", "top"))
        assert np.array_equal(tr >> np.uint64(16), hi) and np.array_equal(tr >> np.uint64(63), top)


def test_seeds_replace_all_but_one_partys_shares() -> None:
    scheme = Scheme.make("additive", (1, 2, 3, 4, 5))
    dealt = deal(scheme, NEED, "binary", Csprng(bytes(32)))
    sizes = {p: sum(v.nbytes for comps in items.values() for v in comps.values()) for p, (_, items) in dealt.items()}
    assert sizes[1] == sizes[2] == sizes[3] == sizes[4] == 0 and sizes[5] > 0


@pytest.mark.parametrize("tamper", ["drop-kind", "short", "seed"])
def test_malformed_bundle_is_the_dealers_protocol_error(tamper: str) -> None:
    scheme = Scheme.make("shamir", (1, 2, 3))
    need = {"triple": 4, "eda61": 3}
    seed, items = deal(scheme, need, "binary", Csprng(bytes(32)))[3]
    payload = {"seed": seed, "items": pack(items, "binary")}
    if tamper == "drop-kind":
        payload["items"].pop("eda61")
    elif tamper == "short":
        payload["items"]["triple"]["c"] = payload["items"]["triple"]["c"][:3]
    else:
        payload["seed"] = b"short"
    with pytest.raises(ProtocolError) as err:
        unpack(payload, scheme, need, "binary", DEALER, 3)
    assert err.value.peer == DEALER


def test_square_root_bits_are_bits_and_balanced() -> None:
    """u/√(u²) = ±1: the bits come out 0/1 and about half of each (u uniform); a = 0 gives 0."""
    rng = Csprng(bytes(32))
    u = GF61.random(rng, 4000)
    u[0] = 0
    bits = bits_from_squares(u, GF61.mul(u, u))  # with n = 1 the "shares" are the values
    assert set(bits.tolist()) <= {0, 1} and bits[0] == 0
    assert 1800 < int(bits.sum()) < 2200
