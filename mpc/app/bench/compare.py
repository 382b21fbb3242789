"""Secure comparisons and argmax (secure arrays, ``protocol = "program"``) against MPyC.

Rows: ``x < y`` on N pairs of 31-bit values (N = 10^3, 10^4, 10^5) and ``argmax`` of N = 10^4
values, 3 and 5 parties, additive (Z_2^64) and Shamir (GF(2^61 − 1)) sharing, preprocessing
from the dealer; every party is its own OS process (as ``mpc run``). Figures: the slowest
party's protocol time (inputs, the dealer's round trip and the online rounds), the online phase
alone, the comparison's rounds and online bytes per comparison against the protocol's minimum
(every party sends the masked value, two bits per AND and one per conversion to each peer).
``--compare mpyc`` runs MPyC's ``SecInt(32)`` array ``<`` and ``np_argmax`` on the same data
in the same run; its rounds are the messages one party sends to one peer (input and output
excluded), which MPyC labels one per program step.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from mpc.app.bench._common import BenchConfig, Row, stats
from mpc.app.bench._mulbench import mpyc_row
from mpc.app.bench._scenario import RunFigures, require_protocol, run_scenario
from protocols.secarray.bits import Bits

SUITE = "compare"
PROGRAM = Path(__file__).with_name("_compare_program.py")
LOW, HIGH = -(1 << 30), 1 << 30
SHARINGS = ("additive", "shamir")
MPYC_TIMEOUT_S = 1800.0  # MPyC's 10^5 comparisons take minutes on a loaded machine


def _circuit(sharing: str) -> tuple[int, int, int]:
    """(masked-value bytes, ANDs, AND layers) of one 32-bit comparison."""
    width = 61 if sharing == "shamir" else 32  # GF(p): all 61 bits; Z_2^64: k = 32 low bits
    return 8, Bits.lt_ands(width), (width - 1).bit_length()


def min_rounds(sharing: str) -> int:
    return 1 + _circuit(sharing)[2] + 1  # open, AND layers, conversion


def min_bytes_per_comparison(sharing: str, parties: int) -> float:
    """Online bytes one party must send per comparison (to all its peers)."""
    masked, ands, _ = _circuit(sharing)
    return (parties - 1) * (masked + (2 * ands + 1) / 8)


def scenario(task: str, parties: int, size: int, sharing: str) -> dict[str, Any]:
    holders = (1, 2) if task == "lt" else (1,)
    return {
        "name": f"bench-{task}-{parties}-{size}-{sharing}", "protocol": "program", "program": str(PROGRAM),
        "parties": parties, "sharing": sharing, "triples": "dealer", "seed": 7, "timeout_s": 300.0,
        "inputs": {str(p): {"random": size, "low": LOW, "high": HIGH} for p in holders},
        "options": {"task": task},
    }


def _ours(cfg: BenchConfig, task: str, parties: int, size: int, sharing: str) -> Row:
    params = {"parties": parties, "size": size, "sharing": sharing}
    name = f"secure {'<' if task == 'lt' else 'argmax'} ({sharing})"
    figs: list[RunFigures] = [run_scenario(scenario(task, parties, size, sharing)) for _ in range(cfg.repeats())]
    row = Row(suite=SUITE, name=name, params=params).set_times([f.protocol_s for f in figs], size, "elem/s")
    meta = figs[0].meta
    online = stats([f.meta["online_s"] for f in figs])[0]
    row.extra.update({"online_s": online, "offline_s": stats([f.meta["offline_s"] for f in figs])[0],
                      "rounds": int(meta["op_rounds"]), "bytes": figs[0].bytes, "online_rate": size / online})
    if task == "lt":
        per_party = meta["online_bytes_sent"] / parties  # summed over parties by run_scenario
        row.extra["online_bytes_per_comparison"] = per_party / size
        row.ratios["bytes_vs_min"] = per_party / size / min_bytes_per_comparison(sharing, parties)
        row.ratios["rounds_vs_min"] = meta["op_rounds"] / min_rounds(sharing)
    return row


def run(cfg: BenchConfig) -> list[Row]:
    require_protocol("program")
    rows: list[Row] = []
    jobs = [("lt", s) for s in cfg.sizes_or((10**3, 10**4, 10**5), (10**4,))] + [("argmax", 10**4)]
    for parties in cfg.parties_or((3, 5), (3,)):
        for task, size in jobs:
            try:
                theirs = mpyc_row(cfg, SUITE, task, parties, size, size, big=10**5, timeout=MPYC_TIMEOUT_S)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:  # MPyC too slow here: say so, keep ours
                theirs = Row(suite=SUITE, name=f"mpyc {task}", params={"parties": parties, "size": size},
                             skipped=f"MPyC did not finish: {str(exc)[-200:]}")
            if theirs is not None and theirs.skipped is None:
                theirs.extra["rounds"] = theirs.extra["msgs_to_next_peer"] - 2  # party 0's input, output
            for sharing in SHARINGS:
                row = _ours(cfg, task, parties, size, sharing)
                if theirs is not None and theirs.skipped is None:
                    row.ratios["speedup_vs_mpyc"] = theirs.median_s / row.median_s
                    row.ratios["online_speedup_vs_mpyc"] = theirs.median_s / row.extra["online_s"]
                    row.ratios["rounds_vs_mpyc"] = row.extra["rounds"] / max(1, theirs.extra["rounds"])
                rows.append(row)
            if theirs is not None:
                rows.append(theirs)
    return rows


__all__ = ["min_bytes_per_comparison", "min_rounds", "run", "scenario"]
