"""``mpc node --config party.toml``: one party of a multi-host deployment, serving one or many jobs.

```toml
party = 1
session = "payroll-2026-11"         # any string all parties agree on; binds every message
tls_dir = "keys"                    # optional: from `mpc keygen` (ca.pem, party-<id>.pem)
transport = "nng"                   # optional: nng (the default) | tcp (asyncio TCP, same addresses)
[peers]                             # every node's base address; the socket for peer j is base port + j
0 = "tcp://10.0.0.9:9100"           # (an extra node such as a dealer or aggregator, when the protocol has one)
1 = "tcp://10.0.0.1:9100"
2 = "tcp://10.0.0.2:9100"
3 = "tcp://10.0.0.3:9100"

[[jobs]]                            # run in this order, on one connection; or `scenario = "job.toml"`
scenario = "sum.toml"               # the public job: protocol, parties, input_parties, sharing, ...
input = "salaries.npy"              # this party's input: .npy, .csv or .json (or [inputs] in the file)
```

A job file must name its ``input_parties``: each host sees only its own input, so the set cannot
be inferred. ``mpc node --config party.toml --jobs -`` also reads further job lines from stdin
(``<scenario> [<input file>]``, one per line) until end of input: a long-lived node. Every party
must be given the same jobs in the same order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import sys
import tomllib
from pathlib import Path
from typing import IO, Any

import numpy as np

from mpc.errors import ConfigError, Crashed, MpcError
from mpc.node import Node
from mpc.app.runner import (Outcome, bound_spec, check, descriptor_of, error_outcome, job_of, neighbors, node_ids,
                            summarize)
from mpc.app.scenario import Scenario, check_range, load
from mpc.app.validate import validate
from mpc.transport.tcp import new_transport
from protocols.registry import PartyResult, Spec

CONFIG_KEYS = {"party", "session", "tls_dir", "peers", "scenario", "jobs", "timeout_s", "connect_timeout_s",
               "transport"}


def session_id(text: str) -> bytes:
    return hashlib.sha256(b"mpc-session\0" + text.encode()).digest()[:16]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class JobEntry:
    scenario: Path
    input: Path | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    party: int
    session: str
    peers: dict[int, str]
    tls_dir: Path | None
    jobs: tuple[JobEntry, ...]
    connect_timeout_s: float = 60.0
    transport: str = "nng"


def read_input(path: Path) -> np.ndarray:
    """A party's input vector from ``.npy`` (no pickles), ``.csv`` or ``.json``."""
    try:
        if path.suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
        elif path.suffix == ".csv":
            arr = np.loadtxt(path, delimiter=",", ndmin=1)
            if np.all(arr == np.round(arr)) and np.all(np.abs(arr) < 2.0**53):
                arr = arr.astype(np.int64)
        elif path.suffix == ".json":
            arr = np.asarray(json.loads(path.read_text()))
        else:
            raise ConfigError(f"input {path}: expected a .npy, .csv or .json file")
    except FileNotFoundError:
        raise ConfigError(f"input file not found: {path}") from None
    except (ValueError, OSError) as exc:
        raise ConfigError(f"input {path}: cannot read it ({' '.join(str(exc).split())})") from None
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iuf":
        raise ConfigError(f"input {path}: expected a non-empty vector of numbers, got shape {arr.shape} {arr.dtype}")
    return arr.astype(np.int64) if arr.dtype.kind in "iu" else arr.astype(np.float64)


