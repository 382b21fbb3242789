"""The public description of one computation, which every party must hold identically.

A :class:`JobDescriptor` names everything the parties must agree on before any share leaves:
the protocol and its version, who computes, who gives inputs, who gets outputs, the sharing and
its threshold, the preprocessing source, fixed-point bits, the inputs' public shapes and dtypes,
and protocol options. Its canonical bytes (sorted-key JSON of public values) hash to
:meth:`JobDescriptor.digest`. Input parties are stated, never inferred from which inputs happen
to be present locally.

Range rule for integer inputs (checked at share time, before anything is sent): every input
satisfies |v| < 2^60 in both domains, and the sum of the job's ``k`` inputs must not wrap, so each
input of a k-input sum satisfies |v| ≤ ⌊(2^60 − 1)/k⌋ in GF(2^61 − 1) (signed range ±(2^60 − 1))
and |v| ≤ min(2^60 − 1, ⌊(2^63 − 1)/k⌋) in Z_2^64 (signed range −2^63 … 2^63 − 1).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigError, InputRangeError, ProtocolError

MAX_ABS_INPUT = (1 << 60) - 1
"""The documented bound on any integer input: |v| < 2^60."""
MAX_DESCRIPTOR_FIELDS = 32


def _ids(value: Any, what: str) -> tuple[int, ...]:
    ids = tuple(value)
    if not all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p < 1 << 20 for p in ids):
        raise ConfigError(f"{what} must be party ids (integers in 0..2^20)")
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{what} lists a party twice")
    return tuple(sorted(ids))


def _public(value: Any, where: str) -> Any:
    """``value`` as plain JSON data (str keys, lists), or a ConfigError naming ``where``."""
    try:
        return json.loads(json.dumps(value, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError):
        raise ConfigError(f"job field {where} must be plain public data (numbers, strings, lists, tables)") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDescriptor:
    """Canonical public parameters of one computation (the same at every party)."""

    protocol: str
    parties: tuple[int, ...]
    input_parties: tuple[int, ...]
    output_parties: tuple[int, ...] | None = None  # None: every party gets the output
    sharing: str = "shamir"
    threshold: int | None = None
    triples: str | None = None
    fractional_bits: int | None = None
    shapes: Mapping[int, tuple[int, ...]] = field(default_factory=dict)  # per input party
    dtypes: Mapping[int, str] = field(default_factory=dict)  # per input party: "int" | "float"
    options: Mapping[str, Any] = field(default_factory=dict)
    version: int = 1
    # digest() computed once (not a field of the job: not hashed, compared, shown or sent); a
    # simulation's parties share one descriptor, and its canonical JSON is O(parties)
    _digest: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.protocol, str) or not self.protocol:
            raise ConfigError("a job names its protocol")
        set_ = object.__setattr__
        set_(self, "parties", _ids(self.parties, "parties"))
        set_(self, "input_parties", _ids(self.input_parties, "input_parties"))
        if self.output_parties is not None:
            set_(self, "output_parties", _ids(self.output_parties, "output_parties"))
        outside = set(self.input_parties) - set(self.parties)
        if outside:
            raise ConfigError(f"input parties {sorted(outside)} are not among the job's parties")
        set_(self, "shapes", {int(p): tuple(int(d) for d in s) for p, s in dict(self.shapes).items()})
        set_(self, "dtypes", {int(p): str(d) for p, d in dict(self.dtypes).items()})
        for what, table in (("shapes", self.shapes), ("dtypes", self.dtypes)):
            extra = set(table) - set(self.input_parties)
            if extra:
                raise ConfigError(f"job {what} given for parties {sorted(extra)}, which give no input")
        if any(d not in ("int", "float") for d in self.dtypes.values()):
            raise ConfigError("job dtypes are 'int' or 'float'")
        set_(self, "options", _public(dict(self.options), "options"))
        for name in ("threshold", "fractional_bits", "version"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise ConfigError(f"job field {name} must be a non-negative integer")

    def as_dict(self) -> dict[str, Any]:
        """Plain public data: what is hashed, and what travels when parties compare jobs."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "_digest":
                continue
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, Mapping):
                v = {str(k): (list(x) if isinstance(x, tuple) else x) for k, x in v.items()}
            out[f.name] = v
        return _public(out, "descriptor")

    def canonical(self) -> bytes:
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False).encode()

    def digest(self) -> bytes:
        d = self._digest
        if d is None:
            d = hashlib.sha256(b"mpc-job\0" + self.canonical()).digest()
            object.__setattr__(self, "_digest", d)
        return d

    def differences(self, theirs: Any, peer: int | None = None) -> tuple[str, ...]:
        """Fields in which a peer's descriptor (as received: plain data) differs from this one."""
        return differing_fields(self.as_dict(), theirs, peer)


def differing_fields(ours: Any, theirs: Any, peer: int | None = None) -> tuple[str, ...]:
    """Fields in which two descriptors, as plain data (one possibly from a peer), differ."""
    for table in (ours, theirs):
        if not isinstance(table, dict) or len(table) > MAX_DESCRIPTOR_FIELDS or not all(
            isinstance(k, str) and len(k) <= 64 for k in table
        ):
            raise ProtocolError("a job descriptor is a table of at most 32 named fields", peer=peer)
    return tuple(sorted(k for k in set(ours) | set(theirs) if _canon(ours.get(k)) != _canon(theirs.get(k))))


def _canon(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return f"<not public data: {type(value).__name__}>"


def input_bound(modulus: int, inputs: int = 1) -> int:
    """The largest |v| each of ``inputs`` integer inputs may have so that their sum cannot wrap."""
    half = (modulus - 1) // 2 if modulus % 2 else modulus // 2 - 1  # GF(p): ±(p−1)/2; Z_2^64: 2^63 − 1
    return min(MAX_ABS_INPUT, half // max(1, inputs))


def check_input_range(values: NDArray[Any], modulus: int, inputs: int = 1) -> None:
    """Refuse (before sharing) integers outside the documented bound or the job's sum headroom."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu" or arr.size == 0:
        return
    bound = input_bound(modulus, inputs)
    lo, hi = int(arr.min()), int(arr.max())  # Python ints: no abs(INT64_MIN) overflow
    if hi > bound or -lo > bound:
        worst = hi if hi > -lo else lo
        detail = "" if inputs <= 1 else f" (a sum of {inputs} inputs must stay below 2^60 in magnitude)"
        raise InputRangeError(f"input value {worst} is outside the allowed range ±{bound}{detail}")


__all__ = ["MAX_ABS_INPUT", "JobDescriptor", "check_input_range", "differing_fields", "input_bound"]
