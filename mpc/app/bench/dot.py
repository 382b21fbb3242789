"""Secure dot product (the ``dot`` scenario protocol): x·y of two input parties' vectors, opened
to all; against the plaintext ``np.dot`` and raw pynng moving the bytes the online phase sent (a
dot product may open far fewer than 2n elements, so the bound is what it sent, not a formula)."""

from __future__ import annotations

import numpy as np

from mpc.app.bench._common import BenchConfig, Row
from mpc.app.bench._mulbench import run_vectors

SUITE = "dot"


def _online(parties: int, row: Row) -> tuple[int, int]:
    sent = int(row.extra.get("online_bytes", row.extra["bytes"]))
    return sent, max(64, sent // max(1, int(row.extra["messages"])))


def run(cfg: BenchConfig) -> list[Row]:
    return run_vectors(cfg, SUITE, "dot", np.dot, (10**3, 10**6), _online)
