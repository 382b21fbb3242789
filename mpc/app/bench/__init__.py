"""``mpc bench``: benchmark suites, each a module ``mpc.app.bench.<suite>`` with ``run(cfg) -> list[Row]``.

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
import sys
import time

from mpc.errors import ConfigError

from ._common import BenchConfig, Row, Skipped, fast_samples, samples, skipped_row, stats, timed
from ._report import print_header, print_rows, write_json, write_plot


SUITES = ("codec", "compare", "dot", "field", "latency", "mul", "netsim", "secagg", "startup", "sum", "transport")


def suites() -> list[str]:
    return list(SUITES)


def run_suite(name: str, cfg: BenchConfig) -> list[Row]:
    if name not in suites():
        raise ConfigError(f"unknown bench suite {name!r}; known: {', '.join(suites())}")
    module = importlib.import_module(f"mpc.app.bench.{name}")
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
