"""Agreement steps a node runs around a computation: once before (the job) and once after (the
survivors' outcome). Never on the per-multiplication path.

Both collect one small public *view* per party and turn them into one *decision*:

- mesh (every party talks to every party): every live party sends its view to all; since all
  see the same views, a deterministic ``decide`` gives all the same decision. One round.
- star (the node's barrier is a star, or a party's neighbours are not everyone): every party
  sends its view to the root (the lowest id), which decides and tells everyone. Two half-rounds.

A party known to have crashed (its connection was reported lost), or silent past the deadline
(twice the node's timeout: it may still be waiting out a timeout of its own in the computation),
is left out: it counts as dropped, as the protocols count it. So the guarantee is: every party
that takes part in the agreement in time ends with the same decision.
What remains impossible without more rounds (FLP): a party that crashes *while sending* its own
view or the root's decision can still leave the others with different decisions; the window is
one message fan-out per computation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .context import Port
from .errors import (
    AGREED_KINDS,
    ComputationAborted,
    Excluded,
    JobMismatch,
    MpcError,
    PartyDropped,
    ProtocolError,
    QuorumLost,
)
from .job import JobDescriptor, differing_fields

JOB_TAG, END_TAG = "~job", "~end"
DECISION = "/decision"
AGREEMENT_TAGS = frozenset({JOB_TAG, END_TAG, JOB_TAG + DECISION, END_TAG + DECISION})
# which abort is the cause when several parties abort: a local refusal beats its consequences
_CONSEQUENCES = {"PartyDropped": 1, "QuorumLost": 1, "TransportError": 2}
CAUSE_RANK = 3

Decision = dict[str, Any] | None
"""``None``: proceed; otherwise plain data naming the agreed error (kind, by, party, ...)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Shape:
    party_id: int
    peers: tuple[int, ...]
    root: int
    star: bool


async def settle(port: Port, shape: Shape, instance: str, tag: str, view: Any,
                 decide: Callable[[Mapping[int, Any]], Decision], timeout: float) -> Decision:
    """Exchange ``view`` and return the decision every live party reaches (see the module doc)."""
    me = shape.party_id
    if shape.star and me != shape.root:
        await port.send_many(instance, tag, {shape.root: view}, same=True)
        try:
            got_decision = await port.recv_one(instance, tag + DECISION, shape.root, 3 * timeout)
        except PartyDropped as exc:
            return {"kind": "PartyDropped", "by": shape.root, "party": exc.party}
        return checked_decision(got_decision, shape.root)
    live = tuple(p for p in shape.peers if p not in port.down)
    payloads = {me: view} if shape.star else {p: view for p in (*live, me)}
    await port.send_many(instance, tag, payloads, same=True)
    got = await port.recv_many(instance, tag, (*live, me), 2 * timeout)
    views = {p: v for p, v in got.items() if not isinstance(v, BaseException)}
    decision = decide(views)
    if shape.star:
        await port.send_many(instance, tag + DECISION, {p: decision for p in live if p not in port.down}, same=True)
    return decision


def checked_decision(decision: Any, peer: int) -> Decision:
    """A decision received from the root: plain data with a string kind, or ``None``."""
    if decision is None:
        return None
    if not isinstance(decision, dict) or not isinstance(decision.get("kind"), str) or len(decision) > 8:
        raise ProtocolError("malformed agreement decision", peer=peer)
    return decision


# -- the job, before anything secret -----------------------------------------------------------
def job_view(job: JobDescriptor, full: bool = True) -> dict[str, Any]:
    """The digest, and (if ``full``) the descriptor itself: :func:`decide_job` reads a
    descriptor only when its digest differs from the lowest party's."""
    return {"digest": job.digest(), "job": job.as_dict() if full else None}


def decide_job(views: Mapping[int, Any]) -> Decision:
    """Every descriptor is compared with the lowest party's: the same verdict wherever it is made."""
    ref = min(views)
    fields: set[str] = set()
    differing: list[int] = []
    for p, v in sorted(views.items()):
        if v is None or views[ref] is None:  # a party that serves no job at all
            if (v is None) != (views[ref] is None):
                fields.add("job")
                differing.append(p)
            continue
        if not isinstance(v, dict) or not isinstance(v.get("digest"), bytes):
            return {"kind": "ProtocolError", "by": p, "party": p}
        if v["digest"] == views[ref]["digest"]:
            continue
        try:
            fields.update(differing_fields(views[ref].get("job"), v.get("job")) or ("digest",))
        except ProtocolError:
            return {"kind": "ProtocolError", "by": p, "party": p}
        differing.append(p)
    if not differing:
        return None
    return {"kind": "JobMismatch", "by": ref, "fields": sorted(fields), "parties": differing}


# -- the outcome, once per computation ----------------------------------------------------------
def output_digest(result: Any) -> bytes | None:
    """A digest of a party's output view (arrays only; other results are not compared)."""
    import hashlib

    out = getattr(result, "output", result)
    if isinstance(out, np.generic):
        out = np.asarray(out)
    if not isinstance(out, np.ndarray) or out.dtype == object:
        return None
    h = hashlib.sha256(f"{out.dtype.str}{out.shape}".encode())
    h.update(np.ascontiguousarray(out).tobytes())
    return h.digest()


_FIELDS = ("kind", "party", "missing", "fields", "parties")


_CAUSE_KEYS = frozenset((*_FIELDS, "by", "relayed", "ok", "outputs_differ"))
_CAUSE_STR, _CAUSE_LIST = 200, 256


