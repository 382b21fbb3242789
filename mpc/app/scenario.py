"""Scenario files (TOML): who computes what on which inputs, under which network and faults.

See docs/design.md for the format. Loading validates everything a user may get wrong and raises
:class:`ConfigError` with the offending key; nothing here runs a protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mpc.errors import ConfigError
from mpc.fixedpoint import DEFAULT_FRACTIONAL_BITS
from netsim.faults import AfterRound, AtTime, Triggered, parse_fault, parse_trigger
from netsim.faults import Fault as SimFault

MAX_GENERATED = 50_000_000
BOUND_BITS = 60  # |v| < 2^60 for every input (after fixed-point scaling) and every opened sum
BOUND = 1 << BOUND_BITS


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessFault(Triggered):
    """What only a real run can do to a party process (netsim's typed faults cover the rest):
    ``freeze`` stops it (SIGSTOP); ``sends = k`` with ``crash``/``freeze = "after:<tag>"`` strikes
    after its k-th message of that round, between the sends of one broadcast."""

    kind: str  # "crash" | "freeze"
    sends: int | None = None


Fault = SimFault | ProcessFault
PROCESS_KINDS = ("crash", "freeze")


def fault_name(f: Fault) -> str:
    return f.kind if isinstance(f, ProcessFault) else type(f).__name__.lower()


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
    path: str | None = None
    transport: str = "nng"  # real runs: nng | tcp
    declared_inputs: tuple[int, ...] | None = None  # ``input_parties = [...]`` when the file names them

    @property
    def party_ids(self) -> tuple[int, ...]:
        return tuple(range(1, self.parties + 1))

    @property
    def input_parties(self) -> tuple[int, ...]:
        """A public job parameter: named by ``input_parties``, else the parties with an ``[inputs]``
        entry (only in a launcher run, where every party reads the whole file)."""
        return self.declared_inputs if self.declared_inputs is not None else tuple(sorted(self.inputs))

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
    if max(abs(low), abs(high) - 1) >= BOUND:
        raise ConfigError(f"{where}: low/high out of range (|v| < 2^{BOUND_BITS})")
    return gen.integers(low, high, n, dtype=np.int64)


def _literal(values: Any, where: str) -> NDArray[Any]:
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}: expected a non-empty list of numbers or a generator table")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise ConfigError(f"{where}: inputs must be numbers")
    if any(isinstance(v, float) for v in values):
        return np.asarray(values, dtype=np.float64)
    big = next((v for v in values if abs(v) >= BOUND), None)
    if big is not None:
        raise ConfigError(f"{where}: integer {big} out of range (|v| < 2^{BOUND_BITS})")
    return np.asarray(values, dtype=np.int64)


def check_range(values: NDArray[Any], fractional_bits: int | None, where: str) -> None:
    """Every input is finite and below the documented bound once encoded (refuse, never wrap)."""
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            raise ConfigError(f"{where}: {values[bad][0]} is not a finite number")
        scale = 2.0 ** (fractional_bits or 0)
        big = np.abs(values) * scale >= BOUND
        if big.any():
            raise ConfigError(f"{where}: {values[big][0]:g} out of range (|v| * 2^{fractional_bits or 0} "
                              f"fractional bits must be < 2^{BOUND_BITS})")
    elif values.size and int(np.abs(values).max()) >= BOUND:  # int64: |v| < 2^63 here
        raise ConfigError(f"{where}: integer {int(values[np.abs(values).argmax()])} out of range "
                          f"(|v| < 2^{BOUND_BITS})")


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
    """netsim's grammar (:func:`netsim.faults.parse_fault`), plus the real-run-only entries."""
    if not isinstance(entries, list):
        raise ConfigError("faults must be an array of tables ([[faults]])")
    return tuple(_process_fault(e, parties, f"faults[{k}]")
                 if isinstance(e, dict) and ("freeze" in e or "sends" in e) else parse_fault(e, parties, f"faults[{k}]")
                 for k, e in enumerate(entries))


def _process_fault(entry: dict[str, Any], parties: int, where: str) -> ProcessFault:
    pid = entry.get("party")
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 <= pid <= parties:
        raise ConfigError(f"{where}: party {pid!r} is outside 0..{parties}")
    kinds = [k for k in PROCESS_KINDS if k in entry]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: sends = k goes with exactly one of crash, freeze")
    kind = kinds[0]
    unknown = set(entry) - {"party", kind, "sends"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} for a {kind} fault")
    when = parse_trigger(entry[kind], f"{where}: {kind}")
    sends = entry.get("sends")
    if sends is not None and (not isinstance(when, AfterRound) or isinstance(sends, bool)
                              or not isinstance(sends, int) or sends < 1):
        raise ConfigError(f"{where}: sends = <k >= 1> goes with crash/freeze = 'after:<round tag>'")
    return ProcessFault(party=pid, when=when, kind=kind, sends=sends)


KNOWN_KEYS = {
    "name", "protocol", "parties", "sharing", "threshold", "triples", "seed", "fractional_bits",
    "timeout_s", "inputs", "input_parties", "network", "faults", "expect", "options", "program", "transport",
}


def _input_parties(value: Any, parties: int, inputs: Mapping[int, Any]) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or any(isinstance(p, bool) or not isinstance(p, int) for p in value):
        raise ConfigError("input_parties must be a list of party ids")
    ids = tuple(sorted(set(value)))
    if len(ids) != len(value) or any(not 0 <= p <= parties for p in ids):
        raise ConfigError(f"input_parties must list distinct ids in 0..{parties}, got {value}")
    extra = sorted(set(inputs) - set(ids))
    if extra:
        raise ConfigError(f"inputs given for {extra}, which input_parties = {list(ids)} does not name")
    return ids


def _program_option(doc: Mapping[str, Any], options: dict[str, Any], path: str | None) -> dict[str, Any]:
    """``program = "file.py"`` (protocol "program") goes to options; a relative path is looked up
    beside the scenario file first, then from the working directory."""
    prog = doc.get("program", options.get("program"))
    if prog is None:
        return options
    if not isinstance(prog, str) or not prog:
        raise ConfigError("program must be a path to a Python file")
    if path is not None and not Path(prog).is_absolute():
        beside = Path(path).parent / prog
        prog = str(beside) if beside.exists() else prog
    if not Path(prog).is_file():
        raise ConfigError(f"program file not found: {prog}")
    return {**options, "program": str(Path(prog).resolve())}


def parse(doc: Mapping[str, Any], path: str | None = None) -> Scenario:
    unknown = set(doc) - KNOWN_KEYS
    if unknown:
        raise ConfigError(f"unknown top-level keys {sorted(unknown)}")
    try:
        parties = doc["parties"]
        protocol = doc["protocol"]
    except KeyError as exc:
        raise ConfigError(f"missing required key {exc.args[0]!r}") from None
    if not isinstance(parties, int) or isinstance(parties, bool) or not 1 <= parties <= 100_000:
        raise ConfigError(f"parties must be an integer in 2..100000, got {parties!r}")
    if parties == 1:
        raise ConfigError("parties = 1: a secure computation needs at least 2 parties")
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
    for pid, values in inputs.items():
        check_range(values, fb, f"inputs.{pid}")
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
        options=_program_option(doc, options, path),
        path=path,
        declared_inputs=_input_parties(doc.get("input_parties"), parties, inputs),
        transport=transport,
    )


