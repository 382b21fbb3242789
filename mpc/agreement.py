"""Agreement steps a node runs around a computation: once before (the job) and once after (the
survivors' outcome). Never on the per-multiplication path.

Both collect one small public *view* per party and turn them into one *decision*:

- mesh (every party talks to every party): every live party sends its view to all, then (with
  three or more parties) an *echo*: a digest of every view it received, bound to the computation
  and the step, to all. A party whose received views all match its own decides with the
  deterministic ``decide``; one that sees an echo differ from its own raises at once (below).
  Two rounds.
- star (the node's barrier is a star, or a party's neighbours are not everyone): every party
  sends its view to the root (the lowest id), which decides and tells everyone. Two half-rounds.

A party known to have crashed (its connection was reported lost), or silent past the deadline
(twice the node's timeout: it may still be waiting out a timeout of its own in the computation),
is left out: it counts as dropped, as the protocols count it.

What the mesh guarantees, with any number of actively lying parties (authenticated channels, and
honest parties entering the step less than twice the timeout apart): **every honest party that
returns a decision returns the same one** (they received the same views; an honest party waits
for the echo of every party whose view it received, for 2.5 timeouts). A party that sends
different views to different parties (*equivocates*), sends its view to some only, or crashes
while sending it, is caught by the echoes: every honest party that exchanged echoes with a party
that saw something else aborts — :class:`~mpc.errors.Equivocation` naming the party whose view
differs (or the echoing party, when its echo contradicts what this party itself sent or was sent
by it), or :class:`~mpc.errors.PartyDropped` when one of them has no view from it at all. Echoes
are bound to the computation and the step: one replayed from another computation differs.

What it does not guarantee: that the honest parties *all* abort together. A lying party can send a
false echo to some honest parties only: those abort, the others (whose echoes matched) return the
decision (this is security with abort without unanimity, Goldwasser-Lindell's "secure computation
without agreement": unanimous abort needs Byzantine broadcast, impossible here without signatures
for n <= 3t). A party that sends no echo, or one only to some, delays the others by the echo
deadline and changes no decision. Silence of an honest party past the deadlines (it entered the
step more than two timeouts late) may still leave it aborting while the others decide. The star's
root is trusted: it can tell leaves different decisions (large simulated sessions only).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import codec
from .context import Port
from .errors import (
    AGREED_KINDS,
    ComputationAborted,
    Equivocation,
    Excluded,
    JobMismatch,
    MpcError,
    PartyDropped,
    ProtocolError,
    QuorumLost,
)
from .job import JobDescriptor, differing_fields

JOB_TAG, END_TAG = "~job", "~end"
DECISION, ECHO = "/decision", "/echo"
AGREEMENT_TAGS = frozenset({JOB_TAG, END_TAG, JOB_TAG + DECISION, END_TAG + DECISION, JOB_TAG + ECHO, END_TAG + ECHO})
# an honest party's echo leaves at most 2 timeouts (its own wait for views) after the view that put
# it among those whose echo this party awaits: 2.5 leaves half a timeout for the network
ECHO_WAIT = 2.5
# up to this many parties an echo lists one digest per party (so a mismatch names the party whose
# view differs); above, it is one digest of that list (n^2 echoes of n digests would dominate)
ECHO_VECTOR_MAX = 64
_D = 32  # bytes of one digest
_MISSING = bytes(_D)
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
    # a root turned to the star by its leaves' hellos: the peers that did not claim the star (so
    # run the mesh). If any, it sends its view and echo to all and awaits the echoes of these
    # (else one false "star" hello made every mesh party wait two timeouts per step for a view
    # the root never sent, and the session's computations fell out of step)
    mesh: tuple[int, ...] = ()


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
    told = live if not shape.star or shape.mesh else ()  # (a root with mesh peers: to all, as they do)
    await port.send_many(instance, tag, {p: view for p in (*told, me)}, same=True)
    got = await port.recv_many(instance, tag, (*live, me), 2 * timeout)
    views = {p: v for p, v in got.items() if not isinstance(v, BaseException)}
    if not shape.star or shape.mesh:
        await echo(port, shape, instance, tag, views, timeout)
    decision = decide(views)
    if shape.star:
        await port.send_many(instance, tag + DECISION, {p: decision for p in live if p not in port.down}, same=True)
    return decision


async def echo(port: Port, shape: Shape, instance: str, tag: str, views: Mapping[int, Any],
               timeout: float) -> None:
    """The echo round of the mesh: tell every live party what we received; raise if the echo of any
    party whose view we received says it received something else (see the module doc)."""
    me = shape.party_id
    members = tuple(sorted({*shape.peers, me}))
    if len(members) <= 2:
        return  # nobody else could have been told something different
    mine = echo_digest(instance, tag, members, views)
    among = frozenset(shape.mesh) if shape.star else None  # a star root: only its mesh peers echo
    await port.send_many(instance, tag + ECHO, {p: mine for p in shape.peers if p not in port.down}, same=True)
    reporters = tuple(p for p in sorted(views) if p != me and (among is None or p in among))
    got = await port.recv_many(instance, tag + ECHO, reporters, ECHO_WAIT * timeout)
    problem = echo_inconsistency(me, members, mine, {p: e for p, e in got.items() if not isinstance(e, BaseException)})
    if problem is not None:
        raise problem


def echo_digest(instance: str, tag: str, members: tuple[int, ...], views: Mapping[int, Any]) -> bytes:
    """One digest per member of the view received from it (zeros: none), bound to this computation
    and step; for more than :data:`ECHO_VECTOR_MAX` members, one digest of that list."""
    prefix = hashlib.sha256(b"mpc-agreement-echo\0%s\0%s" % (instance.encode(), tag.encode())).digest()
    parts = []
    for p in members:
        if p not in views:
            parts.append(_MISSING)
            continue
        try:
            body = codec.encode(views[p])
        except MpcError:  # nothing a peer's bytes decode to; a local object that cannot travel
            parts.append(os.urandom(_D))  # equal to nobody's: a mismatch, never a false match
            continue
        parts.append(hashlib.sha256(b"%s%d\0%s" % (prefix, p, body)).digest())
    vector = b"".join(parts)
    return vector if len(members) <= ECHO_VECTOR_MAX else hashlib.sha256(prefix + vector).digest()


def echo_inconsistency(me: int, members: tuple[int, ...], mine: bytes, echoes: Mapping[int, Any]) -> MpcError | None:
    """The error to raise if an echo differs from ours: the most certain finding, then the lowest
    party ids (so that parties seeing the same difference name the same party)."""
    found: list[tuple[int, int, int, MpcError]] = []
    for r, theirs in echoes.items():
        if not isinstance(theirs, bytes) or len(theirs) != len(mine):  # (an array would compare elementwise)
            found.append((0, r, r, ProtocolError("malformed agreement echo", peer=r)))
        elif theirs == mine:
            continue
        elif len(mine) == _D and len(members) > ECHO_VECTOR_MAX:
            found.append((1, r, r, Equivocation(
                f"party {r} received other agreement views than this party (a party sent different "
                f"views to different parties, or party {r} misreports them)", reporter=r)))
        else:
            found.extend(_blame(me, r, s, mine[k * _D:(k + 1) * _D], theirs[k * _D:(k + 1) * _D])
                         for k, s in enumerate(members) if mine[k * _D:(k + 1) * _D] != theirs[k * _D:(k + 1) * _D])
    return min(found, key=lambda f: f[:3])[3] if found else None


def _blame(me: int, r: int, s: int, ours: bytes, theirs: bytes) -> tuple[int, int, int, MpcError]:
    """Party ``r`` echoes ``theirs`` for the view of party ``s``, where we have ``ours``."""
    if s == r and ours != _MISSING:  # r told us one view and reports another as its own
        return 0, s, r, Equivocation("sent this party one agreement view and reports another as its own",
                                     party=r, reporter=r, suspects=(r,))
    if s == me and theirs != _MISSING:  # we sent everyone the same view
        return 0, s, r, Equivocation("misreports the agreement view this party sent to everyone",
                                     party=me, reporter=r, suspects=(r,))
    if ours == _MISSING or theirs == _MISSING:  # a view that reached some only: a crash while
        # sending it, a party past the deadline, or one that sent it to some only
        where = (f"reached party {r} but not this party" if ours == _MISSING else
                 f"did not reach party {r} in time" if s == me else f"reached this party but not party {r}")
        return 2, s, r, PartyDropped(s, f"its agreement view {where}")
    return 1, s, r, Equivocation(f"party {s} sent different agreement views to this party and to party {r}, "
                                 f"or party {r} misreports it", party=s, reporter=r, suspects=(s, r))


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
    if cls is Equivocation:
        return Equivocation(f"{who} caught a party equivocating; the parties agreed to abort")
    if issubclass(cls, ProtocolError):
        if isinstance(by, int):
            return cls("aborted the computation; the parties agreed to abort", peer=by)
        return cls("a party aborted the computation; the parties agreed to abort")
    if cls is MpcError or cls is ComputationAborted:
        return ComputationAborted(f"{who} aborted the computation")
    return cls(f"{who} aborted the computation ({cls.__name__})")


__all__ = ["AGREEMENT_TAGS", "END_TAG", "JOB_TAG", "Shape", "agreed_error", "compact_cause", "decide_end", "decide_job",
           "echo", "echo_digest", "echo_inconsistency", "end_view", "job_view", "output_digest", "settle"]
