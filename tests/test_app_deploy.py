"""``mpc node``: multi-host deployments on loopback, one process per party, over TLS."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deploy_harness import env, run_nodes
from mpc.app.deploy import read_input
from mpc.errors import ConfigError

pytestmark = pytest.mark.timeout(180)


def _keys(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "mpc", "keygen", "--parties", "3", "--out", str(tmp_path / "keys")],
                   check=True, env=env(), timeout=30, capture_output=True)
    assert oct((tmp_path / "keys" / "party-1.pem").stat().st_mode & 0o777) == "0o600"


def _peers(bases: dict[int, int], scheme: str) -> str:
    return "\n".join(f'{p} = "{scheme}://127.0.0.1:{b}"' for p, b in bases.items())


def test_a_host_that_lists_only_its_own_input_is_refused_with_the_field_named(tmp_path):
    job = tmp_path / "job.toml"
    job.write_text('protocol = "sum"\nparties = 3\n[inputs]\n1 = [5, -1]\n')  # what party 1's host sees
    cfg = tmp_path / "party1.toml"
    cfg.write_text(f'party = 1\nsession = "s"\nscenario = "job.toml"\n[peers]\n{_peers({1: 9000, 2: 9010, 3: 9020}, "tcp")}\n')
    proc = subprocess.run([sys.executable, "-m", "mpc", "node", "--config", str(cfg)], capture_output=True,
                          text=True, env=env(), timeout=30)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "input_parties: a deployment must name its input parties" in proc.stderr


def test_three_hosts_over_tls_serve_several_jobs_with_inputs_from_files(tmp_path):
    _keys(tmp_path)
    x = {1: np.array([5, -1, 10**12]), 2: np.array([7, 0, 3]), 3: np.array([1, 1, -2])}
    np.save(tmp_path / "in1.npy", x[1])
    (tmp_path / "in2.csv").write_text(",".join(map(str, x[2])) + "\n")
    (tmp_path / "in3.json").write_text(json.dumps(x[3].tolist()))
    inputs = {1: "in1.npy", 2: "in2.csv", 3: "in3.json"}
    (tmp_path / "sum.toml").write_text('name = "sum"\nprotocol = "sum"\nparties = 3\ninput_parties = [1, 2, 3]\n')
    (tmp_path / "dot.toml").write_text('name = "dot"\nprotocol = "dot"\nparties = 3\ninput_parties = [2, 3]\n'
                                       'triples = "dn07"\n')
    (tmp_path / "mean.toml").write_text('name = "mean"\nprotocol = "mean"\nparties = 3\ninput_parties = [1, 3]\n'
                                        'sharing = "additive"\n[inputs]\n1 = [1.5, 2.5]\n3 = [0.5, -2.5]\n')

    def configs(bases):
        out = {}
        for p in (1, 2, 3):
            dot = f'[[jobs]]\nscenario = "dot.toml"\ninput = "{inputs[p]}"\n' if p != 1 else '[[jobs]]\nscenario = "dot.toml"\n'
            out[p] = tmp_path / f"party{p}.toml"
            out[p].write_text(f'party = {p}\nsession = "payroll"\ntls_dir = "keys"\n[peers]\n{_peers(bases, "tls+tcp")}\n'
                              f'[[jobs]]\nscenario = "sum.toml"\ninput = "{inputs[p]}"\n{dot}')
        return out

    # a third job arrives later on each node's stdin (a long-lived node reading jobs)
    results = run_nodes([1, 2, 3], configs, stdin={p: f"{tmp_path / 'mean.toml'}\n" for p in (1, 2, 3)})
    for p, r in results.items():
        assert r.returncode == 0, "\n".join(f"{q}: {s.stdout} {s.stderr[-1500:]}" for q, s in results.items())
        report = json.loads((tmp_path / f"party{p}.json").read_text())
        assert [j["job"] for j in report] == ["sum", "dot", "mean"]
        assert report[0]["output"] == (x[1] + x[2] + x[3]).tolist()
        assert report[1]["output"] == int(x[2] @ x[3])
        assert report[2]["output"] == pytest.approx([1.0, 0.0], abs=1e-4)
        assert f"party {p}: sum: " in r.stdout


@pytest.mark.parametrize("name,text,needle", [
    ("x.npy", None, "cannot read it"),
    ("x.csv", "1,2\n3,4\n", "expected a non-empty vector"),
    ("x.json", '{"a": 1}', "expected a non-empty vector"),
    ("x.txt", "1", "expected a .npy, .csv or .json file"),
    ("missing.csv", None, "input file not found"),
])
def test_bad_input_files_are_config_errors(tmp_path, name, text, needle):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    elif name == "x.npy":
        path.write_bytes(b"not numpy")
    with pytest.raises(ConfigError, match=needle):
        read_input(path)
