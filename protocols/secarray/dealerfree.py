"""Dealer-free preprocessing for Shamir with an honest majority (n ≥ 2t + 1): arithmetic mode.

Double sharings come from :func:`protocols.dn07.dn07_prepare` (random sharings extracted with a
Vandermonde matrix, Damgård–Nielsen 2007). Random bits use the square-root trick (Damgård,
Fitzi, Kiltz, Nielsen, Toft, TCC 2006), which needs p ≡ 3 (mod 4) — true for p = 2^61 − 1:

1. take a random sharing [u]_t (the t-part of a double sharing) and a random degree-2t sharing
   of zero (w_2t − w_t of another double sharing);
2. open a = u² from the degree-2t sharing [u]_t·[u]_t + [0]_2t (one round; the zero sharing
   makes the opened polynomial uniform apart from its constant term, so only u² is revealed);
3. u/√a = ±1 with √a = a^((p+1)/4); with a^((p−3)/4) = 1/√a the bit is [b] = ([u]·a^((p−3)/4) + 1)/2.

b is uniform and hidden from any t parties: a = u² is the same for u and −u. An a = 0
(probability 2^−61 per bit) is replaced by a public 0 bit. An edaBit's r = Σ 2^i b_i over 61
bits lies in [0, 2^61): r ≡ r − p only for r = p (probability 2^−61), where the comparison
formulas still hold (they take r as an integer in [0, p]); r mod p is 2^−61-close to uniform.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mpc.context import Context
from mpc.errors import ConfigError
from mpc.field import GF61, U64

from ..common import Scheme, open_values
from ..dn07 import dn07_prepare
from ..triples import Need as PoolNeed
from .prep import Item, eda_bits

HALF = GF61.inv(2)


def _pow_ones(x: U64, k: int) -> U64:
    """x^(2^k − 1), elementwise: k − 1 squarings and multiplications."""
    acc = x.copy()
    for _ in range(k - 1):
        acc = GF61.mul(GF61.mul(acc, acc), x)
    return acc


def bits_from_squares(u: U64, a: U64) -> U64:
    """Shares of (u/√a + 1)/2 from shares of u and the opened a = u² (public); a = 0 gives 0
    (every party sets its share of u/√a to the public −1, a valid Shamir sharing of −1)."""
    signed = GF61.mul(u, _pow_ones(a, 59))  # a^(2^59 − 1) = a^((p − 3)/4) = 1/√a
    signed[a == 0] = GF61.modulus - 1
    return GF61.mul(GF61.add(signed, np.ones_like(signed)), np.full(u.shape, HALF, dtype=np.uint64))


def _weights(n: int) -> list[int]:
    return [1 << i for i in range(n)]


async def generate(ctx: Context, scheme: Scheme, need: Mapping[str, int]) -> tuple[dict[str, Item], int]:
    """Items for ``need`` (kinds ``double``, ``eda61``, ``tp<f>``) and the rounds it took."""
    bit_items = {k: v for k, v in need.items() if k.startswith(("eda", "tp"))}
    other = set(need) - set(bit_items) - {"double"}
    if other:
        raise ConfigError(f"dealer-free preprocessing cannot make {sorted(other)}")
    nbits = sum(61 * v for v in bit_items.values())
    pool = await dn07_prepare(ctx, scheme, PoolNeed(doubles=need.get("double", 0) + 2 * nbits))
    rounds = 2 * int(pool.meta.get("batches", 1))
    out: dict[str, Item] = {}
    if need.get("double"):
        r_t, r_2t = pool.doubles(need["double"])
        out["double"] = {"t": r_t, "2t": r_2t}
    if not nbits:
        return out, rounds
    u, _ = pool.doubles(nbits)
    w_t, w_2t = pool.doubles(nbits)
    masked_square = GF61.add(GF61.mul(u, u), GF61.sub(w_2t, w_t))
    a = await open_values(ctx, scheme, masked_square, "square", degree=2 * scheme.t)
    bits = bits_from_squares(u, a)
    off = 0
    for kind in sorted(bit_items):
        count = bit_items[kind]
        n = eda_bits(kind)
        rows = bits[off : off + n * count].reshape(n, count)
        off += n * count
        item: Item = {"r": GF61.lincomb(_weights(n), list(rows)), "bits": rows}
        if kind.startswith("tp"):
            f = int(kind[2:])
            item["lo"] = GF61.lincomb(_weights(f), list(rows[:f]))
        out[kind] = item
    return out, rounds + 1


__all__ = ["bits_from_squares", "generate"]
