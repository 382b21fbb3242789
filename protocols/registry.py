"""Protocols by scenario name: one static table (no import side effects, no discovery)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from mpc.context import Context
from mpc.errors import ConfigError

from . import checks
from .arith import SCENARIO_SPECS as ARITH_SPECS
from .secagg.specs import SCENARIO_SPECS as SECAGG_SPECS
from .secarray.program import SPEC as PROGRAM_SPEC
from .spec import Array, Job, PartyResult, Spec
from .sum import secure_mean, secure_sum


def _stack(job: Job, inputs: Mapping[int, Array]) -> Array:
    return np.stack([np.asarray(inputs[p]) for p in job.input_parties])


def _sum_reference(job: Job, inputs: Mapping[int, Array], results: Mapping[int, PartyResult]) -> Array:
    return _stack(job, inputs).sum(axis=0)


def _mean_reference(job: Job, inputs: Mapping[int, Array], results: Mapping[int, PartyResult]) -> Array:
    return _stack(job, inputs).astype(np.float64).mean(axis=0)


async def _run_sum(ctx: Context, job: Job, x: Array | None) -> Array:
    return await secure_sum(
        ctx, x, sharing=job.sharing, threshold=job.threshold,
        input_parties=job.input_parties, fractional_bits=job.fractional_bits,
        verify_openings=job.options.get("verify_openings") is True,
    )


async def _run_mean(ctx: Context, job: Job, x: Array | None) -> Array:
    return await secure_mean(
        ctx, x, sharing=job.sharing, threshold=job.threshold,
        input_parties=job.input_parties, fractional_bits=job.fractional_bits,
    )


# what each protocol declares for the checks made before any party starts (see protocols.checks)
_DECLARED: Mapping[str, dict[str, object]] = {
    "sum": {"check": checks.check_sum, "rounds": checks.rounds_sum},
    "mean": {"check": checks.check_sum, "rounds": checks.rounds_sum},
    "mul": {"check": checks.check_mul, "rounds": checks.rounds_mul},
    "dot": {"check": checks.check_mul, "rounds": checks.rounds_dot},
    "matvec": {"check": checks.check_matvec, "rounds": checks.rounds_dot},
    "mulchain": {"check": checks.check_mulchain, "rounds": checks.rounds_mul, "options": ("k",)},
    "meanvar": {"check": checks.check_meanvar, "rounds": checks.rounds_meanvar,
                "options": ("int_bits", "min_kappa")},
    "secagg": {"check": checks.check_secagg, "rounds": checks.rounds_secagg, "options": checks.SECAGG_OPTIONS},
}

REGISTRY: Mapping[str, Spec] = {
    spec.name: replace(spec, **_DECLARED.get(spec.name, {}))  # type: ignore[arg-type]
    for spec in (
        Spec("sum", _run_sum, _sum_reference),
        Spec("mean", _run_mean, _mean_reference),
        *ARITH_SPECS,
        *SECAGG_SPECS,
        PROGRAM_SPEC,
    )
}


def lookup(name: str) -> Spec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown protocol {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


__all__ = ["Job", "PartyResult", "REGISTRY", "Spec", "lookup"]
