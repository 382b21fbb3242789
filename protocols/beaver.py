"""Beaver multiplication, dot products and openings on shared vectors, one round per layer.

``x·y`` from a triple ``(a, b, c = a·b)``: open ``d = x − a`` and ``e = y − b`` — both in ONE
message per party — then ``[xy] = c + d·[y] + e·[a]`` locally. ``d`` and ``e`` are uniformly
random (masked by ``a``, ``b``), so the openings reveal nothing. Every multiplication of a layer
goes into the same round (:meth:`Beaver.mul_layer`).

Dot products under Shamir (n ≥ 2t + 1) need no triple at all: each party sums its local
products, a degree-2t sharing of ``x·y``, and one degree reduction with a double sharing
``([r]_t, [r]_2t)`` opens ``x·y − r`` — one opened element per output, whatever the length.
Under additive sharing local products are not shares of anything, so a dot product is an
elementwise Beaver product summed locally (openings per input element; see :meth:`Beaver.dot`).

Dropouts (Shamir): an opening of a degree-t sharing needs any t + 1 live parties; a degree
reduction (degree 2t) needs 2t + 1. Fewer raise :class:`QuorumLost` at every survivor. Additive
sharing tolerates no dropout (:class:`PartyDropped`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mpc.context import Context
from mpc.errors import ConfigError
from mpc.field import GF61, TINY, U64

from .common import Scheme, flat_ints, frozen, open_ints, open_values
from .triples import Pool


def add_public(scheme: Scheme, share: U64, value: U64, party: int) -> U64:
    """A share of ``x + v`` for public ``v``: Shamir shifts every share, additive only the first."""
    if scheme.kind == "shamir":
        return GF61.add(share, value)
    return share + value if party == scheme.parties[0] else share.copy()


class Beaver:
    """Shared arithmetic of one computation: multiplications, dot products, openings.

    Rounds are numbered, so every party produces the same tags (``r<k>/open``) in the same
    order; the counters feed the run's metadata.
    """

    def __init__(self, ctx: Context, scheme: Scheme, pool: Pool) -> None:
        self.ctx = ctx
        self.scheme = scheme
        self.dom = scheme.domain
        self.pool = pool
        self.rounds = 0
        self.multiplications = 0
        self.reductions = 0
        self.opened_elements = 0

    def _tag(self, kind: str) -> str:
        self.rounds += 1
        return f"r{self.rounds}/{kind}"

    async def open(self, share: U64, *, degree: int | None = None, kind: str = "output") -> U64:
        self.opened_elements += share.size
        return await open_values(self.ctx, self.scheme, share, self._tag(kind), degree=degree)

    async def mul(self, x: U64, y: U64) -> U64:
        if x.size <= TINY and x.shape == y.shape and x.dtype == np.uint64 and y.dtype == np.uint64:
            if x.size == 1:
                return await self._mul_one(x, y)
            return (await self._mul_tiny(((x, y),), *self.pool.triple_ints(x.size)))[0]
        return (await self.mul_layer([(x, y)]))[0]

    async def _mul_one(self, x: U64, y: U64) -> U64:
        """:meth:`_mul_tiny` of one element (a scalar chain's step): the same message and value."""
        P = self.dom.modulus
        (a,), (b,), (c,) = self.pool.triple_ints(1)
        xv, yv = x.item(), y.item()
        own = [(xv - a) % P, (yv - b) % P]
        self.opened_elements += 2
        d, e = await open_ints(self.ctx, self.scheme, np.array([own[:1], own[1:]], dtype=np.uint64),
                               self._tag("open"), own=own)
        self.multiplications += 1
        z = np.array([(c + d * yv + e * a) % P], dtype=np.uint64)
        return z if x.ndim == 1 else z.reshape(x.shape)

    async def mul_layer(self, pairs: Sequence[tuple[U64, U64]]) -> list[U64]:
        """Independent products ``x_k · y_k`` in one round (one message per party)."""
        for x, y in pairs:
            if x.shape != y.shape or x.dtype != np.uint64 or y.dtype != np.uint64:
                raise ConfigError(f"cannot multiply shares of shapes {x.shape} and {y.shape}")
        sizes = [x.size for x, _ in pairs]
        total = sum(sizes)
        if total <= TINY:  # a dependent chain's round: Python ints beat a dozen numpy calls
            return await self._mul_tiny(pairs, *self.pool.triple_ints(total))
        a, b, c = self.pool.triples(total)
        masked = np.empty((2, total), dtype=np.uint64)  # row 0: x − a, row 1: y − b
        off = 0
        for (x, y), n in zip(pairs, sizes, strict=True):
            self.dom.sub(x.reshape(-1), a[off : off + n], out=masked[0, off : off + n])
            self.dom.sub(y.reshape(-1), b[off : off + n], out=masked[1, off : off + n])
            off += n
        opened = await self.open(frozen(masked), kind="open")  # (never written again: kept without a copy)
        self.multiplications += total
        out = []
        off = 0
        for (x, y), n in zip(pairs, sizes, strict=True):
            blk = slice(off, off + n)
            z = self.dom.beaver_combine(c[blk], opened[0, blk], y.reshape(-1), opened[1, blk], a[blk])
            out.append(z.reshape(x.shape))
            off += n
        return out

    async def _mul_tiny(self, pairs: Sequence[tuple[U64, U64]], al: list[int], bl: list[int],
                        cl: list[int]) -> list[U64]:
        """:meth:`mul_layer` on at most :data:`TINY` elements, in Python ints: the same values and
        the same message (a (2, total) uint64 array) as the numpy path; the domain's modulus does
        the reduction (2^61 − 1, or 2^64 for Z_2^64's wrap-around)."""
        P = self.dom.modulus
        if len(pairs) == 1:  # a chain's step: one pair
            xs, ys = flat_ints(pairs[0][0]), flat_ints(pairs[0][1])
        else:
            xs = [v for x, _ in pairs for v in flat_ints(x)]
            ys = [v for _, y in pairs for v in flat_ints(y)]
        n = len(xs)
        own = [(x - av) % P for x, av in zip(xs, al)] + [(y - bv) % P for y, bv in zip(ys, bl)]
        masked = np.array(own, dtype=np.uint64).reshape(2, n)
        self.opened_elements += 2 * n
        flat = await open_ints(self.ctx, self.scheme, masked, self._tag("open"), own=own)
        self.multiplications += n
        # [xy] = c + d·[y] + e·[a] (see mpc.field.PrimeField.beaver_combine)
        zs = [(cv + d * y + e * av) % P for cv, d, y, e, av in zip(cl, flat[:n], ys, flat[n:], al)]
        if len(pairs) == 1:
            x = pairs[0][0]
            z = np.array(zs, dtype=np.uint64)
            return [z if x.ndim == 1 else z.reshape(x.shape)]
        out, off = [], 0
        for x, _ in pairs:
            k = x.size
            z = np.array(zs[off : off + k], dtype=np.uint64)
            out.append(z if x.ndim == 1 else z.reshape(x.shape))
            off += k
        return out

    def can_reduce(self) -> bool:
        return self.scheme.can_reduce_degree

    async def reduce(self, share_2t: U64) -> U64:
        """Degree 2t → t with double sharings: open ``s − r`` from 2t + 1 shares, add ``[r]_t``."""
        r_t, r_2t = self.pool.doubles(share_2t.size)
        masked = frozen(GF61.sub(share_2t.reshape(-1), r_2t))  # (never written again: kept without a copy)
        opened = await self.open(masked, degree=2 * self.scheme.t, kind="reduce")
        self.reductions += share_2t.size
        return GF61.add(r_t, opened).reshape(share_2t.shape)

    async def dot(self, x: U64, y: U64) -> U64:
        """Row-wise dot products of two (m, k) shared arrays (1-D: one dot product)."""
        if x.shape != y.shape:
            raise ConfigError(f"dot product of shapes {x.shape} and {y.shape}")
        x2, y2 = np.atleast_2d(x), np.atleast_2d(y)
        if self.can_reduce():
            self.multiplications += x.size  # local products; mul_layer counts the Beaver ones
            z = await self.reduce(self.dom.row_dot(x2, y2))
        else:
            z = self.dom.sum(await self.mul(x2, y2), axis=1)
        return z if x.ndim > 1 else z.reshape(1)

    async def matvec(self, matrix: U64, vector: U64) -> U64:
        """``M·v`` for a shared (m, k) matrix and a shared k-vector: m row dot products, so one
        opened element per output row under Shamir (n ≥ 2t + 1)."""
        if matrix.ndim != 2 or vector.shape != (matrix.shape[1],):
            raise ConfigError(f"matrix {matrix.shape} and vector {vector.shape} do not fit")
        return await self.dot(matrix, np.broadcast_to(vector, matrix.shape))

    @staticmethod
    def dot_need(scheme: Scheme, m: int, k: int) -> tuple[int, int]:
        """(triples, doubles) that ``m`` dot products of length ``k`` consume."""
        if scheme.can_reduce_degree:
            return 0, m
        return m * k, 0

    def meta(self) -> dict[str, Any]:
        return {"multiplications": self.multiplications, "rounds": self.rounds,
                "degree_reductions": self.reductions, "opened_elements": self.opened_elements}


__all__ = ["Beaver", "add_public", "open_values"]
