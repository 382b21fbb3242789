"""Running a scenario: one party's part (shared by both modes), the simulated run, and the check
of outcomes against ``[expect]``. Real multi-process runs live in :mod:`mpc.app.launch`."""

from __future__ import annotations

import asyncio
import functools
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from protocols.registry import Job, PartyResult, Spec, lookup

from mpc.errors import ConfigError, Crashed, MpcError
from mpc.job import JobDescriptor
from mpc.node import Barrier, Node, SendObserver
from mpc.app.scenario import ProcessFault, Scenario, fault_name
from netsim.faults import AfterRound, Crash
from mpc.transport.base import Transport

DEFAULT_FLOAT_TOLERANCE = 1e-4


def job_of(scn: Scenario) -> Job:
    return Job(
        parties=scn.party_ids,
        input_parties=scn.input_parties,
        sharing=scn.sharing,
        threshold=scn.threshold,
        triples=scn.triples,
        fractional_bits=scn.fractional_bits,
        options=dict(scn.options),
    )


def descriptor_of(scn: Scenario) -> JobDescriptor:
    """The public job every party of a run must agree on (compared before any share)."""
    job = job_of(scn)
    return JobDescriptor(protocol=scn.protocol, parties=job.parties, input_parties=job.input_parties,
                         sharing=job.sharing, threshold=job.threshold, triples=job.triples,
                         fractional_bits=job.fractional_bits, options=job.options)


def node_ids(scn: Scenario) -> tuple[int, ...]:
    """Every node of a run: parties 1..n and the protocol's extra nodes; checks the scenario fits."""
    extra = lookup(scn.protocol).extra_parties(job_of(scn))
    members = {*scn.party_ids, *extra}  # a set: n inputs and faults checked against n nodes in O(n)
    ids = tuple(sorted(members))
    for pid in scn.inputs:
        if pid not in members:
            raise ConfigError(f"{scn.name}: inputs for party {pid}, which is not a node of {scn.protocol!r}")
    for fault in scn.faults:
        if fault.party not in members:
            raise ConfigError(f"{scn.name}: a fault names party {fault.party}, which is not a node")
    return ids


def neighbors(scn: Scenario, pid: int, ids: tuple[int, ...], job: Job | None = None) -> tuple[int, ...]:
    """The peers ``pid`` connects to: everyone, unless the protocol declares a topology
    (``job``: :func:`job_of` ``(scn)``, if the caller has it already)."""
    peers = lookup(scn.protocol).topology(job_of(scn) if job is None else job, pid)
    return tuple(p for p in (ids if peers is None else peers) if p != pid)


def crash_after(after: str, on_crash: Callable[[], None]) -> SendObserver:
    """A send observer that calls ``on_crash`` once, after the send of round ``after`` (a tag, or
    its last path segment)."""
    fired, trigger = False, AfterRound(after)

    def observe(tag: str) -> None:
        nonlocal fired
        if not fired and trigger.matches(tag):
            fired = True
            on_crash()

    return observe


def new_session() -> bytes:
    return os.urandom(16)


@dataclass(slots=True)
class Outcome:
    """How one party's run ended."""

    status: str  # ok | crashed | error
    result: PartyResult | None = None
    error: str | None = None
    error_kinds: tuple[str, ...] = ()
    message: str = ""
    protocol_s: float = 0.0
    stats: Mapping[str, int] = field(default_factory=dict)


NEEDS_IDENTITIES = ("this job uses long-term identities (options.identities = 'pki'): run it with --tls "
                    "(fresh keys per run), or give `mpc node` a tls_dir from `mpc keygen`")


def bound_spec(scn: Scenario, pid: int, identity_dir: Path | None, job: Job | None = None) -> Spec:
    """The spec party ``pid`` runs: the registry's, bound to the party's long-term keys when the job
    asks for them (read now: a launcher deletes per-run keys once every party has loaded its own)."""
    spec = lookup(scn.protocol)
    job = job_of(scn) if job is None else job
    if not spec.wants_identity(job):
        return spec
    if identity_dir is None or spec.with_identity is None:
        raise ConfigError(f"{scn.protocol}: {NEEDS_IDENTITIES}")
    return spec.with_identity(job, pid, identity_dir)


