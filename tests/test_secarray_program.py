"""protocol = "program": user programs from scenario files, simulated and as real processes, the
examples, dropouts (Shamir carries on with arithmetic bits; XOR bits need every party), and the
errors a wrong program or scenario gets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from harness import metas, outputs, scenario, sim

from mpc.app.runner import run_sim
from mpc.app.scenario import load
from mpc.errors import ConfigError

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parent.parent
PROG = str(ROOT / "tests" / "secarray_programs" / "compare_all.py")


def _ins(parties: int, n: int = 12, seed: int = 4) -> dict[int, np.ndarray]:
    g = np.random.default_rng(seed)  # public test data
    return {p: g.integers(-1000, 1000, n) for p in range(1, parties + 1)}


@pytest.mark.parametrize("name", ["millionaires", "salaries", "histogram", "logreg"])
def test_examples_run_and_match(name: str) -> None:
    rep = run_sim(load(ROOT / "examples" / f"{name}.toml"))
    assert rep.ok, rep.reason
    assert len(outputs(rep)) >= 3


@pytest.mark.parametrize(("sharing", "triples"), [("additive", "dealer"), ("shamir", "dealer"), ("shamir", "dn07")])
def test_program_checked_against_its_reference(sharing: str, triples: str) -> None:
    rep = sim(scenario("program", 4, _ins(3), sharing=sharing, triples=triples, program=PROG))
    assert rep.ok, rep.reason
    m = metas(rep)[1]
    assert m["session_rounds"] > 0 and m["session_bytes_sent"] > 0


@pytest.mark.parametrize("when", ["at_ms:0", "after:square", "after:r1", "after:r5", "after:r12"])
def test_shamir_arith_bits_survive_a_crash_mid_program(when: str) -> None:
    """4 parties, t = 1, dealer-free: party 4 (no input) crashes at once, while random bits are made (square), after
    the input round, inside the first comparison layer, or deep in the tournament; 3 = 2t + 1
    survivors finish every comparison and product."""
    ins = _ins(3)
    faults = [{"party": 4, "crash": when}]
    rep = sim(scenario("program", 4, ins, sharing="shamir", threshold=1, triples="dn07", program=PROG, faults=faults))
    assert rep.ok, rep.reason
    assert rep.outcomes[4].status == "crashed"
    assert set(outputs(rep)) == {1, 2, 3}


def test_xor_bits_need_every_party() -> None:
    """The dealer's packed XOR bits are shared by all parties: a crash ends the comparison with
    PartyDropped at every survivor (documented; dealer-free Shamir is the dropout-tolerant path)."""
    faults = [{"party": 4, "crash": "after:r1"}]
    doc = scenario("program", 4, _ins(3), sharing="shamir", threshold=1, triples="dealer", program=PROG,
                   faults=faults, timeout_s=2.0)
    rep = sim(doc)
    assert rep.outcomes[4].status == "crashed"
    for p in (1, 2, 3):
        assert rep.outcomes[p].error == "PartyDropped", rep.outcomes[p]
    # survivor agreement: every live party, the dealer included, ends with the same abort
    assert rep.outcomes[0].error == "PartyDropped", rep.outcomes[0]


def test_real_processes_run_a_program(tmp_path: Path) -> None:
    from mpc.app.launch import run_real

    rep = run_real(load(ROOT / "examples" / "millionaires.toml"))
    assert rep.ok, rep.reason
    assert all(int(v[0]) == 3 for v in outputs(rep).values())


def test_missing_program_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="program file not found"):
        sim(scenario("program", 3, _ins(2), program=str(tmp_path / "nope.py")))
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    rep = sim(scenario("program", 3, _ins(2), program=str(bad)))
    assert not rep.ok and "main" in (rep.reason or "")
