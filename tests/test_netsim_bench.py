"""The netsim bench suite measures real runs: every workload must compute the right sums."""

from __future__ import annotations

import pytest

from mpc.app.bench.netsim import all_to_all, star

pytestmark = pytest.mark.timeout(120)


def test_star_and_all_to_all_rows_report_correct_runs() -> None:
    s = star(50, 4)
    a = all_to_all(20, 4)
    assert s.extra["ok"] is True and s.params == {"parties": 50, "size": 4}
    assert s.extra["kb_per_idle_node"] >= 0  # an RSS delta: 0 when freed memory is reused in a long test run
    assert a.extra["ok"] is True and a.extra["messages"] == 6 * 20 * 19  # hello, share, open, survivors, echo, bye
    assert a.extra["virtual_s"] == pytest.approx(0.24)  # six rounds of 40 ms (the last two: survivor agreement, echo)


def test_isolated_rows_in_both_wire_modes_and_on_a_wan_agree() -> None:
    objects = all_to_all(12, 3, "fixed", "objects", isolate=True)
    data = all_to_all(12, 3, "fixed", "bytes", isolate=True)
    wan = all_to_all(12, 3, "wan", isolate=True)
    for row in (objects, data, wan):
        assert row.extra["ok"] is True and row.extra["kb_per_party"] > 0 and row.extra["peak_rss_mb"] > 0
    assert objects.extra["messages"] == data.extra["messages"] == wan.extra["messages"]
    assert objects.extra["virtual_s"] == data.extra["virtual_s"] < wan.extra["virtual_s"]
    assert objects.name == "sum all-to-all, fixed, objects" and wan.name == "sum all-to-all, wan, objects"
