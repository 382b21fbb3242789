"""Dropouts under Shamir: Beaver openings need t + 1 live parties, degree reductions (dn07,
Shamir dot products) 2t + 1; fewer raise QuorumLost at every survivor. Additive tolerates none."""

from __future__ import annotations

import numpy as np
import pytest
from harness import metas, outputs, scenario, sim

pytestmark = pytest.mark.timeout(60)


def _ins(holders: int, n: int = 400, seed: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {p: rng.integers(-1000, 1000, n) for p in range(1, holders + 1)}


def _product(ins: dict[int, np.ndarray]) -> np.ndarray:
    out = np.ones_like(next(iter(ins.values())))
    for v in ins.values():
        out = out * v
    return out


def _survivors_ok(rep, ins, crashed):  # type: ignore[no-untyped-def]
    assert rep.ok, rep.reason
    outs = outputs(rep)
    for p, o in rep.outcomes.items():
        assert (o.status == "crashed") == (p in crashed), (p, o.status, o.message)
    for got in outs.values():
        np.testing.assert_array_equal(got, _product(ins))
    return outs


@pytest.mark.parametrize("triples", ["dealer", "dn07"])
def test_beaver_online_needs_only_t_plus_1(triples: str) -> None:
    """5 parties, t = 2: two crash after the first online opening; 3 = t + 1 finish the second layer."""
    ins = _ins(3)
    faults = [{"party": 4, "crash": "after:open"}, {"party": 5, "crash": "after:open"}]
    rep = sim(scenario("mul", 5, ins, sharing="shamir", threshold=2, triples=triples, faults=faults))
    outs = _survivors_ok(rep, ins, {4, 5})
    assert set(outs) == {1, 2, 3}


def test_seven_parties_two_crash_in_dn07_and_online() -> None:
    ins = _ins(3, seed=2)
    faults = [{"party": 6, "crash": "after:contrib"}, {"party": 7, "crash": "after:open"}]
    rep = sim(scenario("mul", 7, ins, sharing="shamir", threshold=2, triples="dn07", faults=faults))
    _survivors_ok(rep, ins, {6, 7})


def test_contributor_lost_before_dn07_tops_up_with_a_second_batch() -> None:
    """Party 7 crashes after sharing its input, before contributing: 6 contributors give 4 outputs
    per slot instead of the 5 planned, so a second batch fills the pool."""
    ins = {**_ins(2, seed=3), 7: np.arange(400) - 200}
    faults = [{"party": 7, "crash": "after:share"}]
    rep = sim(scenario("mul", 7, ins, sharing="shamir", threshold=2, triples="dn07", faults=faults))
    _survivors_ok(rep, ins, {7})
    m = metas(rep)[1]
    assert m["pre_batches"] == 2 and m["pre_mask_contributors"] == 6


def test_dn07_reduction_needs_2t_plus_1() -> None:
    """5 parties, t = 2: one crash before the degree reduction leaves 4 < 2t + 1."""
    faults = [{"party": 5, "crash": "after:agree"}]
    rep = sim(scenario("mul", 5, _ins(2), sharing="shamir", threshold=2, triples="dn07", faults=faults,
                       expect={"error": "QuorumLost"}))
    assert rep.ok, rep.reason
    assert {p for p, o in rep.outcomes.items() if o.error == "QuorumLost"} == {1, 2, 3, 4}


def test_shamir_dot_reduction_needs_2t_plus_1() -> None:
    """A Shamir dot product reduces degree online: with 3 of 5 parties left (t = 2) it cannot."""
    faults = [{"party": 4, "crash": "after:need"}, {"party": 5, "crash": "after:need"}]
    rep = sim(scenario("dot", 5, _ins(2), sharing="shamir", threshold=2, triples="dealer", faults=faults,
                       timeout_s=1.0, expect={"error": "QuorumLost"}))
    assert rep.ok, rep.reason
    assert {p for p, o in rep.outcomes.items() if o.error == "QuorumLost"} == {0, 1, 2, 3}


def test_too_few_for_an_opening_raise_quorum_lost_everywhere() -> None:
    """3 parties, t = 1, dealer: two crash after sharing inputs; party 1 alone cannot open, and
    the dealer, waiting for the computing parties to finish, reports the lost quorum too."""
    faults = [{"party": 2, "crash": "after:share"}, {"party": 3, "crash": "after:share"}]
    ins = {1: np.array([1, 2]), 2: np.array([3, 4]), 3: np.array([5, 6])}
    rep = sim(scenario("mul", 3, ins, sharing="shamir", threshold=1, faults=faults, timeout_s=1.0,
                       expect={"error": "QuorumLost"}))
    assert rep.ok, rep.reason
    assert {p: o.error for p, o in rep.outcomes.items() if o.status != "crashed"} == {0: "QuorumLost", 1: "QuorumLost"}


def test_additive_tolerates_no_dropout() -> None:
    faults = [{"party": 3, "crash": "after:share"}]
    rep = sim(scenario("mul", 3, _ins(3), sharing="additive", faults=faults, timeout_s=1.0))
    assert not rep.ok
    errors = {p: o.error for p, o in rep.outcomes.items() if o.status != "crashed"}
    # the dealer, too: the survivors agree on one error (the dealer's own view was QuorumLost:
    # not every party finished; a dropped party is the cause)
    assert errors[0] == errors[1] == errors[2] == "PartyDropped"


def test_dealer_may_leave_after_dealing() -> None:
    ins = _ins(2, seed=5)
    rep = sim(scenario("mul", 3, ins, sharing="shamir", threshold=1, faults=[{"party": 0, "crash": "after:deal"}]))
    _survivors_ok(rep, ins, {0})


def test_dealer_lost_before_dealing_is_a_dropout() -> None:
    rep = sim(scenario("mul", 3, _ins(2), sharing="additive", faults=[{"party": 0, "crash": "at_ms:0"}],
                       timeout_s=1.0, expect={"error": "PartyDropped"}))
    assert rep.ok, rep.reason
