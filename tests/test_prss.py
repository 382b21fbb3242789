"""Pseudo-random secret sharing: shares lie on the right polynomials, holders of a key agree, t
parties' keys say nothing about the secret or about an opened degree-2t product, pools from PRSS
and from extraction are valid, and crashes and malformed key messages end in typed errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
from harness import Wire, metas, outputs, run_nodes, scenario, sim

from mpc.errors import ProtocolError
from mpc.field import GF61
from mpc.sharing import shamir_consistent, shamir_reconstruct
from protocols import prss
from protocols.common import Scheme
from protocols.dn07 import PRSS_MAX_KEYS, _check_contribution, dn07_prepare
from protocols.triples import FULL_MASK, Need
from test_mul_security import CHI2_15_P1E4, chi_square_top4
from test_mul_triples import NEED, _check_pool

pytestmark = pytest.mark.timeout(60)

CASES = [((1, 2, 3), 1), ((1, 2, 3, 4), 1), ((1, 2, 3, 4, 5), 2), ((2, 3, 5, 6, 7), 2), ((1, 2, 3, 4, 5, 6, 7), 3)]


def _parties(ids: tuple[int, ...], t: int, keys: dict[tuple[int, ...], bytes]) -> dict[int, prss.Prss]:
    return {i: prss.Prss(ids, t, i, {s: k for s, k in keys.items() if i in s}) for i in ids}


def _keys(ids: tuple[int, ...], t: int) -> dict[tuple[int, ...], bytes]:
    return {s: os.urandom(32) for s in prss.key_sets(ids, t)}


def _stack(rows: dict[int, np.ndarray]) -> tuple[tuple[int, ...], np.ndarray]:
    pts = tuple(sorted(rows))
    return pts, np.stack([rows[p] for p in pts])


@pytest.mark.parametrize(("ids", "t"), CASES)
def test_prss_shares_lie_on_degree_t_and_zero_shares_on_degree_2t(ids: tuple[int, ...], t: int) -> None:
    parties = _parties(ids, t, _keys(ids, t))
    assert all(len(p.sets) == prss.keys_per_party(len(ids), t) for p in parties.values())
    n = 300
    shares = {i: prss.Shares(p.streams(0), p.coeffs, n).next(np.empty(n, np.uint64)) for i, p in parties.items()}
    zeros = {i: prss.Shares(p.zero_streams(0), p.zero_coeffs, n).next(np.empty(n, np.uint64))
             for i, p in parties.items()}
    pts, s = _stack(shares)
    assert shamir_consistent(pts, s, t) and not shamir_consistent(pts, s, t - 1)
    secret = shamir_reconstruct(pts[: t + 1], s[: t + 1])
    assert len(np.unique(secret)) == n  # random secrets
    pts, z = _stack(zeros)
    if 2 * t + 1 <= len(ids):
        assert shamir_consistent(pts, z, 2 * t) and not shamir_consistent(pts, z, 2 * t - 1)
        assert not shamir_reconstruct(pts[: 2 * t + 1], z[: 2 * t + 1]).any()


def test_holders_of_a_key_draw_the_same_stream_and_kinds_differ() -> None:
    key = os.urandom(32)
    a, b = prss.Prss((1, 2, 3), 1, 1, {(1, 2): key, (1, 3): os.urandom(32)}), \
        prss.Prss((1, 2, 3), 1, 2, {(1, 2): key, (2, 3): os.urandom(32)})
    sa, sb = a.streams(5)[0], b.streams(5)[0]  # both hold the key of (1, 2)
    x = [prss.draw(sa, np.empty(1000, np.uint64)) for _ in range(2)]
    y = [prss.draw(sb, np.empty(500, np.uint64)) for _ in range(4)]
    assert not np.array_equal(x[0], x[1])
    np.testing.assert_array_equal(np.concatenate(x), np.concatenate(y))
    other = prss.draw(a.streams(6)[0], np.empty(1000, np.uint64))
    assert not np.array_equal(other, x[0]) and int(np.concatenate(x).max()) < GF61.modulus


def test_a_party_needs_exactly_its_keys() -> None:
    with pytest.raises(ValueError):
        prss.Prss((1, 2, 3), 1, 1, {(1, 2): bytes(32)})


@pytest.mark.parametrize(("ids", "t", "corrupt"), [((1, 2, 3), 1, (1,)), ((1, 2, 3, 4, 5), 2, (2, 5))])
def test_t_parties_keys_leave_the_secret_and_the_opened_product_uniform(ids: tuple[int, ...], t: int,
                                                                         corrupt: tuple[int, ...]) -> None:
    """The attacker holds every key but its complement's. Fix those keys and the attacker's view:
    over fresh complement keys its shares stay the same, while the secret a and the honest shares of
    the opened a·b − [r]_2t (which fix the opened polynomial) spread uniformly."""
    hidden = tuple(p for p in ids if p not in corrupt)
    known = {s: k for s, k in _keys(ids, t).items() if s != hidden}
    n, rows = 64, 40
    views, secrets, opened_honest = [], [], []
    for _ in range(rows):
        parties = _parties(ids, t, {**known, hidden: os.urandom(32)})
        mats = {i: prss.generate(p, n, 0, 0) for i, p in parties.items()}
        views.append(np.concatenate([mats[c].a for c in corrupt] + [mats[c].local for c in corrupt]))
        pts, a = _stack({i: m.a for i, m in mats.items()})
        secrets.append(shamir_reconstruct(pts[: t + 1], a[: t + 1]))
        opened_honest.append(np.concatenate([mats[h].local for h in hidden]))
    assert all(np.array_equal(v, views[0]) for v in views)
    assert chi_square_top4(np.concatenate(secrets), 61) < CHI2_15_P1E4
    assert chi_square_top4(np.concatenate(opened_honest), 61) < CHI2_15_P1E4
    # the test has teeth: with the complement's key fixed as well, the same values repeat and fail it
    again = _parties(ids, t, {**known, hidden: bytes(32)})
    repeated = np.concatenate([prss.generate(again[hidden[0]], n, 0, 0).local for _ in range(rows)])
    assert chi_square_top4(repeated, 61) > CHI2_15_P1E4


def _reshared(mats: dict[int, prss.Material]) -> dict[int, np.ndarray]:
    """Each party's c from its own f and the next party's (what dn07's resharing round does)."""
    out = {}
    for i, m in mats.items():
        assert m.reshare is not None
        out[i] = GF61.lincomb(m.reshare.combine, [m.f, mats[m.reshare.next].f])
    return out


@pytest.mark.parametrize("ids", [(1, 2, 3), (2, 5, 9)])
def test_three_party_resharing_gives_a_degree_1_sharing_of_the_products(ids: tuple[int, int, int]) -> None:
    mats = {i: prss.generate(p, 1000, 0, 10, block=128, reshare=True) for i, p in _parties(ids, 1, _keys(ids, 1)).items()}
    assert all(m.local.size == 0 and m.r_t.size == 0 for m in mats.values())
    pts, c = _stack(_reshared(mats))
    assert shamir_consistent(pts, c, 1)
    pts, a = _stack({i: m.a for i, m in mats.items()})
    pts, b = _stack({i: m.b for i, m in mats.items()})
    np.testing.assert_array_equal(shamir_reconstruct(pts[:2], c[:2]),
                                  GF61.mul(shamir_reconstruct(pts[:2], a[:2]), shamir_reconstruct(pts[:2], b[:2])))
    assert prss.keys_per_party(3, 1) == 2
    with pytest.raises(ValueError):
        prss.Reshare3(_parties((1, 2, 3, 4), 1, _keys((1, 2, 3, 4), 1))[1])


def test_the_resharing_message_a_party_receives_is_uniform_to_it() -> None:
    """Party 1's view (its keys, shares and the f it receives from party 2) with the key of {2, 3}
    fresh each time: its own shares never change, the received f spreads uniformly."""
    ids = (1, 2, 3)
    known = {s: k for s, k in _keys(ids, 1).items() if s != (2, 3)}
    own, received = [], []
    for _ in range(40):
        mats = {i: prss.generate(p, 64, 0, 0, reshare=True)
                for i, p in _parties(ids, 1, {**known, (2, 3): os.urandom(32)}).items()}
        assert mats[1].reshare is not None and mats[1].reshare.next == 2
        own.append(np.concatenate([mats[1].a, mats[1].b, mats[1].f]))
        received.append(mats[2].f)
    assert all(np.array_equal(v, own[0]) for v in own)
    assert chi_square_top4(np.concatenate(received), 61) < CHI2_15_P1E4


def test_generated_material_opens_to_triples_doubles_and_squares() -> None:
    ids, t = (1, 2, 3, 4, 5), 2
    mats = {i: prss.generate(p, 700, 300, 200, block=256) for i, p in _parties(ids, t, _keys(ids, t)).items()}

    def open_(kind: str, degree: int) -> np.ndarray:
        pts, s = _stack({i: getattr(m, kind) for i, m in mats.items()})
        assert shamir_consistent(pts, s, degree)
        return shamir_reconstruct(pts[: degree + 1], s[: degree + 1])

    local = open_("local", 2 * t)
    np.testing.assert_array_equal(GF61.add(local[:700], open_("r_t", t)), GF61.mul(open_("a", t), open_("b", t)))
    u = open_("u", t)
    np.testing.assert_array_equal(local[700:], GF61.mul(u, u))
    np.testing.assert_array_equal(open_("d_t", t), open_("d_2t", 2 * t))
    pts, d2 = _stack({i: m.d_2t for i, m in mats.items()})
    assert not shamir_consistent(pts, d2, t)


@pytest.mark.parametrize("use_prss", [True, False])
@pytest.mark.parametrize(("n", "t"), [(3, 1), (5, 2), (7, 3), (4, 1)])
async def test_pools_from_either_source(n: int, t: int, use_prss: bool) -> None:
    scheme = Scheme.make("shamir", range(1, n + 1), t)
    res = await run_nodes(scheme.parties, dn07_prepare, scheme, NEED, use_prss=use_prss)
    for r in res.values():
        assert r.meta["prss"] is use_prss and r.mask_contributors == n
    _check_pool(scheme, res, NEED)


async def test_three_party_resharing_in_many_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks that end inside a block and a last short chunk: the pool is still valid."""
    import protocols.dn07

    monkeypatch.setattr(protocols.dn07, "RESHARE_CHUNK", 333)
    scheme = Scheme.make("shamir", (2, 4, 9), 1)
    need = Need(triples=2000, doubles=50, masks=70, frac_bits=8, mask_bits=30)
    res = await run_nodes(scheme.parties, dn07_prepare, scheme, need)
    _check_pool(scheme, res, need)


async def test_prss_uniform_masks_from_random_bits() -> None:
    scheme = Scheme.make("shamir", (1, 2, 3, 4, 5), 2)
    need = Need(triples=100, doubles=20, masks=300, frac_bits=12, mask_bits=FULL_MASK)
    res = await run_nodes(scheme.parties, dn07_prepare, scheme, need, use_prss=True)
    _check_pool(scheme, res, need)


def test_prss_is_the_default_for_few_keys_only() -> None:
    assert prss.keys_per_party(3, 1) <= PRSS_MAX_KEYS and prss.keys_per_party(5, 2) <= PRSS_MAX_KEYS
    assert prss.keys_per_party(7, 3) > PRSS_MAX_KEYS


def _edge_inputs(n: int) -> dict[int, np.ndarray]:
    edge = np.array([0, 1, -1, 2**30 - 1, -(2**30) + 1, 2**29, -(2**29), 12345, -54321, 7])
    rng = np.random.default_rng(n)
    return {1: np.concatenate([edge, rng.integers(-(2**30), 2**30, 500)]),
            2: np.concatenate([edge[::-1], rng.integers(-(2**30), 2**30, 500)])}


@pytest.mark.parametrize(("n", "t", "prss_path"), [(3, 1, True), (5, 2, True), (7, 3, False), (5, 1, True)])
def test_products_match_plaintext(n: int, t: int, prss_path: bool) -> None:
    ins = _edge_inputs(n)
    rep = sim(scenario("mul", n, ins, sharing="shamir", threshold=t, triples="dn07"))
    assert rep.ok, rep.reason
    for got in outputs(rep).values():
        np.testing.assert_array_equal(got, ins[1] * ins[2])
    assert all(m["pre_prss"] is prss_path for m in metas(rep).values())


def test_a_crashed_contributor_is_left_out_of_the_keys() -> None:
    """5 parties, t = 1 (PRSS): party 5 crashes before contributing; the keys of the sets holding
    it come from the other members, and the four survivors still multiply correctly."""
    ins = {**_edge_inputs(5), 5: np.arange(510) % 3 - 1}
    rep = sim(scenario("mul", 5, ins, sharing="shamir", threshold=1, triples="dn07",
                       faults=[{"party": 5, "crash": "after:share"}]))
    assert rep.ok, rep.reason
    assert rep.outcomes[5].status == "crashed"
    for p, got in outputs(rep).items():
        assert p != 5
        np.testing.assert_array_equal(got, ins[1] * ins[2] * ins[5])
    m = metas(rep)[1]
    assert m["pre_prss"] and m["pre_mask_contributors"] == 4


def test_three_parties_one_crash_before_the_reduction_is_quorum_lost() -> None:
    rep = sim(scenario("mul", 3, _edge_inputs(3), sharing="shamir", threshold=1, triples="dn07",
                       faults=[{"party": 3, "crash": "after:agree"}], expect={"error": "QuorumLost"}))
    assert rep.ok, rep.reason
    assert {p for p, o in rep.outcomes.items() if o.error == "QuorumLost"} == {1, 2}


def test_key_contributions_reach_only_the_members_of_their_set() -> None:
    """From party 1's side (t = 1): of everything sent to it, nothing is a contribution to the key
    of {2, 3}, the one key it must not hold."""
    wire = Wire()
    rep = sim(scenario("mul", 3, _edge_inputs(3), sharing="shamir", threshold=1, triples="dn07"), observers=[wire])
    assert rep.ok, rep.reason
    contrib = [(src, dst, p["keys"]) for src, dst, tag, p in wire.messages if tag.endswith("contrib") and src != dst]
    assert len(contrib) == 6
    secret_rows = {bytes(keys[0]) for src, dst, keys in contrib if {src, dst} == {2, 3}}
    assert len(secret_rows) == 2
    to_one = [keys for src, dst, keys in contrib if dst == 1]
    assert all(k.shape == (1, 32) for k in to_one)  # only the set it shares with the sender
    seen = b"".join(bytes(np.asarray(p).tobytes()) if isinstance(p, np.ndarray) else repr(p).encode()
                    for _s, dst, _t, pay in wire.messages if dst == 1
                    for p in (pay.values() if isinstance(pay, dict) else [pay]))
    assert not any(row in seen for row in secret_rows)


@pytest.mark.parametrize("bad", [np.zeros((2, 32), np.uint8), np.zeros((1, 31), np.uint8),
                                 np.zeros((1, 32), np.uint64), b"x" * 32])
def test_malformed_key_contributions_are_protocol_errors(bad: object) -> None:
    scheme = Scheme.make("shamir", (1, 2, 3), 1)
    sizes = {"m": 0, "m_hi": 0}
    good = {"m": np.zeros(0, np.uint64), "m_hi": np.zeros(0, np.uint64), "keys": np.zeros((1, 32), np.uint8)}
    assert len(_check_contribution(good, 2, sizes, scheme, keys=1)["keys"]) == 1
    with pytest.raises(ProtocolError):
        _check_contribution({**good, "keys": bad}, 2, sizes, scheme, keys=1)
    with pytest.raises(ProtocolError):
        _check_contribution({k: v for k, v in good.items() if k != "keys"}, 2, sizes, scheme, keys=1)


def test_derived_keys_depend_on_every_agreed_contribution_and_the_set() -> None:
    c = {1: os.urandom(32), 2: os.urandom(32)}
    k = prss.derive_key((1, 2), c)
    assert k == prss.derive_key((1, 2), dict(reversed(c.items())))
    assert k != prss.derive_key((1, 3), c) and k != prss.derive_key((1, 2), {1: c[1]})
    assert k != prss.derive_key((1, 2), {1: c[1], 2: os.urandom(32)}) and len(k) == 32


@pytest.mark.parametrize("count", [0, 1, 1000, (1 << 17) + 3])
def test_csprng_fill_is_the_same_keystream_as_random_bytes(count: int) -> None:
    from mpc.rng import Csprng

    key = os.urandom(32)
    a, b = Csprng(key), Csprng(key)
    want = np.frombuffer(a.random_bytes(8 * count), dtype=np.uint64)
    np.testing.assert_array_equal(b.uint64(count), want)
    np.testing.assert_array_equal(b.fill(np.empty((2, 3), np.uint64)).reshape(-1),
                                  np.frombuffer(a.random_bytes(48), dtype=np.uint64))
    with pytest.raises(ValueError):
        b.fill(np.empty((4, 4), np.uint64)[:, 1])