def parse_config(path: Path) -> NodeConfig:
    try:
        cfg = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"node config not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    unknown = sorted(set(cfg) - CONFIG_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {unknown} (known: {', '.join(sorted(CONFIG_KEYS))})")
    for key in ("party", "session", "peers"):
        if key not in cfg:
            raise ConfigError(f"{path}: missing {key!r}")
    try:
        peers = {int(k): str(v) for k, v in cfg["peers"].items()}
    except (AttributeError, ValueError):
        raise ConfigError(f"{path}: [peers] maps party ids to addresses") from None
    if cfg["party"] not in peers:
        raise ConfigError(f"{path}: party {cfg['party']} is not in [peers]")
    if cfg.get("transport", "nng") not in ("nng", "tcp"):
        raise ConfigError(f"{path}: transport must be 'nng' or 'tcp', got {cfg['transport']!r}")
    here = path.parent
    entries = cfg.get("jobs", [])
    if "scenario" in cfg:
        entries = [{"scenario": cfg["scenario"]}, *entries]
    jobs = []
    for k, e in enumerate(entries):
        if not isinstance(e, dict) or "scenario" not in e or set(e) - {"scenario", "input"}:
            raise ConfigError(f"{path}: jobs[{k}] takes scenario = <file> and optionally input = <file>")
        jobs.append(JobEntry(scenario=here / e["scenario"], input=here / e["input"] if "input" in e else None))
    return NodeConfig(party=int(cfg["party"]), session=str(cfg["session"]), peers=peers,
                      tls_dir=here / cfg["tls_dir"] if cfg.get("tls_dir") else None, jobs=tuple(jobs),
                      connect_timeout_s=float(cfg.get("connect_timeout_s", 60.0)),
                      transport=str(cfg.get("transport", "nng")))


def load_job(cfg: NodeConfig, entry: JobEntry) -> Scenario:
    """A job of this deployment: its public parameters must be named, its input is this party's."""
    scn = load(entry.scenario)
    where = f"{entry.scenario}"
    if scn.declared_inputs is None:
        raise ConfigError(f"{where}: input_parties: a deployment must name its input parties "
                          f"(each host sees only its own [inputs])")
    ids = node_ids(scn)
    if set(ids) != set(cfg.peers):
        raise ConfigError(f"{where}: the job's nodes {list(ids)} differ from [peers] {sorted(cfg.peers)}")
    mine = {p: v for p, v in scn.inputs.items() if p == cfg.party}
    if entry.input is not None:
        mine = {cfg.party: read_input(entry.input)}
        check_range(mine[cfg.party], scn.fractional_bits, f"input {entry.input}")
    if cfg.party in scn.input_parties and cfg.party not in mine:
        raise ConfigError(f"{where}: party {cfg.party} is an input party but has no input (give input = <file>)")
    if cfg.party not in scn.input_parties and mine:
        raise ConfigError(f"{where}: party {cfg.party} has an input but input_parties = {list(scn.input_parties)}")
    scn = dataclasses.replace(scn, inputs=mine)
    validate(scn, real=True, identities=cfg.tls_dir is not None)
    return scn


def _job_line(line: str, here: Path) -> JobEntry | None:
    parts = line.split()
    if not parts or parts[0].startswith("#"):
        return None
    if len(parts) > 2:
        raise ConfigError(f"job line {line.strip()!r}: expected '<scenario> [<input file>]'")
    return JobEntry(scenario=here / parts[0], input=here / parts[1] if len(parts) == 2 else None)


class JobSource:
    """The configured jobs, then (with ``--jobs -``) job lines from a stream until its end. The
    stream is read in a thread: while a node waits for its next job, its loop keeps serving."""

    def __init__(self, listed: tuple[JobEntry, ...], stream: IO[str] | None, here: Path) -> None:
        self._listed = list(listed)
        self._stream = stream
        self._here = here

    async def next(self) -> JobEntry | None:
        if self._listed:
            return self._listed.pop(0)
        while self._stream is not None:
            line = await asyncio.to_thread(self._stream.readline)
            if not line:
                return None
            entry = _job_line(line, self._here)
            if entry is not None:
                return entry
        return None


