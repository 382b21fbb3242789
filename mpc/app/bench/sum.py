"""Secure sum of n parties' vectors, every party a real OS process over pynng on loopback.

Reported per (parties, size, sharing): the parties' own protocol time (ready barrier → opened sum)
and the launcher's total (spawn → exit), with ratios measured in the same run against the
plaintext numpy sum of the same vectors, against what raw pynng between two processes needs to
move the bytes the protocol sent, and bytes sent against the protocol's minimum. With
``--compare mpyc`` the same sum runs in MPyC and the row gets our speed-up.
"""

from __future__ import annotations

import numpy as np

from mpc.app.bench._common import BenchConfig, Row, fast_samples, stats
from mpc.app.bench import _mpyc
from mpc.app.bench._rawpeer import RawPeer
from mpc.app.bench._scenario import run_scenario

SUITE = "sum"
LOW, HIGH = -1000, 1000


def scenario(parties: int, size: int, sharing: str) -> dict:
    return {
        "name": f"bench-sum-{parties}-{size}-{sharing}", "protocol": "sum", "parties": parties,
        "sharing": sharing, "seed": 7, "timeout_s": 60.0,
        "inputs": {"default": {"random": size, "low": LOW, "high": HIGH}},
    }


def min_bytes(parties: int, size: int, sharing: str) -> int:
    """Every party deals n − 1 shares (Shamir: n − 1 − t, the t next parties get 32-byte seeds),
    then sends its share of the sum to n − 1 others (Shamir: to the t that open from it, a ring)."""
    if sharing == "shamir" and parties > 1:  # (n − 1 − t) + t vectors, whatever t
        return parties * (parties - 1) * 8 * size
    return parties * 2 * (parties - 1) * 8 * size


def run(cfg: BenchConfig) -> list[Row]:
    rows: list[Row] = []
    repeat = cfg.repeats()
    compare = "mpyc" in cfg.compare
    with RawPeer() as peer:
        for parties in cfg.parties_or((3, 5), (3,)):
            for size in cfg.sizes_or((10**5, 10**6), (10**4,)):
                gen = [np.random.default_rng([7, p]).integers(LOW, HIGH, size) for p in range(1, parties + 1)]
                plain = stats(fast_samples(lambda: np.sum(np.stack(gen), axis=0), 3, min_time=0.02))[0]
                mpyc_s = None
                if compare and _mpyc.available() is None:
                    # one MPyC run at 10^6 elements takes 10-25 s here: measured once
                    runs = [_mpyc.run("sum", parties, size) for _ in range(repeat if size < 10**6 else 1)]
                    mrow = Row(suite=SUITE, name="mpyc secure sum", params={"parties": parties, "size": size})
                    mrow.set_times([r.protocol_s for r in runs], size, "elem/s")
                    mrow.extra["total_s"] = stats([r.elapsed_s for r in runs])[0]
                    mpyc_s = mrow.median_s
                for sharing in ("shamir", "additive"):
                    figs = [run_scenario(scenario(parties, size, sharing)) for _ in range(repeat)]
                    row = Row(suite=SUITE, name=f"secure sum ({sharing})", params={"parties": parties, "size": size})
                    row.set_times([f.protocol_s for f in figs], size, "elem/s")
                    sent = figs[0].bytes
                    raw = peer.seconds_to_move(sent, 8 * size)
                    total = stats([f.elapsed_s for f in figs])
                    row.ratios.update({
                        "vs_plaintext": row.median_s / plain,
                        "total_vs_plaintext": total[0] / plain,
                        "vs_raw_pynng": row.median_s / raw,
                        "bytes_vs_min": sent / min_bytes(parties, size, sharing),
                    })
                    row.extra.update({"total_s": total[0], "plaintext_s": plain, "raw_pynng_s": raw,
                                      "bytes": sent, "messages": figs[0].messages})
                    if mpyc_s is not None:
                        row.ratios["speedup_vs_mpyc"] = mpyc_s / row.median_s
                    rows.append(row)
                if mpyc_s is not None:
                    rows.append(mrow)
                elif compare:
                    rows.append(Row(suite=SUITE, name="mpyc secure sum", params={"parties": parties, "size": size},
                                    skipped=_mpyc.available()))
    return rows
