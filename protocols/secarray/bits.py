"""Shared bits and the circuits on them: comparison with a public number, equality, conversion.

Two representations (a session picks one; both run the same circuits):

* ``binary`` — XOR sharings of 0/1 bytes (the dealer's mode). XOR is local; AND is a binary
  Beaver product (two bits opened); a bit becomes arithmetic with a daBit (one bit opened).
  Bits travel packed, eight to a byte: a 32-bit comparison costs bytes, not kilobytes.
* ``arith`` — arithmetic sharings of 0/1 in the session's domain (dealer-free Shamir). AND is a
  product; XOR of two shared bits costs a product; conversion is free.

Bits of one number are rows of a ``(bits, m)`` array, least significant first, so every
operation is a numpy expression over all m numbers at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc.field import U64

from .rounds import Open
from .steps import Arith, Step, done, par


class Bits:
    """Bit operations of one session in its mode (``binary`` or ``arith``)."""

    def __init__(self, arith: Arith, mode: str) -> None:
        self.ar = arith
        self.mode = mode
        self.binary = mode == "binary"

    # -- local ------------------------------------------------------------------------------
    def xor_pub(self, x: np.ndarray, c: np.ndarray | np.generic) -> np.ndarray:
        c = np.broadcast_to(c, x.shape).astype(bool)
        if self.binary:
            return x ^ c.astype(np.uint8) if self.ar.leader else x.copy()
        one_minus = self.ar.add_public(self.ar.dom.neg(x), np.uint64(1))
        return np.where(c, one_minus, x)

    def and_pub(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        if self.binary:
            return x & np.broadcast_to(c, x.shape).astype(np.uint8)
        return np.where(np.broadcast_to(c, x.shape).astype(bool), x, np.zeros((), dtype=x.dtype))

    def add_disjoint(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``x OR y`` for bits that are never both 1."""
        return x ^ y if self.binary else self.ar.dom.add(x, y)

    # -- one round --------------------------------------------------------------------------
    def and_need(self, count: int) -> dict[str, int]:
        return {"btriple": count} if self.binary else Arith.mul_need(self.ar.scheme, count)

    def and_(self, x: np.ndarray, y: np.ndarray) -> Step[np.ndarray]:
        if not self.binary:
            out = yield from self.ar.mul(x.reshape(-1), y.reshape(-1))
            return out.reshape(x.shape)
        n = x.size
        t = self.ar.store.take("btriple", n)
        xf, yf = x.reshape(-1), y.reshape(-1)
        (de,) = yield [Open(np.concatenate([xf ^ t["a"], yf ^ t["b"]]), "x")]
        d, e = de[:n], de[n:]
        z = t["c"] ^ (d & t["b"]) ^ (e & t["a"])
        if self.ar.leader:
            z ^= d & e
        return z.reshape(x.shape)

    def xor_need(self, count: int) -> dict[str, int]:
        return {} if self.binary else Arith.mul_need(self.ar.scheme, count)

    def xor(self, x: np.ndarray, y: np.ndarray) -> Step[np.ndarray]:
        """x ⊕ y: local for XOR shares; x + y − 2xy (one product) for arithmetic bits."""
        if self.binary:
            return x ^ y
        dom = self.ar.dom
        xy = yield from self.ar.mul(x.reshape(-1), y.reshape(-1))
        return dom.sub(dom.add(x, y), dom.add(xy, xy).reshape(x.shape))

    def convert_need(self, count: int, width: int = 0) -> dict[str, int]:
        """For :meth:`to_arith` (``width`` 0) or :meth:`times` of ``width`` values per bit."""
        if not self.binary:
            return Arith.mul_need(self.ar.scheme, count * width)
        return {"dabit": count} | (Arith.mul_need(self.ar.scheme, count * width) if width else {})

    def to_arith(self, b: np.ndarray) -> Step[U64]:
        """A bit as an arithmetic 0/1 sharing: open v = b ⊕ d for a daBit d, then
        [b] = v + [d] − 2v[d] (one round of one bit)."""
        if not self.binary:
            return (yield from done(b))
        d = self.ar.store.take("dabit", b.size)
        (v,) = yield [Open(b.reshape(-1) ^ d["b"], "x")]
        return self._unmask(v, d["a"]).reshape(b.shape)

    def _unmask(self, v: np.ndarray, da: U64) -> U64:
        dom = self.ar.dom
        return np.where(v.astype(bool), self.ar.add_public(dom.neg(da), np.uint64(1)), da)

    def times(self, b: np.ndarray, z: U64) -> Step[U64]:
        """``[b·z]`` for a bit b and k arithmetic values per bit (z of shape (k, m)), in ONE round:
        the daBit's opening v = b ⊕ d and the product d·z go out together, and
        b·z = v·z + (1 − 2v)·(d·z)."""
        k = z.shape[0]
        if not self.binary:
            bz = yield from self.ar.mul(np.tile(b.reshape(-1), k), z.reshape(-1))
            return bz.reshape(z.shape)
        d = self.ar.store.take("dabit", b.size)
        open_v: Step[Any] = _open_bits(b.reshape(-1) ^ d["b"])
        prod = self.ar.mul(np.tile(d["a"], k), z.reshape(-1))
        v, dz = yield from par([open_v, prod])
        dom = self.ar.dom
        dz = dz.reshape(z.shape)
        flip = np.broadcast_to(v.astype(bool), z.shape)
        return np.where(flip, dom.sub(z, dz), dz)

    # -- circuits ---------------------------------------------------------------------------
    @staticmethod
    def lt_ands(nbits: int) -> int:
        """ANDs of :meth:`less_than` on ``nbits`` bits, per number (public, from the width)."""
        total, n = 0, nbits
        while n > 1:
            h = n // 2
            total += h + (h - 1 if n > 2 else 0)
            n -= h
        return total

    def less_than(self, c: np.ndarray, r: np.ndarray) -> Step[np.ndarray]:
        """[c < r] for public bits ``c`` and shared bits ``r`` (both (nbits, m), LSB first).

        A tree of (lt, eq) pairs, ceil(log2 nbits) rounds: (lt, eq)_hi ∘ (lt, eq)_lo =
        (lt_hi ∨ eq_hi·lt_lo, eq_hi·eq_lo); the two terms of the OR never hold together, so it
        is an XOR (free). Leaves are local since c is public: lt_i = r_i·¬c_i, eq_i = ¬(r_i ⊕ c_i).
        The lowest position only ever meets others as the low half, so its eq is never formed.
        """
        nc = (1 - c).astype(np.uint8)
        lt = self.and_pub(r, nc)
        eq = self.xor_pub(r, nc)
        while lt.shape[0] > 1:
            n = lt.shape[0]
            h = n // 2
            lo_lt, hi_lt = lt[0 : 2 * h : 2], lt[1 : 2 * h : 2]
            lo_eq, hi_eq = eq[0 : 2 * h : 2], eq[1 : 2 * h : 2]
            more = n > 2
            left = np.concatenate([hi_eq, hi_eq[1:]]) if more else hi_eq
            right = np.concatenate([lo_lt, lo_eq[1:]]) if more else lo_lt
            prod = yield from self.and_(left, right)
            new_lt = self.add_disjoint(hi_lt, prod[:h])
            new_eq = np.concatenate([hi_eq[:1], prod[h:]]) if more else hi_eq  # row 0: never used
            lt = np.concatenate([new_lt, lt[2 * h :]])
            eq = np.concatenate([new_eq, eq[2 * h :]])
        return lt[0]

    @staticmethod
    def all_ands(nbits: int) -> int:
        return max(0, nbits - 1)

    def all_(self, x: np.ndarray) -> Step[np.ndarray]:
        """AND of the rows of ``x`` ((nbits, m)), ceil(log2 nbits) rounds."""
        while x.shape[0] > 1:
            h = x.shape[0] // 2
            prod = yield from self.and_(x[0 : 2 * h : 2], x[1 : 2 * h : 2])
            x = np.concatenate([prod, x[2 * h :]])
        return x[0]


def _open_bits(v: np.ndarray) -> Step[np.ndarray]:
    (opened,) = yield [Open(v, "x")]
    return opened


__all__ = ["Bits"]
