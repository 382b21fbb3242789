"""Seeded random draws for the link model, drawn by numpy a chunk at a time.

Each kind of draw has its own stream (first transmission lost?, retransmission lost?, reorder?,
and one per jitter distribution), consumed in send order, one value per message that needs one.
So a batch of messages may take its values at once (:meth:`Stream.take`) and a single message one
(:meth:`Stream.one`), and the values a message gets never depend on which path it took: object
mode (batches) and byte mode (one message at a time) give the same arrivals. Simulation
randomness is public and never protects a secret.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

CHUNK = 1 << 14
Sampler = Callable[[np.random.Generator, int], NDArray[np.float64]]

# standard variates; a link's jitter is the value times its jitter_s
JITTER_SAMPLERS: dict[str, Sampler] = {
    "normal": lambda g, n: np.abs(g.standard_normal(n)),  # |N(0, 1)|
    "uniform": lambda g, n: g.random(n),  # U[0, 1)
    "exponential": lambda g, n: g.standard_exponential(n),  # mean 1
    # Pareto (Lomax) with shape 2.5 scaled so that its mean is 1: a heavy tail of late packets
    "pareto": lambda g, n: g.pareto(2.5, n) * 1.5,
}


def _uniform(g: np.random.Generator, n: int) -> NDArray[np.float64]:
    return g.random(n)


class Stream:
    """One seeded sequence of floats, read in order."""

    __slots__ = ("_gen", "_sample", "_arr", "_list", "_pos")

    def __init__(self, seed: int, key: int, sample: Sampler = _uniform) -> None:
        self._gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed % (1 << 128), spawn_key=(key,))))
        self._sample = sample
        self._arr: NDArray[np.float64] = np.empty(0)
        self._list: list[float] = []
        self._pos = 0

    def _refill(self, need: int) -> None:
        rest = self._arr[self._pos:]
        self._arr = np.concatenate([rest, self._sample(self._gen, max(CHUNK, need - len(rest)))])
        self._list = self._arr.tolist()
        self._pos = 0

    def one(self) -> float:
        pos = self._pos
        if pos >= len(self._list):
            self._refill(1)
            pos = 0
        self._pos = pos + 1
        return self._list[pos]

    def take(self, n: int) -> NDArray[np.float64]:
        if self._pos + n > len(self._list):
            self._refill(n)
        pos = self._pos
        self._pos = pos + n
        return self._arr[pos:pos + n]


class Draws:
    """The streams of one network."""

    __slots__ = ("lost", "relost", "reorder", "jitter")

    def __init__(self, seed: int) -> None:
        self.lost = Stream(seed, 1)  # is a message's first transmission lost?
        self.relost = Stream(seed, 2)  # is a retransmission lost again?
        self.reorder = Stream(seed, 3)  # may it overtake earlier messages of its link?
        self.jitter = {name: Stream(seed, 10 + k, sample) for k, (name, sample) in enumerate(JITTER_SAMPLERS.items())}

    def transmissions(self, loss: float, drop: bool) -> int:
        """How many sends one message takes until one gets through (0: dropped for good)."""
        if self.lost.one() >= loss:
            return 1
        return 0 if drop else self.retransmissions(loss)

    def retransmissions(self, loss: float) -> int:
        """Sends of a message whose first transmission was lost (at most 64)."""
        k = 2
        while k < 64 and self.relost.one() < loss:
            k += 1
        return k


__all__ = ["CHUNK", "JITTER_SAMPLERS", "Draws", "Stream"]