def error_outcome(exc: BaseException) -> Outcome:
    kinds = tuple(c.__name__ for c in type(exc).__mro__ if issubclass(c, MpcError)) or (type(exc).__name__,)
    return Outcome(status="error", error=type(exc).__name__, error_kinds=kinds, message=str(exc))


async def run_party(
    scn: Scenario,
    pid: int,
    transport: Transport,
    *,
    session: bytes,
    on_crash: Callable[[], None],
    parties: tuple[int, ...],
    on_ready: Callable[[], None] | None = None,
    on_freeze: Callable[[], None] | None = None,
    barrier: Barrier = "mesh",
    job: Job | None = None,
    descriptor: JobDescriptor | None = None,
    spec: Spec | None = None,
) -> Outcome:
    """Run party ``pid``'s part of ``scn`` over ``transport`` (pynng or netsim alike); ``barrier``
    is the shape of the start and close barriers (simulated runs may choose ``star``).

    ``job`` and ``descriptor`` (:func:`job_of` and :func:`descriptor_of` of ``scn``): a simulation
    builds them once and shares them (both are frozen); built per party, each of 10,000 parties
    would hold its own O(n) copy of the party lists, and hash it once more for the digest.

    A crash (or, in real runs, freeze) fault ``after:<tag>`` fires once the party has sent that
    round; with ``sends = k`` the party process counts sends itself (:mod:`mpc.app.party`).
    ``spec``: the party's :func:`bound_spec` (default: the registry's, for jobs without identities)."""
    if spec is None:
        spec = lookup(scn.protocol)
    fault = next((f for f in scn.faults_of(pid) if isinstance(f, Crash | ProcessFault) and f.after
                  and not (isinstance(f, ProcessFault) and f.sends)), None)
    after = fault.after if fault is not None else None
    if isinstance(fault, ProcessFault) and fault.kind == "freeze" and on_freeze is not None:
        on_crash = on_freeze
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    if job is None:
        job = job_of(scn)
    if descriptor is None:
        descriptor = descriptor_of(scn)
    try:
        node = Node(pid, transport=transport, parties=parties, session=session, timeout=scn.timeout_s,
                    connect_timeout=max(30.0, scn.timeout_s), neighbors=neighbors(scn, pid, parties, job),
                    job=descriptor, barrier=barrier)
        if after:
            node.add_send_observer(crash_after(after, on_crash))
        async with node:
            t0 = loop.time()
            if on_ready is not None:
                on_ready()
            node.log.info("connected to %d peers; running %s", len(node.neighbors), scn.protocol)
            raw = await node.run(spec.run, job, scn.inputs.get(pid))
            elapsed = loop.time() - t0
        result = raw if isinstance(raw, PartyResult) else PartyResult(None if raw is None else np.asarray(raw))
        node.log.info("%s finished in %.3f s", scn.protocol, elapsed)
        return Outcome(status="ok", result=result, protocol_s=elapsed, stats=transport.stats.as_dict())
    except Crashed:
        return Outcome(status="crashed", protocol_s=loop.time() - t0, stats=transport.stats.as_dict())
    except Exception as exc:  # a bug or a bad peer payload must end this party cleanly, not the run
        logging.getLogger(f"mpc.party{pid}").warning("%s ended with %s", scn.protocol, type(exc).__name__)
        out = error_outcome(exc)
        out.protocol_s = loop.time() - t0
        out.stats = transport.stats.as_dict()
        return out


# -- checking -----------------------------------------------------------------------------
def _matches(got: np.ndarray, want: np.ndarray, tol: float | None) -> bool:
    if got.shape != want.shape:
        return False
    if got.dtype.kind in "iu" and want.dtype.kind in "iu":
        return bool(np.array_equal(got, want))
    atol = DEFAULT_FLOAT_TOLERANCE if tol is None else tol
    return bool(np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-9, atol=atol))


