"""Field and ring arithmetic: GF(2^61 − 1) and Z_2^64 element operations per second, against plain
numpy ``uint64`` operations on the same arrays (the floor any vectorized Python code stands on)."""

from __future__ import annotations

import numpy as np

from mpc.field import GF61, Z64
from mpc.rng import Csprng
from mpc.app.bench._common import BenchConfig, Row, fast_samples

SUITE = "field"
INV_SCALARS = 2000


def _fermat_inverse(a: np.ndarray) -> np.ndarray:
    """a^(p−2) by square-and-multiply on whole arrays: the vectorized way to batch-invert in GF(p)."""
    result = np.ones_like(a)
    base = a.copy()
    e = GF61.modulus - 2
    while e:
        if e & 1:
            result = GF61.mul(result, base)
        base = GF61.mul(base, base)
        e >>= 1
    return result


def run(cfg: BenchConfig) -> list[Row]:
    rows: list[Row] = []
    rng = Csprng(bytes(32))  # public benchmark data: a fixed key keeps runs comparable
    repeat = max(cfg.repeats(), 3)
    for size in cfg.sizes_or((10**3, 10**6), (10**5,)):
        a, b = GF61.random(rng, size), GF61.random(rng, size)
        ra, rb = Z64.random(rng, size), Z64.random(rng, size)
        ops = [
            ("numpy uint64 mul", lambda: np.multiply(ra, rb), "numpy uint64 mul"),
            ("numpy uint64 add", lambda: np.add(ra, rb), "numpy uint64 add"),
            ("gf61 mul", lambda: GF61.mul(a, b), "numpy uint64 mul"),
            ("gf61 add", lambda: GF61.add(a, b), "numpy uint64 add"),
            ("gf61 sub", lambda: GF61.sub(a, b), "numpy uint64 add"),
            ("z64 mul", lambda: Z64.mul(ra, rb), "numpy uint64 mul"),
            ("z64 add", lambda: Z64.add(ra, rb), "numpy uint64 add"),
        ]
        measured: dict[str, Row] = {}
        for name, fn, base in ops:
            row = Row(suite=SUITE, name=name, params={"size": size})
            row.set_times(fast_samples(fn, repeat), size, "elem/s")
            # micro-benchmark ratios compare minima: noise from other processes only adds time
            if base != name:
                row.ratios["slowdown_vs_numpy"] = row.min_s / measured[base].min_s
            measured[name] = row
            rows.append(row)
        # batch inversion: ~120 vectorized multiplications per element
        k = min(size, 10**5)
        row = Row(suite=SUITE, name="gf61 inverse (vector Fermat)", params={"size": k})
        row.set_times(fast_samples(lambda: _fermat_inverse(a[:k]), min(repeat, 3), min_time=0.0), k, "elem/s")
        rows.append(row)
    scalars = [int(x) or 1 for x in GF61.random(rng, INV_SCALARS)]
    row = Row(suite=SUITE, name="gf61 inverse (scalar pow)", params={"size": INV_SCALARS})
    row.set_times(fast_samples(lambda: [GF61.inv(c) for c in scalars], repeat, min_time=0.0), INV_SCALARS, "op/s")
    rows.append(row)
    return rows
