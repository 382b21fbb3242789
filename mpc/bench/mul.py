"""Vectorized secure multiplication (the ``mul`` scenario protocol): two input parties' vectors,
their elementwise product opened to all, Shamir over GF(2^61 − 1), triples from a dealer or
dealer-free (DN07). Online and offline time when the protocol reports them; ratios against the
plaintext product, against raw pynng moving the online phase's minimum bytes, and (``--compare
mpyc``) MPyC's vectorized multiplication of the same size."""

from __future__ import annotations

import numpy as np

from . import BenchConfig, Row, fast_samples, stats
from ._mulbench import TRIPLES, measure, mpyc_row, online_min_bytes, ours_or_skip, scenario
from ._rawpeer import RawPeer

SUITE = "mul"


def run(cfg: BenchConfig) -> list[Row]:
    rows: list[Row] = []
    repeat = cfg.repeats()
    with RawPeer() as peer:
        for parties in cfg.parties_or((3, 5), (3,)):
            for size in cfg.sizes_or((10**3, 10**4, 10**5, 10**6), (10**4,)):
                params = {"parties": parties, "size": size}
                x, y = (np.random.default_rng([7, p]).integers(-1000, 1000, size) for p in (1, 2))
                plain = stats(fast_samples(lambda: np.multiply(x, y), 3, min_time=0.01))[0]
                theirs = mpyc_row(cfg, SUITE, "mul", parties, size, size)
                for triples in TRIPLES:
                    name = f"secure mul ({triples})"
                    skip = ours_or_skip(SUITE, "mul", name, params)
                    if skip is not None:
                        rows.append(skip)
                        continue
                    row = measure(SUITE, name, scenario("mul", parties, size, triples, -1000, 1000), repeat, size, params)
                    row.ratios["vs_plaintext"] = row.median_s / plain
                    online = row.extra.get("online_s", row.median_s)
                    need = online_min_bytes(parties, row.extra["multiplications"])
                    raw = peer.seconds_to_move(need, 2 * 8 * size)
                    row.extra["raw_pynng_online_s"] = raw
                    row.ratios["online_vs_raw_pynng"] = online / raw
                    if "online_bytes" in row.extra:
                        row.ratios["online_bytes_vs_min"] = row.extra["online_bytes"] / need
                    if theirs is not None and theirs.skipped is None:
                        row.ratios["speedup_vs_mpyc"] = theirs.median_s / row.median_s
                    rows.append(row)
                if theirs is not None:
                    rows.append(theirs)
    return rows
