"""The netsim bench suite measures real runs: both workloads must compute the right sums."""

from __future__ import annotations

import pytest

from mpc.app.bench.netsim import all_to_all, star

pytestmark = pytest.mark.timeout(60)


def test_star_and_all_to_all_rows_report_correct_runs() -> None:
    s = star(50, 4)
    a = all_to_all(20, 4)
    assert s.extra["ok"] is True and s.params == {"parties": 50, "size": 4}
    assert s.extra["kb_per_idle_node"] >= 0  # an RSS delta: 0 when freed memory is reused in a long test run
    assert a.extra["ok"] is True and a.extra["messages"] == 5 * 20 * 19  # + the survivor agreement
    assert a.extra["virtual_s"] == pytest.approx(0.20)  # five rounds of 40 ms (the last: survivor agreement)
