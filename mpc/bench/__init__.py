"""``mpc bench``: benchmark suites, each a module ``mpc.bench.<suite>`` with ``run(cfg) -> list[Row]``.

Figures are medians of repeats with min and max; every suite reports ratios measured in the same
run (secure vs plaintext, bytes vs the theoretical minimum, time vs raw pynng), because shared
machines are noisy and absolute numbers travel badly. Modules whose name starts with ``_`` are
helpers, not suites. A suite that cannot run here (a protocol not registered yet, an optional
package missing) returns a row marked ``skipped`` with the reason; it never fakes a figure.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchConfig:
    """What the user asked for; ``None`` means "the suite's own default"."""

    parties: tuple[int, ...] | None = None
    sizes: tuple[int, ...] | None = None
    repeat: int = 3
    quick: bool = False
    compare: tuple[str, ...] = ()
    every_suite: bool = False  # no suite was named: suites keep their heaviest rows for a named run

    def sizes_or(self, default: Sequence[int], quick: Sequence[int]) -> tuple[int, ...]:
        if self.sizes is not None:
            return self.sizes
        return tuple(quick if self.quick else default)

    def parties_or(self, default: Sequence[int], quick: Sequence[int] | None = None) -> tuple[int, ...]:
        if self.parties is not None:
            return self.parties
        return tuple(quick if self.quick and quick is not None else default)

    def repeats(self) -> int:
        """Repeats of a slow measurement (a real multi-process run): 1 in quick mode."""
        return 1 if self.quick else self.repeat


@dataclass(slots=True, kw_only=True)
class Row:
    suite: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    median_s: float = 0.0
    min_s: float = 0.0
    max_s: float = 0.0
    rate: float | None = None  # elements (or operations, or bytes) per second at the median
    unit: str = ""  # what ``rate`` counts: "elem/s", "op/s", "MB/s", ...
    ratios: dict[str, float] = field(default_factory=dict)  # measured in the same run
    extra: dict[str, Any] = field(default_factory=dict)  # bytes, breakdowns, notes
    skipped: str | None = None

    def set_times(self, times: Sequence[float], count: float | None = None, unit: str = "") -> Row:
        """Fill median/min/max from ``times``; ``count`` items per run gives ``rate``."""
        self.median_s, self.min_s, self.max_s = stats(times)
        if count is not None and self.median_s > 0:
            self.rate, self.unit = count / self.median_s, unit
        return self


class Skipped(Exception):
    """A measurement that cannot be taken here (missing protocol or package)."""


def stats(times: Sequence[float]) -> tuple[float, float, float]:
    if not times:
        raise ValueError("no measurements")
    return statistics.median(times), min(times), max(times)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    """(median, min, max) wall seconds of ``fn()`` over ``repeat`` runs."""
    return stats(samples(fn, repeat))


def samples(fn: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def fast_samples(fn: Callable[[], Any], repeat: int, min_time: float = 0.05) -> list[float]:
    """Per-call seconds of a fast ``fn``: each sample loops until ``min_time`` has passed."""
    fn()  # warm caches and allocator
    loops = 1
    while True:
        t = time.perf_counter()
        for _ in range(loops):
            fn()
        dt = time.perf_counter() - t
        if dt >= min_time or loops >= 1 << 20:
            break
        loops *= 2
    out = [dt / loops]
    for _ in range(max(1, repeat) - 1):
        t = time.perf_counter()
        for _ in range(loops):
            fn()
        out.append((time.perf_counter() - t) / loops)
    return out


def skipped_row(suite: str, name: str, reason: str, **params: Any) -> Row:
    return Row(suite=suite, name=name, params=params, skipped=reason)


def suites() -> list[str]:
    import mpc.bench as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def run_suite(name: str, cfg: BenchConfig) -> list[Row]:
    if name not in suites():
        raise ConfigError(f"unknown bench suite {name!r}; known: {', '.join(suites())}")
    module = importlib.import_module(f"mpc.bench.{name}")
    return list(module.run(cfg))


def _ints(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(int(float(x)) for x in text.split(",") if x)
    except ValueError:
        raise ConfigError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"expected positive numbers, got {text!r}")
    return values


KNOWN_COMPARE = ("mpyc",)


def config_of(args: argparse.Namespace) -> BenchConfig:
    compare = tuple(x for x in (getattr(args, "compare", None) or "").split(",") if x)
    unknown = set(compare) - set(KNOWN_COMPARE)
    if unknown:
        raise ConfigError(f"--compare knows {', '.join(KNOWN_COMPARE)}, not {', '.join(sorted(unknown))}")
    if args.repeat < 1:
        raise ConfigError("--repeat must be at least 1")
    return BenchConfig(
        parties=_ints(args.parties),
        sizes=_ints(args.sizes),
        repeat=args.repeat,
        quick=args.quick,
        compare=compare,
    )


def main(args: argparse.Namespace) -> int:
    from ._report import print_header, print_rows, write_json, write_plot

    cfg = config_of(args)
    if not args.suites:
        cfg = dataclasses.replace(cfg, every_suite=True)
    names = list(args.suites) or suites()
    for name in names:
        if name not in suites():
            raise ConfigError(f"unknown bench suite {name!r}; known: {', '.join(suites())}")
    rows: list[Row] = []
    failed: list[str] = []
    print_header(cfg)
    for name in names:
        t = time.perf_counter()
        try:
            got = run_suite(name, cfg)
        except Exception as exc:  # one broken suite must not hide the others' figures
            failed.append(name)
            print(f"{name}: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            got = [Row(suite=name, name="(suite)", skipped=None, extra={"error": f"{type(exc).__name__}: {exc}"})]
        else:
            print_rows(got)
            print(f"  ({name}: {time.perf_counter() - t:.1f} s)")
        rows.extend(got)
        sys.stdout.flush()
    if args.json:
        write_json(args.json, cfg, rows, failed)
    if getattr(args, "plot", None):
        write_plot(args.plot, rows)
    if failed:
        print(f"mpc bench: suites failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


__all__ = [
    "BenchConfig", "Row", "Skipped", "fast_samples", "main", "run_suite", "samples",
    "skipped_row", "stats", "suites", "timed",
]
