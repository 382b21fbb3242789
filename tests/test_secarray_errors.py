"""What must fail fails with its type: mixed sessions, shapes and kinds, out-of-range values, and
malformed round messages from a cheating peer (written from the attacker's side)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from secarray_harness import owned, run

from mpc.errors import ProtocolError
from mpc.field import GF61
from protocols.common import Scheme
from protocols.secarray import RangeError, Session, SessionMismatch, ShapeError, where

pytestmark = pytest.mark.timeout(60)


def _raises(exc: type[BaseException], build: Any, only: int | None = None) -> None:
    """``build(s)`` raises ``exc`` at every party (or only at party ``only``: an input's owner)."""
    async def body(s):  # type: ignore[no-untyped-def]
        if only is not None and s.me != only:
            return True
        with pytest.raises(exc):
            build(s)
        return True

    assert all(run(body, sharing="shamir").values())


def test_mixing_sessions_is_a_typed_error() -> None:
    def build(s):  # type: ignore[no-untyped-def]
        other = Session(s.ctx, Scheme.make("shamir", s.scheme.parties))
        return owned(s, 1, [1, 2]) + owned(other, 1, [1, 2])

    _raises(SessionMismatch, build)


@pytest.mark.parametrize("build", [
    lambda s: owned(s, 1, [1, 2]) + owned(s, 2, [1, 2, 3]),
    lambda s: owned(s, 1, [1, 2]) * owned(s, 2, [1, 2, 3]),
    lambda s: owned(s, 1, [1, 2]) + owned(s, 2, [1.5, 2.5], fixed=True),
    lambda s: owned(s, 1, [[1, 2]]) @ owned(s, 2, [1, 2, 3]),
    lambda s: owned(s, 1, [1, 2]) + np.ones(3, dtype=np.int64),
    lambda s: where(owned(s, 1, [0.0, 1.0], fixed=True), 1, 2),
    lambda s: owned(s, 1, np.zeros((2, 0), dtype=np.int64)).max(axis=1),
], ids=["add", "mul", "int+fixed", "matmul", "public-shape", "fixed-cond", "empty-max"])
def test_shape_and_kind_mismatches(build: Any) -> None:
    _raises(ShapeError, build)


@pytest.mark.parametrize(("build", "only"), [
    (lambda s: owned(s, 1, [1 << 31]), 1),  # |v| < 2^31 for 32-bit values; the owner checks
    (lambda s: owned(s, 1, [1, 2]) + (1 << 40), None),  # a public constant: everyone checks
    (lambda s: owned(s, 1, [1.5, 2.0]), 1),  # reals need fixed=True
    (lambda s: owned(s, 1, [40000.0], fixed=True), 1),  # 40000·2^16 ≥ 2^31
], ids=["input", "constant", "real-as-int", "fixed-range"])
def test_out_of_range_values(build: Any, only: int | None) -> None:
    _raises(RangeError, build, only)


def test_no_truth_value_and_no_reveal_to_outsiders() -> None:
    def build(s):  # type: ignore[no-untyped-def]
        a = owned(s, 1, [1])
        with pytest.raises(TypeError):
            bool(a < 2)
        from protocols.secarray.graph import reveal_node

        reveal_node(a, (7,))

    _raises(ShapeError, build)


@pytest.mark.parametrize("forged", [
    {"i": np.zeros(4, dtype=np.uint64)},  # one share short
    {"i": np.full(5, GF61.modulus, dtype=np.uint64)},  # outside the field
    {"i": np.zeros(5, dtype=np.int64)},  # wrong dtype
    {"i": np.zeros(5, dtype=np.uint64), "x": np.zeros(1, dtype=np.uint8)},  # a section nobody expects
    [1, 2, 3],  # not a round message at all
], ids=["short", "outside-field", "dtype", "extra-section", "garbage"])
def test_forged_input_round_is_a_protocol_error_naming_the_sender(forged: Any) -> None:
    async def body(s):  # type: ignore[no-untyped-def]
        if s.me == 3:  # the attacker: skips the session and sends its own round-0 message
            await s.ctx.scatter("r0", {1: forged, 2: forged})
            return None
        return await owned(s, 3, np.arange(5)).reveal()

    got = run(body, sharing="shamir", source="dn07", raw=True, timeout=2.0)
    for p in (1, 2):
        assert isinstance(got[p], ProtocolError), got[p]
        assert got[p].peer == 3
