"""Preprocessed material for multiplication, and the trusted dealer that can provide it.

A :class:`Pool` holds one party's shares of

* Beaver triples ``([a], [b], [c = a·b])`` — one per elementwise multiplication;
* double sharings ``([r]_t, [r]_2t)`` — Shamir only, one per degree reduction (dot products);
* truncation masks ``([r], [r_hi], [r_top])`` (fixed point, :mod:`protocols.fixed`) with
  ``r_hi = ⌊r / 2^f⌋``: either ``r`` uniform over the whole field or ring and ``r_top`` its
  wrap bit ``[r ≥ 2^(B−1)]`` (dealer: perfectly private truncation), or ``r`` of bounded size
  summed over contributors and ``r_top = 0`` (dealer-free: statistically private).

Sources fill a pool ahead of the online phase from a public :class:`Need` (counts are public:
they follow from input lengths, never from values): the trusted dealer (:mod:`protocols.dealer`)
and the dealer-free DN07 generation (:mod:`protocols.dn07`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mpc.errors import ConfigError, MpcError, ProtocolError
from mpc.field import U64, Domain
from mpc.rng import Csprng

from .common import Scheme, as_share, check_field

MAX_ITEMS = 50_000_000  # bound on what a peer may ask the dealer for
FULL_MASK = 0  # Need.mask_bits for truncation masks uniform over the whole domain


class PoolExhausted(MpcError):
    """A protocol consumed more preprocessed material than it asked for (a bug, not a peer)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Need:
    """How much preprocessing a computation needs; public, identical at every party."""

    triples: int = 0
    doubles: int = 0
    masks: int = 0
    frac_bits: int = 0  # f: masks split as r_hi·2^f + r_lo
    mask_bits: int = 0  # r < 2^mask_bits per contributor; 0: r uniform over the domain (FULL_MASK)

    def as_payload(self) -> list[int]:
        return [self.triples, self.doubles, self.masks, self.frac_bits, self.mask_bits]

    @classmethod
    def from_payload(cls, payload: Any, peer: int) -> Need:
        if not isinstance(payload, list) or len(payload) != 5 or not all(type(v) is int for v in payload):
            raise ProtocolError("malformed preprocessing request", peer=peer)
        t, d, m, f, bits = payload
        if not (0 <= t <= MAX_ITEMS and 0 <= d <= MAX_ITEMS and 0 <= m <= MAX_ITEMS and 0 <= f <= 64
                and (bits == FULL_MASK or f <= bits <= 64)):
            raise ProtocolError(f"preprocessing request out of bounds: {payload}", peer=peer)
        return cls(triples=t, doubles=d, masks=m, frac_bits=f, mask_bits=bits)

    def __add__(self, other: Need) -> Need:
        if self.masks and other.masks and (self.frac_bits, self.mask_bits) != (other.frac_bits, other.mask_bits):
            raise ConfigError("one pool holds masks of one size only")
        f, bits = (self.frac_bits, self.mask_bits) if self.masks else (other.frac_bits, other.mask_bits)
        return Need(triples=self.triples + other.triples, doubles=self.doubles + other.doubles,
                    masks=self.masks + other.masks, frac_bits=f, mask_bits=bits)


KINDS = ("a", "b", "c", "r_t", "r_2t", "m", "m_hi", "m_top")
INT_BLOCK = 256  # triples converted to Python ints at a time by Pool.triple_ints


