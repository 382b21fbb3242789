"""Scenario files (TOML): who computes what on which inputs, under which network and faults.

See DESIGN.md for the format. Loading validates everything a user may get wrong and raises
:class:`ConfigError` with the offending key; nothing here runs a protocol.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mpc.errors import ConfigError
from mpc.fixedpoint import DEFAULT_FRACTIONAL_BITS

MAX_GENERATED = 50_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One ``[[faults]]`` entry. ``kind`` is the key that names the fault (``crash``, ...)."""

    party: int
    kind: str
    spec: Any
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def crash_after(self) -> str | None:
        if self.kind == "crash" and isinstance(self.spec, str) and self.spec.startswith("after:"):
            return self.spec.removeprefix("after:")
        return None

    @property
    def crash_at_s(self) -> float | None:
        if self.kind == "crash" and isinstance(self.spec, str) and self.spec.startswith("at_ms:"):
            return float(self.spec.removeprefix("at_ms:")) / 1000.0
        return None


FAULT_KINDS = ("crash", "restart", "silent", "slow", "partition")


@dataclass(frozen=True, slots=True, kw_only=True)
class Expect:
    output: list[Any] | None = None
    error: str | None = None
    tolerance: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    protocol: str
    parties: int
    sharing: str = "shamir"
    threshold: int | None = None
    triples: str = "dealer"
    seed: int = 0
    fractional_bits: int | None = None
    timeout_s: float = 10.0
    inputs: Mapping[int, NDArray[Any]] = field(default_factory=dict)
    network: Mapping[str, Any] = field(default_factory=dict)
    faults: tuple[Fault, ...] = ()
    expect: Expect = field(default_factory=Expect)
    options: Mapping[str, Any] = field(default_factory=dict)
    transport: str = "nng"  # real runs: nng | tcp
    path: str | None = None

    @property
    def party_ids(self) -> tuple[int, ...]:
        return tuple(range(1, self.parties + 1))

    @property
    def input_parties(self) -> tuple[int, ...]:
        return tuple(sorted(self.inputs))

    def faults_of(self, party: int) -> tuple[Fault, ...]:
        return tuple(f for f in self.faults if f.party == party)


