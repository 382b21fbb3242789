"""Scenario binding: ``protocol = "secagg"``. Clients are parties 1..n; the aggregator is the extra
node 0; the topology is a star (clients connect only to 0).

``[options]``: ``variant`` ("secagg" | "secagg+"), ``degree`` (SecAgg+ neighbours, default
2·⌈log2 n⌉), ``threshold`` (shares needed = minimum survivors per stage), ``result_to_clients``
(default true: the server sends the sum back). Crash faults name the round tags
``join``, ``advertise``, ``share_keys``, ``masked_input``, ``consistency``, ``unmask``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mpc.context import Context
from mpc.errors import ConfigError
from protocols.spec import Array, Job, PartyResult, Spec

from .params import Params
from .protocol import run_client, run_server

SERVER = 0


def params_of(job: Job) -> Params:
    return Params.make(job.parties, job.options, degree_threshold=job.threshold, fractional_bits=job.fractional_bits)


async def run(ctx: Context, job: Job, x: Array | None) -> PartyResult:
    params = params_of(job)
    if ctx.party_id == SERVER:
        server = await run_server(ctx, params)
        return PartyResult(server.output, meta=server.meta())
    if x is None:
        raise ConfigError(f"client {ctx.party_id} has no input vector")
    out = await run_client(ctx, params, x)
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



SCENARIO_SPECS = [Spec("secagg", run, reference, extra_parties=extra_parties, topology=topology)]

__all__ = ["SCENARIO_SPECS", "params_of", "reference", "run"]
