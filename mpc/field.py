"""Vectorized arithmetic on numpy ``uint64`` arrays.

* :class:`PrimeField` — GF(p) with the Mersenne prime p = 2^61 − 1, used by Shamir sharing.
  Products are computed from 32-bit halves and folded with 2^61 ≡ 1 (mod p), so every
  intermediate fits in 64 bits and no Python int is touched per element.
* :class:`Ring64` — Z_2^64, used by additive sharing; numpy's native wrap-around is the reduction.

Both expose the same small interface, so sharing code is written once for either.
Operands must have equal shapes; a scalar is only accepted through :meth:`scale`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import MpcError

if TYPE_CHECKING:
    from .rng import Csprng

U64 = NDArray[np.uint64]


class ArithmeticMismatch(MpcError, ValueError):
    """Operands of different shapes or dtypes were mixed."""


def _same(a: U64, b: U64) -> None:
    if a.dtype != np.uint64 or b.dtype != np.uint64:
        raise ArithmeticMismatch(f"expected uint64 operands, got {a.dtype} and {b.dtype}")
    if a.shape != b.shape:
        raise ArithmeticMismatch(f"shape mismatch: {a.shape} vs {b.shape}")


class Domain(Protocol):
    """What sharing code needs from a field or ring."""

    name: str
    modulus: int

    def add(self, a: U64, b: U64) -> U64: ...
    def sub(self, a: U64, b: U64) -> U64: ...
    def neg(self, a: U64) -> U64: ...
    def mul(self, a: U64, b: U64) -> U64: ...
    def scale(self, a: U64, c: int) -> U64: ...
    def sum(self, a: U64, axis: int = 0) -> U64: ...
    def encode(self, values: ArrayLike) -> U64: ...
    def decode(self, a: U64) -> NDArray[np.int64]: ...
    def random(self, rng: Csprng, shape: int | tuple[int, ...]) -> U64: ...


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

    BLOCK = 1 << 15  # elements per block: keeps the temporaries of one product in L2 cache
    TINY = 32  # up to this many elements, multiply with Python ints

    def _fold(self, r: U64) -> U64:
        """Reduce values < 2^64 to [0, p), in place."""
        hi = r >> self._S61
        np.bitwise_and(r, self._P, out=r)
        r += hi
        return self._canon(r)

    def _canon(self, r: U64) -> U64:
        """[0, 2p) → [0, p) in place: for r < p, r − p wraps above r, so the minimum picks r."""
        return np.minimum(r, r - self._P, out=r)

    def add(self, a: U64, b: U64) -> U64:
        _same(a, b)
        return self._canon(a + b)

    def sub(self, a: U64, b: U64) -> U64:
        _same(a, b)
        r = a - b  # wraps when a < b; adding p then wraps back into [0, p)
        return np.minimum(r, r + self._P, out=r)

    def neg(self, a: U64) -> U64:
        r = self._P - a
        r[r == self._P] = 0
        return r

    def _mul_block(self, a: U64, bl: U64 | np.uint64, bh: U64 | np.uint64, out: U64, t1: U64, t2: U64, t3: U64) -> None:
        """out = a·b mod p from 32-bit halves; 2^61 ≡ 1 folds every partial product below 2^64."""
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
        # mid·2^32 = (mid >> 29)·2^61 + (mid mod 2^29)·2^32 ≡ (mid >> 29) + (mid mod 2^29)·2^32
        np.right_shift(t3, self._S29, out=t1)
        np.add(out, t1, out=out)
        np.bitwise_and(t3, self._M29, out=t3)
        np.left_shift(t3, self._S32, out=t3)
        np.add(out, t3, out=out)
        np.left_shift(t2, self._S3, out=t2)
        np.add(out, t2, out=out)  # < 3·2^61 + 2^34 < 2^64: congruent to a·b, not yet reduced

    def _reduce_block(self, out: U64, t1: U64) -> None:
        np.right_shift(out, self._S61, out=t1)
        np.bitwise_and(out, self._P, out=out)
        np.add(out, t1, out=out)
        np.subtract(out, self._P, out=t1)
        np.minimum(out, t1, out=out)

    def _mul(self, a: U64, b: U64 | np.uint64, out: U64 | None = None, *, lazy: bool = False) -> U64:
        a_flat = np.ascontiguousarray(a).reshape(-1)
        res = np.empty(a_flat.shape, dtype=np.uint64) if out is None else out.reshape(-1)
        n = a_flat.size
        if n <= self.TINY:
            # a handful of elements (dependent scalar multiplications): Python ints beat ~25
            # numpy calls of fixed overhead each
            P = self.modulus
            ys = [int(b)] * n if np.ndim(b) == 0 else np.ascontiguousarray(b).reshape(-1).tolist()
            res[:] = [x * y % P for x, y in zip(a_flat.tolist(), ys)]
            return res.reshape(np.shape(a))
        bs = max(1, min(self.BLOCK, n))
        t1, t2, t3 = (np.empty(bs, dtype=np.uint64) for _ in range(3))
        scalar = np.ndim(b) == 0
        if scalar:
            bl, bh = np.uint64(b) & self._M32, np.uint64(b) >> self._S32
        else:
            b_flat = np.ascontiguousarray(b).reshape(-1)
            t4, t5 = np.empty(bs, dtype=np.uint64), np.empty(bs, dtype=np.uint64)
        for s in range(0, n, bs):
            e = min(s + bs, n)
            k = e - s
            if not scalar:
                bl = np.bitwise_and(b_flat[s:e], self._M32, out=t4[:k])
                bh = np.right_shift(b_flat[s:e], self._S32, out=t5[:k])
            self._mul_block(a_flat[s:e], bl, bh, res[s:e], t1[:k], t2[:k], t3[:k])
            if not lazy:
                self._reduce_block(res[s:e], t1[:k])
        return res.reshape(np.shape(a))

    def mul_lazy(self, a: U64, b: U64) -> U64:
        """a·b congruent mod p but left below 3·2^61 + 2^34: sum up to five such products (plus
        a canonical term) and :meth:`reduce` once, saving a fold per product."""
        _same(a, b)
        return self._mul(a, b, lazy=True)

    def reduce(self, r: U64) -> U64:
        """Any uint64 values to canonical [0, p), in place (2^61 ≡ 1)."""
        return self._fold(r)

    def mul(self, a: U64, b: U64, out: U64 | None = None) -> U64:
        _same(a, b)
        return self._mul(a, b, out)

    def scale(self, a: U64, c: int) -> U64:
        if a.dtype != np.uint64:
            raise ArithmeticMismatch(f"expected uint64, got {a.dtype}")
        return self._mul(a, np.uint64(c % self.modulus))

    def sum(self, a: U64, axis: int = 0) -> U64:
        """Sum along ``axis``; exact for up to 2^32 terms (32-bit halves summed separately)."""
        if a.shape[axis] >= 1 << 32:
            raise ArithmeticMismatch("too many terms for one field sum")
        lo = np.atleast_1d(np.sum(a & self._M32, axis=axis, dtype=np.uint64))
        hi = np.atleast_1d(np.sum(a >> self._S32, axis=axis, dtype=np.uint64))  # < 2^61 for < 2^32 terms
        shape = tuple(d for i, d in enumerate(a.shape) if i != axis % a.ndim)
        out = self.add(self._mul(self._fold(hi), np.full(hi.shape, 1 << 32, dtype=np.uint64)), self._fold(lo))
        return out.reshape(shape) if a.ndim > 1 else out[0]

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

    def inv(self, c: int) -> int:
        """Inverse of one public scalar (Python int: not a hot path)."""
        c %= self.modulus
        if c == 0:
            raise ZeroDivisionError("0 has no inverse in GF(p)")
        return pow(c, self.modulus - 2, self.modulus)


class Ring64:
    """Z_2^64 with numpy's native wrap-around."""

    name = "z64"
    modulus = 1 << 64

    def add(self, a: U64, b: U64) -> U64:
        _same(a, b)
        return a + b

    def sub(self, a: U64, b: U64) -> U64:
        _same(a, b)
        return a - b

    def neg(self, a: U64) -> U64:
        return np.uint64(0) - a

    def mul(self, a: U64, b: U64) -> U64:
        _same(a, b)
        return a * b

    def scale(self, a: U64, c: int) -> U64:
        if a.dtype != np.uint64:
            raise ArithmeticMismatch(f"expected uint64, got {a.dtype}")
        return a * np.uint64(c % self.modulus)

    def sum(self, a: U64, axis: int = 0) -> U64:
        return np.sum(a, axis=axis, dtype=np.uint64)

    def encode(self, values: ArrayLike) -> U64:
        v = np.asarray(values)
        if v.dtype.kind not in "iu":
            raise ArithmeticMismatch(f"ring encoding needs integers, got {v.dtype}")
        return v.astype(np.int64).view(np.uint64) if v.dtype.kind == "i" else v.astype(np.uint64)

    def decode(self, a: U64) -> NDArray[np.int64]:
        return a.view(np.int64)

    def random(self, rng: Csprng, shape: int | tuple[int, ...]) -> U64:
        return rng.uint64(shape)


GF61 = PrimeField()
Z64 = Ring64()


def domain(name: str) -> PrimeField | Ring64:
    """The arithmetic domain of a sharing scheme: ``shamir`` → GF(p), ``additive`` → Z_2^64."""
    if name in ("shamir", GF61.name):
        return GF61
    if name in ("additive", Z64.name):
        return Z64
    raise ArithmeticMismatch(f"unknown domain {name!r}")


__all__ = ["GF61", "Z64", "ArithmeticMismatch", "Domain", "PrimeField", "Ring64", "U64", "domain"]
