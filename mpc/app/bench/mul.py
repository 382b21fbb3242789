"""Vectorized secure multiplication (the ``mul`` scenario protocol): two input parties' vectors,
their elementwise product opened to all, Shamir over GF(2^61 − 1), triples from a dealer or
dealer-free (DN07). Online and offline time when the protocol reports them; ratios against the
plaintext product, against raw pynng moving the online phase's minimum bytes (Beaver: every party
sends its shares of d and e to every other), and (``--compare mpyc``) MPyC's vectorized
multiplication of the same size."""

from __future__ import annotations

import numpy as np

from mpc.app.bench._common import BenchConfig, Row
from mpc.app.bench._mulbench import online_min_bytes, run_vectors

SUITE = "mul"


def _online(parties: int, row: Row) -> tuple[int, int]:
    size = int(row.params["size"])
    return online_min_bytes(parties, int(row.extra["multiplications"])), 2 * 8 * size


def run(cfg: BenchConfig) -> list[Row]:
    return run_vectors(cfg, SUITE, "mul", np.multiply, (10**3, 10**4, 10**5, 10**6), _online, compare="mul")
