"""What every bench suite shares: the configuration, a result row, timing helpers."""


from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mpc.errors import ConfigError


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


__all__ = ["BenchConfig", "Row", "Skipped", "fast_samples", "samples", "skipped_row", "stats", "timed"]
