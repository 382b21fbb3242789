"""``mpc bench``: benchmark suites, each a module ``mpc.bench.<suite>`` with ``run(cfg) -> list[Row]``.

Figures are medians of repeats with min and max; every suite reports ratios measured in the same
run (secure vs plaintext, bytes vs the theoretical minimum, time vs raw pynng), because shared
machines are noisy and absolute numbers travel badly.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchConfig:
    parties: tuple[int, ...] = (3,)
    sizes: tuple[int, ...] = (10**6,)
    repeat: int = 3
    quick: bool = False
    compare: tuple[str, ...] = ()


@dataclass(slots=True, kw_only=True)
class Row:
    suite: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    median_s: float = 0.0
    min_s: float = 0.0
    max_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # rates, bytes, ratios


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    """(median, min, max) wall seconds of ``fn()`` over ``repeat`` runs."""
    times = []
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times)


def suites() -> list[str]:
    import mpc.bench as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def run_suite(name: str, cfg: BenchConfig) -> list[Row]:
    if name not in suites():
        raise ConfigError(f"unknown bench suite {name!r}; known: {', '.join(suites())}")
    module = importlib.import_module(f"mpc.bench.{name}")
    return list(module.run(cfg))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def print_rows(rows: list[Row]) -> None:
    for r in rows:
        params = " ".join(f"{k}={_fmt(v)}" for k, v in r.params.items())
        extra = " ".join(f"{k}={_fmt(v)}" for k, v in r.extra.items())
        print(f"{r.suite:<10} {r.name:<28} {params:<24} median {r.median_s * 1e3:10.3f} ms "
              f"[{r.min_s * 1e3:.3f}, {r.max_s * 1e3:.3f}]  {extra}")


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(float(x)) for x in text.split(",") if x)
    except ValueError:
        raise ConfigError(f"expected comma-separated numbers, got {text!r}") from None


def main(args: argparse.Namespace) -> int:
    cfg = BenchConfig(
        parties=_ints(args.parties),
        sizes=_ints(args.sizes),
        repeat=1 if args.quick else args.repeat,
        quick=args.quick,
        compare=tuple(x for x in getattr(args, "compare", "").split(",") if x),
    )
    rows: list[Row] = []
    for name in args.suites or ["sum"]:
        got = run_suite(name, cfg)
        print_rows(got)
        rows.extend(got)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"config": asdict(cfg), "rows": [asdict(r) for r in rows]}, fh, indent=1)
    return 0


__all__ = ["BenchConfig", "Row", "main", "print_rows", "run_suite", "suites", "timed"]
