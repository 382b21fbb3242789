"""Real runs with parties forked from the pre-imported server: same outcomes as ``python -m
mpc.app.party`` processes, crash faults included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mpc.app.forkserver import ForkServer
from mpc.app.launch import run_real
from mpc.app.scenario import load

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.real_time


@pytest.mark.timeout(90)
def test_forked_parties_run_scenarios_and_crash_faults() -> None:
    with ForkServer() as fs:
        report = run_real(load(ROOT / "scenarios/sum-3.toml"), spawn=fs.spawn)
        assert report.ok, report.reason
        assert all(np.array_equal(o.result.output, [12, 15, 18]) for o in report.outcomes.values())
        # a crash fault ends party 2's process; the survivors still open the sum
        crashed = run_real(load(ROOT / "scenarios/sum-5-shamir.toml"), spawn=fs.spawn)
        assert crashed.ok, crashed.reason
        assert crashed.outcomes[2].status == "crashed"
        assert all(crashed.outcomes[p].status == "ok" for p in (1, 3, 4, 5))
        # the server lives on for further runs; protocols found by discovery and TLS work in children
        again = run_real(load(ROOT / "scenarios/mul-3-dealer.toml"), spawn=fs.spawn, tls=True)
        assert again.ok, again.reason
        assert again.outcomes[0].status == "ok"  # the dealer node is a forked process too


@pytest.mark.timeout(60)
async def test_a_failing_party_reports_its_exit_status() -> None:
    import os

    with ForkServer() as fs:
        r, w = os.pipe()
        try:
            proc = await fs.spawn(w)
            proc.stdin.write(b'{"not": "a party config"}\n')
            await proc.stdin.drain()
            assert await proc.wait() == 1  # KeyError in party_main: a non-zero exit, not a hang
            assert b"KeyError" in os.read(r, 65536)
        finally:
            os.close(r)
            os.close(w)


@pytest.mark.timeout(60)
def test_mpc_run_with_fork_server(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    out = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "mpc", "run", "--fork-server", str(ROOT / "scenarios/sum-5-shamir.toml"),
                           "--json", str(out)], env=env, capture_output=True, text=True, timeout=50)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["ok"] and report["parties"]["2"]["status"] == "crashed"
    assert report["output"] == [1000000000014, -17, 39, -8]  # every survivor agrees: printed once
