"""Shamir input sharing with seeds: t holders per dealer get 32 bytes instead of a vector; the
shares still form a random degree-t sharing of the input, nothing on the wire depends on it
beyond that, and malformed seeds are ProtocolErrors."""

from __future__ import annotations

import numpy as np
import pytest
from harness import Wire, outputs, run_nodes, scenario, sim

from mpc.errors import ProtocolError
from mpc.field import GF61
from mpc.rng import Csprng
from mpc.sharing import SharingError, shamir_consistent, shamir_extend, shamir_reconstruct
from protocols.common import SEED_BYTES, Scheme, _expand_seed, seeded_from, seeded_holders, share_inputs
from test_mul_security import CHI2_15_P1E4, chi_square_top4

pytestmark = pytest.mark.timeout(60)


def test_seeded_holders_are_the_t_parties_after_the_dealer() -> None:
    s3 = Scheme.make("shamir", (1, 2, 3), 1)
    assert [seeded_holders(s3, d) for d in (1, 2, 3)] == [(2,), (3,), (1,)]
    s5 = Scheme.make("shamir", (2, 4, 6, 8, 10), 2)
    assert seeded_holders(s5, 8) == (10, 2) and seeded_holders(s5, 99) == (2, 4)  # a dealer outside the parties
    assert seeded_holders(Scheme.make("additive", (1, 2, 3)), 1) == ()
    assert seeded_holders(Scheme.make("shamir", (1, 2, 3), 0), 1) == ()


@pytest.mark.parametrize(("kind", "parties", "t"), [("shamir", (1, 2, 3), 1), ("shamir", (2, 4, 6, 8, 10), 2),
                                                    ("shamir", tuple(range(1, 12)), 5), ("additive", (1, 2, 3), None)])
def test_seeded_from_is_the_receivers_side_of_seeded_holders(kind: str, parties: tuple[int, ...], t: int | None) -> None:
    scheme = Scheme.make(kind, parties, t)
    dealers = (*parties[::2], 99)  # some parties, and a dealer outside them
    for me in (*parties, 98):
        assert seeded_from(scheme, me, dealers) == {d for d in dealers if me in seeded_holders(scheme, d)}


@pytest.mark.parametrize(("points", "fixed"), [((1, 2, 3), (2,)), ((1, 2, 3, 4, 5), (4, 5)), ((3, 7, 9), ())])
def test_shamir_extend_is_a_degree_t_sharing_through_the_fixed_values(points: tuple[int, ...],
                                                                      fixed: tuple[int, ...]) -> None:
    rng = Csprng()
    secret = GF61.random(rng, (40, 3))
    vals = {x: GF61.random(rng, (40, 3)) for x in fixed}
    rest = shamir_extend(secret, vals, [p for p in points if p not in vals])
    shares = {**vals, **rest}
    stacked = np.stack([shares[p] for p in points])
    t = len(fixed)
    assert shamir_consistent(points, stacked, t)
    np.testing.assert_array_equal(shamir_reconstruct(points[: t + 1], stacked[: t + 1]), secret)
    with pytest.raises(SharingError):
        shamir_extend(secret, {2: secret}, [2, 3])


@pytest.mark.parametrize(("n", "t"), [(3, 1), (5, 2), (4, 1)])
async def test_seeded_shares_open_to_the_inputs(n: int, t: int) -> None:
    scheme = Scheme.make("shamir", range(1, n + 1), t)
    inputs = {1: np.array([0, 1, -1, 2**40, -(2**40)]), 2: np.arange(5) - 2}

    async def party(ctx):  # type: ignore[no-untyped-def]
        mine = inputs.get(ctx.party_id)
        return await share_inputs(ctx, None if mine is None else GF61.encode(mine), scheme, (1, 2))

    res = await run_nodes(scheme.parties, party)
    for d, x in inputs.items():
        stacked = np.stack([res[p][d] for p in scheme.parties])
        assert shamir_consistent(scheme.parties, stacked, t)
        opened = shamir_reconstruct(scheme.parties[: t + 1], stacked[: t + 1])
        np.testing.assert_array_equal(GF61.decode(opened), x)


def test_seeded_holders_receive_only_a_seed_and_the_vectors_are_uniform() -> None:
    """From the receivers' side (3 parties, t = 1, a constant input): party 2 gets 32 bytes and a
    shape from dealer 1, party 3 a vector that spreads uniformly over runs; dealer 1 sends one
    vector, not two."""
    x = np.full(3000, 7)
    received = []
    for run in range(4):
        wire = Wire()
        rep = sim(scenario("sum", 3, {1: x}, sharing="shamir", threshold=1, seed=run), observers=[wire])
        assert rep.ok, rep.reason
        np.testing.assert_array_equal(outputs(rep)[3], x)
        sent = {dst: p for src, dst, tag, p in wire.messages if src == 1 and tag.endswith("share")}
        assert set(sent) == {2, 3}
        assert set(sent[2]) == {"seed", "shape"} and len(sent[2]["seed"]) == SEED_BYTES and sent[2]["shape"] == [3000]
        assert isinstance(sent[3], np.ndarray) and sent[3].shape == (3000,)
        received.append(np.asarray(sent[3]))
    assert chi_square_top4(np.concatenate(received), 61) < CHI2_15_P1E4
    assert chi_square_top4(GF61.encode(np.concatenate([x] * 4)), 61) > 1000  # the input itself fails it


@pytest.mark.parametrize("bad", [{"seed": b"short", "shape": [3]}, {"seed": "x" * 32, "shape": [3]},
                                 {"seed": bytes(32), "shape": [2**26]}, {"seed": bytes(32), "shape": [-1]},
                                 {"seed": bytes(32), "shape": [1.5]}, {"seed": bytes(32)}, np.zeros(3, np.uint64),
                                 {"seed": bytes(32), "shape": [1] * 9}, {"seed": bytes(32), "shape": 3}])
def test_malformed_seeds_are_protocol_errors(bad: object) -> None:
    scheme = Scheme.make("shamir", (1, 2, 3), 1)
    assert _expand_seed({"seed": bytes(32), "shape": [2, 3]}, 1, scheme).shape == (2, 3)
    with pytest.raises(ProtocolError):
        _expand_seed(bad, 1, scheme)
