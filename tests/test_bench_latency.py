"""The latency suite's accounting: CPU time and context switches of party processes per round."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mpc.app.bench.latency import Sample, per_round, row_of, sample

pytestmark = pytest.mark.timeout(60)


def test_sample_charges_the_cpu_time_of_child_processes_that_ran_in_it():
    def run():
        subprocess.run([sys.executable, "-c", "import time\nt = time.process_time() + 0.3\n"
                        "while time.process_time() < t: pass"], check=True)
        return 1.0, {}

    s = sample(run)
    assert 0.3 <= s.cpu_s < 5.0  # at least what the child burnt; the interpreter start-up on top
    assert s.switches >= 1


def test_per_round_figures_are_the_difference_of_a_chain_and_an_empty_run():
    chain = [Sample(0.002, 3.0, 900, {}), Sample(0.003, 2.0, 700, {}), Sample(0.002, 2.5, 800, {})]
    empty = [Sample(0.05, 1.0, 100, {}), Sample(0.06, 1.5, 300, {})]
    got = per_round(chain, empty, 100)
    assert got["cpu_per_round_s"] == pytest.approx((2.5 - 1.25) / 100)
    assert got["switches_per_round"] == pytest.approx((800 - 200) / 100)
    ours = row_of("ours", {}, chain, empty, 100)
    assert ours.median_s == pytest.approx(0.002)  # our parties time the multiplications alone
    theirs = row_of("theirs", {}, chain, empty, 100, wall_of_empty=True)
    assert theirs.median_s == pytest.approx(0.002 - 0.055 / 100)  # input and output taken out
