"""Round counts are fixed by the program's depth: a depth-3 product tree and one comparison layer
take exactly input + 3 + comparison + reveal rounds, one message per peer per round, however
the independent work is written (one expression, or coroutines under asyncio.gather)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from secarray_harness import CONFIGS, IDS, owned, run

pytestmark = pytest.mark.timeout(60)

N = 3
# rounds of one comparison layer: open the masked value, the AND tree, then the conversion (binary:
# a daBit; arithmetic bits: the XOR with the mask's top bit is a product)
COMPARE_ROUNDS = {"additive": 1 + 5 + 1, "shamir": 1 + 6 + 1}


def _data(width: int = 100) -> tuple[list[np.ndarray], np.ndarray]:
    g = np.random.default_rng(3)  # public test data
    return [g.integers(-7, 8, width) for _ in range(8)], g.integers(-(1 << 20), 1 << 20, width)


def _tree(s, xs):  # type: ignore[no-untyped-def]
    a = [owned(s, 1 + k % N, x) for k, x in enumerate(xs)]
    return ((a[0] * a[1]) * (a[2] * a[3])) * ((a[4] * a[5]) * (a[6] * a[7]))


@pytest.mark.parametrize(("sharing", "source", "bits"), CONFIGS, ids=IDS)
def test_depth3_tree_and_one_comparison_layer(sharing: str, source: str, bits: str) -> None:
    xs, y = _data()

    async def body(s):  # type: ignore[no-untyped-def]
        out = await (_tree(s, xs) < owned(s, 2, y)).reveal()
        return out, s.stats()

    want_rounds = 1 + 3 + COMPARE_ROUNDS[sharing] + 1  # inputs, 3 product layers, comparison, reveal
    prod = np.prod(np.stack(xs), axis=0)
    for out, st in run(body, sharing=sharing, source=source, bits=bits).values():
        assert np.array_equal(out, prod < y)
        assert st["rounds"] == want_rounds, st
        dealer_msgs = 1 if source == "dealer" else 0  # the one preprocessing request
        if source == "dealer":
            assert st["messages_sent"] == want_rounds * (N - 1) + dealer_msgs  # one message per peer per round


def test_gathered_coroutines_share_rounds() -> None:
    """Two independent computations revealed from separate coroutines cost the rounds of one."""
    xs, y = _data(50)

    async def alone(s):  # type: ignore[no-untyped-def]
        await (_tree(s, xs) < owned(s, 2, y)).reveal()
        return s.stats()["rounds"]

    async def together(s):  # type: ignore[no-untyped-def]
        async def left():  # type: ignore[no-untyped-def]
            return await (_tree(s, xs) < owned(s, 2, y)).reveal()

        async def right():  # type: ignore[no-untyped-def]
            return await owned(s, 3, y).argmax().reveal()

        lt, am = await asyncio.gather(left(), right())
        return lt, am, s.stats()["rounds"]

    one = run(alone, sharing="additive")[1]
    for lt, am, rounds in run(together, sharing="additive").values():
        assert np.array_equal(lt, np.prod(np.stack(xs), axis=0) < y) and int(am) == int(np.argmax(y))
        tournament = (len(y) - 1).bit_length() * (1 + 5 + 1)  # ceil(log2 50) comparison layers, fused selection
        assert rounds == max(one, 1 + tournament + 1)  # the tree hides inside the tournament's rounds


def test_sequential_reveals_add_rounds() -> None:
    """The opposite: a reveal awaited before the next is built costs its own rounds (no magic)."""
    xs, y = _data(20)

    async def body(s):  # type: ignore[no-untyped-def]
        t = _tree(s, xs)
        await t.reveal()
        after_tree = s.stats()["rounds"]
        await (t < owned(s, 2, y)).reveal()
        return after_tree, s.stats()["rounds"]

    for after_tree, total in run(body, sharing="additive").values():
        assert after_tree == 1 + 3 + 1
        assert total == after_tree + 1 + COMPARE_ROUNDS["additive"] + 1