class Pool:
    """One party's preprocessed shares, handed out front to back (each item used once)."""

    def __init__(self, need: Need, shares: Mapping[str, U64], *, mask_contributors: int = 1,
                 meta: Mapping[str, Any] | None = None) -> None:
        self.need = need
        self.mask_contributors = mask_contributors
        self.meta = dict(meta or {})
        self._shares = dict(shares)
        self._used = {"triples": 0, "doubles": 0, "masks": 0}
        # triples as Python ints, a block at a time, for dependent chains (triple_ints)
        self._int_block: tuple[int, int, list[int], list[int], list[int]] | None = None

    def _take(self, kind: str, keys: tuple[str, ...], n: int) -> tuple[U64, ...]:
        start = self._used[kind]
        have = getattr(self.need, kind)
        if start + n > have:
            raise PoolExhausted(f"asked for {n} more {kind}, {have - start} left")
        self._used[kind] = start + n
        return tuple(self._shares[k][start : start + n] for k in keys)

    def triples(self, n: int) -> tuple[U64, U64, U64]:
        return self._take("triples", ("a", "b", "c"), n)  # type: ignore[return-value]

    def triple_ints(self, n: int) -> tuple[list[int], list[int], list[int]]:
        """:meth:`triples` as lists of Python ints (for a few elements at a time: a dependent
        chain's round), converted a block of :data:`INT_BLOCK` at a time."""
        start = self._used["triples"]
        if start + n > self.need.triples:
            raise PoolExhausted(f"asked for {n} more triples, {self.need.triples - start} left")
        self._used["triples"] = start + n
        block = self._int_block
        if block is None or not block[0] <= start or start + n > block[1]:
            hi = min(self.need.triples, start + max(n, INT_BLOCK))
            sh = self._shares
            block = self._int_block = (start, hi, sh["a"][start:hi].tolist(), sh["b"][start:hi].tolist(),
                                       sh["c"][start:hi].tolist())
        lo, stop = start - block[0], start - block[0] + n
        return block[2][lo:stop], block[3][lo:stop], block[4][lo:stop]

    def doubles(self, n: int) -> tuple[U64, U64]:
        return self._take("doubles", ("r_t", "r_2t"), n)  # type: ignore[return-value]

    def masks(self, n: int) -> tuple[U64, U64, U64]:
        """Shares of ``(r, ⌊r/2^f⌋, r_top)`` for ``n`` truncations."""
        return self._take("masks", ("m", "m_hi", "m_top"), n)  # type: ignore[return-value]


def top_bits(dom: Domain) -> int:
    """B with 2^(B−1) ≤ modulus − 1 < 2^B: 61 for GF(2^61 − 1), 64 for Z_2^64."""
    return (dom.modulus - 1).bit_length()


def truncation_mask(dom: Domain, rng: Csprng, count: int, frac_bits: int, mask_bits: int) -> tuple[U64, U64, U64]:
    """Plain ``(r, ⌊r/2^f⌋, r_top)``: with ``mask_bits`` = :data:`FULL_MASK` r is uniform over the
    domain and ``r_top = [r ≥ 2^(B−1)]``; otherwise r is uniform below 2^mask_bits, r_top = 0."""
    if mask_bits == FULL_MASK:
        r = dom.random(rng, count)
        top = (r >> np.uint64(top_bits(dom) - 1)).astype(np.uint64)  # r < 2^B, so this is the bit
    else:
        r = rng.uint64(count)
        if mask_bits < 64:
            r &= np.uint64((1 << mask_bits) - 1)
        top = np.zeros(count, dtype=np.uint64)
    return r, r >> np.uint64(frac_bits), top


def sizes_of(need: Need) -> dict[str, int]:
    """The length of each kind of share in a pool for ``need``."""
    return {"a": need.triples, "b": need.triples, "c": need.triples, "r_t": need.doubles,
            "r_2t": need.doubles, "m": need.masks, "m_hi": need.masks, "m_top": need.masks}


def validate_bundle(payload: Any, scheme: Scheme, need: Need, peer: int) -> dict[str, U64]:
    """A peer's bundle of shares: exactly :data:`KINDS`, each a vector of the agreed length."""
    sizes = sizes_of(need)
    if not isinstance(payload, dict) or set(payload) != set(KINDS):
        raise ProtocolError("malformed preprocessing bundle", peer=peer)
    return {k: check_field(as_share(payload[k], peer, (sizes[k],)), scheme, peer) for k in KINDS}


__all__ = ["FULL_MASK", "KINDS", "Need", "Pool", "PoolExhausted", "sizes_of", "top_bits", "truncation_mask",
           "validate_bundle"]
