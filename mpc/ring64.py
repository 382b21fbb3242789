"""Z_2^64, the ring of additive sharing: :class:`Ring64` and its instance :data:`Z64`. numpy's
native wrap-around is the reduction, so every kernel is plain numpy. Import it from :mod:`mpc.field`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._arrays import U64, ArithmeticMismatch, _same, _target

if TYPE_CHECKING:
    from .rng import Csprng


class Ring64:
    """Z_2^64 with numpy's native wrap-around (every kernel is plain numpy, no blocking needed)."""

    name = "z64"
    modulus = 1 << 64

    def add(self, a: U64, b: U64, out: U64 | None = None) -> U64:
        _same(a, b)
        return np.add(a, b, out=_target(a.shape, out))

    def sub(self, a: U64, b: U64, out: U64 | None = None) -> U64:
        _same(a, b)
        return np.subtract(a, b, out=_target(a.shape, out))

    def neg(self, a: U64) -> U64:
        return np.uint64(0) - a

    def mul(self, a: U64, b: U64, out: U64 | None = None) -> U64:
        _same(a, b)
        return np.multiply(a, b, out=_target(a.shape, out))

    def scale(self, a: U64, c: int) -> U64:
        if a.dtype != np.uint64:
            raise ArithmeticMismatch(f"expected uint64, got {a.dtype}")
        return a * np.uint64(c % self.modulus)

    def sum(self, a: U64, axis: int = 0) -> U64:
        return np.sum(a, axis=axis, dtype=np.uint64)

    def lincomb(self, coeffs: Sequence[int], arrays: Sequence[U64], out: U64 | None = None) -> U64:
        if len(coeffs) != len(arrays) or not arrays:
            raise ArithmeticMismatch(f"{len(coeffs)} coefficients for {len(arrays)} arrays")
        for arr in arrays[1:]:
            _same(arrays[0], arr)
        res = np.multiply(arrays[0], np.uint64(coeffs[0] % self.modulus), out=_target(arrays[0].shape, out))
        for c, arr in zip(coeffs[1:], arrays[1:], strict=True):
            res += arr * np.uint64(c % self.modulus)
        return res

    def beaver_combine(self, c: U64, d: U64, y: U64, e: U64, a: U64, out: U64 | None = None) -> U64:
        for arr in (d, y, e, a):
            _same(c, arr)
        res = np.multiply(d, y, out=_target(c.shape, out))
        res += c
        res += e * a
        return res

    def row_dot(self, x: U64, y: U64) -> U64:
        _same(x, y)
        return np.sum(x * y, axis=1, dtype=np.uint64)

    def encode(self, values: ArrayLike) -> U64:
        v = np.asarray(values)
        if v.dtype.kind not in "iu":
            raise ArithmeticMismatch(f"ring encoding needs integers, got {v.dtype}")
        return v.astype(np.int64).view(np.uint64) if v.dtype.kind == "i" else v.astype(np.uint64)

    def decode(self, a: U64) -> NDArray[np.int64]:
        return a.view(np.int64)

    def random(self, rng: Csprng, shape: int | tuple[int, ...]) -> U64:
        return rng.uint64(shape)


Z64 = Ring64()

__all__ = ["Z64", "Ring64"]
