"""Scenarios the runtime has not seen: other party counts, thresholds, input layouts, faults.

Each runs over netsim; a few also as real processes, since both modes must agree.
"""

from pathlib import Path

import numpy as np
import pytest

from mpc.errors import ConfigError
from mpc.app.launch import run_real
from mpc.app.runner import run_sim
from mpc.app.scenario import load

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "sum-7-t3-two-inputs-crash": """
protocol = "sum"
parties = 7
threshold = 3
[inputs]
2 = [-5, 1000000, 0]
6 = [5, -2000000, -1]
[[faults]]
party = 7
crash = "after:open"   # party 7 has no input: it never sends 'share' (that fault would never fire)
[expect]
output = [0, -1000000, -1]
""",
    "sum-2-default-threshold": """
protocol = "sum"
parties = 2
[inputs]
1 = [1, -1]
2 = [2, -2]
[expect]
output = [3, -3]
""",
    "mean-4-additive-floats": """
protocol = "mean"
parties = 4
sharing = "additive"
[inputs]
1 = [1.5, -2.5]
2 = [-0.25, 0.125]
3 = [100.0, -100.0]
[expect]
output = [33.75, -34.125]
tolerance = 1e-4
""",
    "sum-generated-plaintext-check": """
protocol = "sum"
parties = 4
sharing = "shamir"
threshold = 1
seed = 99
[inputs]
default = { random = 5000, low = -1000000, high = 1000000 }
""",
    "sum-additive-timed-crash": """
protocol = "sum"
parties = 3
sharing = "additive"
timeout_s = 3
[inputs]
1 = [1]
2 = [2]
3 = [3]
[network]
latency_ms = 50
[[faults]]
party = 2
crash = "at_ms:10"
[expect]
error = "PartyDropped"
""",
}
REAL = {"sum-7-t3-two-inputs-crash", "mean-4-additive-floats"}  # timed crashes race a 0-latency loopback


def _scenario(tmp_path, name):
    p = tmp_path / f"{name}.toml"
    p.write_text(f'name = "{name}"\n' + CASES[name])
    return load(p)


@pytest.mark.parametrize("name", sorted(CASES))
def test_sim(tmp_path, name):
    report = run_sim(_scenario(tmp_path, name))
    assert report.ok, report.reason


@pytest.mark.parametrize("name", sorted(REAL))
def test_real(tmp_path, name, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    report = run_real(_scenario(tmp_path, name))
    assert report.ok, report.reason


def test_generated_inputs_are_checked_against_plaintext(tmp_path):
    scn = _scenario(tmp_path, "sum-generated-plaintext-check")
    report = run_sim(scn)
    want = sum(scn.inputs[p] for p in range(1, 5))
    for o in report.outcomes.values():
        assert np.array_equal(o.result.output, want)


@pytest.mark.parametrize(
    "text,needle",
    [
        ('protocol = "sum"\nparties = 3\nsharing = "xor"\n', "sharing"),
        ('protocol = "nope"\nparties = 3\n[inputs]\n1 = [1]\n', "unknown protocol"),
        ('protocol = "sum"\nparties = 3\n[inputs]\n1 = [1]\n2 = [1, 2]\n', "same length"),
        ('protocol = "sum"\nparties = 3\n[inputs]\n0 = [1]\n', "not a node"),
        ('protocol = "sum"\nparties = 3\n[inputs]\n1 = ["a"]\n', "numbers"),
        ('protocol = "sum"\nparties = 3\n[[faults]]\nparty = 1\ncrash = "soon"\n', "crash must be"),
        ('protocol = "sum"\nparties = 3\nbogus = 1\n', "unknown top-level"),
        ('protocol = "sum"\n', "parties"),
    ],
)
def test_bad_scenarios_give_config_errors(tmp_path, text, needle):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        run_sim(load(p))
