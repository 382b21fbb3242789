"""Shared measurement of the multiplication protocols (``mul``, ``dot``, ``mulchain`` scenarios).

The suites only know the scenario format: ``protocol``, ``triples`` (dealer | dn07), two input
parties with generator-table vectors, ``options.k`` for chains. They read the parties' own
``protocol_s`` and, when the protocol reports them in ``PartyResult.meta``, ``online_s``,
``offline_s`` and ``multiplications``. A protocol that is not registered gives skipped rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mpc.app.bench._common import BenchConfig, Row, Skipped, fast_samples, stats
from mpc.app.bench import _mpyc
from mpc.app.bench._rawpeer import RawPeer
from mpc.app.bench._scenario import protocol_available, run_scenario

TRIPLES = ("dealer", "dn07")


def scenario(protocol: str, parties: int, size: int, triples: str, low: int, high: int,
             options: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": f"bench-{protocol}-{parties}-{size}-{triples}", "protocol": protocol, "parties": parties,
        "sharing": "shamir", "triples": triples, "seed": 7, "timeout_s": 120.0,
        "inputs": {str(p): {"random": size, "low": low, "high": high} for p in (1, 2)},
    }
    if options:
        doc["options"] = options
    return doc


def online_min_bytes(parties: int, multiplications: int) -> int:
    """Beaver online phase over Shamir (the scenarios' sharing, default t): each party sends its
    shares of d and e to the t parties that open from them (an opening in a ring)."""
    t = max(1, (parties - 1) // 2)
    return 2 * 8 * multiplications * parties * t


def measure(suite: str, name: str, doc: dict[str, Any], repeat: int, count: int, params: dict[str, Any]) -> Row:
    """Run ``doc`` ``repeat`` times; ``count`` multiplications per run unless the protocol says."""
    figs = [run_scenario(doc) for _ in range(repeat)]
    row = Row(suite=suite, name=name, params=params)
    mults = int(figs[0].meta.get("multiplications", count))
    row.set_times([f.protocol_s for f in figs], mults, "mul/s")
    row.extra.update({"total_s": stats([f.elapsed_s for f in figs])[0], "bytes": figs[0].bytes,
                      "messages": figs[0].messages, "multiplications": mults})
    for key in ("online_s", "offline_s"):
        values = [f.meta[key] for f in figs if key in f.meta]
        if len(values) == len(figs):
            row.extra[key] = stats(values)[0]
    if "online_bytes_sent" in figs[0].meta:
        row.extra["online_bytes"] = figs[0].meta["online_bytes_sent"]
    if "online_s" in row.extra and row.extra["online_s"] > 0:
        row.extra["online_rate"] = mults / row.extra["online_s"]
    return row


def ours_or_skip(suite: str, protocol: str, name: str, params: dict[str, Any]) -> Row | None:
    if protocol_available(protocol):
        return None
    return Row(suite=suite, name=name, params=params, skipped=f"protocol {protocol!r} is not registered in this build")


def mpyc_row(cfg: BenchConfig, suite: str, task: str, parties: int, n: int, count: int,
             big: int = 10**6, timeout: float = _mpyc.TIMEOUT_S) -> Row | None:
    """The MPyC equivalent when ``--compare mpyc`` asked for it (skipped when MPyC is missing)."""
    if "mpyc" not in cfg.compare:
        return None
    name = {"mul": "mpyc secure mul", "chain": "mpyc mul chain", "sum": "mpyc secure sum",
            "lt": "mpyc SecInt(32) <", "argmax": "mpyc SecInt(32) np_argmax"}[task]
    params = {"parties": parties, "size": n} if task != "chain" else {"parties": parties, "k": n}
    try:
        _mpyc.require()
    except Skipped as exc:
        return Row(suite=suite, name=name, params=params, skipped=str(exc))
    # one MPyC run at 10^6 elements (10^5 comparisons) takes 15-40 s here: measured once
    runs = [_mpyc.run(task, parties, n, timeout) for _ in range(cfg.repeats() if n < big else 1)]
    unit = "elem/s" if task in ("lt", "argmax") else "mul/s"
    row = Row(suite=suite, name=name, params=params).set_times([r.protocol_s for r in runs], count, unit)
    row.extra["total_s"] = stats([r.elapsed_s for r in runs])[0]
    row.extra.update(runs[0].extra)  # task figures (the compare tasks: messages per peer, bytes)
    return row


def run_vectors(cfg: BenchConfig, suite: str, protocol: str, plain: Callable[[np.ndarray, np.ndarray], Any],
                sizes: Sequence[int], online_bytes: Callable[[int, Row], tuple[int, int]],
                compare: str | None = None) -> list[Row]:
    """Rows for a two-input vector protocol over every (parties, size, triples).

    ``online_bytes(parties, row)`` gives (bytes the online phase must move, message size) for the
    raw-pynng bound; ``compare`` names the MPyC task of the same computation, if there is one.
    """
    rows: list[Row] = []
    with RawPeer() as peer:
        for parties in cfg.parties_or((3, 5), (3,)):
            for size in cfg.sizes_or(sizes, (10**4,)):
                params = {"parties": parties, "size": size}
                x, y = (np.random.default_rng([7, p]).integers(-1000, 1000, size) for p in (1, 2))
                plain_s = stats(fast_samples(lambda: plain(x, y), 3, min_time=0.01))[0]
                theirs = mpyc_row(cfg, suite, compare, parties, size, size) if compare else None
                for triples in TRIPLES:
                    name = f"secure {protocol} ({triples})"
                    skip = ours_or_skip(suite, protocol, name, params)
                    if skip is not None:
                        rows.append(skip)
                        continue
                    doc = scenario(protocol, parties, size, triples, -1000, 1000)
                    row = measure(suite, name, doc, cfg.repeats(), size, params)
                    row.ratios["vs_plaintext"] = row.median_s / plain_s
                    need, message = online_bytes(parties, row)
                    raw = peer.seconds_to_move(need, message)
                    row.extra["raw_pynng_online_s"] = raw
                    row.ratios["online_vs_raw_pynng"] = row.extra.get("online_s", row.median_s) / raw
                    if "online_bytes" in row.extra:
                        row.ratios["online_bytes_vs_need"] = row.extra["online_bytes"] / need
                    if theirs is not None and theirs.skipped is None:
                        row.ratios["speedup_vs_mpyc"] = theirs.median_s / row.median_s
                    rows.append(row)
                if theirs is not None:
                    rows.append(theirs)
    return rows


__all__ = ["TRIPLES", "measure", "mpyc_row", "online_min_bytes", "ours_or_skip", "run_vectors", "scenario"]
