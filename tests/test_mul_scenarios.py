"""The shipped multiplication scenarios pass over netsim and as real processes over pynng."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpc.app.launch import run_real
from mpc.app.runner import run_sim
from mpc.app.scenario import load

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
NAMES = ["mul-3-dealer", "mul-5-dn07", "dot-3", "fixed-mean-var", "mul-7-crash"]
REAL_DEFAULT = {"mul-3-dealer", "mul-7-crash"}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NAMES)
def test_scenario_sim(name: str) -> None:
    rep = run_sim(load(SCENARIOS / f"{name}.toml"))
    assert rep.ok, rep.reason
    assert any(o.result is not None and o.result.output is not None for o in rep.outcomes.values())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in REAL_DEFAULT else pytest.mark.slow) for n in NAMES])
def test_scenario_real(name: str) -> None:
    rep = run_real(load(SCENARIOS / f"{name}.toml"))
    assert rep.ok, rep.reason
    assert rep.mode == "real"
    if name == "mul-7-crash":
        assert {p for p, o in rep.outcomes.items() if o.status == "crashed"} == {6, 7}
        metas = [o.result.meta for o in rep.outcomes.values() if o.result is not None]
        assert all(m["rounds"] == 3 for m in metas)  # two layers and the output
