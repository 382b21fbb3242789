"""Verified openings (Shamir, n >= 2t + 1): every received share must lie on one polynomial.

Attack tests from the cheater's side: a party shares honestly and then sends a wrong share of the
value being opened."""

from __future__ import annotations

import numpy as np
import pytest
from harness import outputs, scenario, sim, run_nodes

from mpc.errors import ConfigError, ProtocolError
from mpc.field import GF61
from protocols.common import Scheme, open_values, share_inputs
from protocols.sum import encode_input

pytestmark = pytest.mark.timeout(60)
VALUES = {p: np.array([p, -7 * p, 1000 + p], dtype=np.int64) for p in range(1, 8)}


async def _sum_with_cheater(n: int, t: int, cheater: int | None, verify: bool) -> dict[int, object]:
    scheme = Scheme.make("shamir", range(1, n + 1), t, verify=verify)

    async def party(ctx):  # type: ignore[no-untyped-def]
        shares = await share_inputs(ctx, encode_input(VALUES[ctx.party_id], scheme, None), scheme, scheme.parties)
        local = GF61.sum(np.stack(list(shares.values())), axis=0)
        if ctx.party_id == cheater:  # the attack: a wrong share of the sum, sent to everyone
            local = GF61.add(local, np.array([0, 1, 0], dtype=np.uint64))
        return GF61.decode(await open_values(ctx, scheme, local, "open"))

    return await run_nodes(scheme.parties, party)


def _honest(res: dict[int, object], cheater: int) -> dict[int, object]:
    return {p: v for p, v in res.items() if p != cheater}


async def test_wrong_share_goes_unnoticed_without_verification() -> None:
    want = sum(VALUES[p] for p in range(1, 6))
    res = _honest(await _sum_with_cheater(5, 2, 3, verify=False), 3)
    assert any(not np.array_equal(v, want) for v in res.values())  # the attack changes outputs


@pytest.mark.parametrize(("n", "t", "cheater"), [(5, 1, 5), (7, 2, 6)])
async def test_wrong_share_is_detected_and_the_cheater_named(n: int, t: int, cheater: int) -> None:
    res = _honest(await _sum_with_cheater(n, t, cheater, verify=True), cheater)
    for p, v in res.items():
        assert isinstance(v, ProtocolError), (p, v)
        assert v.peer == cheater


@pytest.mark.parametrize(("n", "t", "cheater"), [(5, 2, 3), (7, 3, 1)])
async def test_at_n_equal_2t_plus_1_the_cheater_is_a_suspect_but_not_named(n: int, t: int, cheater: int) -> None:
    """With n = 2t + 1 and t ≥ 2, t colluders can make an honest party's share the odd one out
    (tests/test_redteam_verified_open.py): naming the one share whose removal leaves the rest
    consistent would frame it, so every other party is a suspect."""
    res = _honest(await _sum_with_cheater(n, t, cheater, verify=True), cheater)
    for p, v in res.items():
        assert isinstance(v, ProtocolError) and v.peer is None, (p, v)
        assert str(cheater) in str(v)


async def test_wrong_share_is_detected_at_n_equal_2t_plus_1() -> None:
    """n = 3, t = 1: three shares over-determine a line, so the lie is detected; which of the two
    others lied cannot be told, so the error names both suspects."""
    res = _honest(await _sum_with_cheater(3, 1, 2, verify=True), 2)
    for p, v in res.items():
        assert isinstance(v, ProtocolError) and v.peer is None
        assert str(sorted({1, 3} - {p} | {2})) in str(v)


async def test_honest_verified_openings_give_the_sum() -> None:
    want = sum(VALUES[p] for p in range(1, 6))
    res = await _sum_with_cheater(5, 2, None, verify=True)
    for v in res.values():
        np.testing.assert_array_equal(v, want)


def test_verified_multiplication_scenario_and_bad_settings() -> None:
    ins = {1: [3, -4, 5], 2: [7, 8, -9]}
    for triples in ("dealer", "dn07"):
        rep = sim(scenario("mul", 5, ins, sharing="shamir", threshold=2, triples=triples,
                           options={"verify_openings": True}))
        assert rep.ok, rep.reason
        assert outputs(rep)[1].tolist() == [21, -32, -45]
    with pytest.raises(ConfigError):
        Scheme.make("shamir", range(1, 5), 2, verify=True)  # n = 4 < 2t + 1
    with pytest.raises(ConfigError):
        Scheme.make("additive", range(1, 4), verify=True)
