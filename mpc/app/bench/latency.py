"""Latency of dependent multiplications (the ``mulchain`` scenario protocol, ``options.k``
sequential multiplications of one-element vectors): seconds per multiplication against the raw
pynng round trip between two processes (one multiplication needs at least one message delay), and
(``--compare mpyc``) MPyC's chain of the same length."""

from __future__ import annotations

from mpc.app.bench._common import BenchConfig, Row
from mpc.app.bench._mulbench import TRIPLES, measure, mpyc_row, ours_or_skip, scenario
from mpc.app.bench._rawpeer import RawPeer

SUITE = "latency"
SMALL = 64


def run(cfg: BenchConfig) -> list[Row]:
    rows: list[Row] = []
    repeat = cfg.repeats()
    k = 50 if cfg.quick else 1000
    with RawPeer() as peer:
        rtt = min(peer.round_trip(SMALL, 200) for _ in range(3))
    for parties in cfg.parties_or((3, 5), (3,)):
        params = {"parties": parties, "k": k}
        theirs = mpyc_row(cfg, SUITE, "chain", parties, k, k)
        for triples in TRIPLES:
            name = f"mul chain ({triples})"
            skip = ours_or_skip(SUITE, "mulchain", name, params)
            if skip is not None:
                rows.append(skip)
                continue
            # values in {-1, 0, 1}: a product of any length stays small in every reference
            doc = scenario("mulchain", parties, 1, triples, -1, 2, options={"k": k})
            row = measure(SUITE, name, doc, repeat, k, params)
            per_mul = row.extra.get("online_s", row.median_s) / row.extra["multiplications"]
            row.extra["per_mul_s"] = per_mul
            row.extra["raw_rtt_s"] = rtt
            row.ratios["per_mul_vs_raw_rtt"] = per_mul / rtt
            if theirs is not None and theirs.skipped is None:
                row.ratios["speedup_vs_mpyc"] = theirs.median_s / row.median_s
            rows.append(row)
        if theirs is not None:
            if theirs.skipped is None:
                theirs.extra["per_mul_s"] = theirs.median_s / k
            rows.append(theirs)
    return rows
