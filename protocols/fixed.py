"""Fixed-point multiplication: a Beaver product, then one truncation round.

Reals are encoded as ``round(x·2^f)`` (:mod:`mpc.fixedpoint`); a product of two encodings has
2f fractional bits and must be shifted right by f. With ``[x]`` a signed product, |x| < 2^(k−1)
(k = 2·(int_bits + f) + 1), the parties open ``c = x' + r`` with ``x' = x + 2^(k−1) ∈ [0, 2^k)``
and a preprocessed mask ``(r, r_hi = ⌊r/2^f⌋, r_top)``, then set locally

    [x >> f] = ⌊c/2^f⌋ − [r_hi] + 2^(B−f)·[c < 2^(B−1)]·[r_top] − 2^(k−1−f) − ⌊m/2⌋

where B = 61 for GF(2^61 − 1) and 64 for Z_2^64 (the bit length of modulus − 1), M is the
modulus and m the number of mask contributors. Two mask designs, chosen by the preprocessing:

**Perfect (the dealer; default there).** r is uniform over the whole field or ring and
``r_top = [r ≥ 2^(B−1)]``. Then c is uniform whatever x is: the opening reveals *nothing*
(no statistical parameter at all). Correctness: over the integers ``x' + r = c + w·M`` with the
wrap bit w ∈ {0, 1}. If x' < 2^(B−1) and x' ≤ M − 2^(B−1), then w = r_top·[c < 2^(B−1)]
(a wrap needs r ≥ M − x' ≥ 2^(B−1) and leaves c < x' < 2^(B−1); conversely r ≥ 2^(B−1) and
c < 2^(B−1) without a wrap would give c = x' + r ≥ 2^(B−1)). Since ``c`` is public this is linear
in ``[r_top]``. With M = 2^B (ring) or 2^B − 1 (field), ``⌊x'/2^f⌋ = ⌊c/2^f⌋ − r_hi + w·2^(B−f) − δ``
with δ ∈ {0, 1} (the borrow of the low f bits; in the field also the −w), so the result is
``⌊x/2^f⌋`` or ``⌊x/2^f⌋ + 1``: error < 1 unit of 2^−f, δ = 1 with probability ≈ the dropped
fraction (stochastic rounding, unbiased). Range: k ≤ B − 1 (GF(p): int_bits + f ≤ 29;
Z_2^64: ≤ 31). A value outside the declared range gives a wrong result but still leaks nothing.

**Statistical (dealer-free DN07).** Each of the m contributors deals a uniform
``r_j < 2^(k+κ)`` (no single party knows r = Σ r_j), r_top = 0. Nothing wraps when
``k + κ + ⌈log2(m + 1)⌉ ≤ B − 1``, and c = x' + r hides x' up to statistical distance
``2^k / 2^(k+κ) = 2^−κ`` per opened element (x' shifts a uniform range of 2^(k+κ) by < 2^k).
Error: r_lo is a sum of m values below 2^f, so the result lies in (x/2^f − 1, x/2^f + m) before
the bias ⌊m/2⌋ is subtracted: |error| < 1 + ⌊m/2⌋ units. κ must reach ``min_kappa``
(default 40, as MP-SPDZ; MPyC uses 30): in GF(2^61 − 1) with m = 3 that allows only
int_bits + f ≤ 8, and :meth:`FixedParams.plan` refuses larger settings, saying what fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mpc.errors import ConfigError
from mpc.field import U64

from .beaver import Beaver, add_public
from .common import Scheme
from .triples import FULL_MASK, Need, top_bits

DEFAULT_MIN_KAPPA = 40


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedParams:
    """Public parameters of fixed-point products: f fractional bits, values below 2^int_bits.

    ``kappa`` is the statistical security of each opening, ``None`` for perfectly private
    truncation (uniform masks from the dealer).
    """

    frac_bits: int
    int_bits: int
    kappa: int | None
    contributors: int

    @property
    def value_bits(self) -> int:
        """k: a signed product of two encodings satisfies |x| < 2^(k−1)."""
        return 2 * (self.int_bits + self.frac_bits) + 1

    @property
    def mask_bits(self) -> int:
        return FULL_MASK if self.kappa is None else self.value_bits + self.kappa

    def error_bound(self, contributors: int | None = None) -> float:
        """Largest truncation error of one product, in real units (exclusive bound)."""
        m = self.contributors if contributors is None else contributors
        return (1 + m // 2) * 2.0 ** -self.frac_bits

    def need(self, count: int) -> Need:
        return Need(masks=count, frac_bits=self.frac_bits, mask_bits=self.mask_bits)

    @classmethod
    def plan(cls, scheme: Scheme, frac_bits: int, int_bits: int, contributors: int, *,
             uniform_masks: bool | None = None, min_kappa: int = DEFAULT_MIN_KAPPA) -> FixedParams:
        """Parameters for ``contributors`` mask contributors; uniform (perfect) masks by default
        for a single contributor (the dealer), bounded (statistical) ones otherwise."""
        uniform = contributors == 1 if uniform_masks is None else uniform_masks
        B = top_bits(scheme.domain)
        k = 2 * (int_bits + frac_bits) + 1
        if frac_bits < 0 or int_bits < 0:
            raise ConfigError("fractional and integer bits must be non-negative")
        if uniform:
            if k > B - 1:
                raise ConfigError(
                    f"fixed point with f={frac_bits}, int_bits={int_bits} has products of k = 2·(int_bits + f) + 1"
                    f" = {k} bits; {scheme.domain.name} holds k <= {B - 1}: choose int_bits + f <= {(B - 2) // 2}")
            return cls(frac_bits=frac_bits, int_bits=int_bits, kappa=None, contributors=contributors)
        spread = math.ceil(math.log2(contributors + 1))
        kappa = B - 1 - k - spread
        if kappa < min_kappa:
            fit = (B - 1 - spread - min_kappa - 1) // 2
            raise ConfigError(
                f"fixed point with f={frac_bits}, int_bits={int_bits} (k = 2·(int_bits + f) + 1 = {k} bits) and masks "
                f"from {contributors} contributors leaves statistical security κ = {kappa} < {min_kappa} bits in "
                f"{scheme.domain.name} (k + κ + ⌈log2(m + 1)⌉ <= {B - 1}): choose int_bits + f <= {fit}"
                + (", or use the dealer, whose uniform masks make truncation perfectly private" if contributors > 1
                   else ""))
        return cls(frac_bits=frac_bits, int_bits=int_bits, kappa=kappa, contributors=contributors)


async def truncate(bv: Beaver, x: U64, params: FixedParams) -> U64:
    """Shares of ``x / 2^f`` (rounded as documented above) for shared signed ``x``, one round."""
    dom, scheme, me = bv.dom, bv.scheme, bv.ctx.party_id
    f, k, B = params.frac_bits, params.value_bits, top_bits(dom)
    m, m_hi, m_top = bv.pool.masks(x.size)
    flat = x.reshape(-1)
    offset = np.full(flat.size, 1 << (k - 1), dtype=np.uint64)
    masked = dom.add(add_public(scheme, flat, offset, me), m)
    c = await bv.open(masked, kind="trunc")
    bias = bv.pool.mask_contributors // 2
    public = (c >> np.uint64(f)).astype(np.int64) - np.int64((1 << (k - 1 - f)) + bias)
    # w·2^(B−f) = [c < 2^(B−1)]·2^(B−f)·[r_top]: a public multiple of a shared bit
    no_top = (c < np.uint64(1 << (B - 1))).astype(np.uint64)
    wrap = dom.mul(m_top, no_top * np.uint64((1 << (B - f)) % dom.modulus))
    return add_public(scheme, dom.sub(wrap, m_hi), dom.encode(public), me).reshape(x.shape)


async def fixed_mul(bv: Beaver, x: U64, y: U64, params: FixedParams) -> U64:
    """Shares of the fixed-point product ``x·y`` (two rounds: Beaver, then truncation)."""
    return await truncate(bv, await bv.mul(x, y), params)


__all__ = ["DEFAULT_MIN_KAPPA", "FixedParams", "fixed_mul", "truncate"]