def check(scn: Scenario, outcomes: Mapping[int, Outcome]) -> str | None:
    """``None`` when the outcomes meet ``[expect]``; otherwise a one-line reason."""
    survivors = {p: o for p, o in outcomes.items() if o.status != "crashed"}
    if not survivors:
        return "every party crashed"
    if scn.expect.error is not None:
        wrong = {p: (o.error or "no error") for p, o in survivors.items() if scn.expect.error not in o.error_kinds}
        if wrong:
            return f"expected {scn.expect.error} at every surviving party, got {wrong}"
        return None
    failed = {p: f"{o.error}: {o.message}" for p, o in survivors.items() if o.status == "error"}
    if failed:
        first = min(failed)
        return f"party {first} failed with {failed[first]}" + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
    outputs = {p: o.result.output for p, o in survivors.items() if o.result is not None and o.result.output is not None}
    if not outputs:
        return "no party produced an output"
    if scn.expect.output is not None:
        want = np.asarray(scn.expect.output)
    else:
        results = {p: o.result for p, o in outcomes.items() if o.result is not None}
        want = np.asarray(lookup(scn.protocol).reference(job_of(scn), scn.inputs, results))
    bad = [p for p, got in outputs.items() if not _matches(np.asarray(got), want, scn.expect.tolerance)]
    if bad:
        got = np.asarray(outputs[bad[0]])
        return f"party {bad[0]} output {summarize(got)} does not match expected {summarize(want)}"
    return None


def summarize(a: np.ndarray, head: int = 6) -> str:
    a = np.asarray(a)
    if a.size <= head:
        return str(a.tolist())
    return f"[{', '.join(str(v) for v in a[:head].tolist())}, ...] (length {a.size})"


# -- reports ------------------------------------------------------------------------------
@dataclass(slots=True)
class Report:
    scenario: str
    mode: str
    ok: bool
    reason: str | None
    outcomes: dict[int, Outcome]
    elapsed_s: float
    wall_s: float

    def as_dict(self) -> dict[str, Any]:
        """The JSON report: each distinct output once (``outputs`` keyed by the comma-joined parties
        that hold it; ``output`` when every party holding one agrees), per-party metadata and bytes."""
        groups: dict[str, tuple[list[int], Any]] = {}
        for p, o in sorted(self.outcomes.items()):
            if o.result is not None and o.result.output is not None:
                value = np.asarray(o.result.output).tolist()
                key = json.dumps(value)
                groups.setdefault(key, ([], value))[0].append(p)
        outputs = {",".join(map(str, pids)): value for pids, value in groups.values()}
        return {
            "scenario": self.scenario,
            "mode": self.mode,
            "ok": self.ok,
            "reason": self.reason,
            "output": next(iter(groups.values()))[1] if len(groups) == 1 else None,
            "outputs": outputs,
            "elapsed_s": self.elapsed_s,
            "wall_s": self.wall_s,
            "protocol_s": max((o.protocol_s for o in self.outcomes.values()), default=0.0),
            "messages": sum(o.stats.get("messages_sent", 0) for o in self.outcomes.values()),
            "bytes": sum(o.stats.get("bytes_sent", 0) for o in self.outcomes.values()),
            "parties": {str(p): _party_dict(o) for p, o in sorted(self.outcomes.items())},
        }


def _party_dict(o: Outcome) -> dict[str, Any]:
    return {
        "status": o.status, "error": o.error, "message": o.message, "protocol_s": o.protocol_s,
        **{k: int(v) for k, v in o.stats.items()},
        "meta": _jsonable(dict(o.result.meta)) if o.result is not None else {},
    }


