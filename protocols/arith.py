"""Scenario protocols built on Beaver multiplication: ``mul``, ``dot``, ``matvec``, ``mulchain``,
``meanvar``.

Every run has three phases at each computing party: input sharing, preprocessing (``triples =
"dealer"`` or ``"dn07"``), and the online phase. Phase durations come from the loop clock
(``ctx.now()``; virtual under netsim) and, with operation and byte counts, go to
``PartyResult.meta``. Sizes are public (input lengths), never values.

With ``triples = "dealer"`` the dealer is an extra node with party id 0 (:data:`DEALER`); it
serves the preprocessing request and then waits for every computing party's ``done``, so a
failed computation also fails at the dealer. ``ctx.parties`` includes the dealer; the computing
parties are ``job.parties``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import numpy as np

from mpc.context import Context
from mpc.errors import ConfigError
from mpc.field import U64

from .beaver import Beaver
from .common import Scheme, share_inputs
from .dealer import DEALER, dealer_prepare, dealer_serve
from .dn07 import dn07_prepare
from .fixed import DEFAULT_MIN_KAPPA, FixedParams, fixed_mul
from .spec import Job, PartyResult, Spec
from .sum import encode_input
from .triples import Need, Pool

Array = np.ndarray
SOURCES = ("dealer", "dn07")


def scheme_of(job: Job) -> Scheme:
    verify = job.options.get("verify_openings", False)
    if not isinstance(verify, bool):
        raise ConfigError(f"options.verify_openings must be true or false, got {verify!r}")
    return Scheme.make(job.sharing, job.parties, job.threshold, verify=verify)


def extra_parties(job: Job) -> tuple[int, ...]:
    return (DEALER,) if job.triples == "dealer" else ()


async def prepare(ctx: Context, job: Job, scheme: Scheme, need: Need) -> Pool:
    if job.triples == "dealer":
        return await dealer_prepare(ctx.child("pre"), scheme, need)
    if job.triples == "dn07":
        return await dn07_prepare(ctx.child("pre"), scheme, need)
    raise ConfigError(f"unknown triple source {job.triples!r} ({' | '.join(SOURCES)})")


async def serve_as_dealer(ctx: Context, job: Job) -> PartyResult:
    """The dealer's whole run: serve preprocessing, then wait for the computing parties' end."""
    scheme = scheme_of(job)
    meta = await dealer_serve(ctx.child("pre"), scheme)
    got = await ctx.gather("done", scheme.parties, quorum=scheme.open_quorum)
    return PartyResult(None, {**meta, "finished": sorted(got)})


class Run:
    """A computing party's run: shares inputs, prepares, times the phases."""

    def __init__(self, ctx: Context, job: Job) -> None:
        self.ctx, self.job = ctx, job
        self.scheme = scheme_of(job)
        self.meta: dict[str, Any] = {"parties": len(job.parties), "sharing": job.sharing,
                                     "t": self.scheme.t, "triples": job.triples}
        self._t = ctx.now()
        self._bytes = 0  # bytes sent when the online phase began

    def _lap(self, key: str) -> None:
        now = self.ctx.now()
        self.meta[key] = now - self._t
        self._t = now

    async def inputs(self, x: Array | None, frac_bits: int | None = None) -> list[U64]:
        if not self.job.input_parties:
            raise ConfigError("this protocol needs at least one input party")
        enc = encode_input(x, self.scheme, frac_bits)
        shares = await share_inputs(self.ctx, enc, self.scheme, self.job.input_parties)
        self._lap("input_s")
        return [shares[p] for p in self.job.input_parties]

    async def beaver(self, need: Need) -> Beaver:
        pool = await prepare(self.ctx, self.job, self.scheme, need)
        self.meta.update({f"pre_{k}": v for k, v in pool.meta.items()})
        self._lap("offline_s")
        self._bytes = self.ctx.stats()["bytes_sent"]
        return Beaver(self.ctx.child("on"), self.scheme, pool)

    def mark(self) -> tuple[float, int]:
        return self.ctx.now(), self.ctx.stats()["bytes_sent"]

    def since(self, mark: tuple[float, int], name: str) -> None:
        """Record the time and bytes sent of a section (e.g. the multiplications without the output)."""
        self.meta[f"{name}_s"] = self.ctx.now() - mark[0]
        self.meta[f"{name}_bytes_sent"] = self.ctx.stats()["bytes_sent"] - mark[1]

    async def finish(self, bv: Beaver, output: Array) -> PartyResult:
        self._lap("online_s")
        self.meta.update(bv.meta())
        self.meta["online_bytes_sent"] = self.ctx.stats()["bytes_sent"] - self._bytes
        if self.job.triples == "dealer":
            await self.ctx.send(DEALER, "done", True)
        return PartyResult(output, self.meta)


