"""Every check a scenario must pass before any party starts (``mpc run`` exits 2 on failure).

The loader (:mod:`mpc.app.scenario`) checks the file's shape and each input's range; this module
checks the scenario against its protocol: the protocol's own parameter checks (``Spec.check``),
its ``[options]`` keys, the rounds crash faults name, the sum's headroom, and what the chosen mode
can honour. It returns notes (``[network]`` ignored in a real run) and raises :class:`ConfigError`.
"""

from __future__ import annotations

import math

import numpy as np

from mpc.errors import ConfigError
from mpc.app.runner import NEEDS_IDENTITIES, job_of, node_ids
from mpc.app.scenario import BOUND_BITS, ProcessFault, Scenario, fault_name
from netsim.faults import AfterRound, Crash
from protocols.registry import lookup
from protocols.spec import Spec

SUMS = ("sum", "mean", "secagg")  # outputs are sums of the inputs
PRODUCTS = ("mul",)  # elementwise products of every input vector
DOTS = ("dot",)  # the sum of that product


def validate(scn: Scenario, *, real: bool, identities: bool | None = None) -> list[str]:
    """Raise :class:`ConfigError` (one line, naming the key) or return notes for the user.
    ``identities``: whether the parties will hold long-term keys (``None``: not known yet; a
    simulation makes fresh ones)."""
    try:
        return _validate(scn, real=real, identities=identities)
    except ConfigError as exc:
        raise ConfigError(f"{scn.path or scn.name}: {exc}") from None


def _validate(scn: Scenario, *, real: bool, identities: bool | None) -> list[str]:
    spec = lookup(scn.protocol)
    node_ids(scn)  # inputs and faults name nodes of this protocol
    unknown = [] if spec.options is None else sorted(set(scn.options) - set(spec.options))
    if unknown:
        known = ", ".join(spec.options or ()) or "none"
        raise ConfigError(f"unknown [options] keys {unknown} for protocol {scn.protocol!r} (known: {known})")
    job = job_of(scn)
    try:
        spec.check(job)
    except ConfigError as exc:
        raise ConfigError(f"{scn.protocol}: {exc}") from None
    if identities is False and spec.wants_identity(job):
        raise ConfigError(f"{scn.protocol}: {NEEDS_IDENTITIES}")
    if real and job.options.get("identities") == "simulated":
        # a test PKI: every signing key follows from the public job, so anyone (the server) can
        # sign for every client; in a real run that is no identities at all, without the warning
        raise ConfigError(f"{scn.protocol}: options.identities = 'simulated' derives every signing key from the "
                          f"public job (a test PKI for --sim): a real run needs 'pki' (with --tls or tls_dir) or 'none'")
    _check_faults(scn, spec, real=real)
    _check_headroom(scn)
    notes = []
    if real and scn.network:
        notes.append("note: [network] shapes only --sim runs; a real run uses the actual network")
    return notes


def _check_faults(scn: Scenario, spec: Spec, *, real: bool) -> None:
    job = job_of(scn)
    for k, fault in enumerate(scn.faults):
        where, kind = f"faults[{k}]", fault_name(fault)
        if real and not isinstance(fault, Crash | ProcessFault):
            raise ConfigError(f"{where}: {kind!r} faults exist only in --sim runs (real runs: crash, freeze)")
        if not real and isinstance(fault, ProcessFault):
            what = "sends = k" if fault.sends else f"{kind!r} faults"
            raise ConfigError(f"{where}: {what} exist only in real runs (drop --sim)")
        when = getattr(fault, "when", None)
        if not isinstance(when, AfterRound):
            continue
        rounds = spec.rounds(job, fault.party)
        if rounds is not None and when.tag.rsplit("/", 1)[-1] not in rounds:
            raise ConfigError(f"{where}: {kind} = 'after:{when.tag}' never fires: party {fault.party} sends no "
                              f"round {when.tag!r} in {scn.protocol!r} (its rounds: {', '.join(rounds) or 'none'})")


def _check_headroom(scn: Scenario) -> None:
    """Refuse inputs whose opened result could exceed 2^60 (it would wrap silently).

    Bounds come from the inputs this process sees; an input party whose vector is not here (a
    deployment host sees only its own) is assumed as large as the largest one seen.
    """
    seen = [scn.inputs[p] for p in scn.input_parties if p in scn.inputs]
    if not seen or scn.protocol not in (*SUMS, *PRODUCTS, *DOTS):
        return
    scale = float(2 ** (scn.fractional_bits or 0)) if any(v.dtype.kind == "f" for v in seen) else 1.0
    mags = [np.abs(np.asarray(v, dtype=np.float64)) * scale for v in seen]
    missing = len(scn.input_parties) - len(mags)
    if missing:
        biggest = max(float(m.max()) for m in mags)
        mags += [np.full_like(mags[0], biggest)] * missing
    with np.errstate(divide="ignore", over="ignore"):
        if scn.protocol in SUMS:
            worst, what = float(np.sum(mags, axis=0).max()), f"the sum of {len(mags)} inputs"
        else:
            logs = np.sum([np.log2(np.maximum(m, 1.0)) for m in mags], axis=0)
            if scn.protocol in DOTS:
                worst = float(np.log2(np.sum(np.exp2(np.minimum(logs, 1023.0)))))
                what = f"the dot product of {len(mags)} inputs"
            else:
                worst, what = float(logs.max()), f"the product of {len(mags)} inputs"
            worst = math.inf if worst >= 1023 else 2.0 ** worst
    if worst >= 2.0 ** BOUND_BITS:
        raise ConfigError(f"inputs: {what} can reach {worst:.3g} >= 2^{BOUND_BITS} and would wrap; "
                          f"use smaller inputs or fewer fractional bits")


__all__ = ["validate"]
