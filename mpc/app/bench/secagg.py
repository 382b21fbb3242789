"""``mpc bench secagg``: compute time and traffic of one SecAgg round, per role.

The round runs in-process (:func:`protocols.secagg.inprocess.run_round`): every client and the
server are real state machines, but messages are handed over directly, so the figures are pure
compute — the clock is read around each ``start``/``receive`` call, never around the network.
The round is ``isolated``: no key agreement or check is shared between the in-process clients, so
a client's time is what it would spend alone.
Bytes are the encoded messages (the wire format, per client, both directions).

Default grid: n = 10, 100, 500 clients, dimension 10^5, dropout 0 %, 10 %, 30 % (dropouts
spread over the stages: before keys, after keys, after sharing, after masked input, during
unmasking), plus 30 % all dropping after sharing (stage=share_keys: the server must rebuild every
pairwise mask they left behind — the worst case, and the setting of Bonawitz et al.'s figures),
plus SecAgg+ rows for n ≥ 100 (10 % dropouts, degree and threshold derived with γ = 0).
Times are process CPU seconds (``time.process_time``). ``--quick`` runs tiny sizes. ``--parties``/``--sizes`` override n and the dimension.
The output is checked against the plaintext sum of the used clients on every run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import numpy as np

from mpc.app.bench._common import BenchConfig, Row

STAGES = ("join", "advertise", "share_keys", "masked_input", "consistency")
DEFAULT_N = (10, 100, 500)
EVERY_SUITE_N = (10, 100)  # in a run of every suite: 500 clients cost ~8 min of CPU, run `mpc bench secagg`
DEFAULT_DIM = (10**5,)
DROPOUTS = (0.0, 0.1, 0.3)


def _drops(n: int, rate: float, stage: str = "mixed") -> dict[int, str]:
    """round(rate · n) clients, spread evenly over ids and cyclically over the stages (or all at
    one ``stage``; ``share_keys`` is the server's worst case, as in Bonawitz et al.'s figures)."""
    k = round(rate * n)
    ids: Sequence[int] = np.linspace(1, n, num=k, dtype=np.int64).tolist() if k else []
    return {int(u): STAGES[i % len(STAGES)] if stage == "mixed" else stage for i, u in enumerate(ids)}


def measure(n: int, dim: int, rate: float, variant: str = "secagg", repeat: int = 1,
            stage: str = "mixed") -> list[Row]:
    from protocols.secagg import Params
    from protocols.secagg.inprocess import run_round

    clients = tuple(range(1, n + 1))
    # isolated: every client pays for all of its own work (no key agreement or check shared in-process)
    params = Params.make(clients, {"variant": variant, "corrupt_fraction": 0.0} if variant == "secagg+" else {},
                         isolated=True)
    gen = np.random.default_rng(n)  # public benchmark data
    inputs = {u: gen.integers(-(10**6), 10**6, dim) for u in clients}
    drops = _drops(n, rate, stage)
    server_s: list[float] = []
    client_s: list[float] = []
    totals: list[float] = []
    up = down = 0
    used = 0
    for _ in range(max(1, repeat)):
        trace = run_round(params, inputs, drop_after=drops, clock=time.process_time, measure_bytes=True)
        if trace.server_error is not None:
            raise RuntimeError(f"benchmark round failed: {trace.server_error}")
        who = trace.server.used()
        if trace.output is None or not np.array_equal(trace.output, np.sum([inputs[u] for u in who], axis=0)):
            raise RuntimeError("benchmark round produced a wrong sum")
        used = len(who)
        server_s.append(trace.server_seconds)
        finishers = [u for u in clients if u not in drops]
        client_s += [trace.client_seconds[u] for u in finishers]
        totals.append(trace.server_seconds + sum(trace.client_seconds.values()))
        up = int(statistics.median(trace.bytes_up[u] for u in finishers))
        down = int(statistics.median(trace.bytes_down[u] for u in finishers))
    params_row = {"n": n, "dim": dim, "drop": rate, "stage": stage, "variant": variant}
    extra = {"used": used, "bytes_up_per_client": up, "bytes_down_per_client": down,
             "plain_bytes": 8 * dim, "total_cpu_s": statistics.median(totals)}
    return [
        Row(suite="secagg", name="server", params=dict(params_row), median_s=statistics.median(server_s),
            min_s=min(server_s), max_s=max(server_s), extra=dict(extra)),
        Row(suite="secagg", name="client", params=dict(params_row), median_s=statistics.median(client_s),
            min_s=min(client_s), max_s=max(client_s), extra=dict(extra)),
    ]


def run(cfg: BenchConfig) -> list[Row]:
    ns: tuple[int, ...]
    dims: tuple[int, ...]
    rates: tuple[float, ...]
    if cfg.quick:
        ns, dims, rates = (5, 10), (1000,), (0.0, 0.3)
    else:
        ns = cfg.parties if cfg.parties is not None else (EVERY_SUITE_N if cfg.every_suite else DEFAULT_N)
        dims = DEFAULT_DIM if cfg.sizes is None else cfg.sizes
        rates = DROPOUTS
    rows: list[Row] = []
    for dim in dims:
        for n in ns:
            for rate in rates:
                # big rounds cost minutes of CPU: one repeat (figures are per-client medians anyway)
                repeat = cfg.repeat if n * dim <= 10**7 else 1
                rows += measure(n, dim, rate, repeat=repeat)
                if rate == max(rates) and rate > 0:  # the server's worst case: all drop after sharing
                    rows += measure(n, dim, rate, repeat=repeat, stage="share_keys")
            if n >= 100 and not cfg.quick:  # SecAgg+ (degree/threshold derived, gamma = 0): O(degree) per client
                rows += measure(n, dim, 0.1, variant="secagg+", repeat=repeat)
    return rows


__all__ = ["measure", "run"]
