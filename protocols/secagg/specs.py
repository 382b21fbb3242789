"""Scenario binding: ``protocol = "secagg"``. Clients are parties 1..n; the aggregator is the extra
node 0; the topology is a star (clients connect only to 0).

``[options]``: ``variant`` ("secagg" | "secagg+"), ``corrupt_fraction`` (γ, default 0.05),
``dropout_fraction`` (δ, default 0.1), ``sigma``/``eta`` (40/20), from which SecAgg+'s ``degree``
and ``threshold`` are derived (see :mod:`protocols.secagg.params`; explicit values are checked
against the same bound), ``graph_seed`` (hex; default: a hash of the public job),
``result_to_clients`` (default true: the server sends the sum back), ``identities``:

* ``"none"`` (default): ephemeral signing keys; only a semi-honest server is defended against
  (see :mod:`protocols.secagg.client` for exactly what is not);
* ``"simulated"``: every party derives every client's long-term key from the public job — a
  test PKI with the full cost of signing and verifying and NO secrecy (anyone can compute every
  key), for simulations and benchmarks; ``identity_type`` "ed25519" (default) or "p256";
* ``"pki"``: real long-term identities — each party's Ed25519 signing key and every client's
  certified verification key, from the key directory of ``mpc keygen`` (``tls_dir`` of ``mpc
  node``) or the fresh per-run one of ``mpc run --tls`` (:func:`with_identity`); a run without keys
  is refused before it starts;
* embedding code with keys of its own: :func:`make_spec` with a :class:`Credentials` (own signing
  key, party id → verification key).

Crash faults name the round tags ``join``, ``advertise``, ``share_keys``, ``masked_input``,
``consistency``, ``unmask``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

import numpy as np

from mpc.context import Context
from mpc.errors import ConfigError
from protocols.spec import Array, Job, PartyResult, Spec

if TYPE_CHECKING:  # the protocol and its cryptography are imported when a secagg job runs
    from .client import Identities
    from .crypto import SigningKey
    from .params import Params

SERVER = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Credentials:
    """One party's long-term SecAgg identity: its own signing key (``None`` at the server) and
    the verification key of every client (party id → Ed25519/ECDSA P-256 public key or DER)."""

    signing_key: SigningKey | None = None
    identities: Mapping[int, object] = field(default_factory=dict)


def params_of(job: Job, instance: str = "", session: bytes = b"") -> Params:
    """The round's parameters. Parties in one process (a simulation) share one Params per job,
    session and instance, so its O(n) set-up (slots, digest) is paid once, not once per client.
    The round id (what advertisements are signed over) binds the session as well as the instance:
    otherwise a re-run of the same job in a new session signs over the same round id, and a server
    can replay a client's signed advertisement from an earlier run."""
    return _per_job(job, ("params", instance, session), lambda: _params_uncached(job, instance, session))


def _params_uncached(job: Job, instance: str, session: bytes) -> Params:
    key = (tuple(job.parties), tuple(sorted(job.options.items())), job.threshold, job.fractional_bits, instance,
           session)
    try:
        return _params(key)
    except TypeError:  # an unhashable option value: no sharing
        return _params.__wrapped__(key)


T = TypeVar("T")
# A simulation's parties share one Job object, so what is derived from it is found by identity first:
# hashing its tuple of n party ids once per party would cost O(n²) per run. Entries hold their Job
# (an id is never reused while its entry lives); jobs are immutable; the table is bounded.
_by_job: dict[tuple[int, tuple[object, ...]], tuple[Job, object]] = {}


def _per_job(job: Job, what: tuple[object, ...], make: Callable[[], T]) -> T:
    hit = _by_job.get((id(job), what))
    if hit is not None and hit[0] is job:
        return cast(T, hit[1])
    value = make()
    if len(_by_job) >= 32:
        _by_job.clear()
    _by_job[(id(job), what)] = (job, value)
    return value


@functools.lru_cache(maxsize=16)
def _params(key: tuple[tuple[int, ...], tuple[tuple[str, object], ...], int | None, int | None, str, bytes]
            ) -> Params:
    from .params import Params

    parties, options, threshold, fractional_bits, instance, session = key
    # the session goes into the round id only: the graph seed stays fixed by the job and instance
    return Params.make(parties, dict(options), degree_threshold=threshold, fractional_bits=fractional_bits,
                       round_id=instance.encode(), session=session)


IDENTITY_MODES = ("none", "simulated", "pki")


def identity_mode(job: Job) -> str:
    mode = str(job.options.get("identities", "none"))
    if mode not in IDENTITY_MODES:
        raise ConfigError(f"options.identities must be one of {list(IDENTITY_MODES)}, got {mode!r}")
    return mode


