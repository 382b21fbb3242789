"""Vectorized arithmetic on numpy ``uint64`` arrays: the one place field and ring math lives.

* :class:`PrimeField` — GF(p) with the Mersenne prime p = 2^61 − 1, used by Shamir sharing
  (:mod:`mpc.primefield`). Products are computed from 32-bit halves and folded with
  2^61 ≡ 1 (mod p), so every intermediate fits in 64 bits and no Python int is touched per element.
* :class:`Ring64` — Z_2^64, used by additive sharing; numpy's native wrap-around is the reduction
  (:mod:`mpc.ring64`).

Both implement :class:`Domain`, so protocol code is written once for either and calls the
domain's methods: that method call is the only dispatch point (no ``isinstance`` elsewhere).
Besides elementwise ``add``/``sub``/``mul`` (each with ``out=``), the domains own the fused
kernels of the multiplication hot path: :meth:`lincomb` (Lagrange interpolation, Vandermonde
rows), :meth:`beaver_combine` and :meth:`row_dot`.

Speed. Long vectors are processed in blocks of :data:`BLOCK` elements whose temporaries stay in
L2; up to :data:`TINY` elements Python ints beat the fixed cost of ~20 numpy calls, so those sizes
take a pure-Python path (:mod:`mpc._arrays` holds what the domains share).
Operands must have equal shapes; a scalar is only accepted through :meth:`scale`.

This module is the public face: import every name here from :mod:`mpc.field`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._arrays import BLOCK, TINY, U64, ArithmeticMismatch
from .primefield import GF61, PrimeField
from .ring64 import Z64, Ring64

if TYPE_CHECKING:
    from .rng import Csprng


class Domain(Protocol):
    """What protocol code needs from a field or ring (:data:`GF61`, :data:`Z64`)."""

    name: str
    modulus: int

    def add(self, a: U64, b: U64, out: U64 | None = None) -> U64: ...
    def sub(self, a: U64, b: U64, out: U64 | None = None) -> U64: ...
    def neg(self, a: U64) -> U64: ...
    def mul(self, a: U64, b: U64, out: U64 | None = None) -> U64: ...
    def scale(self, a: U64, c: int) -> U64: ...
    def sum(self, a: U64, axis: int = 0) -> U64: ...
    def lincomb(self, coeffs: Sequence[int], arrays: Sequence[U64], out: U64 | None = None) -> U64: ...
    def beaver_combine(self, c: U64, d: U64, y: U64, e: U64, a: U64, out: U64 | None = None) -> U64: ...
    def row_dot(self, x: U64, y: U64) -> U64: ...
    def encode(self, values: ArrayLike) -> U64: ...
    def decode(self, a: U64) -> NDArray[np.int64]: ...
    def random(self, rng: Csprng, shape: int | tuple[int, ...]) -> U64: ...


def domain(name: str) -> PrimeField | Ring64:
    """The arithmetic domain of a sharing scheme: ``shamir`` → GF(p), ``additive`` → Z_2^64."""
    if name in ("shamir", GF61.name):
        return GF61
    if name in ("additive", Z64.name):
        return Z64
    raise ArithmeticMismatch(f"unknown domain {name!r}")


__all__ = ["BLOCK", "GF61", "TINY", "Z64", "ArithmeticMismatch", "Domain", "PrimeField", "Ring64", "U64", "domain"]
