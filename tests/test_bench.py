"""``mpc bench``: the quick run end to end (JSON shape, positive figures — never speed), the skip
path for protocols that are not registered, and the pieces the suites stand on."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mpc.app.bench import BenchConfig, Row, fast_samples, stats, suites
from mpc.app.bench._mulbench import ours_or_skip
from mpc.app.bench._scenario import protocol_available, to_toml
from mpc.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
ROW_KEYS = {"suite", "name", "params", "median_s", "min_s", "max_s", "rate", "unit", "ratios", "extra", "skipped"}


def _bench(tmp_path: Path, *args: str, timeout: float = 110) -> dict:
    out = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "mpc", "bench", *args, "--quick", "--json", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


def _check_rows(doc: dict, want_suites: set[str]) -> list[dict]:
    assert set(doc) >= {"config", "machine", "rows", "failed"}
    assert doc["failed"] == []
    assert doc["config"]["quick"] is True
    assert doc["machine"]["cpus"] >= 1
    rows = doc["rows"]
    assert {r["suite"] for r in rows} == want_suites
    measured = []
    for r in rows:
        assert set(r) == ROW_KEYS
        if r["skipped"] is not None:
            assert isinstance(r["skipped"], str) and r["skipped"]
            continue
        measured.append(r)
        assert 0 < r["min_s"] <= r["median_s"] <= r["max_s"], r
        assert r["rate"] is None or (r["rate"] > 0 and r["unit"]), r
        for key, value in r["ratios"].items():
            assert math.isfinite(value) and value > 0, (key, r)
    return measured


@pytest.mark.timeout(120)
def test_quick_run_writes_positive_figures(tmp_path: Path) -> None:
    names = {"field", "codec", "transport", "sum", "mul", "latency", "startup"}
    doc = _bench(tmp_path, *sorted(names))
    measured = _check_rows(doc, names)
    by_suite = {r["suite"] for r in measured}
    assert {"field", "codec", "transport", "sum", "startup"} <= by_suite  # these never skip
    secure = [r for r in measured if r["suite"] == "sum" and r["name"].startswith("secure sum")]
    assert {r["name"] for r in secure} == {"secure sum (shamir)", "secure sum (additive)"}
    for r in secure:
        assert {"vs_plaintext", "vs_raw_pynng", "bytes_vs_min"} <= set(r["ratios"])
        assert r["ratios"]["bytes_vs_min"] >= 1  # the protocol cannot send less than its minimum
    for protocol, suite in (("mul", "mul"), ("mulchain", "latency")):
        ours = [r for r in doc["rows"] if r["suite"] == suite and not r["name"].startswith("mpyc")]
        assert ours and all((r["skipped"] is None) == protocol_available(protocol) for r in ours)


@pytest.mark.timeout(120)
def test_compare_mpyc_adds_rows_and_speedups(tmp_path: Path) -> None:
    # never import mpyc here: its package __init__ reconfigures logging for the whole test session
    if importlib.util.find_spec("mpyc") is None:
        pytest.skip("MPyC (the 'compare' extra) is not installed")
    doc = _bench(tmp_path, "sum", "startup", "--compare", "mpyc")
    _check_rows(doc, {"sum", "startup"})
    theirs = [r for r in doc["rows"] if r["name"].startswith("mpyc")]
    assert {r["suite"] for r in theirs} == {"sum", "startup"}
    ours = [r for r in doc["rows"] if not r["name"].startswith("mpyc") and r["suite"] == "sum"]
    assert ours and all(r["ratios"]["speedup_vs_mpyc"] > 0 for r in ours)


@pytest.mark.timeout(60)
def test_plot_writes_an_image(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "plot.png"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "mpc", "bench", "field", "--sizes", "1e3,1e4", "--repeat", "1",
                           "--plot", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=50)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.timeout(30)
def test_unknown_suite_and_bad_flags_are_user_errors(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (["no-such-suite"], ["field", "--compare", "nothing"], ["field", "--sizes", "a,b"]):
        proc = subprocess.run([sys.executable, "-m", "mpc", "bench", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=25)
        assert proc.returncode == 2 and "mpc: error:" in proc.stderr, (args, proc.stderr)


def test_suites_are_discovered_by_file_name() -> None:
    assert {"field", "codec", "transport", "sum", "startup", "mul", "dot", "latency"} <= set(suites())
    assert not any(name.startswith("_") for name in suites())


def test_missing_protocol_gives_a_skipped_row() -> None:
    assert not protocol_available("no-such-protocol")
    row = ours_or_skip("mul", "no-such-protocol", "secure mul (dealer)", {"parties": 3})
    assert isinstance(row, Row) and row.skipped and "no-such-protocol" in row.skipped
    assert ours_or_skip("sum", "sum", "secure sum", {}) is None


def test_scenario_toml_round_trips() -> None:
    doc = {"name": "x", "protocol": "mul", "parties": 3, "timeout_s": 60.0, "triples": "dn07",
           "inputs": {"1": {"random": 10, "low": -1, "high": 2}, "2": [1, -2]}, "options": {"k": 5}}
    assert tomllib.loads(to_toml(doc)) == doc


def test_stats_and_rates() -> None:
    assert stats([3.0, 1.0, 2.0]) == (2.0, 1.0, 3.0)
    row = Row(suite="s", name="n").set_times([2.0, 1.0, 4.0], 10, "elem/s")
    assert (row.median_s, row.min_s, row.max_s, row.rate) == (2.0, 1.0, 4.0, 5.0)
    calls = []
    times = fast_samples(lambda: calls.append(1), 3, min_time=0.001)
    assert len(times) == 3 and all(t > 0 for t in times) and len(calls) > 3


def test_config_defaults_per_suite() -> None:
    cfg = BenchConfig()
    assert cfg.sizes_or((1, 2), (3,)) == (1, 2) and cfg.parties_or((3, 5)) == (3, 5)
    quick = BenchConfig(quick=True, repeat=5)
    assert quick.sizes_or((1, 2), (3,)) == (3,) and quick.repeats() == 1
    assert BenchConfig(sizes=(7,)).sizes_or((1,), (2,)) == (7,)
    with pytest.raises(ConfigError):
        from mpc.app.bench import _ints

        _ints("0,1")
