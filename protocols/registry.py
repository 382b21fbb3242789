"""Protocols by scenario name: how a party runs one, and the plaintext result it must equal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mpc.context import Context
from mpc.errors import ConfigError

from .sum import secure_mean, secure_sum

Array = NDArray[Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """Public parameters of one scenario run, the same at every party."""

    parties: tuple[int, ...]
    input_parties: tuple[int, ...]
    sharing: str = "shamir"
    threshold: int | None = None
    triples: str = "dealer"
    fractional_bits: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartyResult:
    """What one party's run produced: its opened output (``None`` if it gets none) and metadata."""

    output: Array | None
    meta: Mapping[str, Any] = field(default_factory=dict)


def _no_extra(job: Job) -> tuple[int, ...]:
    return ()


def _full_mesh(job: Job, party: int) -> tuple[int, ...] | None:
    return None


@dataclass(frozen=True, slots=True)
class Spec:
    """A protocol as scenarios see it.

    ``run`` returns an array, ``None`` or a :class:`PartyResult`; ``reference`` computes the
    plaintext answer from all inputs and every party's result (some protocols' answers depend on
    who dropped); ``extra_parties`` names nodes beyond 1..n (an aggregator, a dealer);
    ``topology`` gives the peers a party talks to (``None``: everyone), so that a star-shaped
    protocol opens n connections, not n².
    """

    name: str
    run: Callable[[Context, Job, Array | None], Awaitable[Array | PartyResult | None]]
    reference: Callable[[Job, Mapping[int, Array], Mapping[int, PartyResult]], Array]
    extra_parties: Callable[[Job], tuple[int, ...]] = _no_extra
    topology: Callable[[Job, int], tuple[int, ...] | None] = _full_mesh


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
    )


async def _run_mean(ctx: Context, job: Job, x: Array | None) -> Array:
    return await secure_mean(
        ctx, x, sharing=job.sharing, threshold=job.threshold,
        input_parties=job.input_parties, fractional_bits=job.fractional_bits,
    )


REGISTRY: dict[str, Spec] = {
    "sum": Spec("sum", _run_sum, _sum_reference),
    "mean": Spec("mean", _run_mean, _mean_reference),
}


def register(spec: Spec) -> None:
    REGISTRY[spec.name] = spec


def _discover() -> None:
    """Import every module of ``protocols`` that declares ``SCENARIO_SPECS`` (lazily, once)."""
    import importlib
    import pkgutil

    import protocols

    for info in pkgutil.walk_packages(protocols.__path__, "protocols."):
        module = importlib.import_module(info.name)
        for spec in getattr(module, "SCENARIO_SPECS", ()):
            REGISTRY.setdefault(spec.name, spec)


_discovered = False


def lookup(name: str) -> Spec:
    global _discovered
    if name not in REGISTRY and not _discovered:
        _discovered = True
        _discover()
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown protocol {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


__all__ = ["Job", "PartyResult", "REGISTRY", "Spec", "lookup", "register"]