def _jsonable(value: Any) -> Any:
    """Metadata as JSON: numpy scalars and arrays become numbers and lists; anything else a string."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


# -- simulated runs -----------------------------------------------------------------------
async def _simulate(scn: Scenario, trace: str | None = None, observers: Sequence[Any] = ()) -> tuple[dict[int, Outcome], float]:
    import netsim

    ids = node_ids(scn)
    for k, f in enumerate(scn.faults):
        if isinstance(f, ProcessFault):
            raise ConfigError(f"faults[{k}]: {fault_name(f)} with sends/freeze exists only in real runs (drop --sim)")
    sim_faults = tuple(f for f in scn.faults if not isinstance(f, ProcessFault))
    net = netsim.build_network(ids, scn.network, seed=scn.seed, faults=sim_faults, trace=trace)
    net.observers.extend(observers)
    job, descriptor = job_of(scn), descriptor_of(scn)  # one of each for every party (see run_party)
    if lookup(scn.protocol).topology(job, ids[0]) is not None:  # not a mesh: who sees whose crash
        net.topology = {pid: neighbors(scn, pid, ids, job) for pid in ids}
    specs = _simulated_identities(scn, ids, job)
    session = new_session()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    tasks: dict[int, asyncio.Task[Outcome]] = {}

    def crash(pid: int) -> None:
        net.crash(pid)
        raise Crashed(f"party {pid} crashed (scenario fault)")

    def start(pid: int) -> None:
        tasks[pid] = asyncio.create_task(
            run_party(scn, pid, net.transport(pid), session=session, on_crash=functools.partial(crash, pid),
                      parties=ids, barrier="star" if net.barrier == "star" else "mesh", job=job,
                      descriptor=descriptor, spec=specs.get(pid))
        )

    for pid in ids:
        start(pid)
    net.apply_faults(tasks, start)  # timed crashes, restarts, silent, slow, partitions
    outcomes: dict[int, Outcome] = {}
    try:
        for pid in ids:
            while True:  # a restarted party's outcome is its last incarnation's
                task = tasks[pid]
                try:
                    outcomes[pid] = await task
                except asyncio.CancelledError:
                    outcomes[pid] = Outcome(status="crashed")
                await net.restarted(pid)
                if tasks[pid] is task:
                    break
    finally:
        net.close()
    return outcomes, loop.time() - t0


def _simulated_identities(scn: Scenario, ids: tuple[int, ...], job: Job) -> dict[int, Spec]:
    """A simulated job that asks for real identities gets fresh ones, as ``mpc run --tls`` does:
    a CA and every party's keys in a private temporary directory, removed once each party's are
    loaded."""
    if not lookup(scn.protocol).wants_identity(job):
        return {}
    import shutil
    import tempfile

    from mpc.identity import generate

    tmp = Path(tempfile.mkdtemp(prefix="mpc-sim-keys-"))
    try:
        generate(tmp, ids, days=1)
        return {pid: bound_spec(scn, pid, tmp, job) for pid in ids}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


LOG_FORMAT = "%(asctime)s party {pid} %(levelname)s %(name)s: %(message)s"


def log_level(verbose: int) -> int:
    return max(logging.DEBUG, logging.WARNING - 10 * verbose)


@contextlib.contextmanager
def party_logs(ids: tuple[int, ...], log_dir: Path | None, verbose: int) -> Iterator[None]:
    """In one process (--sim): ``log_dir/party-<id>.log`` per node, timestamped, from its logger."""
    if log_dir is None:
        yield
        return
    handlers = []
    for pid in ids:
        h = logging.FileHandler(log_dir / f"party-{pid}.log", mode="w")
        h.setFormatter(logging.Formatter(LOG_FORMAT.format(pid=pid)))
        logger = logging.getLogger(f"mpc.party{pid}")
        logger.addHandler(h)
        logger.setLevel(log_level(verbose))
        logger.propagate = False  # to its file only, as a real run's party logs to its own
        handlers.append((logger, h))
    try:
        yield
    finally:
        for logger, h in handlers:
            logger.removeHandler(h)
            logger.propagate = True
            h.close()


def run_sim(scn: Scenario, *, trace: str | None = None, observers: Sequence[Any] = (),
            log_dir: Path | None = None, verbose: int = 0) -> Report:
    """Run every party in one process over netsim; ``observers`` see every message on the wire;
    ``log_dir`` keeps each party's log as ``party-<id>.log``."""
    import netsim

    wall = time.perf_counter()
    with party_logs(node_ids(scn), log_dir, verbose):
        outcomes, elapsed = netsim.run(_simulate(scn, trace, observers))
    reason = check(scn, outcomes)
    return Report(scn.name, "sim", reason is None, reason, outcomes, elapsed, time.perf_counter() - wall)


__all__ = ["Outcome", "Report", "bound_spec", "check", "descriptor_of", "job_of", "node_ids", "run_party", "run_sim"]