def compact_cause(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What a node keeps of another party's abort notice: the fields an outcome names, each small
    (a notice for a computation not started here is kept past the sender's buffer quota, up to
    ``MAX_EARLY_ABORTS`` of them: the whole decoded payload would let a peer pin gigabytes)."""

    def small(v: Any) -> Any:
        if v is None or isinstance(v, bool | int):
            return v
        if isinstance(v, str):
            return v[:_CAUSE_STR]
        if isinstance(v, list):
            return [x if isinstance(x, int) else x[:_CAUSE_STR] for x in v[:_CAUSE_LIST] if isinstance(x, int | str)]
        return None

    return {k: small(v) for k, v in payload.items() if k in _CAUSE_KEYS}


def end_view(result: Any, error: BaseException | None, cause: Any = None) -> dict[str, Any]:
    """This party's outcome: ok with an output digest, its own error, or — when another party's
    abort stopped it (``cause``: that abort as received) — the relayed cause, so that a party
    that could not hear the original still learns it."""
    if cause is not None:
        relayed = {k: cause[k] for k in _FIELDS if k in cause}
        return {**relayed, "ok": False, "relayed": True, "by": cause.get("by")}
    if error is None:
        return {"ok": True, "digest": output_digest(result)}
    kind = "Excluded" if isinstance(error, Excluded) else next(
        (c.__name__ for c in type(error).__mro__ if c.__name__ in AGREED_KINDS), "ComputationAborted")
    view: dict[str, Any] = {"ok": False, "kind": kind}
    if isinstance(error, PartyDropped):
        view["party"] = error.party
    elif isinstance(error, QuorumLost):
        view["missing"] = list(error.missing)
    elif isinstance(error, JobMismatch):
        view["fields"], view["parties"] = list(error.fields), list(error.parties)
    return view


def decide_end(views: Mapping[int, Any]) -> Decision:
    """Abort if anyone aborted, naming the cause: a local refusal (configuration, a bad message)
    before its consequences (dropped parties, lost quorum), an original report before a relayed
    one, then the lowest party id. Otherwise every output digest must be the same. A relayed abort
    naming a party whose own view says ok is blamed on the relayer."""
    aborts: list[tuple[int, bool, int, dict[str, Any]]] = []
    digests: set[bytes] = set()
    for p, v in views.items():
        if not isinstance(v, dict) or not isinstance(v.get("ok"), bool):
            aborts.append((-CAUSE_RANK, False, p, {"kind": "ProtocolError", "party": p}))
        elif v["ok"]:
            d = v.get("digest")
            if isinstance(d, bytes):
                digests.add(d)
        elif v.get("kind") == "Excluded":
            continue  # left out by a dropout-tolerant protocol: like a dropped party, no veto
        else:
            kind: str = v["kind"] if isinstance(v.get("kind"), str) else "ComputationAborted"
            relayed = bool(v.get("relayed"))
            by: int = v["by"] if relayed and isinstance(v.get("by"), int) else p
            origin = views.get(by) if relayed else None
            if isinstance(origin, dict) and origin.get("ok") is True:
                # it relays an abort the named party did not make (that party reported ok): a
                # forged blame; the relayer is the one that misbehaved
                aborts.append((-CAUSE_RANK, False, p, {"kind": "ProtocolError", "party": p}))
                continue
            aborts.append((-_CONSEQUENCES.get(kind, CAUSE_RANK), relayed, by, {**v, "kind": kind}))
    if aborts:
        _rank, _relayed, by, v = min(aborts, key=lambda a: (a[0], a[1], a[2]))
        return {**{k: v[k] for k in _FIELDS if k in v}, "by": by}
    if len(digests) > 1:
        return {"kind": "ProtocolError", "by": min(views), "party": None, "outputs_differ": True}
    return None


def _same(decision: dict[str, Any], own: BaseException) -> bool:
    if type(own).__name__ != decision.get("kind"):
        return False
    return not isinstance(own, PartyDropped) or own.party == decision.get("party")


def agreed_error(decision: dict[str, Any], me: int, own: BaseException | None) -> BaseException:
    """The error this party raises for ``decision`` (its own error when it is the cause)."""
    by = decision.get("by")
    if own is not None and (by == me or _same(decision, own)):
        return own  # the agreed kind, with this party's own (more precise) message
    kind = decision.get("kind")
    cls = AGREED_KINDS.get(kind, ComputationAborted) if isinstance(kind, str) else ComputationAborted
    who = f"party {by}" if isinstance(by, int) else "a party"
    party = decision.get("party")
    if cls is PartyDropped:
        return PartyDropped(party if isinstance(party, int) else -1, f"the parties agreed to abort ({who} reported it)")
    if cls is QuorumLost:
        missing = decision.get("missing")
        return QuorumLost(m for m in (missing if isinstance(missing, list) else []) if isinstance(m, int))
    if cls is JobMismatch:
        fields, parties = decision.get("fields"), decision.get("parties")
        return JobMismatch([f for f in fields if isinstance(f, str)] if isinstance(fields, list) else ["?"],
                           [p for p in parties if isinstance(p, int)] if isinstance(parties, list) else [])
    if decision.get("outputs_differ"):
        return ProtocolError("the parties' outputs differ; nobody keeps one")
    if issubclass(cls, ProtocolError):
        if isinstance(by, int):
            return cls("aborted the computation; the parties agreed to abort", peer=by)
        return cls("a party aborted the computation; the parties agreed to abort")
    if cls is MpcError or cls is ComputationAborted:
        return ComputationAborted(f"{who} aborted the computation")
    return cls(f"{who} aborted the computation ({cls.__name__})")


__all__ = ["AGREEMENT_TAGS", "END_TAG", "JOB_TAG", "Shape", "agreed_error", "compact_cause", "decide_end", "decide_job",
           "end_view", "job_view", "output_digest", "settle"]
