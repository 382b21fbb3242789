"""Link models: what a message from ``src`` to ``dst`` costs, from a scenario's ``[network]`` table.

A link has a one-way ``latency``, a ``jitter`` drawn from a seeded distribution, a ``bandwidth``
(serialization delay ``size / bandwidth`` behind a FIFO queue, per direction), a ``loss``
probability and a ``reorder`` probability. Keys (all optional)::

    [network]
    preset = "wan"            # lan | wan | mobile: defaults for every key below
    latency_ms = 20           # one-way propagation delay
    jitter_ms = 2             # scale of the jitter distribution
    jitter = "normal"         # normal (|N(0, j)|) | uniform (U[0, j]) | exponential (mean j) | pareto
    bandwidth_mbps = 1000     # per direction of each link; 0 or absent = unlimited
    uplink_mbps = 100         # per party: one egress queue shared by all its links
    loss = 0.001              # probability that one transmission of a message is lost
    loss_mode = "retransmit"  # retransmit (TCP: resent after rto_ms, later messages wait) | drop
    rto_ms = 200              # retransmission timeout (added per lost transmission)
    reorder = 0.0             # probability that a message may overtake earlier ones on its link

    cpu_scale = 0             # > 0: charge each party's measured compute x scale (netsim.cpu)

    [network.party.3]         # overrides for every link from or to party 3
    preset = "mobile"

    [[network.links]]         # overrides for one direction (asymmetric), or both with both = true
    from = 1
    to = 2
    latency_ms = 80

Precedence: base table < party override of the receiver < of the sender < a link entry.
The real transport is TCP (via nng), which never loses or reorders within a pair: the default
``loss_mode = "retransmit"`` models a loss as a retransmission delay with head-of-line blocking;
``loss_mode = "drop"`` loses the message for good (the receiver times out: ``PartyDropped``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mpc.errors import ConfigError

JITTERS = ("normal", "uniform", "exponential", "pareto")
LOSS_MODES = ("retransmit", "drop")
PRESETS: dict[str, dict[str, Any]] = {
    # a switched data-centre LAN
    "lan": {"latency_ms": 0.1, "jitter_ms": 0.02, "bandwidth_mbps": 10_000},
    # a continental WAN path over TCP
    "wan": {"latency_ms": 40, "jitter_ms": 4, "bandwidth_mbps": 100, "loss": 0.0005},
    # a cellular uplink: long tail jitter, small bandwidth, frequent losses
    "mobile": {"latency_ms": 70, "jitter_ms": 25, "jitter": "pareto", "bandwidth_mbps": 10, "loss": 0.01},
}
LINK_KEYS = {"preset", "latency_ms", "jitter_ms", "jitter", "bandwidth_mbps", "loss", "loss_mode", "rto_ms", "reorder"}
TOP_KEYS = LINK_KEYS | {"uplink_mbps", "party", "links", "cpu_scale"}
PARTY_KEYS = LINK_KEYS | {"uplink_mbps"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    """One direction of a link. Times in seconds, bandwidth in bytes per second (inf: unlimited)."""

    latency: float = 0.0
    jitter: float = 0.0
    jitter_dist: str = "normal"
    bandwidth: float = math.inf
    loss: float = 0.0
    loss_mode: str = "retransmit"
    rto: float = 0.2
    reorder: float = 0.0

    @property
    def constant(self) -> bool:
        """Whether every message on this link takes the same time (no per-link state needed)."""
        return not self.jitter and not self.loss and math.isinf(self.bandwidth)

    def serialization(self, size: int) -> float:
        return 0.0 if math.isinf(self.bandwidth) else size / self.bandwidth

    def draw_jitter(self, rng: random.Random) -> float:
        j = self.jitter
        if not j:
            return 0.0
        d = self.jitter_dist
        if d == "normal":
            return abs(rng.gauss(0.0, j))
        if d == "uniform":
            return rng.uniform(0.0, j)
        if d == "exponential":
            return rng.expovariate(1.0 / j)
        # Pareto with shape 2.5 scaled so that its mean is j: a heavy tail of late packets.
        return (rng.paretovariate(2.5) - 1.0) * j * 1.5

    def transmissions(self, rng: random.Random) -> int:
        """How many sends it takes until one gets through (0: dropped for good, in drop mode)."""
        if not self.loss or rng.random() >= self.loss:
            return 1
        if self.loss_mode == "drop":
            return 0
        k = 2
        while rng.random() < self.loss and k < 64:
            k += 1
        return k


def _number(table: Mapping[str, Any], key: str, where: str, low: float = 0.0, high: float = math.inf) -> float | None:
    if key not in table:
        return None
    v = table[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
        raise ConfigError(f"{where}.{key} must be a number in [{low:g}, {high:g}], got {v!r}")
    return float(v)


def _apply(base: Link, table: Mapping[str, Any], where: str) -> Link:
    """``base`` with the keys of ``table`` (a preset first, then the explicit keys) applied."""
    link = base
    if "preset" in table:
        name = table["preset"]
        if name not in PRESETS:
            raise ConfigError(f"{where}.preset must be one of {', '.join(PRESETS)}, got {name!r}")
        link = _apply(link, PRESETS[name], f"preset {name}")
    changes: dict[str, Any] = {}
    if (v := _number(table, "latency_ms", where)) is not None:
        changes["latency"] = v / 1000.0
    if (v := _number(table, "jitter_ms", where)) is not None:
        changes["jitter"] = v / 1000.0
    if (v := _number(table, "bandwidth_mbps", where)) is not None:
        changes["bandwidth"] = v * 1e6 / 8.0 if v > 0 else math.inf
    if (v := _number(table, "loss", where, high=0.99)) is not None:
        changes["loss"] = v
    if (v := _number(table, "rto_ms", where)) is not None:
        changes["rto"] = v / 1000.0
    if (v := _number(table, "reorder", where, high=1.0)) is not None:
        changes["reorder"] = v
    for key, attr, allowed in (("jitter", "jitter_dist", JITTERS), ("loss_mode", "loss_mode", LOSS_MODES)):
        if key in table:
            if table[key] not in allowed:
                raise ConfigError(f"{where}.{key} must be one of {', '.join(allowed)}, got {table[key]!r}")
            changes[attr] = table[key]
    return replace(link, **changes) if changes else link


def _check_keys(table: Any, allowed: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(table) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} (known: {', '.join(sorted(allowed))})")
    return table


class LinkTable:
    """Resolves the :class:`Link` of each direction; shares one object among all default links."""

    def __init__(self, network: Mapping[str, Any], parties: tuple[int, ...]) -> None:
        table = _check_keys(network, TOP_KEYS, "network")
        known = set(parties)
        self.base = _apply(Link(), table, "network")
        self.cpu_scale = _number(table, "cpu_scale", "network", high=1000.0) or 0.0
        self.uplink: dict[int, float] = {}
        if (v := _number(table, "uplink_mbps", "network")) is not None and v > 0:
            self.uplink = {p: v * 1e6 / 8.0 for p in parties}
        self._party: dict[int, Mapping[str, Any]] = {}
        for key, sub in _check_keys(table.get("party", {}), {str(p) for p in parties}, "network.party").items():
            where = f"network.party.{key}"
            self._party[int(key)] = _check_keys(sub, PARTY_KEYS, where)
            _apply(Link(), sub, where)  # validate now, not at the first message
            if (v := _number(sub, "uplink_mbps", where)) is not None:
                if v > 0:
                    self.uplink[int(key)] = v * 1e6 / 8.0
                else:
                    self.uplink.pop(int(key), None)
        self._explicit: dict[tuple[int, int], Link] = {}
        entries = table.get("links", [])
        if not isinstance(entries, list):
            raise ConfigError("network.links must be an array of tables ([[network.links]])")
        self._links: list[tuple[int, int, Mapping[str, Any]]] = []
        for k, entry in enumerate(entries):
            where = f"network.links[{k}]"
            entry = _check_keys(entry, LINK_KEYS | {"from", "to", "both"}, where)
            src, dst = entry.get("from"), entry.get("to")
            if src not in known or dst not in known or src == dst:
                raise ConfigError(f"{where}: from and to must be two different parties, got {src!r}, {dst!r}")
            keys = {k2: v for k2, v in entry.items() if k2 not in ("from", "to", "both")}
            self._links.append((src, dst, keys))
            if entry.get("both", False):
                self._links.append((dst, src, keys))
        for src, dst, overrides in self._links:
            self._explicit[(src, dst)] = _apply(self._resolve_parties(src, dst), overrides, f"network.links {src}->{dst}")
        self._memo: dict[tuple[int, int], Link] = {}
        self.uniform = not self._party and not self._explicit  # every link is the base link
        # a resolved link's latency is the last one its tables set: the base's, a party's or a link's
        self.min_latency = min([self.base.latency, *(link.latency for link in self._explicit.values()),
                                *(_apply(self.base, sub, "").latency for sub in self._party.values())])

    def _resolve_parties(self, src: int, dst: int) -> Link:
        link = self.base
        for p in (dst, src):
            sub = self._party.get(p)
            if sub is not None:
                link = _apply(link, sub, f"network.party.{p}")
        return link

    def link(self, src: int, dst: int) -> Link:
        if not self._party and not self._explicit:
            return self.base
        key = (src, dst)
        found = self._explicit.get(key) or self._memo.get(key)
        if found is None:
            if src not in self._party and dst not in self._party:
                return self.base
            found = self._memo[key] = self._resolve_parties(src, dst)
        return found


__all__ = ["JITTERS", "LOSS_MODES", "PRESETS", "Link", "LinkTable"]
