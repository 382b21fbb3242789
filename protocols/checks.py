"""What each scenario protocol declares before any party starts: parameter checks, ``[options]``
keys, and the round tags each party sends (which crash faults may name).

Kept beside the registry so that the protocol modules stay as they are; a protocol's owner may
move its declarations into its own ``Spec(...)``. ``tests/test_checks.py`` runs every protocol on
netsim and compares the declared rounds with the tags actually sent.
"""

from __future__ import annotations

from mpc.errors import ConfigError

from .arith import SOURCES, chain_length, fixed_params, scheme_of
from .common import Scheme
from .secagg.specs import SERVER, identity_mode, params_of
from .spec import Job

Rounds = tuple[str, ...]


def _need_inputs(job: Job, at_least: int = 1) -> None:
    if len(job.input_parties) < at_least:
        raise ConfigError(f"needs at least {at_least} input part{'y' if at_least == 1 else 'ies'}"
                          f" (input_parties = {list(job.input_parties)})")


def _sharing(job: Job) -> Scheme:
    if len(job.parties) < 2:
        raise ConfigError(f"parties = {len(job.parties)}: a secure computation needs at least 2 parties")
    return Scheme.make(job.sharing, job.parties, job.threshold)


# -- sum and mean ------------------------------------------------------------------------------
def check_sum(job: Job) -> None:
    _sharing(job)
    _need_inputs(job)


def rounds_sum(job: Job, party: int) -> Rounds:
    return ("share", "open") if party in job.input_parties else ("open",)


# -- Beaver protocols --------------------------------------------------------------------------
def _check_arith(job: Job) -> Scheme:
    if job.triples not in SOURCES:
        raise ConfigError(f"unknown triples {job.triples!r} ({' | '.join(SOURCES)})")
    scheme = _sharing(job)
    if job.triples == "dn07":
        if scheme.kind != "shamir":
            raise ConfigError("triples = 'dn07' needs sharing = 'shamir' (additive has no degree reduction)")
        if not scheme.can_reduce_degree:
            raise ConfigError(f"triples = 'dn07' needs parties >= 2t + 1 (parties = {len(job.parties)}, "
                              f"t = {scheme.t})")
    _need_inputs(job)
    return scheme


def check_mul(job: Job) -> None:
    _check_arith(job)


def check_matvec(job: Job) -> None:
    _check_arith(job)
    _need_inputs(job, 2)


def check_mulchain(job: Job) -> None:
    _check_arith(job)
    chain_length(job)


def check_meanvar(job: Job) -> None:
    fixed_params(job, _check_arith(job))


def _arith_rounds(job: Job, party: int, own: Rounds) -> Rounds:
    if party not in job.parties:
        return ("key", "deal")  # the dealer node: seeded parties' keys, then the others' vectors
    base: Rounds = ("need", "done") if job.triples == "dealer" else ("contrib", "agree", "reduce")
    mine = ("share",) if party in job.input_parties else ()
    return (*mine, *base, *own, "output")


def rounds_mul(job: Job, party: int) -> Rounds:
    return _arith_rounds(job, party, ("open",))


def rounds_dot(job: Job, party: int) -> Rounds:
    """Shamir with n >= 2t + 1 reduces the degree of each dot product; otherwise it opens."""
    return _arith_rounds(job, party, ("reduce",) if scheme_of(job).can_reduce_degree else ("open",))


def rounds_meanvar(job: Job, party: int) -> Rounds:
    return _arith_rounds(job, party, ("open", "trunc"))


# -- secure aggregation ------------------------------------------------------------------------
SECAGG_OPTIONS = ("variant", "degree", "threshold", "result_to_clients", "corrupt_fraction", "dropout_fraction", "sigma",
                  "eta", "graph_seed", "identities", "identity_type")


def check_secagg(job: Job) -> None:
    params_of(job)
    identity_mode(job)
    have = set(job.input_parties)  # (a tuple lookup per client was O(n²) for 10,000 clients)
    missing = [p for p in job.parties if p not in have]
    if missing:
        raise ConfigError(f"secagg: every client needs an input vector; none for {missing}")


def rounds_secagg(job: Job, party: int) -> Rounds:
    if party == SERVER:
        return ("keys", "shares", "survivors", "unmask_request", "result")
    return ("join", "advertise", "share_keys", "masked_input", "consistency", "unmask")


__all__ = [
    "SECAGG_OPTIONS",
    "check_matvec",
    "check_meanvar",
    "check_mul",
    "check_mulchain",
    "check_secagg",
    "check_sum",
    "rounds_dot",
    "rounds_meanvar",
    "rounds_mul",
    "rounds_secagg",
    "rounds_sum",
]
