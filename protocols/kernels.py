"""Cache-blocked field kernels for the multiplication hot path.

GF(2^61 − 1) arithmetic in numpy makes about fifteen passes over temporaries per product; on
10^6-element vectors those temporaries spill out of cache and the passes become memory-bound.
Working in blocks of :data:`BLOCK` elements keeps them in L2 and runs about 3× faster. Two more
savings: sums of products stay unreduced below 2^64 and are folded once, and multiplying by a
small public constant (party ids, their Lagrange coefficients) is one multiply and one fold.
Z_2^64 is native numpy arithmetic and needs no blocking. Functions allocate their output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mpc.field import GF61, U64, PrimeField, Ring64

BLOCK = 1 << 15
Domain = PrimeField | Ring64


def _blocks(n: int) -> range:
    return range(0, n, BLOCK)


def sub(dom: Domain, a: U64, b: U64, out: U64 | None = None) -> U64:
    """``a − b`` (into ``out`` when given, e.g. a row of a batched message)."""
    if out is None:
        return dom.sub(a, b)
    if isinstance(dom, Ring64):
        np.subtract(a, b, out=out)
        return out
    fa, fb, fo = a.reshape(-1), b.reshape(-1), out.reshape(-1)
    for s in _blocks(fa.size):  # block by block, so no full-size temporary is made
        fo[s : s + BLOCK] = GF61.sub(fa[s : s + BLOCK], fb[s : s + BLOCK])
    return out


def mul(dom: Domain, a: U64, b: U64) -> U64:
    return dom.mul(a, b)  # GF61.mul is cache-blocked itself


def lincomb(dom: Domain, coeffs: Sequence[int], arrays: Sequence[U64]) -> U64:
    """``Σ coeffs[k] · arrays[k]`` for public scalars (Lagrange interpolation, matrix rows)."""
    if isinstance(dom, Ring64):
        out = arrays[0] * np.uint64(coeffs[0] % dom.modulus)
        for c, arr in zip(coeffs[1:], arrays[1:], strict=True):
            out += arr * np.uint64(c % dom.modulus)
        return out
    out = np.empty_like(arrays[0])
    flat = [a.reshape(-1) for a in arrays]
    fo = out.reshape(-1)
    terms = [(_signed_small(c), c % GF61.modulus) for c in coeffs]
    smalls = [small for small, _ in terms]
    if all(c is not None for c in smalls) and sum(abs(c) for c in smalls) <= SMALL + 1:  # type: ignore[arg-type]
        # e.g. Lagrange coefficients of nearby ids: Σ |c|·p < 2^64, so sum unreduced, fold once
        for s in _blocks(fo.size):
            r = np.zeros(min(BLOCK, fo.size - s), dtype=np.uint64)
            for c, arr in zip(smalls, flat, strict=True):
                blk = arr[s : s + BLOCK]
                term = blk if c > 0 else _P - blk  # type: ignore[operator]
                r += term if abs(c) == 1 else term * np.uint64(abs(c))  # type: ignore[arg-type]
            fo[s : s + BLOCK] = fold(r)
        return out
    for s in _blocks(fo.size):
        acc: U64 | None = None
        for (small, c), arr in zip(terms, flat, strict=True):
            blk = arr[s : s + BLOCK]
            if small is None:
                acc = GF61.scale(blk, c) if acc is None else GF61.add(acc, GF61.scale(blk, c))
                continue
            term = _times_small(blk, abs(small))
            if acc is None:
                acc = term if small > 0 else GF61.neg(term)
            else:
                acc = GF61.add(acc, term) if small > 0 else GF61.sub(acc, term)
        fo[s : s + BLOCK] = acc
    return out


_P = np.uint64(GF61.modulus)
SMALL = 7  # a < 2^61 times c ≤ 7 stays below 2^64: one multiply and one fold


def _signed_small(c: int) -> int | None:
    """``c`` as a small signed integer (|c| ≤ 7, e.g. Lagrange coefficients of nearby ids), else None."""
    c %= GF61.modulus
    if c <= SMALL:
        return c
    if GF61.modulus - c <= SMALL:
        return c - GF61.modulus
    return None


def _times_small(a: U64, c: int) -> U64:
    if c == 1:
        return a
    return GF61.reduce(a * np.uint64(c))


def reconstruction_set(me: int, others: Sequence[int], size: int) -> tuple[int, ...]:
    """``me`` and the ``size − 1`` ids nearest to it: nearby points give small integer Lagrange
    coefficients (for 3 parties, t = 1 always ±1, 2 or 3), which :func:`lincomb` applies cheaply."""
    near = sorted(others, key=lambda p: (abs(p - me), p))
    return (me, *near[: size - 1])


def beaver_combine(dom: Domain, c: U64, d: U64, y: U64, e: U64, a: U64) -> U64:
    """A share of x·y from a triple: ``c + d·[y] + e·[a]`` with d = x − a, e = y − b opened.

    Since [y] = [b] + e, this equals c + d·b + e·a + d·e: no public correction term is needed,
    so the formula is the same for every party under both additive and Shamir sharing.
    In GF(p) both products stay unreduced (each < 3·2^61 + 2^34) and share one final fold.
    """
    if isinstance(dom, Ring64):
        out = d * y
        out += c
        out += e * a
        return out
    r = GF61.mul_lazy(d, y)
    r += GF61.mul_lazy(e, a)
    r += c  # < 6·2^61 + 2^35 + 2^61 < 2^64
    return GF61.reduce(r)


def fold(r: U64) -> U64:
    """Reduce values below 2^64 to [0, p) in place (2^61 ≡ 1)."""
    return GF61.reduce(r)


def row_dot(dom: Domain, x: U64, y: U64) -> U64:
    """Row-wise ``Σ_j x[i, j] · y[i, j]`` of two (m, k) arrays (local products, e.g. degree 2t)."""
    if isinstance(dom, Ring64):
        return np.sum(x * y, axis=1, dtype=np.uint64)
    prod = mul(dom, x, y)
    return GF61.sum(prod, axis=1)


__all__ = ["BLOCK", "SMALL", "beaver_combine", "fold", "lincomb", "mul", "reconstruction_set", "row_dot", "sub"]
