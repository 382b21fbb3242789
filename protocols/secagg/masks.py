"""Mask arithmetic of secure aggregation over Z_2^64: encoding with headroom, mask expansion,
masked inputs and their unmasking. Pure functions of arrays.

Masks are AES-256-CTR keystreams (:class:`mpc.rng.Csprng` keyed with a 32-byte seed) read as
uint64, so every mask element is uniform in Z_2^64 and a masked input is a one-time pad.

Headroom: inputs are signed integers (reals in fixed point with ``fractional_bits``) encoded in
two's complement in Z_2^64. A client refuses an input with some |x_i| > (2^63 − 1) / n for n the
number of clients, so the sum of any subset of clients lies in [−(2^63 − 1), 2^63 − 1] and
decodes without wrap-around. With 16 fractional bits and 1000 clients that still allows |x| up to
about 2^37 (1.3 · 10^11) per element.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mpc.errors import ConfigError
from mpc.fixedpoint import decode_fixed, encode_fixed
from mpc.field import U64
from mpc.rng import Csprng

_CHUNK = 1 << 16  # elements per keystream chunk: keeps the temporary bytes cache-sized


def input_bound(n_clients: int) -> int:
    """Largest |x_i| a client may contribute so that no sum of ``n_clients`` vectors wraps."""
    return ((1 << 63) - 1) // max(1, n_clients)


def encode_input(x: ArrayLike, n_clients: int, fractional_bits: int | None) -> U64:
    """Signed integers (or reals in fixed point) → Z_2^64, refusing values without headroom."""
    arr = np.asarray(x)
    if arr.ndim != 1 or arr.size == 0:
        raise ConfigError("secure aggregation needs a non-empty 1-d input vector")
    if fractional_bits is not None:
        ints = encode_fixed(arr, fractional_bits)
    elif arr.dtype.kind in "iu":
        ints = arr.astype(np.int64)
        if arr.dtype.kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise ConfigError("input does not fit a signed 64-bit integer")
    else:
        raise ConfigError(f"integer aggregation got {arr.dtype} input; set fractional_bits for reals")
    bound = input_bound(n_clients)
    # in Python ints: np.abs(−2^63) is −2^63 in int64, which a max() of magnitudes would miss
    if ints.size and max(int(ints.max()), -int(ints.min())) > bound:
        raise ConfigError(f"input magnitude exceeds {bound} (no headroom for a sum of {n_clients} clients)")
    return ints.view(np.uint64).copy()


def decode_sum(total: U64, fractional_bits: int | None) -> NDArray[np.int64] | NDArray[np.float64]:
    signed = total.view(np.int64).copy()
    return decode_fixed(signed, fractional_bits) if fractional_bits is not None else signed


def add_mask(acc: U64, seed: bytes, sign: int) -> None:
    """acc ← acc ± PRG(seed) in Z_2^64, in place, streaming the keystream in chunks."""
    prg = Csprng(seed)
    dim = acc.size
    op = np.add if sign > 0 else np.subtract
    for lo in range(0, dim, _CHUNK):
        hi = min(dim, lo + _CHUNK)
        block = np.frombuffer(prg.random_bytes(8 * (hi - lo)), dtype=np.uint64)
        op(acc[lo:hi], block, out=acc[lo:hi])


def expand(seed: bytes, dim: int) -> U64:
    out = np.zeros(dim, dtype=np.uint64)
    add_mask(out, seed, +1)
    return out


def pairwise_sign(me: int, peer: int) -> int:
    """+1 if ``me`` adds the pair's mask, −1 if it subtracts it (the two cancel in the sum)."""
    return 1 if me < peer else -1


def add_masks(acc: U64, masks: Sequence[tuple[bytes, int]]) -> None:
    """acc ← acc + Σ sign · PRG(seed) over ``(seed, sign)`` pairs, in place.

    Short vectors (a SecAgg+ client adds ~k masks of a few thousand elements) are dominated by
    per-mask overhead, so up to ``_CHUNK`` elements of keystream are stacked and summed in one
    numpy reduction (sums of uint64 wrap mod 2^64, as the ring wants); long vectors stream.
    """
    dim = acc.size
    if dim > _CHUNK // 2:
        for seed, sign in masks:
            add_mask(acc, seed, sign)
        return
    rows = _CHUNK // max(1, dim)
    for op, sign in ((np.add, 1), (np.subtract, -1)):
        seeds = [seed for seed, g in masks if (g > 0) is (sign > 0)]
        for lo in range(0, len(seeds), rows):
            stream = b"".join(Csprng(seed).random_bytes(8 * dim) for seed in seeds[lo:lo + rows])
            op(acc, np.frombuffer(stream, dtype=np.uint64).reshape(-1, dim).sum(axis=0, dtype=np.uint64), out=acc)


def mask_input(x: U64, self_seed: bytes, pair_seeds: Mapping[int, bytes], me: int) -> U64:
    """y_u = x_u + PRG(b_u) + Σ_v ±PRG(s_uv) over the peers v that shared keys."""
    y = x.copy()
    add_masks(y, [(self_seed, +1), *((seed, pairwise_sign(me, v)) for v, seed in pair_seeds.items())])
    return y


def unmask_sum(
    masked: Iterable[U64],
    self_seeds: Iterable[bytes],
    dropped_pairs: Iterable[tuple[int, int, bytes]],
    dim: int,
) -> U64:
    """Σ y_u − Σ PRG(b_u) − (the pairwise masks survivors share with dropped clients).

    ``dropped_pairs`` holds (survivor u, dropped v, s_uv): u's masked input carries ±PRG(s_uv)
    that no partner cancels, so it is removed with u's sign flipped.
    """
    total = np.zeros(dim, dtype=np.uint64)
    for y in masked:
        np.add(total, y, out=total)
    add_masks(total, [*((seed, -1) for seed in self_seeds),
                      *((seed, -pairwise_sign(u, v)) for u, v, seed in dropped_pairs)])
    return total


__all__ = [
    "add_mask",
    "add_masks",
    "decode_sum",
    "encode_input",
    "expand",
    "input_bound",
    "mask_input",
    "pairwise_sign",
    "unmask_sum",
]