async def serve(cfg: NodeConfig, jobs: JobSource, report: list[dict[str, Any]]) -> None:
    """One node for the whole session; each job runs on it in turn."""
    creds = None
    if cfg.tls_dir is not None:
        from mpc.identity import load_creds

        creds = load_creds(cfg.tls_dir, cfg.party)
    transport = new_transport(cfg.transport, cfg.party, cfg.peers, tls=creds)
    ids = tuple(sorted(cfg.peers))
    first = await jobs.next()
    if first is None:
        raise ConfigError("no job to run (give scenario = ..., [[jobs]], or --jobs -)")
    scn: Scenario | None = load_job(cfg, first)
    assert scn is not None
    async with Node(cfg.party, transport=transport, parties=ids, session=session_id(cfg.session),
                    timeout=scn.timeout_s, connect_timeout=cfg.connect_timeout_s,
                    neighbors=neighbors(scn, cfg.party, ids)) as node:
        entry: JobEntry | None = first
        while entry is not None:
            if scn is None:
                scn = load_job(cfg, entry)
            spec = bound_spec(scn, cfg.party, cfg.tls_dir)
            outcome = await _run_job(node, scn, spec, f"job{len(report) + 1}-{scn.name}")
            report.append(_job_report(cfg.party, scn, outcome))
            _print(cfg.party, scn, outcome)
            if report[-1]["reason"]:
                print(f"  mismatch: {report[-1]['reason']}", flush=True)
            entry, scn = await jobs.next(), None


async def _run_job(node: Node, scn: Scenario, spec: Spec, name: str) -> Outcome:
    """One job as a named computation; the parties first compare its public descriptor (a
    difference is a configuration error at every party, raised before any share is sent)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    try:
        raw = await node.run(spec.run, job_of(scn), scn.inputs.get(node.party_id),
                             name=name, job=descriptor_of(scn))
    except Crashed:
        return Outcome(status="crashed")
    except ConfigError:
        raise
    except MpcError as exc:
        out = error_outcome(exc)
        out.protocol_s = loop.time() - t0
        return out
    result = raw if isinstance(raw, PartyResult) else PartyResult(None if raw is None else np.asarray(raw))
    return Outcome(status="ok", result=result, protocol_s=loop.time() - t0, stats=node.traffic())


def _print(pid: int, scn: Scenario, o: Outcome) -> None:
    if o.status == "ok" and o.result is not None and o.result.output is not None:
        print(f"party {pid}: {scn.name}: {summarize(np.asarray(o.result.output))}", flush=True)
    else:
        print(f"party {pid}: {scn.name}: {o.status}" + (f": {o.error}: {o.message}" if o.error else ""), flush=True)


def _job_report(pid: int, scn: Scenario, o: Outcome) -> dict[str, Any]:
    out = o.result.output if o.result is not None else None
    if scn.expect.output is not None or scn.expect.error is not None:
        reason = check(scn, {pid: o})
    else:
        reason = None if o.status == "ok" else (o.message or o.status)
    return {"party": pid, "job": scn.name, "ok": reason is None, "reason": reason, "status": o.status,
            "error": o.error,
            "message": o.message, "output": None if out is None else np.asarray(out).tolist(),
            "protocol_s": o.protocol_s, **dict(o.stats)}


def run_node(config_path: str, json_path: str | None = None, jobs_from: str | None = None) -> int:
    cfg = parse_config(Path(config_path))
    if jobs_from not in (None, "-"):
        raise ConfigError("--jobs takes '-' (job lines on stdin)")
    jobs = JobSource(cfg.jobs, sys.stdin if jobs_from == "-" else None, Path.cwd())
    for entry in cfg.jobs:  # every listed job is checked before connecting
        load_job(cfg, entry)
    from mpc.app.party import run_event_loop

    report: list[dict[str, Any]] = []
    try:
        run_event_loop(serve(cfg, jobs, report))
    except ConfigError:
        raise
    except MpcError as exc:  # the deployment failed (a peer never came, went away, ...): not a user error
        print(f"party {cfg.party}: {type(exc).__name__}: {' '.join(str(exc).split())}", flush=True)
        return 1
    finally:
        if json_path:
            Path(json_path).write_text(json.dumps(report[0] if len(report) == 1 and jobs_from is None else report))
    return 0 if report and all(r["ok"] for r in report) else 1


__all__ = ["NodeConfig", "parse_config", "read_input", "run_node", "session_id"]