def load(path: str | Path) -> Scenario:
    import tomllib

    p = Path(path)
    try:
        with p.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"scenario file not found: {p}") from None
    except IsADirectoryError:
        raise ConfigError(f"{p} is a directory; give one scenario file (mpc scenarios lists the shipped ones)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read scenario {p}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    try:
        return parse(doc, str(p))
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None


SHIPPED_SHARE = "share/mpc-runtime/scenarios"  # where an installed wheel puts them (pyproject data-files)


def shipped_dir() -> Path | None:
    """The shipped scenarios: beside the source tree, or installed under ``<prefix>/share``."""
    import sys

    here = Path(__file__).resolve()
    for cand in (here.parents[2] / "scenarios", Path(sys.prefix) / SHIPPED_SHARE):
        if cand.is_dir():
            return cand
    return None


def shipped() -> dict[str, Path]:
    d = shipped_dir()
    return {p.stem: p for p in sorted(d.glob("*.toml"))} if d is not None else {}


def resolve(arg: str) -> Path:
    """A path as given, or the name of a shipped scenario (``sum-3``)."""
    p = Path(arg)
    if p.exists() or "/" in arg or arg.endswith(".toml"):
        return p
    found = shipped()
    if arg in found:
        return found[arg]
    raise ConfigError(f"no scenario file {arg!r} and no shipped scenario of that name (mpc scenarios lists them)")


__all__ = ["Expect", "Fault", "ProcessFault", "Scenario", "fault_name", "load", "parse", "resolve", "shipped"]
