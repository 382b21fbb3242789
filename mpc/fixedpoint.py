"""Fixed-point encoding of reals as signed integers: x ↦ round(x · 2^f).

Encoding error is at most 2^-(f+1) per value; sums of k encoded values are exact integers, so
their decoded error is at most k · 2^-(f+1). The field's signed range (|v| < 2^60) bounds
|x| · 2^f · (number of summands).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import MpcError

DEFAULT_FRACTIONAL_BITS = 16
MAX_ABS_ENCODED = 1 << 60


class FixedPointOverflow(MpcError, ValueError):
    """A real value is too large for the fixed-point range."""


def encode_fixed(values: ArrayLike, frac_bits: int = DEFAULT_FRACTIONAL_BITS) -> NDArray[np.int64]:
    x = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise FixedPointOverflow("fixed point cannot encode NaN or infinity")
    scaled = np.rint(np.ldexp(x, frac_bits))
    if scaled.size and float(np.max(np.abs(scaled))) >= MAX_ABS_ENCODED:
        raise FixedPointOverflow(f"value too large for fixed point with {frac_bits} fractional bits")
    return scaled.astype(np.int64)


def decode_fixed(values: NDArray[np.int64], frac_bits: int = DEFAULT_FRACTIONAL_BITS) -> NDArray[np.float64]:
    return np.ldexp(np.asarray(values, dtype=np.float64), -frac_bits)


__all__ = ["DEFAULT_FRACTIONAL_BITS", "FixedPointOverflow", "decode_fixed", "encode_fixed"]
