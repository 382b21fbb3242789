"""Red team: openings in a ring for LARGE unverified Shamir openings (0373a5f): correctness under
crashes, kept shares without copies (snapshot / frozen), and the byte bound of kept shares."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from harness import Wire, outputs, scenario, sim

pytestmark = pytest.mark.timeout(120)


def _ins(n_in: int, size: int, seed: int) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {p: rng.integers(-1000, 1000, size) for p in range(1, n_in + 1)}


@pytest.mark.parametrize(("proto", "n", "t", "triples", "crash", "at"), [
    ("mul", 5, 2, "dealer", (3,), "on/r1/open"), ("mul", 5, 2, "dealer", (2, 4), "on/r1/open"),
    ("mul", 7, 2, "dealer", (1, 4, 5, 6), "on/r1/open"), ("mul", 7, 3, "dealer", (2, 3, 7), "on/r1/open"),
    ("mul", 7, 2, "dn07", (3, 6), "on/r1/open"), ("mul", 7, 2, "dn07", (3, 6), "pre/reduce"),
    ("mul", 7, 2, "dn07", (1, 7), "pre/reduce"),
    ("dot", 7, 2, "dealer", (2, 5), "on/r1/reduce"), ("dot", 7, 2, "dn07", (4, 7), "on/r1/reduce"),
    ("dot", 7, 2, "dn07", (1, 2), "on/r1/reduce"),
])
def test_large_openings_survive_crashes_after_the_first_online_round(proto: str, n: int, t: int, triples: str,
                                                                      crash: tuple[int, ...], at: str) -> None:
    """Every live party opens the plaintext product after parties crash right after a large
    opening of the ring (their takers must pull the next live party's kept share)."""
    ins = _ins(2, 4000, seed=n + len(crash))
    faults = [{"party": p, "crash": f"after:{at}"} for p in crash]
    rep = sim(scenario(proto, n, ins, sharing="shamir", threshold=t, triples=triples, faults=faults,
                       network={"latency_ms": 1}))
    assert rep.ok, rep.reason
    if proto == "mul":
        want: Any = (ins[1] * ins[2]).tolist()
    else:
        want = int(sum(int(a) * int(b) for a, b in zip(ins[1], ins[2], strict=True)))
    got = outputs(rep)
    live = {p for p in range(1, n + 1) if p not in crash}
    assert live <= set(got), (sorted(got), rep.reason)
    assert {p for p, o in rep.outcomes.items() if o.status == "crashed"} == set(crash)
    for p in live:
        assert np.asarray(got[p]).tolist() == want, p
