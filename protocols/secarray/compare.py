"""Comparisons, equality and exact-range truncation by masking with edaBits (perfectly hiding).

Z_2^64 (additive). For |z| < 2^(n−1) with n = k + 1 bits (differences of k-bit values), take an
edaBit r < 2^n and open c = 2^(64−n)·(z + r): only its top n bits carry information and they
equal (z + r) mod 2^n, uniform because r is — the opening is perfectly hiding. Then
z mod 2^n = c − r mod 2^n, whose top bit is the sign:
    [z < 0] = c_(n−1) ⊕ r_(n−1) ⊕ [c mod 2^(n−1) < r mod 2^(n−1)]
(Escudero, Ghosh, Keller, Rachuri, Scholl: edaBits, CRYPTO 2020; the comparison circuit is the
log-depth one of Catrina–de Hoogh, SCN 2010).

GF(p), p = 2^61 − 1 (Shamir). The field has no room for a 40-bit statistical mask over 32-bit
values, so the mask is a uniform field element r with its 61 bits (perfect hiding), and the sign
comes from a parity (Nishide–Ohta, PKC 2007): for |z| < p/2, z < 0 iff 2z mod p is odd, and with
c = 2z + r mod p opened, 2z = c − r + p·[c < r], so
    [z < 0] = c_0 ⊕ r_0 ⊕ [c < r]     (p odd).
Any |z| < 2^59 works; rounds: 1 opening, ceil(log2 61) = 6 AND layers, 1 conversion.

Equality: z = 0 iff c = r bit for bit: an AND tree of the XNORs (log depth).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc.field import GF61, U64, Ring64

from .bits import Bits
from .prep import add_need, to_bits
from .rounds import Open
from .steps import Arith, Step

_R64 = Ring64()


class Compare:
    """Sign and zero tests of flat shared arrays, returning bits in the session's bit mode."""

    def __init__(self, arith: Arith, bits: Bits, value_bits: int) -> None:
        self.ar, self.bits = arith, bits
        self.shamir = arith.scheme.kind == "shamir"
        self.n = 61 if self.shamir else value_bits + 1  # width of the masked number

    @property
    def eda(self) -> str:
        return f"eda{self.n}"

    def _open(self, z: U64, r: U64, *, twice: bool = False) -> Step[np.ndarray]:
        """Open z + r (GF(p): 2z + r when ``twice``) and return the public bits of the mask width."""
        if self.shamir:
            (c,) = yield [Open(GF61.add(GF61.add(z, z) if twice else z, r))]
            return to_bits(c, 61)
        sh = np.uint64(64 - self.n)
        (c,) = yield [Open(_R64.add(z, r) << sh)]
        return to_bits(c >> sh, self.n)

    # -- sign -------------------------------------------------------------------------------
    def ltz_need(self, m: int) -> dict[str, int]:
        width = self.n if self.shamir else self.n - 1
        need = add_need({self.eda: m}, self.bits.and_need(m * Bits.lt_ands(width)))
        return add_need(need, self.bits.xor_need(m))

    def ltz(self, z: U64) -> Step[np.ndarray]:
        """[z < 0] as a shared bit, for flat z."""
        e = self.ar.store.take(self.eda, z.size)
        cb = yield from self._open(z, e["r"], twice=True)
        if self.shamir:
            lt = yield from self.bits.less_than(cb, e["bits"])
            s = yield from self.bits.xor(lt, e["bits"][0])
            return self.bits.xor_pub(s, cb[0])
        top = self.n - 1
        lt = yield from self.bits.less_than(cb[:top], e["bits"][:top])
        s = yield from self.bits.xor(lt, e["bits"][top])
        return self.bits.xor_pub(s, cb[top])

    # -- zero -------------------------------------------------------------------------------
    def eqz_need(self, m: int) -> dict[str, int]:
        return add_need({self.eda: m}, self.bits.and_need(m * Bits.all_ands(self.n)))

    def eqz(self, z: U64) -> Step[np.ndarray]:
        """[z = 0] as a shared bit."""
        e = self.ar.store.take(self.eda, z.size)
        cb = yield from self._open(z, e["r"])
        same = self.bits.xor_pub(e["bits"], (1 - cb).astype(np.uint8))
        return (yield from self.bits.all_(same))

    # -- truncation in GF(p) ----------------------------------------------------------------
    def trunc_need(self, m: int, f: int) -> dict[str, int]:
        if not self.shamir:
            return {f"tz{f}": m}
        need = add_need({f"tp{f}": m}, self.bits.and_need(m * Bits.lt_ands(61)))
        return add_need(need, self.bits.convert_need(m))

    def trunc(self, x: U64, f: int) -> Step[U64]:
        """Shares of ⌊x/2^f⌋ or ⌊x/2^f⌋ + 1 for |x| < 2^59 (GF(p)) or 2^62 (Z_2^64).

        GF(p): y = x + 2^59 ≥ 0, c = y + r opened (r uniform: perfect hiding), the wrap
        ov = [c < r] from the comparison circuit, and since p ≡ −1 (mod 2^f),
        y mod 2^f ≡ c_lo − r_lo − ov; dropping that difference's borrow leaves
        (y − (c_lo − r_lo − ov))/2^f = ⌊y/2^f⌋ + borrow, divided exactly by 2^f in the field."""
        if not self.shamir:
            return (yield from self.ar.trunc_z64(x, f))
        m = self.ar.store.take(f"tp{f}", x.size)
        off = 1 << 59
        y = self.ar.add_public(x, np.uint64(off))
        (c,) = yield [Open(GF61.add(y, m["r"]))]
        ov = yield from self.bits.less_than(to_bits(c, 61), m["bits"])
        ov_a = yield from self.bits.to_arith(ov)
        low = c & np.uint64((1 << f) - 1)
        u = GF61.sub(self.ar.public(low), GF61.add(m["lo"], ov_a))
        inv = np.uint64(GF61.inv(1 << f))
        return self.ar.add_public(GF61.mul(GF61.sub(y, u), np.full(x.size, inv)), np.uint64(GF61.modulus - (off >> f)))


def result_need(bits: Bits, m: int) -> dict[str, int]:
    return bits.convert_need(m)


__all__: list[Any] = ["Compare", "result_need"]