def wants_identity(job: Job) -> bool:
    return identity_mode(job) == "pki"


def with_identity(job: Job, party: int, directory: Path) -> Spec:
    """``identities = "pki"``: party's signing key (clients) and every client's verification key,
    each certificate checked against the directory's CA and the party it names."""
    from mpc.identity import load_identity, signing_keys

    own = None if party == SERVER else load_identity(directory, party).signing_key
    return make_spec(Credentials(signing_key=own, identities=signing_keys(directory, job.parties)))


def simulated_credentials(job: Job, party: int) -> Credentials:
    """The test PKI of ``identities = "simulated"``: keys derived from the public job (no secrecy)."""
    kind = str(job.options.get("identity_type", "ed25519"))
    if kind not in ("ed25519", "p256"):
        raise ConfigError(f"options.identity_type must be 'ed25519' or 'p256', got {kind!r}")

    keys, public = _per_job(job, ("pki", kind), lambda: _simulated_pki(tuple(job.parties), kind))
    return Credentials(signing_key=keys.get(party), identities=public)


@functools.lru_cache(maxsize=4)
def _simulated_pki(parties: tuple[int, ...], kind: str) -> tuple[dict[int, SigningKey], Identities]:
    """Derived once per job in a process: every simulated party shares the same table, so each
    verification key is converted (and DER-encoded) once, not once per neighbour that checks it."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from .client import Identities

    def key(u: int) -> SigningKey:
        seed = hashlib.sha256(b"secagg/simulated-identity" + kind.encode() + u.to_bytes(4, "big")).digest()
        if kind == "ed25519":
            return Ed25519PrivateKey.from_private_bytes(seed)
        return ec.derive_private_key(int.from_bytes(seed, "big") % (2**255) + 1, ec.SECP256R1())

    keys = {u: key(u) for u in parties}
    return keys, Identities({u: k.public_key() for u, k in keys.items()})


async def run(ctx: Context, job: Job, x: Array | None, *, credentials: Credentials | None = None) -> PartyResult:
    from .protocol import run_client, run_server

    params = params_of(job, ctx.instance, ctx.session)
    mode = identity_mode(job)
    if credentials is None and mode == "simulated":
        credentials = simulated_credentials(job, ctx.party_id)
    elif credentials is None and mode == "pki":
        raise ConfigError("options.identities = 'pki' needs this party's keys (mpc run --tls, or tls_dir in "
                          "mpc node's config, or make_spec)")
    identities = credentials.identities if credentials is not None else None
    if ctx.party_id == SERVER:
        if identities is None:
            ctx.log.warning("secagg without long-term identities: a malicious server is not defended against")
        server = await run_server(ctx, params, identities=identities)
        return PartyResult(server.output, meta=server.meta())
    if x is None:
        raise ConfigError(f"client {ctx.party_id} has no input vector")
    out = await run_client(ctx, params, x, signing_key=credentials.signing_key if credentials else None,
                           identities=identities)
    return PartyResult(out, meta={"role": "client"})


def reference(job: Job, inputs: Mapping[int, Array], results: Mapping[int, PartyResult]) -> Array:
    """The plaintext sum over the clients the server reports it used (U3)."""
    server = results.get(SERVER)
    if server is None or "used" not in server.meta:
        raise ConfigError("secagg reference needs the server's result (its list of used clients)")
    used = list(server.meta["used"])
    if not used:
        raise ConfigError("the server used no client")
    vectors = [np.asarray(inputs[u]) for u in used]
    if any(v.dtype.kind == "f" for v in vectors):
        return np.sum(np.stack(vectors).astype(np.float64), axis=0)
    return np.sum(np.stack(vectors).astype(np.int64), axis=0)


def extra_parties(job: Job) -> tuple[int, ...]:
    return (SERVER,)


def topology(job: Job, party: int) -> tuple[int, ...] | None:
    return tuple(job.parties) if party == SERVER else (SERVER,)



def make_spec(credentials: Credentials) -> Spec:
    """The ``secagg`` spec for a party holding real long-term credentials (``mpc node``)."""
    return Spec("secagg", functools.partial(run, credentials=credentials), reference, extra_parties=extra_parties,
                topology=topology)


SCENARIO_SPECS = [Spec("secagg", run, reference, extra_parties=extra_parties, topology=topology,
                       wants_identity=wants_identity, with_identity=with_identity)]

__all__ = ["IDENTITY_MODES", "Credentials", "SCENARIO_SPECS", "identity_mode", "make_spec", "wants_identity", "with_identity", "params_of", "reference", "run", "simulated_credentials"]
