"""Real multi-process runs over the TCP transport: every party its own OS process on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mpc.app.launch import run_real
from mpc.app.scenario import load, parse
from mpc.errors import ConfigError
from test_real import _children_find_the_package, _env  # noqa: F401 - the fixture is autouse

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(120), pytest.mark.real_time]


def _plain(scn):
    """What the scenario computes, from its inputs (elementwise sum or product over input parties)."""
    vecs = [np.asarray(v, dtype=object) for _, v in sorted(scn.inputs.items())]
    out = vecs[0]
    for v in vecs[1:]:
        out = out + v if scn.protocol == "sum" else out * v
    return [int(x) for x in out]


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
@pytest.mark.parametrize("name", ["sum-3", "mul-3-dealer"])
def test_shipped_scenarios_over_tcp(name, tls):
    scn = load(ROOT / "scenarios" / f"{name}.toml")
    report = run_real(scn, tls=tls, transport="tcp")
    assert report.ok, report.reason
    want = _plain(scn)
    outputs = {p: o.result.output for p, o in report.outcomes.items() if o.result is not None
               and o.result.output is not None}
    assert set(outputs) == set(scn.party_ids) and all(np.asarray(v).tolist() == want for v in outputs.values())
    assert report.as_dict()["messages"] > 0


def test_cli_transport_flag_and_scenario_key(tmp_path):
    scn = (ROOT / "scenarios" / "sum-3.toml").read_text()
    path = tmp_path / "s.toml"
    path.write_text('transport = "tcp"\n' + scn)
    assert load(path).transport == "tcp"
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "mpc", "run", str(path), "--json", str(out)],
                          capture_output=True, text=True, env=_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["outputs"] == {"1,2,3": [12, 15, 18]}
    proc = subprocess.run([sys.executable, "-m", "mpc", "run", str(ROOT / "scenarios" / "sum-3.toml"),
                           "--transport", "tcp", "--tls"], capture_output=True, text=True, env=_env(), timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("OK"), proc.stdout + proc.stderr
    with pytest.raises(ConfigError, match="transport must be"):
        parse({"protocol": "sum", "parties": 3, "transport": "udp"})


def test_a_party_that_dies_between_rounds_makes_the_others_raise_partydropped_over_tcp(tmp_path):
    # "after:share": the dead party's shares were sent, its partial sum never comes; its lost
    # connection (not the 10 s timeout) tells the others. (at_ms:0 races a transport this fast:
    # the whole sum can finish before a 0 ms timer fires.)
    path = tmp_path / "killed.toml"
    path.write_text('name = "killed"\nprotocol = "sum"\nparties = 3\nsharing = "additive"\ntimeout_s = 10\n'
                    'transport = "tcp"\n[inputs]\n1 = [1]\n2 = [2]\n3 = [3]\n'
                    '[[faults]]\nparty = 3\ncrash = "after:share"\n[expect]\nerror = "PartyDropped"\n')
    report = run_real(load(path))
    assert report.ok, report.reason
    assert report.outcomes[3].status == "crashed"
    assert all(report.outcomes[p].error == "PartyDropped" and report.outcomes[p].protocol_s < 5 for p in (1, 2))


def test_mpc_node_deployment_over_tcp_with_tls(tmp_path):
    from deploy_harness import run_nodes

    subprocess.run([sys.executable, "-m", "mpc", "keygen", "--parties", "3", "--out", str(tmp_path / "keys")],
                   check=True, env=_env(), timeout=30, capture_output=True)
    (tmp_path / "job.toml").write_text('name = "sum"\nprotocol = "sum"\nparties = 3\ninput_parties = [1, 2, 3]\n'
                                       '[inputs]\n1 = [5, -1]\n2 = [7, 0]\n3 = [1, 1]\n')

    def configs(bases):
        peers = "\n".join(f'{p} = "tls+tcp://127.0.0.1:{b}"' for p, b in bases.items())
        out = {}
        for p in (1, 2, 3):
            out[p] = tmp_path / f"party{p}.toml"
            out[p].write_text(f'party = {p}\nscenario = "job.toml"\nsession = "t"\ntls_dir = "keys"\n'
                              f'transport = "tcp"\n[peers]\n{peers}\n')
        return out

    results = run_nodes([1, 2, 3], configs)
    for p, r in results.items():
        assert r.returncode == 0, r.stdout + r.stderr[-1500:]
        assert json.loads((tmp_path / f"party{p}.json").read_text())["output"] == [13, 0]  # one job: its report
