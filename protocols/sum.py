"""Secure sum and mean of vectors: each input party shares its vector, every party adds its
shares locally, and the total is opened to all. One sharing round, one opening round.

Threat model: semi-honest parties. Shamir: any t colluding parties learn nothing beyond the
output; the opening tolerates up to n − (t + 1) dropouts after sharing. Additive: secure against
n − 1 colluders, tolerates no dropout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mpc.context import Context
from mpc.errors import ConfigError
from mpc.fixedpoint import decode_fixed, encode_fixed
from mpc.job import check_input_range

from .common import Scheme, open_shares, share_inputs_stacked


def encode_input(
    x: ArrayLike | None, scheme: Scheme, fractional_bits: int | None, inputs: int = 1
) -> NDArray[np.uint64] | None:
    """This party's input in the scheme's domain, refused (before anything is shared) when an
    integer lies outside the documented range or a sum of ``inputs`` such values could wrap
    (:func:`mpc.job.check_input_range`)."""
    if x is None:
        return None
    arr = np.asarray(x)
    if fractional_bits is not None:
        arr = encode_fixed(arr, fractional_bits)
    elif arr.dtype.kind not in "iu":
        raise ConfigError(f"integer protocol got {arr.dtype} input; set fractional_bits for reals")
    arr = np.atleast_1d(arr)
    check_input_range(arr, scheme.domain.modulus, inputs)
    return scheme.domain.encode(arr)


async def secure_sum(
    ctx: Context,
    x: ArrayLike | None,
    *,
    sharing: str = "shamir",
    threshold: int | None = None,
    input_parties: Sequence[int] | None = None,
    fractional_bits: int | None = None,
    verify_openings: bool = False,
) -> NDArray[np.int64] | NDArray[np.float64]:
    """The elementwise sum of the input parties' vectors, opened to every party.

    ``x`` is this party's vector (``None`` for a party that only computes). Integers may be
    negative; with ``fractional_bits`` the inputs are reals in fixed point. ``verify_openings``
    (Shamir, n ≥ 2t + 1): the opening checks every received share (see :class:`Scheme`).
    """
    scheme = Scheme.make(sharing, ctx.parties, threshold, verify=verify_openings)
    dealers = tuple(sorted(input_parties)) if input_parties is not None else ctx.parties
    if not dealers:
        raise ConfigError("a sum needs at least one input party")
    shares = await share_inputs_stacked(ctx, encode_input(x, scheme, fractional_bits, len(dealers)), scheme, dealers)
    dom = scheme.domain
    local = shares[0] if len(dealers) == 1 else dom.sum(shares, axis=0)
    total = dom.decode(await open_shares(ctx, local, scheme))
    return decode_fixed(total, fractional_bits) if fractional_bits is not None else total


async def secure_mean(
    ctx: Context, x: ArrayLike | None, *, input_parties: Sequence[int] | None = None, **options: Any
) -> NDArray[np.float64]:
    """The elementwise mean over the input parties (their count is public); ``options`` are
    :func:`secure_sum`'s (sharing, threshold, fractional_bits, verify_openings)."""
    dealers = tuple(sorted(input_parties)) if input_parties is not None else ctx.parties
    total = await secure_sum(ctx, x, input_parties=dealers, **options)
    return np.asarray(total, dtype=np.float64) / len(dealers)


__all__ = ["encode_input", "secure_mean", "secure_sum"]
