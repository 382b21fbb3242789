"""The compare bench suite: its scenarios run and check out (netsim here), its minimum-cost
formulas match what the protocol really sends, and (slow) the quick run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import metas

from mpc.app.bench.compare import min_bytes_per_comparison, min_rounds, scenario
from mpc.app.runner import run_sim
from mpc.app.scenario import parse

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sharing", ["additive", "shamir"])
@pytest.mark.parametrize("parties", [3, 5])
def test_compare_scenario_rounds_and_bytes_against_the_minimum(sharing: str, parties: int) -> None:
    size = 2000
    rep = run_sim(parse(scenario("lt", parties, size, sharing)))
    assert rep.ok, rep.reason
    m = metas(rep)[1]
    assert m["op_rounds"] == min_rounds(sharing)  # the comparison takes exactly its minimum rounds
    sent = m["online_bytes_sent"] / size  # this party's online bytes per comparison
    floor = min_bytes_per_comparison(sharing, parties)
    assert floor <= sent <= 1.5 * floor, (sent, floor)  # framing and padding only


@pytest.mark.timeout(60)
def test_argmax_scenario_checks_against_numpy() -> None:
    rep = run_sim(parse(scenario("argmax", 3, 1000, "additive")))
    assert rep.ok, rep.reason
    assert metas(rep)[1]["op_rounds"] == 10 * min_rounds("additive")  # ceil(log2 1000) layers


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_bench_run(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "mpc", "bench", "compare", "--quick", "--sizes", "1000",
                           "--json", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert {r["name"] for r in rows} >= {"secure < (additive)", "secure < (shamir)", "secure argmax (additive)"}
    for r in rows:
        assert r["median_s"] > 0 and r["extra"]["rounds"] > 0
