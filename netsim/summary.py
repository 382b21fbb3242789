"""Summaries of a JSONL message trace (see :mod:`netsim.trace`): per round, per party, critical path.

The critical path is the chain of messages that ends with the last arrival: each message's
predecessor is the latest message its sender had received before sending it (the one it most
plausibly waited for). Its hops show where the run's time went: in flight (latency,
serialization, queueing) or waiting at a party (a timeout, or compute, which is free in virtual
time).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mpc.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Sent:
    t: float
    at: float | None
    src: int
    dst: int
    inst: str
    tag: str
    size: int


@dataclass(slots=True)
class Tally:
    messages: int = 0
    bytes: int = 0
    dropped: int = 0
    first: float = float("inf")
    last: float = float("-inf")

    def add(self, m: Sent) -> None:
        self.messages += 1
        self.bytes += m.size
        self.first = min(self.first, m.t)
        if m.at is None:
            self.dropped += 1
        else:
            self.last = max(self.last, m.at)


@dataclass(slots=True)
class Summary:
    total: Tally = field(default_factory=Tally)
    rounds: dict[str, Tally] = field(default_factory=dict)
    sent: dict[int, Tally] = field(default_factory=dict)
    received: dict[int, Tally] = field(default_factory=dict)
    critical: list[Sent] = field(default_factory=list)


def read(path: str) -> Iterator[Sent]:
    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise ConfigError(f"cannot read trace {path}: {exc}") from None
    with fh:
        for n, line in enumerate(fh, 1):
            try:
                d = json.loads(line)
                yield Sent(float(d["t"]), None if d["at"] is None else float(d["at"]), int(d["from"]),
                           int(d["to"]), str(d["inst"]), str(d["tag"]), int(d["size"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"{path}:{n}: not a trace line ({exc})") from None


def round_name(m: Sent) -> str:
    return m.tag if not m.inst else f"{m.inst}/{m.tag}"


def summarize(messages: Iterable[Sent]) -> Summary:
    s = Summary()
    trace = list(messages)
    for m in trace:
        s.total.add(m)
        s.rounds.setdefault(round_name(m), Tally()).add(m)
        s.sent.setdefault(m.src, Tally()).add(m)
        if m.at is not None:
            s.received.setdefault(m.dst, Tally()).add(m)
    s.critical = critical_path(trace)
    return s


def critical_path(trace: list[Sent]) -> list[Sent]:
    arrived = sorted((m for m in trace if m.at is not None), key=lambda m: (m.at, m.t))
    if not arrived:
        return []
    inbox: dict[int, tuple[list[float], list[Sent]]] = {}
    for m in arrived:
        times, msgs = inbox.setdefault(m.dst, ([], []))
        times.append(m.at)  # type: ignore[arg-type]
        msgs.append(m)
    path = [arrived[-1]]
    seen = {id(arrived[-1])}
    while True:
        m = path[-1]
        times, msgs = inbox.get(m.src, ([], []))
        k = bisect.bisect_right(times, m.t) - 1
        if k < 0 or id(msgs[k]) in seen:  # zero-latency links can make equal-time cycles
            break
        seen.add(id(msgs[k]))
        path.append(msgs[k])
    return path[::-1]


def _ms(t: float) -> str:
    return f"{t * 1000:10.3f}"


def render(s: Summary, top: int = 20) -> str:
    t = s.total
    if not t.messages:
        return "empty trace"
    span = (t.last if t.last > float("-inf") else t.first) - t.first
    out = [f"{t.messages} messages, {t.bytes} bytes, {t.dropped} lost, span {span * 1000:.3f} ms (virtual)", ""]
    out.append(f"{'round':40} {'msgs':>8} {'bytes':>12} {'lost':>6} {'first ms':>10} {'last ms':>10}")
    for name, r in sorted(s.rounds.items(), key=lambda kv: kv[1].first):
        last = _ms(r.last) if r.last > float("-inf") else f"{'-':>10}"
        out.append(f"{name[:40]:40} {r.messages:8} {r.bytes:12} {r.dropped:6} {_ms(r.first)} {last}")
    out += ["", f"{'party':>6} {'sent':>8} {'bytes out':>12} {'received':>9} {'bytes in':>12}"]
    parties = sorted(set(s.sent) | set(s.received))
    shown = parties if len(parties) <= top else parties[:top]
    for p in shown:
        a, b = s.sent.get(p, Tally()), s.received.get(p, Tally())
        out.append(f"{p:6} {a.messages:8} {a.bytes:12} {b.messages:9} {b.bytes:12}")
    if len(shown) < len(parties):
        out.append(f"  ... {len(parties) - len(shown)} more parties")
    out += ["", "critical path (send ms -> arrival ms, then the wait at the next sender):"]
    prev_at: float | None = None
    for m in s.critical:
        wait = "" if prev_at is None else f"  (waited {(m.t - prev_at) * 1000:.3f} ms)"
        out.append(f"  {_ms(m.t)} -> {_ms(m.at or 0.0)}  {m.src:>5} -> {m.dst:<5} {round_name(m)} "
                   f"{m.size} B{wait}")
        prev_at = m.at
    if s.critical:
        flight = sum((m.at or m.t) - m.t for m in s.critical)
        total = (s.critical[-1].at or 0.0) - s.critical[0].t
        out.append(f"  in flight {flight * 1000:.3f} ms of {total * 1000:.3f} ms")
    return "\n".join(out)


def as_json(s: Summary) -> dict[str, Any]:
    def tally(x: Tally) -> dict[str, Any]:
        return {"messages": x.messages, "bytes": x.bytes, "dropped": x.dropped, "first": x.first,
                "last": x.last if x.last > float("-inf") else None}

    return {
        "total": tally(s.total),
        "rounds": {k: tally(v) for k, v in s.rounds.items()},
        "sent": {str(k): tally(v) for k, v in s.sent.items()},
        "received": {str(k): tally(v) for k, v in s.received.items()},
        "critical_path": [{"t": m.t, "at": m.at, "from": m.src, "to": m.dst, "round": round_name(m),
                           "size": m.size} for m in s.critical],
    }


def plot(trace: list[Sent], out: str, limit: int = 20_000) -> None:
    """A timeline: one segment per message from (sent, sender) to (arrival, receiver)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("plotting needs matplotlib (install the 'plot' extra)") from None
    shown = trace if len(trace) <= limit else trace[:: len(trace) // limit + 1]
    rounds = sorted({round_name(m) for m in shown}, key=lambda r: min(m.t for m in shown if round_name(m) == r))
    colors = {r: plt.cm.tab10(k % 10) for k, r in enumerate(rounds)}
    fig, ax = plt.subplots(figsize=(10, 5))
    for m in shown:
        if m.at is None:
            ax.plot([m.t * 1000], [m.src], "x", color="red", markersize=4)
        else:
            ax.plot([m.t * 1000, m.at * 1000], [m.src, m.dst], color=colors[round_name(m)], linewidth=0.6, alpha=0.7)
    for r in rounds[:10]:
        ax.plot([], [], color=colors[r], label=r.lstrip("_"))  # matplotlib hides labels starting with _
    ax.set_xlabel("virtual time (ms)")
    ax.set_ylabel("party")
    ax.legend(loc="upper left", fontsize=7)
    ax.set_title(f"message timeline ({len(shown)} of {len(trace)} messages; x: lost)")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


__all__ = ["Sent", "Summary", "Tally", "as_json", "critical_path", "plot", "read", "render", "summarize"]