def _generate(spec: Mapping[str, Any], seed: int, party: int, where: str) -> NDArray[Any]:
    unknown = set(spec) - {"random", "low", "high", "float"}
    if unknown:
        raise ConfigError(f"{where}: unknown generator keys {sorted(unknown)}")
    try:
        n = int(spec["random"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{where}: a generator table needs random = <length>") from None
    if not 0 < n <= MAX_GENERATED:
        raise ConfigError(f"{where}: length {n} out of range 1..{MAX_GENERATED}")
    low, high = spec.get("low", 0), spec.get("high", 1000)
    # Seeded, public test data: never secret randomness.
    gen = np.random.default_rng([seed, party])
    if spec.get("float", False) or isinstance(low, float) or isinstance(high, float):
        return gen.uniform(float(low), float(high), n)
    if not isinstance(low, int) or not isinstance(high, int) or low >= high:
        raise ConfigError(f"{where}: need integers low < high")
    return gen.integers(low, high, n, dtype=np.int64)


def _literal(values: Any, where: str) -> NDArray[Any]:
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}: expected a non-empty list of numbers or a generator table")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise ConfigError(f"{where}: inputs must be numbers")
    if any(isinstance(v, float) for v in values):
        return np.asarray(values, dtype=np.float64)
    if any(abs(v) >= 1 << 62 for v in values):
        raise ConfigError(f"{where}: integer out of range (|v| < 2^62)")
    return np.asarray(values, dtype=np.int64)


def _inputs(table: Mapping[str, Any], parties: int, seed: int) -> dict[int, NDArray[Any]]:
    out: dict[int, NDArray[Any]] = {}
    default = table.get("default")
    for key, value in table.items():
        if key == "default":
            continue
        try:
            pid = int(key)
        except ValueError:
            raise ConfigError(f"inputs: key {key!r} is not a party id") from None
        if not 0 <= pid <= parties:
            raise ConfigError(f"inputs: party {pid} is outside 1..{parties}")
        where = f"inputs.{key}"
        out[pid] = _generate(value, seed, pid, where) if isinstance(value, dict) else _literal(value, where)
    if default is not None:
        for pid in range(1, parties + 1):
            if pid not in out:
                where = "inputs.default"
                out[pid] = _generate(default, seed, pid, where) if isinstance(default, dict) else _literal(default, where)
    lengths = {v.shape for v in out.values()}
    if len(lengths) > 1:
        raise ConfigError(f"inputs: all vectors must have the same length, got {sorted(s[0] for s in lengths)}")
    return out


def _faults(entries: Any, parties: int) -> tuple[Fault, ...]:
    if not isinstance(entries, list):
        raise ConfigError("faults must be an array of tables ([[faults]])")
    faults = []
    for k, entry in enumerate(entries):
        where = f"faults[{k}]"
        if not isinstance(entry, dict) or "party" not in entry:
            raise ConfigError(f"{where}: needs party = <id>")
        pid = entry["party"]
        if not isinstance(pid, int) or not 0 <= pid <= parties:
            raise ConfigError(f"{where}: party {pid!r} is outside 0..{parties}")
        kinds = [k for k in FAULT_KINDS if k in entry]
        if len(kinds) != 1:
            raise ConfigError(f"{where}: give exactly one of {', '.join(FAULT_KINDS)}")
        kind = kinds[0]
        spec = entry[kind]
        if kind == "crash" and not (
            isinstance(spec, str) and (spec.startswith("after:") and len(spec) > 6 or _is_at_ms(spec))
        ):
            raise ConfigError(f"{where}: crash must be 'after:<round tag>' or 'at_ms:<n>', got {spec!r}")
        extra = {key: v for key, v in entry.items() if key not in ("party", kind)}
        faults.append(Fault(party=pid, kind=kind, spec=spec, extra=extra))
    return tuple(faults)


def _is_at_ms(spec: str) -> bool:
    if not spec.startswith("at_ms:"):
        return False
    try:
        return float(spec.removeprefix("at_ms:")) >= 0
    except ValueError:
        return False


KNOWN_KEYS = {
    "name", "protocol", "parties", "sharing", "threshold", "triples", "seed", "fractional_bits",
    "timeout_s", "inputs", "network", "faults", "expect", "options", "transport",
}


def parse(doc: Mapping[str, Any], path: str | None = None) -> Scenario:
    unknown = set(doc) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"unknown top-level keys {sorted(unknown)}")
    try:
        parties = doc["parties"]
        protocol = doc["protocol"]
    except KeyError as exc:
        raise ConfigError(f"missing required key {exc.args[0]!r}") from None
    if not isinstance(parties, int) or not 1 <= parties <= 100_000:
        raise ConfigError(f"parties must be an integer in 1..100000, got {parties!r}")
    sharing = doc.get("sharing", "shamir")
    if sharing not in ("shamir", "additive"):
        raise ConfigError(f"sharing must be 'shamir' or 'additive', got {sharing!r}")
    threshold = doc.get("threshold")
    if threshold is not None and (not isinstance(threshold, int) or not 0 <= threshold < parties):
        raise ConfigError(f"threshold must be an integer in 0..{parties - 1}, got {threshold!r}")
    seed = doc.get("seed", 0)
    if not isinstance(seed, int):
        raise ConfigError("seed must be an integer")
    inputs = _inputs(doc.get("inputs", {}), parties, seed)
    fb = doc.get("fractional_bits")
    if fb is None and any(v.dtype.kind == "f" for v in inputs.values()):
        fb = DEFAULT_FRACTIONAL_BITS
    if fb is not None and (not isinstance(fb, int) or not 0 <= fb <= 40):
        raise ConfigError("fractional_bits must be an integer in 0..40")
    exp = doc.get("expect", {})
    if not isinstance(exp, dict) or set(exp) - {"output", "error", "tolerance"}:
        raise ConfigError("expect takes output, error and tolerance")
    if "output" in exp and "error" in exp:
        raise ConfigError("expect: give output or error, not both")
    timeout = doc.get("timeout_s", 10.0)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError("timeout_s must be a positive number")
    transport = doc.get("transport", "nng")
    if transport not in ("nng", "tcp"):
        raise ConfigError(f"transport must be 'nng' or 'tcp', got {transport!r}")
    network = doc.get("network", {})
    options = doc.get("options", {})
    if not isinstance(network, dict) or not isinstance(options, dict):
        raise ConfigError("network and options must be tables")
    return Scenario(
        name=str(doc.get("name", Path(path).stem if path else "scenario")),
        protocol=str(protocol),
        parties=parties,
        sharing=sharing,
        threshold=threshold,
        triples=str(doc.get("triples", "dealer")),
        seed=seed,
        fractional_bits=fb,
        timeout_s=float(timeout),
        inputs=inputs,
        network=network,
        faults=_faults(doc.get("faults", []), parties),
        expect=Expect(output=exp.get("output"), error=exp.get("error"), tolerance=exp.get("tolerance")),
        options=options,
        transport=transport,
        path=path,
    )


def load(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"scenario file not found: {p}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    try:
        return parse(doc, str(p))
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None


__all__ = ["Expect", "Fault", "Scenario", "load", "parse"]
