"""GF(2^61 − 1), the field of Shamir sharing: :class:`PrimeField` and its instance :data:`GF61`.

Products are computed from 32-bit halves and folded with 2^61 ≡ 1 (mod p), so every intermediate
fits in 64 bits and no Python int is touched per element. GF(p) arithmetic makes about fifteen
passes over temporaries per product; on 10^6-element vectors full-size temporaries spill out of
cache (and each fresh 8 MB array costs page faults), so long vectors are processed in blocks of
:data:`~mpc.field.BLOCK` elements whose temporaries stay in L2. Up to :data:`~mpc.field.TINY`
elements (dependent scalar multiplications, round latency) Python ints beat the fixed cost of ~20
numpy calls, so those sizes take a pure-Python path. Import it from :mod:`mpc.field`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._arrays import BLOCK, TINY, U64, ArithmeticMismatch, _blocks, _flat, _ints, _same, _scratch, _target, _tiny

if TYPE_CHECKING:
    from .rng import Csprng


class PrimeField:
    """GF(2^61 − 1). Elements are canonical: every array holds values in [0, p)."""

    name = "gf61"
    BITS = 61
    modulus = (1 << 61) - 1
    _P = np.uint64((1 << 61) - 1)
    _M32 = np.uint64(0xFFFFFFFF)
    _M29 = np.uint64((1 << 29) - 1)
    _S61 = np.uint64(61)
    _S32 = np.uint64(32)
    _S29 = np.uint64(29)
    _S3 = np.uint64(3)
    SMALL = 7  # a value < p times c ≤ 7, plus one more value < p, stays below 8p < 2^64
    MEDIUM = 1 << 16  # lincomb coefficients multiplied into 32-bit halves (see _lincomb_halves)

    # -- reductions ------------------------------------------------------------------------
    def _fold(self, r: U64, tmp: U64 | None = None) -> U64:
        """Reduce values < 2^64 to [0, p), in place (2^61 ≡ 1)."""
        hi = np.right_shift(r, self._S61, out=tmp)
        np.bitwise_and(r, self._P, out=r)
        r += hi  # < 2^61 + 8
        return self._canon(r, hi)

    def _canon(self, r: U64, tmp: U64 | None = None) -> U64:
        """[0, 2p) → [0, p) in place: for r < p, r − p wraps above r, so the minimum picks r."""
        return np.minimum(r, np.subtract(r, self._P, out=tmp), out=r)

    def reduce(self, r: U64) -> U64:
        """Any uint64 values to canonical [0, p), in place."""
        flat = r.reshape(-1) if r.flags.c_contiguous else None
        if flat is None or flat.size <= BLOCK:
            return self._fold(r)
        (tmp,) = _scratch(1, BLOCK)
        for sl in _blocks(flat.size):
            self._fold(flat[sl], tmp[: sl.stop - sl.start])
        return r

    # -- elementwise -----------------------------------------------------------------------
    def _elementwise(self, a: U64, b: U64, out: U64 | None,
                     block: Callable[[U64, U64, U64, U64], object]) -> U64:
        """Blocked ``block(a, b, out, tmp)``; a short vector is one block (three numpy calls beat
        a Python round trip for additions)."""
        _same(a, b)
        res = _target(a.shape, out)
        n = res.size
        if n <= BLOCK:
            block(a, b, res, _scratch(1, n)[0].reshape(a.shape))
            return res
        fa, fb, fo = _flat(a), _flat(b), res.reshape(-1)
        (tmp,) = _scratch(1, BLOCK)
        for sl in _blocks(n):
            block(fa[sl], fb[sl], fo[sl], tmp[: sl.stop - sl.start])
        return res

    def _add_block(self, a: U64, b: U64, r: U64, tmp: U64) -> None:
        np.add(a, b, out=r)
        self._canon(r, tmp)

    def _sub_block(self, a: U64, b: U64, r: U64, tmp: U64) -> None:
        np.subtract(a, b, out=r)  # wraps when a < b; adding p then wraps back into [0, p)
        np.minimum(r, np.add(r, self._P, out=tmp), out=r)

    def add(self, a: U64, b: U64, out: U64 | None = None) -> U64:
        return self._elementwise(a, b, out, self._add_block)

    def sub(self, a: U64, b: U64, out: U64 | None = None) -> U64:
        return self._elementwise(a, b, out, self._sub_block)

    def neg(self, a: U64) -> U64:
        r = np.subtract(self._P, a)  # (0, p]; p maps to 0 below
        return self._canon(r)

    # -- products --------------------------------------------------------------------------
    def _split(self, b: U64, lo: U64, hi: U64) -> None:
        np.bitwise_and(b, self._M32, out=lo)
        np.right_shift(b, self._S32, out=hi)

    def _mul_block(self, a: U64, bl: U64 | np.uint64, bh: U64 | np.uint64, out: U64, t1: U64, t2: U64, t3: U64) -> None:
        """out ≡ a·b (mod p) from 32-bit halves, left below 3·2^61 + 2^34 (not reduced).

        2^61 ≡ 1 folds every partial product below 2^64: al·bl < 2^64 is folded at once
        (< 2^61 + 8); the middle term mid = al·bh + ah·bl < 2^62 has weight 2^32, and
        mid·2^32 ≡ (mid >> 29) + (mid mod 2^29)·2^32 (< 2^33 and < 2^61); ah·bh < 2^58 has weight
        2^64 ≡ 8 (< 2^61). Sum: < 3·2^61 + 2^34.
        """
        np.bitwise_and(a, self._M32, out=t1)  # al
        np.right_shift(a, self._S32, out=t2)  # ah < 2^29
        np.multiply(t1, bl, out=out)  # al·bl < 2^64
        np.multiply(t1, bh, out=t1)  # al·bh < 2^61
        np.multiply(t2, bl, out=t3)  # ah·bl < 2^61
        np.add(t3, t1, out=t3)  # mid < 2^62
        np.multiply(t2, bh, out=t2)  # ah·bh < 2^58, weight 2^64 ≡ 8
        np.right_shift(out, self._S61, out=t1)
        np.bitwise_and(out, self._P, out=out)
        np.add(out, t1, out=out)
        np.right_shift(t3, self._S29, out=t1)
        np.add(out, t1, out=out)
        np.bitwise_and(t3, self._M29, out=t3)
        np.left_shift(t3, self._S32, out=t3)
        np.add(out, t3, out=out)
        np.left_shift(t2, self._S3, out=t2)
        np.add(out, t2, out=out)

    def _mul(self, a: U64, b: U64 | np.uint64, out: U64 | None = None, *, lazy: bool = False) -> U64:
        n = a.size
        if n <= TINY:
            P = self.modulus
            ys = [int(b)] * n if not isinstance(b, np.ndarray) else _ints(b)
            return _tiny(a.shape, out, [x * y % P for x, y in zip(_ints(a), ys)])
        res = _target(a.shape, out)
        fa, fo = _flat(a), res.reshape(-1)
        fb = _flat(b) if isinstance(b, np.ndarray) else None
        bs = min(BLOCK, n)
        t1, t2, t3, t4, t5 = _scratch(5, bs)
        bl: U64 | np.uint64 = t4
        bh: U64 | np.uint64 = t5
        if fb is None:
            bl, bh = np.uint64(b) & self._M32, np.uint64(b) >> self._S32
        for sl in _blocks(n):
            k = sl.stop - sl.start
            if fb is not None:
                bl, bh = t4[:k], t5[:k]
                self._split(fb[sl], bl, bh)
            self._mul_block(fa[sl], bl, bh, fo[sl], t1[:k], t2[:k], t3[:k])
            if not lazy:
                self._fold(fo[sl], t1[:k])
        return res

    def mul(self, a: U64, b: U64, out: U64 | None = None) -> U64:
        _same(a, b)
        return self._mul(a, b, out)

    def mul_lazy(self, a: U64, b: U64) -> U64:
        """a·b congruent mod p but only bounded: every value is below 3·2^61 + 2^34.

        So TWO such products plus one canonical term (< 2^61) can be summed before one
        :meth:`reduce` (2·(3·2^61 + 2^34) + 2^61 < 2^64); three products can exceed 2^64 and wrap
        (the test suite shows operands for which they do).
        """
        _same(a, b)
        return self._mul(a, b, lazy=True)

    def scale(self, a: U64, c: int) -> U64:
        """``c·a`` for one public scalar."""
        if a.dtype != np.uint64:
            raise ArithmeticMismatch(f"expected uint64, got {a.dtype}")
        return self._mul(a, np.uint64(c % self.modulus))

    def horner_step(self, acc: U64, points: U64, coeff: U64, lo: U64 | None = None, hi: U64 | None = None) -> None:
        """``acc[i] ← acc[i]·points[i] + coeff`` in place: one step of evaluating a polynomial
        at every point at once (rows of ``acc``; ``coeff`` is broadcast to every row). ``lo`` and
        ``hi`` are optional scratch arrays shaped like ``acc``.

        Points are public and below 2^32 (party ids): for points ≤ 7 the product stays below
        8p < 2^64 and costs one multiply; otherwise ``acc`` is split into 32-bit halves, each
        product with a point fits in 64 bits, and the high half's weight 2^32 folds as in
        :meth:`_mul_block` (callers group small and large points for speed).
        """
        x = points.reshape(-1, 1)
        lo = np.empty_like(acc) if lo is None else lo
        if int(points.max()) <= self.SMALL:
            acc *= x  # < 7p
            acc += coeff  # < 8p
            self._fold(acc, lo)
            return
        hi = np.empty_like(acc) if hi is None else hi
        np.bitwise_and(acc, self._M32, out=lo)
        np.right_shift(acc, self._S32, out=hi)
        lo *= x  # < 2^64
        hi *= x  # < 2^61, weight 2^32
        np.right_shift(lo, self._S61, out=acc)
        np.bitwise_and(lo, self._P, out=lo)
        acc += lo  # < 2^61 + 8
        np.right_shift(hi, self._S29, out=lo)
        acc += lo  # + < 2^32
        np.bitwise_and(hi, self._M29, out=hi)
        np.left_shift(hi, self._S32, out=hi)
        acc += hi  # + < 2^61
        acc += coeff  # < 3·2^61 + 2^33 < 2^64
        self._fold(acc, lo)

    # -- fused kernels -----------------------------------------------------------------------
    def lincomb(self, coeffs: Sequence[int], arrays: Sequence[U64], out: U64 | None = None) -> U64:
        """``Σ coeffs[k] · arrays[k]`` for public scalars (Lagrange interpolation, matrix rows,
        PRSS shares).

        Small signed coefficients (Σ|c| ≤ 8: Lagrange coefficients of nearby ids) are summed
        unreduced and folded once; medium ones (|c| < :data:`MEDIUM` when read as signed, up to
        2^14 terms: PRSS polynomials of a few party ids) multiply the 32-bit halves of each value
        and fold once; others go through lazy products folded after each term.
        """
        if len(coeffs) != len(arrays) or not arrays:
            raise ArithmeticMismatch(f"{len(coeffs)} coefficients for {len(arrays)} arrays")
        for arr in arrays[1:]:
            _same(arrays[0], arr)
        P = self.modulus
        cs = [int(c) % P for c in coeffs]
        n = arrays[0].size
        if n <= TINY:
            cols = zip(*(_ints(a) for a in arrays))
            return _tiny(arrays[0].shape, out, [sum(c * v for c, v in zip(cs, col)) % P for col in cols])
        res = _target(arrays[0].shape, out)
        fo = res.reshape(-1)
        flats = [_flat(a) for a in arrays]
        signed = [c if c <= P // 2 else c - P for c in cs]
        small = all(abs(c) <= self.SMALL for c in signed) and sum(abs(c) for c in signed) <= self.SMALL + 1
        medium = not small and all(abs(c) < self.MEDIUM for c in signed) and len(cs) <= 1 << 14
        bs = min(BLOCK, n)
        t1, t2, t3, term = _scratch(4, bs)
        for sl in _blocks(n):
            k = sl.stop - sl.start
            acc, tk = fo[sl], term[:k]
            if medium:
                self._lincomb_halves(signed, [f[sl] for f in flats], acc, tk, t1[:k], t2[:k])
                continue
            for i, (c, s, arr) in enumerate(zip(cs, signed, flats, strict=True)):
                blk, dst = arr[sl], (acc if i == 0 else tk)
                if small:  # Σ|c|·(value < p) < 8p < 2^64: sum unreduced, fold once
                    if s >= 0:
                        np.multiply(blk, np.uint64(s), out=dst)
                    else:
                        np.subtract(self._P, blk, out=dst)
                        if s != -1:
                            np.multiply(dst, np.uint64(-s), out=dst)
                    if i:
                        acc += tk
                    continue
                self._mul_block(blk, np.uint64(c & 0xFFFFFFFF), np.uint64(c >> 32), dst, t1[:k], t2[:k], t3[:k])
                if i:  # lazy product < 3·2^61 + 2^34 plus acc (< 3·2^61 + 2^34, or folded): below 2^64
                    tk += acc
                    np.right_shift(tk, self._S61, out=t1[:k])
                    np.bitwise_and(tk, self._P, out=acc)
                    acc += t1[:k]  # < 2^61 + 8: fine as the next term's addend
            self._fold(acc, t1[:k])
        return res

    def _lincomb_halves(self, signed: list[int], blocks: list[U64], lo: U64, hi: U64, tmp: U64, neg: U64) -> None:
        """``lo ← Σ c·v`` reduced, for |c| < 2^16 and at most 2^14 terms: with v = vh·2^32 + vl
        (vh < 2^29) the sums Σ|c|·vl < 2^62 and Σ|c|·vh < 2^59 never wrap; a negative c
        multiplies p − v instead. Then vh's weight 2^32 folds as in :meth:`_mul_block`."""
        for i, (c, v) in enumerate(zip(signed, blocks, strict=True)):
            if c < 0:
                v = np.subtract(self._P, v, out=neg)  # (0, p]: still below 2^61
            cc = np.uint64(abs(c))
            if i == 0:
                np.multiply(np.bitwise_and(v, self._M32, out=lo), cc, out=lo)
                np.multiply(np.right_shift(v, self._S32, out=hi), cc, out=hi)
                continue
            lo += np.multiply(np.bitwise_and(v, self._M32, out=tmp), cc, out=tmp)
            hi += np.multiply(np.right_shift(v, self._S32, out=tmp), cc, out=tmp)
        lo += np.right_shift(hi, self._S29, out=tmp)  # < 2^30
        np.bitwise_and(hi, self._M29, out=hi)
        lo += np.left_shift(hi, self._S32, out=hi)  # < 2^61: total < 2^62 + 2^61 + 2^30
        self._fold(lo, tmp)

    def beaver_combine(self, c: U64, d: U64, y: U64, e: U64, a: U64, out: U64 | None = None) -> U64:
        """A share of x·y from a triple: ``c + d·[y] + e·[a]`` with d = x − a, e = y − b opened.

        Since [y] = [b] + e, this equals c + d·b + e·a + d·e: no public correction term is
        needed, so the formula is the same for every party under additive and Shamir sharing.
        Both products stay lazy (< 3·2^61 + 2^34 each) and share one fold with c:
        2·(3·2^61 + 2^34) + 2^61 < 2^64.
        """
        for arr in (d, y, e, a):
            _same(c, arr)
        n = c.size
        if n <= TINY:
            P = self.modulus
            vals = zip(_ints(c), _ints(d), _ints(y), _ints(e), _ints(a))
            return _tiny(c.shape, out, [(cc + dd * yy + ee * aa) % P for cc, dd, yy, ee, aa in vals])
        res = _target(c.shape, out)
        fo = res.reshape(-1)
        fc, fd, fy, fe, fa = (_flat(v) for v in (c, d, y, e, a))
        bs = min(BLOCK, n)
        t1, t2, t3, lo, hi, q = _scratch(6, bs)
        for sl in _blocks(n):
            k = sl.stop - sl.start
            r = fo[sl]
            self._split(fy[sl], lo[:k], hi[:k])
            self._mul_block(fd[sl], lo[:k], hi[:k], r, t1[:k], t2[:k], t3[:k])
            self._split(fa[sl], lo[:k], hi[:k])
            self._mul_block(fe[sl], lo[:k], hi[:k], q[:k], t1[:k], t2[:k], t3[:k])
            r += q[:k]
            r += fc[sl]
            self._fold(r, t1[:k])
        return res

    def row_dot(self, x: U64, y: U64) -> U64:
        """Row-wise ``Σ_j x[i, j] · y[i, j]`` of two (m, k) arrays (local products, e.g. degree 2t)."""
        _same(x, y)
        return self.sum(self.mul(x, y), axis=1)

    def sum(self, a: U64, axis: int = 0) -> U64:
        """Sum along ``axis``; exact for up to 2^32 terms (32-bit halves summed separately)."""
        if a.shape[axis] >= 1 << 32:
            raise ArithmeticMismatch("too many terms for one field sum")
        if a.ndim > 1 and axis % a.ndim == 0 and a.shape[0] <= self.SMALL + 1:
            acc = a[0].copy()  # a few rows (inputs of a few parties): < 8p < 2^64 unreduced, one fold
            for row in a[1:]:
                acc += row
            return self.reduce(acc)
        lo = np.atleast_1d(np.sum(a & self._M32, axis=axis, dtype=np.uint64))
        hi = np.atleast_1d(np.sum(a >> self._S32, axis=axis, dtype=np.uint64))  # < 2^61 for < 2^32 terms
        shape = tuple(d for i, d in enumerate(a.shape) if i != axis % a.ndim)
        out = self.add(self._mul(self._fold(hi), np.uint64(1 << 32)), self._fold(lo))
        return out.reshape(shape) if a.ndim > 1 else out[0]

    # -- encoding --------------------------------------------------------------------------
    def encode(self, values: ArrayLike) -> U64:
        """Signed integers with |v| < p/2 to field elements (negatives wrap to p − |v|)."""
        v = np.asarray(values)
        if v.dtype.kind not in "iu":
            raise ArithmeticMismatch(f"field encoding needs integers, got {v.dtype}")
        half = self.modulus // 2
        if v.size and (int(v.max()) > half or int(v.min()) < -half):
            raise ArithmeticMismatch("integer out of the field's signed range (|v| < 2^60)")
        if v.dtype.kind == "u":
            return v.astype(np.uint64)
        v = v.astype(np.int64)
        return np.where(v < 0, v + np.int64(self.modulus), v).astype(np.uint64)

    def decode(self, a: U64) -> NDArray[np.int64]:
        """Field elements to signed integers in (−p/2, p/2]."""
        half = np.uint64(self.modulus // 2)
        s = a.astype(np.int64)
        return np.where(a > half, s - np.int64(self.modulus), s)

    def random(self, rng: Csprng, shape: int | tuple[int, ...]) -> U64:
        return rng.field_elements(shape, self.BITS, self.modulus)

    def pow(self, a: U64, e: int) -> U64:
        """``a^e`` elementwise for one public exponent (square and multiply)."""
        result = np.ones_like(a)
        base = a.copy()
        while e:
            if e & 1:
                self.mul(result, base, out=result)
            e >>= 1
            if e:
                self.mul(base, base, out=base)
        return result

    def sqrt_inv(self, squares: U64) -> U64:
        """``1/v`` for the principal square root v = s^((p+1)/4) of each nonzero square s
        (p ≡ 3 mod 4): one exponentiation, s^(−(p+1)/4) = s^((p−1) − (p+1)/4)."""
        return self.pow(squares, (self.modulus - 1) - (self.modulus + 1) // 4)

    def inv(self, c: int) -> int:
        """Inverse of one public scalar (Python int: not a hot path)."""
        c %= self.modulus
        if c == 0:
            raise ZeroDivisionError("0 has no inverse in GF(p)")
        return pow(c, self.modulus - 2, self.modulus)


GF61 = PrimeField()

__all__ = ["GF61", "PrimeField"]
