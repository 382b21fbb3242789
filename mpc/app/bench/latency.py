"""Latency of dependent multiplications (the ``mulchain`` scenario protocol, ``options.k``
sequential multiplications of one-element vectors) over both transports (pynng and asyncio TCP):
seconds per multiplication against the raw round trip of the same kind of socket between two
processes (one multiplication needs at least one message delay), and (``--compare mpyc``) MPyC's
chain of the same length, measured in the same run, interleaved with ours.

Next to the wall time, every row gives the machine's cost of one round: CPU seconds and context
switches summed over all party processes (``getrusage(RUSAGE_CHILDREN)`` of the launcher around each
run, which counts every party once it has exited), per multiplication, as the difference between a
chain of ``k`` and a chain of 0 (start-up, connection set-up, input sharing and exit cancel out).
"""

from __future__ import annotations

import resource
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mpc.app.bench import _mpyc
from mpc.app.bench._common import BenchConfig, Row, Skipped, stats
from mpc.app.bench._mulbench import TRIPLES, ours_or_skip, scenario
from mpc.app.bench._rawpeer import RawPeer, tcp_round_trip
from mpc.app.bench._scenario import run_scenario

SUITE = "latency"
SMALL = 64
TRANSPORTS = ("nng", "tcp")


@dataclass(slots=True)
class Sample:
    wall_s: float  # per multiplication, the parties' own clocks (online phase where reported)
    cpu_s: float  # every party process, the whole run
    switches: int  # voluntary + involuntary context switches of every party process
    extra: dict[str, Any]


def _children() -> tuple[float, int]:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime, ru.ru_nvcsw + ru.ru_nivcsw


def sample(run: Callable[[], tuple[float, dict[str, Any]]]) -> Sample:
    """Run one multi-process computation and charge it the CPU and switches of its processes."""
    cpu0, sw0 = _children()
    wall, extra = run()
    cpu1, sw1 = _children()
    return Sample(wall, cpu1 - cpu0, sw1 - sw0, extra)


def ours(parties: int, triples: str, transport: str, k: int) -> Callable[[], tuple[float, dict[str, Any]]]:
    # values in {-1, 0, 1}: a product of any length stays small in every reference
    doc = scenario("mulchain", parties, 1, triples, -1, 2, options={"k": k})
    doc["transport"] = transport

    def run() -> tuple[float, dict[str, Any]]:
        f = run_scenario(doc)
        mults = int(f.meta.get("multiplications", k)) or 1
        return f.meta.get("online_s", f.protocol_s) / mults, {"protocol_s": f.protocol_s, "total_s": f.elapsed_s,
                                                              "messages": f.messages, "bytes": f.bytes}
    return run


def theirs(parties: int, k: int) -> Callable[[], tuple[float, dict[str, Any]]]:
    def run() -> tuple[float, dict[str, Any]]:
        r = _mpyc.run("chain", parties, k)
        return r.protocol_s / max(k, 1), {"protocol_s": r.protocol_s, "total_s": r.elapsed_s}
    return run


def per_round(chain: list[Sample], empty: list[Sample], k: int) -> dict[str, float]:
    """CPU seconds and context switches of one multiplication: chain of k minus chain of 0."""
    cpu = (statistics.median(s.cpu_s for s in chain) - statistics.median(s.cpu_s for s in empty)) / k
    sw = (statistics.median(s.switches for s in chain) - statistics.median(s.switches for s in empty)) / k
    return {"cpu_per_round_s": cpu, "switches_per_round": sw}


def row_of(name: str, params: dict[str, Any], chain: list[Sample], empty: list[Sample], k: int,
           wall_of_empty: bool = False) -> Row:
    """``wall_of_empty``: the chain's wall time includes input and output (MPyC's clock): subtract
    the empty chain's, as our parties' ``online_s`` (the multiplications alone) does."""
    base = statistics.median(s.wall_s for s in empty) / k if wall_of_empty else 0.0
    row = Row(suite=SUITE, name=name, params=params).set_times([s.wall_s - base for s in chain], 1, "mul/s")
    row.extra.update(per_round(chain, empty, k))
    row.extra["per_mul_s"] = row.median_s
    for key in chain[0].extra:
        row.extra[key] = stats([s.extra[key] for s in chain])[0]
    return row


def compare_rows(row: Row, other: Row, label: str) -> None:
    """Ratios of wall and CPU time per multiplication (a CPU difference lost in noise gives none)."""
    row.ratios[f"per_mul_vs_{label}"] = row.median_s / other.median_s
    mine, theirs_cpu = row.extra["cpu_per_round_s"], other.extra["cpu_per_round_s"]
    if mine > 0 and theirs_cpu > 0:
        row.ratios[f"cpu_per_round_vs_{label}"] = mine / theirs_cpu


def run(cfg: BenchConfig) -> list[Row]:
    rows: list[Row] = []
    repeat = cfg.repeats()
    k = 200 if cfg.quick else 1000  # the per-round CPU is a difference of two runs: k must dwarf the noise
    with RawPeer() as peer:
        rtt = {"nng": min(peer.round_trip(SMALL, 200) for _ in range(3))}
    rtt["tcp"] = min(tcp_round_trip(SMALL, 200, 3))
    compare = "mpyc" in cfg.compare
    for parties in cfg.parties_or((3, 5), (3,)):
        params = {"parties": parties, "k": k}
        mpyc: Row | None = None
        if compare:
            try:
                _mpyc.require()
            except Skipped as exc:
                mpyc = Row(suite=SUITE, name="mpyc mul chain", params=params, skipped=str(exc))
        configs: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {}
        for triples in TRIPLES[:1] if cfg.quick else TRIPLES:
            for transport in TRANSPORTS:
                name = f"mul chain ({triples}, {transport})"
                skip = ours_or_skip(SUITE, "mulchain", name, {**params, "transport": transport})
                if skip is not None:
                    rows.append(skip)
                    continue
                configs[name] = (ours(parties, triples, transport, k), ours(parties, triples, transport, 0))
        if compare and mpyc is None:
            configs["mpyc mul chain"] = (theirs(parties, k), theirs(parties, 0))
        chains: dict[str, list[Sample]] = {n: [] for n in configs}
        empties: dict[str, list[Sample]] = {n: [] for n in configs}
        for _ in range(repeat):  # interleaved: a change in machine load hits every runtime alike
            for name, (chain, empty) in configs.items():
                chains[name].append(sample(chain))
                empties[name].append(sample(empty))
        found = {}
        for name in configs:
            extra_params = {} if name.startswith("mpyc") else {"transport": name.rsplit(", ", 1)[1].rstrip(")")}
            found[name] = row_of(name, {**params, **extra_params}, chains[name], empties[name], k,
                                 wall_of_empty=not extra_params)
        mpyc = found.pop("mpyc mul chain", mpyc)
        for name, row in found.items():
            transport = row.params["transport"]
            row.extra["raw_rtt_s"] = rtt[transport]
            row.ratios["per_mul_vs_raw_rtt"] = row.median_s / rtt[transport]
            if transport == "tcp":
                twin = found.get(name.replace(", tcp)", ", nng)"))
                if twin is not None:
                    compare_rows(row, twin, "nng")
            if mpyc is not None and mpyc.skipped is None:
                compare_rows(row, mpyc, "mpyc")
                row.ratios["speedup_vs_mpyc"] = mpyc.median_s / row.median_s
            rows.append(row)
        if mpyc is not None:
            rows.append(mpyc)
    return rows
