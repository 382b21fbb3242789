"""netsim's wheel: records come out in time order, equal times in push order, whatever bins they
fall in and whenever they were pushed (also into the bin being drained, or an earlier one)."""

from __future__ import annotations

import math
import random

import pytest

from netsim.wheel import MAX_WIDTH, MIN_WIDTH, Wheel, bin_width

pytestmark = pytest.mark.timeout(30)


def _drain_one(w: Wheel) -> tuple[float, int, int, object] | None:
    if w.head() == math.inf:
        return None
    rec = w.cur[w.pos]
    w.pos += 1
    return rec


@pytest.mark.parametrize("width", [1e-6, 1e-3, 0.05])
def test_records_come_out_sorted_and_fifo_among_equal_times_with_pushes_while_draining(width: float) -> None:
    rng = random.Random(7)
    w = Wheel(width)
    seq = 0
    pushed: list[tuple[float, int]] = []
    out: list[tuple[float, int]] = []
    now = 0.0

    def push(when: float) -> None:
        nonlocal seq
        w.push(when, seq, 0, None)
        pushed.append((when, seq))
        seq += 1

    for _ in range(300):
        push(round(rng.uniform(0, 0.1), 3))  # rounded: many equal times
    while (rec := _drain_one(w)) is not None:
        assert rec[0] >= now
        now = rec[0]
        out.append((rec[0], rec[1]))
        if len(pushed) < 1500:
            for _ in range(rng.randrange(3)):
                # now (the bin being drained), a little later, or much later
                push(now + rng.choice([0.0, 0.0, width / 3, 0.0004, rng.uniform(0, 0.05)]))
    assert len(out) == len(pushed) >= 1000
    assert out == sorted(pushed, key=lambda r: r[0])  # stable: equal times in push order


def test_a_record_for_an_earlier_bin_than_the_one_loaded_comes_first() -> None:
    w = Wheel(0.001)
    w.push(0.010, 1, 0, None)
    w.push(0.010, 2, 0, None)
    assert w.head() == 0.010  # bin 10 is loaded now
    w.push(0.004, 3, 0, None)  # a party sent something arriving earlier meanwhile
    w.push(0.010, 4, 0, None)
    got = []
    while (rec := _drain_one(w)) is not None:
        got.append(rec[1])
    assert got == [3, 1, 2, 4]
    w.push(0.5, 5, 0, None)
    w.clear()
    assert w.head() == math.inf


def test_bin_width_follows_the_smallest_latency_within_bounds() -> None:
    assert bin_width(0.0) == MIN_WIDTH
    assert bin_width(0.0002) == 0.0002
    assert bin_width(0.04) == MAX_WIDTH
