"""The public, typed API: one coroutine per shipped computation, usable without the registry.

Each is a protocol — ``await node.run(secure_product, x, input_parties=(1, 2), name="q7")`` —
run by every party of the session with the same public parameters (only ``x`` differs; ``None``
at a party that gives no input). Input parties are always stated, never inferred from who has an
input. Integers may be negative; they must satisfy |v| < 2^60 (sums: see :mod:`mpc.job`).

Preprocessing for the multiplications (``triples``): ``"dn07"`` (dealer-free, Shamir with an
honest majority, n ≥ 2t + 1) or ``"dealer"`` (a trusted dealer: party 0 of the session runs the
same call with ``x=None`` and gets ``None``). Threat model: semi-honest parties; see each
protocol's module.

=====================  ==========================================================  ============
function               output (opened to every computing party)                    module
=====================  ==========================================================  ============
``secure_sum``         elementwise sum of the input vectors                        ``sum``
``secure_mean``        elementwise mean (the number of inputs is public)           ``sum``
``secure_product``     elementwise product of all input vectors                    ``arith``
``secure_dot``         Σ of that product (x·y with two inputs), a scalar            ``arith``
``secure_matvec``      M·v: all input parties but the last own M's rows, the last v ``arith``
``secure_variance``    (mean, population variance) per position, fixed point       ``arith``
``secure_aggregate``   sum of the clients' vectors at the aggregator (SecAgg)      ``secagg``
=====================  ==========================================================  ============
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mpc.context import Context
from mpc.errors import ConfigError

from .arith import run_dot, run_matvec, run_meanvar, run_mul
from .dealer import DEALER
from .spec import Job, PartyResult
from .sum import secure_mean, secure_sum

Runner = Callable[[Context, Job, Any], Awaitable[PartyResult]]


def _job(ctx: Context, input_parties: Sequence[int], sharing: str, threshold: int | None, triples: str,
         fractional_bits: int | None = None, options: Mapping[str, Any] | None = None) -> Job:
    if triples not in ("dn07", "dealer"):
        raise ConfigError(f"unknown triple source {triples!r} (dn07 | dealer)")
    parties = tuple(p for p in ctx.parties if not (triples == "dealer" and p == DEALER))
    if triples == "dealer" and DEALER not in ctx.parties:
        raise ConfigError(f"triples='dealer' needs the dealer, party {DEALER}, in the session")
    inputs = tuple(sorted(input_parties))
    if not inputs or not set(inputs) <= set(parties):
        raise ConfigError(f"input parties {list(inputs)} must be computing parties of {list(parties)}")
    return Job(parties=parties, input_parties=inputs, sharing=sharing, threshold=threshold, triples=triples,
               fractional_bits=fractional_bits, options=dict(options or {}))


async def _output(run: Runner, ctx: Context, job: Job, x: ArrayLike | None) -> NDArray[Any] | None:
    result = await run(ctx, job, None if x is None else np.asarray(x))
    return None if result.output is None else np.asarray(result.output)


async def secure_product(
    ctx: Context, x: ArrayLike | None, *, input_parties: Sequence[int], sharing: str = "shamir",
    threshold: int | None = None, triples: str = "dn07",
) -> NDArray[np.int64] | None:
    """The elementwise product of every input party's integer vector (``None`` at the dealer).

    One batched multiplication round per layer of a product tree: ⌈log2 k⌉ rounds for k inputs.
    Products wrap modulo the domain (2^61 − 1 or 2^64) if they exceed it: keep |Π| < 2^60.
    """
    return await _output(run_mul, ctx, _job(ctx, input_parties, sharing, threshold, triples), x)


async def secure_dot(
    ctx: Context, x: ArrayLike | None, *, input_parties: Sequence[int], sharing: str = "shamir",
    threshold: int | None = None, triples: str = "dn07",
) -> np.int64 | None:
    """Σ_i Π_p x_p[i]: the dot product x·y of two input vectors (one input: Σx), as a scalar."""
    out = await _output(run_dot, ctx, _job(ctx, input_parties, sharing, threshold, triples), x)
    return None if out is None else np.int64(out)


async def secure_matvec(
    ctx: Context, x: ArrayLike | None, *, input_parties: Sequence[int], sharing: str = "shamir",
    threshold: int | None = None, triples: str = "dn07",
) -> NDArray[np.int64] | None:
    """M·v, where input party ``input_parties[i]`` (sorted) holds row i of M and the last one holds
    v; one opened element per row under Shamir with n ≥ 2t + 1."""
    return await _output(run_matvec, ctx, _job(ctx, input_parties, sharing, threshold, triples), x)


async def secure_variance(
    ctx: Context, x: ArrayLike | None, *, input_parties: Sequence[int], sharing: str = "shamir",
    threshold: int | None = None, triples: str = "dn07", fractional_bits: int = 16, int_bits: int = 8,
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """(mean, population variance) of each position across the input parties' real vectors.

    Reveals exactly Σx and Σx² (to ``fractional_bits`` of precision); inputs must satisfy
    |x| < 2^int_bits. The error bound is in :mod:`protocols.fixed`.
    """
    job = _job(ctx, input_parties, sharing, threshold, triples, fractional_bits, {"int_bits": int_bits})
    out = await _output(run_meanvar, ctx, job, x)
    if out is None:
        return None
    n = out.size // 2
    return out[:n].astype(np.float64), out[n:].astype(np.float64)


async def secure_aggregate(
    ctx: Context, x: ArrayLike | None, *, clients: Sequence[int] | None = None, variant: str = "secagg",
    threshold: int | None = None, degree: int | None = None, fractional_bits: int | None = None,
    result_to_clients: bool = True, signing_key: Any = None, identities: Mapping[int, object] | None = None,
) -> NDArray[Any] | None:
    """Secure aggregation (Bonawitz et al.; ``variant="secagg+"``: Bell et al.): party 0 is the
    aggregator and learns the sum of the vectors of the clients it used (every other party of the
    session is a client, unless ``clients`` says which). Clients get the sum too when
    ``result_to_clients``; dropouts are tolerated down to ``threshold`` survivors per stage.
    ``signing_key`` (a client's long-term key) and ``identities`` (party id → verification key)
    enable the active-server defences (signed key advertisements); without them only a
    semi-honest server is defended against (see README's threat model).
    """
    from .secagg.params import Params
    from .secagg.protocol import run_client, run_server

    server = 0
    members = tuple(p for p in ctx.parties if p != server) if clients is None else tuple(clients)
    options: dict[str, Any] = {"variant": variant, "result_to_clients": result_to_clients}
    if threshold is not None:
        options["threshold"] = threshold
    if degree is not None:
        options["degree"] = degree
    params = Params.make(members, options, fractional_bits=fractional_bits, round_id=ctx.instance.encode())
    if ctx.party_id == server:
        return (await run_server(ctx, params, identities=identities)).output
    if x is None:
        raise ConfigError(f"client {ctx.party_id} has no input vector")
    return await run_client(ctx, params, x, signing_key=signing_key, identities=identities)


__all__ = ["secure_aggregate", "secure_dot", "secure_matvec", "secure_mean", "secure_product", "secure_sum",
           "secure_variance"]
