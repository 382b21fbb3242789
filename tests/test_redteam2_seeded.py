"""Red team 2: a malicious dealer against seeded Shamir input sharing (protocols/common.py).

The t parties after a dealer get a 40-byte seed ``{"seed", "shape"}`` instead of a share vector.
The dealer chooses the shape: a seed is not charged to its buffer quota like a vector, so the
holder must refuse a shape that does not match the computation's before expanding anything.
The attacker here is the payload a dealer's gather returns (what it sent on the wire).
"""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import numpy as np
import pytest

from mpc.errors import ProtocolError
from mpc.field import GF61
from mpc.rng import Csprng
from mpc.sharing import lagrange_at_zero
from protocols.common import MAX_SEEDED_ELEMENTS, SEED_BYTES, Scheme, seeded_holders, share_inputs_stacked

pytestmark = pytest.mark.timeout(30)


class Ctx:
    """Party ``me``'s context: its own scatter stays local, every other dealer's payload is
    ``wire[d]`` (what dealer d sent to ``me``)."""

    def __init__(self, me: int, wire: dict[int, Any]) -> None:
        self.party_id, self.rng, self.wire, self.own = me, Csprng(), wire, None

    async def scatter(self, tag: str, payloads: dict[int, Any]) -> None:
        self.own = payloads[self.party_id]

    async def gather(self, tag: str, senders: Any) -> dict[int, Any]:
        return {d: self.own if d == self.party_id else self.wire[d] for d in senders}


def _run(me: int, wire: dict[int, Any], x: np.ndarray | None, dealers: tuple[int, ...], n: int = 3,
         t: int = 1) -> Any:
    scheme = Scheme.make("shamir", tuple(range(1, n + 1)), t)
    return asyncio.run(share_inputs_stacked(Ctx(me, wire), x, scheme, dealers))


def _seed(shape: list[int]) -> dict[str, Any]:
    return {"seed": bytes(SEED_BYTES), "shape": shape}


def _peak_mib(f: Any) -> tuple[Any, float]:
    tracemalloc.start()
    try:
        try:
            out: Any = f()
        except ProtocolError as exc:
            out = exc
        return out, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_a_seed_for_a_huge_shape_is_refused_before_it_is_expanded():
    """3 parties, t = 1: dealer 1 seeds party 2 (its holder) with the largest shape a seed may
    declare; the computation's vectors have 3 elements. Before: party 2 expanded 256 MiB (0.6 s)
    and stacked it with the others (another 256 MiB, 0.6 s), then refused party 3's honest share."""
    assert seeded_holders(Scheme.make("shamir", (1, 2, 3), 1), 1) == (2,)
    wire = {1: _seed([MAX_SEEDED_ELEMENTS]), 3: np.zeros(3, np.uint64)}
    err, peak = _peak_mib(lambda: _run(2, wire, GF61.encode(np.arange(3)), (1, 2, 3)))
    assert isinstance(err, ProtocolError) and err.peer == 1, err
    assert peak < 8, f"party 2 allocated {peak:.0f} MiB for a 40-byte seed"


def test_a_holder_that_is_no_dealer_expands_no_seed_the_other_dealers_contradict():
    """5 parties, t = 2, dealers 1 and 2; party 3 only holds: dealer 1 (malicious) seeds it with
    a huge shape while dealer 2's seed (and dealer 4's vector) say (4,). Party 3 cannot tell
    which is the computation's shape: it names no honest party and expands nothing."""
    s5 = Scheme.make("shamir", (1, 2, 3, 4, 5), 2)
    assert 3 in seeded_holders(s5, 1) and 3 in seeded_holders(s5, 2)
    wire = {1: _seed([MAX_SEEDED_ELEMENTS]), 2: _seed([4])}
    err, peak = _peak_mib(lambda: _run(3, wire, None, (1, 2), n=5, t=2))
    assert isinstance(err, ProtocolError) and err.peer in (None, 1), err
    assert peak < 8, f"party 3 allocated {peak:.0f} MiB"
    # the same seeds with a vector from a dealer that did not seed party 3 (dealer 4)
    wire = {1: _seed([MAX_SEEDED_ELEMENTS]), 2: _seed([4]), 4: np.zeros(4, np.uint64)}
    assert 3 not in seeded_holders(s5, 4)
    err, peak = _peak_mib(lambda: _run(3, wire, None, (1, 2, 4), n=5, t=2))
    assert isinstance(err, ProtocolError) and err.peer in (None, 1) and peak < 8, (err, peak)