Body = Callable[[Run, Array | None], Awaitable[PartyResult]]


def spec_run(body: Body) -> Callable[[Context, Job, Array | None], Awaitable[PartyResult]]:
    """A spec's ``run``: the dealer (an extra node) serves; computing parties run ``body``."""

    async def run(ctx: Context, job: Job, x: Array | None) -> PartyResult:
        if ctx.party_id not in job.parties:
            return await serve_as_dealer(ctx, job)
        return await body(Run(ctx, job), x)

    run.__name__ = body.__name__
    return run


def _int_result(scheme: Scheme, opened: U64) -> Array:
    return scheme.domain.decode(opened)


async def product_tree(bv: Beaver, vals: list[U64], until: int = 1) -> list[U64]:
    """Multiply neighbours pairwise, one batched round per layer, until ``until`` factors remain."""
    while len(vals) > until:
        pairs = list(zip(vals[0::2], vals[1::2], strict=False))[: len(vals) - until]
        prods = await bv.mul_layer(pairs)
        vals = prods + vals[2 * len(pairs) :]
    return vals


# -- mul: the elementwise product of all input vectors, one round per layer of a product tree --
@spec_run
async def run_mul(run: Run, x: Array | None) -> PartyResult:
    vals = await run.inputs(x)
    bv = await run.beaver(Need(triples=(len(vals) - 1) * vals[0].size))
    mark = run.mark()
    vals = await product_tree(bv, vals)
    run.since(mark, "mul_online")  # the layers alone, without the output opening
    return await run.finish(bv, _int_result(run.scheme, await bv.open(vals[0])))


# -- dot: Σ of the elementwise product of all input vectors (x·y with two inputs) --------------
@spec_run
async def run_dot(run: Run, x: Array | None) -> PartyResult:
    vals = await run.inputs(x)
    n = vals[0].size
    if len(vals) == 1:
        vals.append(np.zeros_like(vals[0]))
        vals[1][:] = 1  # x·1 = Σx: the public all-ones vector, shared trivially
        if run.scheme.kind == "additive" and run.ctx.party_id != run.scheme.parties[0]:
            vals[1][:] = 0
    triples, doubles = Beaver.dot_need(run.scheme, 1, n)
    bv = await run.beaver(Need(triples=(len(vals) - 2) * n + triples, doubles=doubles))
    vals = await product_tree(bv, vals, until=2)
    z = await bv.dot(vals[0], vals[1])
    # "the sum of that product": a scalar (a 0-d array), not a one-element vector
    return await run.finish(bv, _int_result(run.scheme, await bv.open(z)).reshape(()))


# -- matvec: the input parties but the last own the rows of M, the last owns v; output M·v -------
@spec_run
async def run_matvec(run: Run, x: Array | None) -> PartyResult:
    vals = await run.inputs(x)
    if len(vals) < 2:
        raise ConfigError("matvec needs at least two input parties (rows, then the vector)")
    rows, k = len(vals) - 1, vals[0].size
    triples, doubles = Beaver.dot_need(run.scheme, rows, k)
    bv = await run.beaver(Need(triples=triples, doubles=doubles))
    z = await bv.matvec(np.stack(vals[:-1]), vals[-1])
    return await run.finish(bv, _int_result(run.scheme, await bv.open(z)))


# -- mulchain: k dependent multiplications, for latency ------------------------------------------
def chain_length(job: Job) -> int:
    k = job.options.get("k", 10)
    if not isinstance(k, int) or not 0 <= k <= 1_000_000:
        raise ConfigError(f"options.k must be an integer in 0..10^6, got {k!r}")
    return k


@spec_run
async def run_mulchain(run: Run, x: Array | None) -> PartyResult:
    """z ← v_1, then k times z ← z · v_j, cycling j over the other inputs (v_1 if it is alone)."""
    vals = await run.inputs(x)
    k = chain_length(run.job)
    factors = vals[1:] or vals[:1]
    bv = await run.beaver(Need(triples=k * vals[0].size))
    z = vals[0]
    mark = run.mark()
    for i in range(k):
        z = await bv.mul(z, factors[i % len(factors)])
    run.since(mark, "mul_online")
    return await run.finish(bv, _int_result(run.scheme, await bv.open(z)))


