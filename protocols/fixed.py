"""Fixed-point multiplication with probabilistic truncation (after Catrina–Saxena 2010).

Reals are encoded as ``round(x·2^f)`` (:mod:`mpc.fixedpoint`); a product of two encodings has
2f fractional bits and must be shifted right by f. With ``[x]`` holding a signed product,
``|x| < 2^(k−1)``, and a mask ``r = r_hi·2^f + r_lo`` (``r_lo < 2^f``, ``r < 2^(k+κ)`` per
contributor) the parties open ``c = x + 2^(k−1) + r`` and set

    [x >> f] = (c >> f) − 2^(k−1−f) − [r_hi] − ⌊m/2⌋

Error bound. With m mask contributors (1 for the dealer, every computing party for dn07),
``r_lo`` is a sum of m values below 2^f, so ``(c >> f) − r_hi − 2^(k−1−f)`` lies in
``(x/2^f − 1, x/2^f + m)``; subtracting the bias ⌊m/2⌋ centres it:

    |truncated − x/2^f| < 1 + ⌊m/2⌋  units of 2^−f     (dealer: < 1 unit)

Privacy is statistical: ``c`` hides ``x`` up to statistical distance 2^−κ. Nothing wraps as long
as ``k + κ + ⌈log2(m + 1)⌉ ≤ B`` with B = 60 for GF(2^61 − 1) and 63 for Z_2^64; κ is whatever
that budget leaves (capped at 40) and must reach ``min_kappa``. The 61-bit field makes κ small
for large k: keep |reals| < 2^int_bits honest and f modest (k = 2·(int_bits + f) + 1).
Values outside the declared range make the result wrong and weaken κ; they are not detected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mpc.errors import ConfigError
from mpc.field import U64, Ring64

from .beaver import Beaver, add_public
from .common import Scheme
from .triples import Need

MAX_KAPPA = 40
DEFAULT_MIN_KAPPA = 12


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedParams:
    """Public parameters of fixed-point products: f fractional bits, values below 2^int_bits."""

    frac_bits: int
    int_bits: int
    kappa: int
    contributors: int

    @property
    def value_bits(self) -> int:
        """k: a signed product of two encodings satisfies |x| < 2^(k−1)."""
        return 2 * (self.int_bits + self.frac_bits) + 1

    @property
    def mask_bits(self) -> int:
        return self.value_bits + self.kappa

    def error_bound(self, contributors: int | None = None) -> float:
        """Largest truncation error of one product, in real units (exclusive bound)."""
        m = self.contributors if contributors is None else contributors
        return (1 + m // 2) * 2.0 ** -self.frac_bits

    def need(self, count: int) -> Need:
        return Need(masks=count, frac_bits=self.frac_bits, mask_bits=self.mask_bits)

    @classmethod
    def plan(cls, scheme: Scheme, frac_bits: int, int_bits: int, contributors: int,
             min_kappa: int = DEFAULT_MIN_KAPPA) -> FixedParams:
        budget = 63 if isinstance(scheme.domain, Ring64) else 60
        k = 2 * (int_bits + frac_bits) + 1
        kappa = min(MAX_KAPPA, budget - k - math.ceil(math.log2(contributors + 1)))
        if kappa < min_kappa:
            raise ConfigError(
                f"fixed point with f={frac_bits}, int_bits={int_bits} leaves statistical security "
                f"{kappa} < {min_kappa} bits in {scheme.domain.name}; lower f or int_bits")
        return cls(frac_bits=frac_bits, int_bits=int_bits, kappa=kappa, contributors=contributors)


async def truncate(bv: Beaver, x: U64, params: FixedParams) -> U64:
    """Shares of ``x / 2^f`` (rounded as documented above) for shared signed ``x``, one round."""
    dom, scheme, me = bv.dom, bv.scheme, bv.ctx.party_id
    f, k = params.frac_bits, params.value_bits
    m, m_hi = bv.pool.masks(x.size)
    flat = x.reshape(-1)
    offset = np.full(flat.size, 1 << (k - 1), dtype=np.uint64)
    masked = dom.add(add_public(scheme, flat, offset, me), m)
    c = await bv.open(masked, kind="trunc")
    bias = bv.pool.mask_contributors // 2
    public = (c >> np.uint64(f)).astype(np.int64) - np.int64((1 << (k - 1 - f)) + bias)
    return add_public(scheme, dom.neg(m_hi), dom.encode(public), me).reshape(x.shape)


async def fixed_mul(bv: Beaver, x: U64, y: U64, params: FixedParams) -> U64:
    """Shares of the fixed-point product ``x·y`` (two rounds: Beaver, then truncation)."""
    return await truncate(bv, await bv.mul(x, y), params)


__all__ = ["FixedParams", "fixed_mul", "truncate"]
