"""The shipped multiplication scenarios pass over netsim and as real processes over pynng."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mpc.app.launch import run_real
from mpc.app.runner import run_sim
from mpc.app.scenario import load

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
NAMES = ["mul-3-dealer", "mul-5-dn07", "dot-3", "fixed-mean-var", "mul-7-crash", "mulchain-5-crash"]
REAL_DEFAULT = {"mul-3-dealer", "mul-7-crash", "mulchain-5-crash"}
CHAIN = [3 * 1, -2 * 2**6, 1 * 5**6, 0, 7 * 3**6]  # mulchain-5-crash: x · y^6 in plaintext


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", NAMES)
def test_scenario_sim(name: str) -> None:
    rep = run_sim(load(SCENARIOS / f"{name}.toml"))
    assert rep.ok, rep.reason
    assert any(o.result is not None and o.result.output is not None for o in rep.outcomes.values())
    if name == "mulchain-5-crash":
        _chain_survivors(rep)


def _chain_survivors(rep: Any) -> None:
    assert {p for p, o in rep.outcomes.items() if o.status == "crashed"} == {3, 5}
    outs = {p: [int(v) for v in o.result.output] for p, o in rep.outcomes.items() if o.status == "ok" and p}
    assert outs == {p: CHAIN for p in (1, 2, 4)}


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
    if name == "mulchain-5-crash":
        _chain_survivors(rep)
