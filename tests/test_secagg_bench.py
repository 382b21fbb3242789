"""``mpc bench secagg --quick`` runs, checks its own sums, and reports both roles."""

from __future__ import annotations

import pytest

from mpc.app.bench import BenchConfig, run_suite


@pytest.mark.timeout(60)
def test_quick_bench_reports_both_roles() -> None:
    rows = run_suite("secagg", BenchConfig(quick=True, repeat=1))
    assert {r.name for r in rows} == {"server", "client"}
    assert {r.params["n"] for r in rows} == {5, 10}
    for r in rows:
        assert 0 <= r.min_s <= r.median_s <= r.max_s
        # a masked vector is at least as large as the plaintext vector it hides
        assert r.extra["bytes_up_per_client"] >= r.extra["plain_bytes"]
        assert r.extra["used"] <= r.params["n"]
