"""Secure dot product (the ``dot`` scenario protocol): x·y of two input parties' vectors, opened
to all; against the plaintext ``np.dot`` and raw pynng moving the bytes the online phase sent."""

from __future__ import annotations

import numpy as np

from . import BenchConfig, Row, fast_samples, stats
from ._mulbench import TRIPLES, measure, ours_or_skip, scenario
from ._rawpeer import RawPeer

SUITE = "dot"


def run(cfg: BenchConfig) -> list[Row]:
    rows: list[Row] = []
    repeat = cfg.repeats()
    with RawPeer() as peer:
        for parties in cfg.parties_or((3, 5), (3,)):
            for size in cfg.sizes_or((10**3, 10**6), (10**4,)):
                params = {"parties": parties, "size": size}
                x, y = (np.random.default_rng([7, p]).integers(-1000, 1000, size) for p in (1, 2))
                plain = stats(fast_samples(lambda: np.dot(x, y), 3, min_time=0.01))[0]
                for triples in TRIPLES:
                    name = f"secure dot ({triples})"
                    skip = ours_or_skip(SUITE, "dot", name, params)
                    if skip is not None:
                        rows.append(skip)
                        continue
                    row = measure(SUITE, name, scenario("dot", parties, size, triples, -1000, 1000), repeat, size, params)
                    row.ratios["vs_plaintext"] = row.median_s / plain
                    # what the online phase sent (a dot product may open far less than 2n elements)
                    sent = int(row.extra.get("online_bytes", row.extra["bytes"]))
                    raw = peer.seconds_to_move(sent, max(64, sent // max(1, row.extra["messages"])))
                    row.extra["raw_pynng_online_s"] = raw
                    row.ratios["online_vs_raw_pynng"] = row.extra.get("online_s", row.median_s) / raw
                    rows.append(row)
    return rows
