"""Secure aggregation as scenarios: netsim runs (and the explicit real multi-process run), the
reference built from the server's list of used clients, checked here against the crash faults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mpc.app.runner import Report, run_sim
from mpc.app.scenario import Scenario, load, parse
from netsim.faults import Crash

ROOT = Path(__file__).resolve().parent.parent
BEFORE_MASKED_INPUT = {"join", "advertise", "share_keys"}


def _not_crashed_before_masked_input(scn: Scenario) -> list[int]:
    """Independently of the server: the clients whose crash (if any) came after their masked input."""
    early = {f.party for f in scn.faults if isinstance(f, Crash) and f.after in BEFORE_MASKED_INPUT}
    return [u for u in scn.party_ids if u not in early]


def _check_used(scn: Scenario, report: Report) -> list[int]:
    assert report.ok, report.reason
    used = list(report.outcomes[0].result.meta["used"])  # type: ignore[union-attr]
    assert used == _not_crashed_before_masked_input(scn)
    want = np.sum([scn.inputs[u] for u in used], axis=0)
    out = report.outcomes[0].result.output  # type: ignore[union-attr]
    if want.dtype.kind == "f":
        assert np.allclose(out, want, atol=len(used) * 2.0 ** -(scn.fractional_bits or 16))
    else:
        assert np.array_equal(out, want)
    return used


def _scenario(n: int, faults: list[dict[str, Any]], options: dict[str, Any], expect: dict[str, Any] | None = None,
              dim: int = 200) -> Scenario:
    return parse({
        "name": f"secagg-{n}", "protocol": "secagg", "parties": n, "seed": n, "timeout_s": 30,
        "inputs": {"default": {"random": dim, "low": -(10**9), "high": 10**9}},
        "options": options, "faults": faults, "expect": expect or {},
    })


@pytest.mark.timeout(60)
def test_secagg_10_sim() -> None:
    scn = load(ROOT / "scenarios" / "secagg-10.toml")
    _check_used(scn, run_sim(scn))


@pytest.mark.timeout(120)
def test_secagg_10_real_processes() -> None:
    from mpc.app.launch import run_real

    scn = load(ROOT / "scenarios" / "secagg-10.toml")
    report = run_real(scn)
    assert report.ok, report.reason
    assert {p for p, o in report.outcomes.items() if o.status == "crashed"} == {4, 7}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("variant", ["secagg", "secagg+"])
def test_crashes_at_every_stage_sim(variant: str) -> None:
    stages = ["join", "advertise", "share_keys", "masked_input", "consistency", "unmask"]
    faults = [{"party": 2 + 3 * k, "crash": f"after:{tag}"} for k, tag in enumerate(stages)]
    scn = _scenario(24, faults, {"variant": variant, "degree": 8})
    used = _check_used(scn, run_sim(scn))
    assert len(used) == 24 - 3


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stage", ["join", "advertise", "share_keys", "masked_input", "consistency"])
def test_lost_quorum_is_quorum_lost_on_every_node(stage: str) -> None:
    faults = [{"party": p, "crash": f"after:{stage}"} for p in (1, 3, 5)]
    scn = _scenario(8, faults, {"threshold": 6}, expect={"error": "QuorumLost"})
    report = run_sim(scn)
    assert report.ok, report.reason
    survivors = {p: o for p, o in report.outcomes.items() if o.status != "crashed"}
    assert set(survivors) == {0, 2, 4, 6, 7, 8}
    assert all(o.error == "QuorumLost" for o in survivors.values())


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_secagg_100_drop30_sim() -> None:
    scn = load(ROOT / "scenarios" / "secagg-100-drop30.toml")
    used = _check_used(scn, run_sim(scn))
    assert len(used) == 100 - 18


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_secagg_plus_1000_sim() -> None:
    scn = load(ROOT / "scenarios" / "secagg-plus-1000.toml")
    used = _check_used(scn, run_sim(scn))
    assert len(used) == 1000 - 30


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_secagg_plus_10000_sim() -> None:
    """Issue 15's workload: 10,000 SecAgg+ clients × 10^3 dimensions, 10 % dropouts (200 at each of
    five stages), signed advertisements checked per neighbour; the exact sum over the used clients."""
    scn = load(ROOT / "scenarios" / "secagg-plus-10000.toml")
    used = _check_used(scn, run_sim(scn))
    assert len(used) == 10000 - 600
