"""The ``mpc`` command line: version, shipped scenarios by name, logs, JSON reports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mpc.app import cli

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(120)


def _mpc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mpc", *args], capture_output=True, text=True, env=env,
                          timeout=90, cwd=cwd)


def test_version_and_help_mention_no_unshipped_file():
    proc = _mpc("--version")
    assert proc.returncode == 0 and re.fullmatch(r"mpc \S+\n", proc.stdout)
    text = _mpc("run", "--help").stdout
    assert "DESIGN.md" not in text and "docs/design.md" in text
    assert (ROOT / "docs" / "design.md").is_file()


def test_shipped_scenarios_are_listed_and_run_by_name(tmp_path, capsys):
    assert cli.main(["scenarios"]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"^sum-3\s+sum, 3 parties", listed, re.M)
    assert cli.main(["run", "--sim", "sum-3", "--json", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["output"] == [12, 15, 18]


def test_verbose_after_the_subcommand_reaches_the_parties_log_dir(tmp_path):
    logs = tmp_path / "logs"
    proc = _mpc("run", "sum-3", "-v", "--log-dir", str(logs), cwd=tmp_path)  # from anywhere
    assert proc.returncode == 0, proc.stderr
    for pid in (1, 2, 3):
        lines = (logs / f"party-{pid}.log").read_text().splitlines()
        assert lines, pid
        for line in lines:  # timestamp, then the party id
            assert re.match(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}} party {pid} INFO ", line), line
        assert any("running sum" in line for line in lines)


def test_quiet_by_default_no_party_log_without_v(tmp_path):
    logs = tmp_path / "logs"
    assert _mpc("run", "sum-3", "--log-dir", str(logs)).returncode == 0
    assert (logs / "party-1.log").read_text() == ""  # warnings only, and there were none


def test_report_has_the_output_once_and_per_party_metadata(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert cli.main(["run", "--sim", "mul-3-dealer", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert list(report["outputs"]) == ["1,2,3"]  # the dealer (party 0) opens nothing
    assert report["output"] == report["outputs"]["1,2,3"]
    for pid in ("1", "2", "3"):
        party = report["parties"][pid]
        assert party["bytes_sent"] > 0 and party["bytes_received"] > 0
        assert party["meta"]["triples"] == "dealer" and party["meta"]["online_s"] >= 0


def test_a_dot_product_is_a_scalar(tmp_path, capsys):
    path = tmp_path / "dot.toml"
    path.write_text('protocol = "dot"\nparties = 3\n[inputs]\n1 = [1, 2, 0]\n2 = [3, -4, 9]\n[expect]\noutput = -5\n')
    out = tmp_path / "r.json"
    assert cli.main(["run", "--sim", str(path), "--json", str(out)]) == 0, capsys.readouterr()
    assert json.loads(out.read_text())["output"] == -5
    path.write_text(path.read_text().replace("output = -5", "output = 0"))
    assert cli.main(["run", "--sim", str(path)]) == 1
    assert "does not match expected 0" in capsys.readouterr().out


def test_report_lines_name_parties_as_ranges() -> None:
    from mpc.app.cli import id_ranges

    assert id_ranges(list(range(1, 1001))) == "1-1000"
    assert id_ranges([0, 1, 2, 4, 6, 7]) == "0-2, 4, 6, 7"
    assert id_ranges([1, 2, 4, 5, 6, 8, 9]) == "1, 2, 4-6, 8, 9"
    assert id_ranges([3]) == "3"
