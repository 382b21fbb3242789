"""How bench results leave the process: a table on stdout, a JSON file, a throughput plot."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict
from typing import Any

from mpc.errors import ConfigError
from mpc.app.bench._common import BenchConfig, Row


def machine() -> dict[str, Any]:
    """A short description of where the figures were measured (they mean nothing without it)."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        if names:
            info["cpu"] = names[0]
    except OSError:
        pass
    try:
        info["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return info


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.2f} us"


def _rate(r: Row) -> str:
    if r.rate is None:
        return ""
    return f"{r.rate:.3g} {r.unit}".strip()


def print_header(cfg: BenchConfig) -> None:
    m = machine()
    print(f"mpc bench on {m.get('cpu', platform.machine())}, {m['cpus']} CPUs, Python {m['python']}, "
          f"load {m.get('loadavg')}" + (" (quick)" if cfg.quick else ""))


def print_rows(rows: list[Row]) -> None:
    for r in rows:
        params = " ".join(f"{k}={_fmt(v)}" for k, v in r.params.items())
        head = f"{r.suite:<9} {r.name:<30} {params:<18}"
        if r.skipped:
            print(f"{head} skipped: {r.skipped}")
            continue
        ratios = "  ".join(f"{k} {v:.3g}x" for k, v in r.ratios.items())
        print(f"{head} {_seconds(r.median_s):>10} [{_seconds(r.min_s)} .. {_seconds(r.max_s)}]"
              f"  {_rate(r):<16} {ratios}")
        if r.extra:
            print(" " * 10 + "  ".join(f"{k}={_fmt(v)}" for k, v in r.extra.items()))


def write_json(path: str, cfg: BenchConfig, rows: list[Row], failed: list[str]) -> None:
    doc = {"config": asdict(cfg), "machine": machine(), "argv": sys.argv[1:], "failed": failed,
           "rows": [asdict(r) for r in rows]}
    with open(path, "w") as fh:
        json.dump(doc, fh, indent=1)


def write_plot(path: str, rows: list[Row]) -> None:
    """Throughput vs size, log-log: one panel per suite, one line per (row name, parties)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("--plot needs matplotlib: install the 'plot' extra") from None
    panels: dict[str, dict[str, list[tuple[int, float]]]] = {}
    units: dict[str, str] = {}
    for r in rows:
        size = r.params.get("size")
        if r.skipped or r.rate is None or not isinstance(size, int):
            continue
        label = r.name + (f" (n={r.params['parties']})" if "parties" in r.params else "")
        panels.setdefault(r.suite, {}).setdefault(label, []).append((size, r.rate))
        units[r.suite] = r.unit
    if not panels:
        raise ConfigError("--plot: no row with a size and a rate to plot")
    cols = min(2, len(panels))
    nrows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(7 * cols, 4.5 * nrows), squeeze=False)
    for ax, (suite, series) in zip(axes.flat, sorted(panels.items()), strict=False):
        for label, points in sorted(series.items()):
            points.sort()
            style = "--" if label.startswith("mpyc") or "numpy" in label or "floor" in label else "-"
            ax.plot([p[0] for p in points], [p[1] for p in points], style, marker="o", label=label)
        ax.set_title(suite)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("vector size (elements)")
        ax.set_ylabel(units[suite])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="x-small")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown(doc: dict[str, Any]) -> str:
    """A Markdown table of a ``--json`` file's rows (for docs/benchmarks.md)."""
    lines = ["| suite | row | params | median | [min .. max] | rate | ratios |", "|---|---|---|---|---|---|---|"]
    for r in doc["rows"]:
        params = " ".join(f"{k}={_fmt(v)}" for k, v in r["params"].items())
        if r["skipped"]:
            lines.append(f"| {r['suite']} | {r['name']} | {params} | skipped: {r['skipped']} | | | |")
            continue
        rate = f"{r['rate']:.3g} {r['unit']}" if r["rate"] is not None else ""
        ratios = ", ".join(f"{k} {v:.3g}x" for k, v in r["ratios"].items())
        lines.append(f"| {r['suite']} | {r['name']} | {params} | {_seconds(r['median_s'])} | "
                     f"{_seconds(r['min_s'])} .. {_seconds(r['max_s'])} | {rate} | {ratios} |")
    return "\n".join(lines) + "\n"


__all__ = ["machine", "markdown", "print_header", "print_rows", "write_json", "write_plot"]


if __name__ == "__main__":  # python -m mpc.app.bench._report FILE.json → Markdown table
    with open(sys.argv[1]) as fh:
        print(markdown(json.load(fh)), end="")