def test_a_seed_of_another_small_shape_is_blamed_on_its_dealer_not_on_an_honest_one():
    """Dealer 1 (the lowest id, whose share was stacked first) seeds shape (2,) where the
    computation's is (3,): party 2 used to name honest party 3 ('share of shape (3,), expected (2,)')."""
    err, _ = _peak_mib(lambda: _run(2, {1: _seed([2]), 3: np.zeros(3, np.uint64)}, GF61.encode(np.arange(3)),
                                    (1, 2, 3)))
    assert isinstance(err, ProtocolError) and err.peer == 1, err


@pytest.mark.parametrize("payload", [np.zeros(3, np.uint64), _seed([3]) | {"extra": 1}, {"seed": bytes(31), "shape": [3]},
                                     _seed([3, 0]), _seed([True, 2, 1])])
def test_a_holder_refuses_a_vector_or_a_malformed_seed_in_place_of_its_seed(payload: Any):
    err, _ = _peak_mib(lambda: _run(2, {1: payload, 3: np.zeros(3, np.uint64)}, GF61.encode(np.arange(3)), (1, 2, 3)))
    assert isinstance(err, ProtocolError) and err.peer == 1, err


def test_a_non_holder_refuses_a_seed_in_place_of_its_vector():
    """Party 3 is not dealer 1's seed holder (t = 1): a seed sent to it is a malformed share."""
    assert seeded_holders(Scheme.make("shamir", (1, 2, 3), 1), 2) == (3,)
    err, _ = _peak_mib(lambda: _run(3, {1: _seed([3]), 2: _seed([3])}, GF61.encode(np.arange(3)),
                                    (1, 2, 3)))
    assert isinstance(err, ProtocolError) and err.peer == 1, err


def test_honest_seeds_still_reconstruct_the_inputs():
    """The defence changes nothing for honest dealers: every party's shares (seeded or not)
    interpolate to each dealer's input."""
    n, t, parties = 5, 2, (1, 2, 3, 4, 5)
    scheme = Scheme.make("shamir", parties, t)
    inputs = {d: GF61.encode(np.arange(4) * d) for d in parties}
    sent: dict[int, dict[int, Any]] = {}

    class Dealer(Ctx):
        async def scatter(self, tag: str, payloads: dict[int, Any]) -> None:
            sent[self.party_id] = payloads

    for d in parties:  # every dealer's scatter, as it went on the wire
        with pytest.raises(KeyError):
            asyncio.run(share_inputs_stacked(Dealer(d, {}), inputs[d], scheme, parties))

    class Replay(Ctx):
        async def scatter(self, tag: str, payloads: dict[int, Any]) -> None:
            self.own = sent[self.party_id][self.party_id]  # what it dealt itself above

    shares = {me: asyncio.run(share_inputs_stacked(Replay(me, {d: sent[d][me] for d in parties if d != me}),
                                                   inputs[me], scheme, parties)) for me in parties}
    use = parties[: t + 1]
    coeffs = [c % GF61.modulus for c in lagrange_at_zero(use, GF61.modulus)]
    for k, d in enumerate(parties):
        opened = GF61.lincomb(coeffs, [shares[p][k] for p in use])
        np.testing.assert_array_equal(opened, inputs[d])
