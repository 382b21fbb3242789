"""Real multi-process runs of generated scenarios, for suites that measure whole protocols.

A suite describes a scenario as a dict (the TOML format of docs/design.md); it is written to a
temporary file and run through :func:`mpc.app.launch.run_real`, so every party is its own OS process
on loopback exactly as with ``mpc run``. Timings come from the parties' own measurements
(``Outcome.protocol_s``: from the ready barrier to the protocol's end) and from the launcher
(spawn to exit). A run whose outputs do not match the plaintext reference is an error, never a
figure.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpc.errors import ConfigError, MpcError
from mpc.app.bench._common import Skipped


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def to_toml(doc: Mapping[str, Any]) -> str:
    """The small subset of TOML scenarios use: scalars, arrays, tables of those, inline tables."""
    top = [f"{k} = {_toml_value(v)}" for k, v in doc.items() if not isinstance(v, Mapping)]
    tables = [
        f"\n[{k}]\n" + "\n".join(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())
        for k, v in doc.items() if isinstance(v, Mapping)
    ]
    return "\n".join(top) + "\n" + "\n".join(tables) + "\n"


def protocol_available(name: str) -> bool:
    from protocols.registry import lookup

    try:
        lookup(name)
    except ConfigError:
        return False
    return True


def require_protocol(name: str) -> None:
    if not protocol_available(name):
        raise Skipped(f"protocol {name!r} is not registered in this build")


@dataclass(slots=True, kw_only=True)
class RunFigures:
    """What one real run measured."""

    protocol_s: float  # the slowest party's own protocol time (ready barrier → output)
    elapsed_s: float  # launcher: first spawn → last exit
    bytes: int  # payload bytes all parties sent (codec framing included)
    messages: int
    meta: dict[str, Any] = field(default_factory=dict)  # numeric meta: max over parties (bytes: sum)


def run_scenario(doc: Mapping[str, Any], spawn: Any = None) -> RunFigures:
    from mpc.app.launch import run_real
    from mpc.app.scenario import load

    with tempfile.TemporaryDirectory(prefix="mpc-bench-") as tmp:
        path = Path(tmp) / f"{doc.get('name', 'bench')}.toml"
        path.write_text(to_toml(doc))
        try:
            report = run_real(load(path), spawn=spawn)
        except MpcError as exc:
            raise RuntimeError(f"scenario {doc.get('name')} could not run: {exc}") from exc
    if not report.ok:
        raise RuntimeError(f"scenario {doc.get('name')} failed: {report.reason}")
    d = report.as_dict()
    meta: dict[str, Any] = {}
    for o in report.outcomes.values():
        for k, v in (o.result.meta if o.result is not None else {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                # bytes add up over parties; times and counts: the slowest / largest party
                meta[k] = meta.get(k, 0) + v if k.endswith("bytes_sent") else max(v, meta.get(k, v))
    return RunFigures(protocol_s=d["protocol_s"], elapsed_s=report.elapsed_s, bytes=d["bytes"],
                      messages=d["messages"], meta=meta)


__all__ = ["RunFigures", "protocol_available", "require_protocol", "run_scenario", "to_toml"]
