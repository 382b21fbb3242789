"""What a protocol is to a scenario: the public job, a party's result, and the spec that runs and checks it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mpc.context import Context

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


def _no_check(job: Job) -> None:
    return None


def _undeclared(job: Job, party: int) -> tuple[str, ...] | None:
    return None


def _no_identity(job: Job) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Spec:
    """A protocol as scenarios see it.

    ``run`` returns an array, ``None`` or a :class:`PartyResult`; ``reference`` computes the
    plaintext answer from all inputs and every party's result (some protocols' answers depend on
    who dropped); ``extra_parties`` names nodes beyond 1..n (an aggregator, a dealer);
    ``topology`` gives the peers a party talks to (``None``: everyone), so that a star-shaped
    protocol opens n connections, not n².

    Declarations checked before any party starts: ``check`` raises ``ConfigError`` for public
    parameters the protocol cannot run with; ``options`` lists the ``[options]`` keys it reads;
    ``rounds`` gives the round tags (last path segment) ``party`` sends, which crash faults may
    name (``None``: not declared, not checked).

    Long-term identities: when ``wants_identity(job)`` is true, the application layer calls
    ``with_identity(job, party, directory)`` with the party's key directory (``mpc keygen``'s, or
    the per-run one of ``mpc run --tls``) and runs the spec it returns; without a directory the
    job is refused before any party starts.
    """

    name: str
    run: Callable[[Context, Job, Array | None], Awaitable[Array | PartyResult | None]]
    reference: Callable[[Job, Mapping[int, Array], Mapping[int, PartyResult]], Array]
    extra_parties: Callable[[Job], tuple[int, ...]] = _no_extra
    topology: Callable[[Job, int], tuple[int, ...] | None] = _full_mesh
    check: Callable[[Job], None] = _no_check
    options: tuple[str, ...] | None = ()  # None: any key (a user program reads its own options)
    rounds: Callable[[Job, int], tuple[str, ...] | None] = _undeclared
    wants_identity: Callable[[Job], bool] = _no_identity
    with_identity: Callable[[Job, int, Path], Spec] | None = None


__all__ = ["Array", "Job", "PartyResult", "Spec"]