# -- meanvar: elementwise mean and variance over the input parties, in fixed point ---------------
def fixed_params(job: Job, scheme: Scheme) -> FixedParams:
    f = job.fractional_bits if job.fractional_bits is not None else 16
    int_bits = job.options.get("int_bits", 8)
    min_kappa = job.options.get("min_kappa", DEFAULT_MIN_KAPPA)
    if not isinstance(int_bits, int) or not 0 <= int_bits <= 30 or not isinstance(min_kappa, int):
        raise ConfigError("options.int_bits must be an integer in 0..30 and min_kappa an integer")
    contributors = 1 if job.triples == "dealer" else len(scheme.parties)
    return FixedParams.plan(scheme, f, int_bits, contributors, min_kappa=min_kappa)


@spec_run
async def run_meanvar(run: Run, x: Array | None) -> PartyResult:
    """Output ``[mean…, variance…]`` (population variance) of each position across the inputs.

    Opens ``S = Σ x_p`` and ``Q = Σ trunc(x_p · x_p)`` together; mean = S/P and
    var = Q/P − mean², so the output reveals exactly S and Q. Error: encoding (2^−(f+1) per
    input) plus the truncation bound of :mod:`protocols.fixed` on Q/P.
    """
    params = fixed_params(run.job, run.scheme)
    vals = await run.inputs(x, params.frac_bits)
    P, n = len(vals), vals[0].size
    dom = run.scheme.domain
    bv = await run.beaver(Need(triples=P * n) + params.need(P * n))
    stacked = np.stack(vals)
    squares = await fixed_mul(bv, stacked, stacked, params)
    both = np.concatenate([dom.sum(stacked, axis=0), dom.sum(squares, axis=0)])
    opened = dom.decode(await bv.open(both)).astype(np.float64) / (P * 2.0 ** params.frac_bits)
    mean, second = opened[:n], opened[n:]
    run.meta.update({"frac_bits": params.frac_bits, "kappa": params.kappa,
                     "truncation": "statistical" if params.kappa is not None else "perfect",
                     "truncation_error_bound": params.error_bound(bv.pool.mask_contributors)})
    return await run.finish(bv, np.concatenate([mean, second - mean * mean]))


# -- plaintext references --------------------------------------------------------------------
def _signed(values: Array, job: Job) -> Array:
    """Python ints reduced like the opened values: (−p/2, p/2] in GF(p), int64 wrap in Z_2^64."""
    mod = scheme_of(job).domain.modulus
    half = mod // 2
    red = [((int(v) + half) % mod) - half for v in np.atleast_1d(values)]
    return np.asarray(red, dtype=np.int64)


def _objects(job: Job, inputs: Mapping[int, Array]) -> list[Array]:
    return [np.asarray(inputs[p]).astype(object) for p in job.input_parties]


def ref_mul(job: Job, inputs: Mapping[int, Array], results: Mapping[int, PartyResult]) -> Array:
    vals = _objects(job, inputs)
    out = vals[0]
    for v in vals[1:]:
        out = out * v
    return _signed(out, job)


def ref_dot(job: Job, inputs: Mapping[int, Array], results: Mapping[int, PartyResult]) -> Array:
    vals = _objects(job, inputs)
    out = vals[0]
    for v in vals[1:]:
        out = out * v
    return _signed(np.asarray([sum(out.tolist())], dtype=object), job).reshape(())


def ref_matvec(job: Job, inputs: Mapping[int, Array], results: Mapping[int, PartyResult]) -> Array:
    vals = _objects(job, inputs)
    return _signed(np.asarray([sum((row * vals[-1]).tolist()) for row in vals[:-1]], dtype=object), job)


def ref_mulchain(job: Job, inputs: Mapping[int, Array], results: Mapping[int, PartyResult]) -> Array:
    vals = _objects(job, inputs)
    factors = vals[1:] or vals[:1]
    mod = scheme_of(job).domain.modulus
    z = vals[0]
    for i in range(chain_length(job)):
        z = (z * factors[i % len(factors)]) % mod  # keep the Python ints small
    return _signed(z, job)


def ref_meanvar(job: Job, inputs: Mapping[int, Array], results: Mapping[int, PartyResult]) -> Array:
    data = np.stack([np.asarray(inputs[p], dtype=np.float64) for p in job.input_parties])
    return np.concatenate([data.mean(axis=0), data.var(axis=0)])


SCENARIO_SPECS = [
    Spec("mul", run_mul, ref_mul, extra_parties),
    Spec("dot", run_dot, ref_dot, extra_parties),
    Spec("matvec", run_matvec, ref_matvec, extra_parties),
    Spec("mulchain", run_mulchain, ref_mulchain, extra_parties),
    Spec("meanvar", run_meanvar, ref_meanvar, extra_parties),
]

__all__ = ["SCENARIO_SPECS", "Run", "extra_parties", "prepare", "serve_as_dealer"]
