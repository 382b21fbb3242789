"""Pseudo-random secret sharing (PRSS, Cramer–Damgård–Ishai 2005): random Shamir sharings with no
messages, from keys that the members of each set of n − t parties hold in common.

For every set ``A`` of ``n − t`` parties (the complements of the maximal unqualified sets ``T``,
``|T| = t``) the members of ``A`` share a key ``K_A``. With the degree-t polynomial
``g_A(x) = Π_{k ∉ A} (k − x)`` (zero at the t outsiders, ``g_A(0) ≠ 0``) and ``ψ_A`` the next
element of ``K_A``'s keystream, party i's share is ``Σ_{A ∋ i} g_A(i)·ψ_A``: the evaluations at i
of ``f(x) = Σ_A g_A(x)·ψ_A``, a degree-t sharing of ``Σ_A g_A(0)·ψ_A``. A zero sharing of degree
2t adds, per key, ``g_A(x)·Σ_{l=1..t} ψ_{A,l}·x^l``.

Why t parties ``T`` learn nothing: they hold every key except ``K_{A*}`` of their complement
``A* = [n] ∖ T``, and ``g_{A*}`` vanishes on ``T``. So the part of ``f`` they cannot compute is
``ψ_{A*}·g_{A*}(x)``: the one degree-t polynomial through their own shares with a fresh
(pseudo-)random constant term, exactly as a fresh Shamir sharing looks to them. The zero sharing's
unknown part ``g_{A*}(x)·Σ_l ψ_{A*,l}·x^l`` spans every polynomial of degree ≤ 2t that vanishes on
T and at 0, and with a double sharing's ``ψ_{A*}·g_{A*}`` every one that vanishes on T: a
degree-2t opening masked by them shows T nothing but the opened constant (see
:mod:`protocols.dn07`). Keystreams are AES-256-CTR (:class:`mpc.rng.Csprng`) under
``K_A``, one nonce per kind of sharing, so the security is computational (AES as a PRF).

Keys: every member j of ``A`` contributes 32 fresh bytes ``k_{A,j}`` (from its CSPRNG), sent only
to the other members of ``A`` over the authenticated channels; ``K_A`` hashes the contributions of
the members in the agreed contributor set ``D``. ``A*`` holds no corrupt party, so with
``|D| ≥ t + 1`` (``D`` then meets ``A*``) ``K_{A*}`` includes a contribution T never saw.

Cost: party i holds ``C(n − 1, t)`` keys (3 parties: 2; 5 parties, t = 2: 6; 7 parties, t = 3:
20) and draws one keystream element per key and per sharing; exponential in n, so
:func:`protocols.dn07.dn07_prepare` uses PRSS only while that stays small.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from math import comb
from typing import Any

import numpy as np

from mpc.errors import ProtocolError
from mpc.field import BLOCK, GF61, U64
from mpc.rng import Csprng
from mpc.sharing import lagrange_at_zero

KEY_BYTES = 32
_LABEL = b"mpc prss key v1"


def key_sets(parties: Sequence[int], t: int) -> list[tuple[int, ...]]:
    """Every set of ``n − t`` parties, in a canonical order (sorted tuples, lexicographic)."""
    return list(combinations(sorted(parties), len(parties) - t))


def keys_per_party(n: int, t: int) -> int:
    """How many PRSS keys each party holds: the sets of n − t parties that contain it."""
    return comb(n - 1, t)


def shared_sets(parties: Sequence[int], t: int, i: int, j: int) -> list[tuple[int, ...]]:
    """The key sets holding both ``i`` and ``j`` (what i's contribution message to j covers)."""
    return [s for s in key_sets(parties, t) if i in s and j in s]


def contribution_payload(mine: Mapping[tuple[int, ...], bytes], sets: Sequence[tuple[int, ...]]) -> U64:
    """This party's contributions for ``sets``, as a ``(len(sets), 32)`` uint8 array."""
    raw = b"".join(mine[s] for s in sets)
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(sets), KEY_BYTES)  # type: ignore[return-value]


def check_contribution(payload: Any, peer: int, count: int) -> list[bytes]:
    """A peer's key contributions: a ``(count, 32)`` uint8 array; never trust peers."""
    if not isinstance(payload, np.ndarray) or payload.dtype != np.uint8 or payload.shape != (count, KEY_BYTES):
        raise ProtocolError("malformed PRSS key contribution", peer=peer)
    return [bytes(row) for row in payload]


def derive_key(key_set: tuple[int, ...], contributions: Mapping[int, bytes]) -> bytes:
    """``K_A`` from the contributions of the agreed members of ``A`` (ids in ascending order)."""
    h = hashlib.sha256(_LABEL)
    h.update(np.array(key_set, dtype="<u4").tobytes())
    for j in sorted(contributions):
        h.update(np.array([j], dtype="<u4").tobytes() + contributions[j])
    return h.digest()


def _g(key_set: tuple[int, ...], parties: Sequence[int], x: int) -> int:
    """``g_A(x) = Π_{k ∉ A} (k − x) mod p``."""
    p, out = GF61.modulus, 1
    for k in parties:
        if k not in key_set:
            out = out * (k - x) % p
    return out


class Prss:
    """One party's PRSS keys and the coefficients that turn keystreams into its shares."""

    def __init__(self, parties: Sequence[int], t: int, me: int, keys: Mapping[tuple[int, ...], bytes]) -> None:
        self.parties, self.t, self.me = tuple(sorted(parties)), t, me
        self.sets = [s for s in key_sets(self.parties, t) if me in s]
        if set(keys) != set(self.sets):
            raise ValueError("a PRSS party needs exactly the keys of the sets that contain it")
        self._keys = [keys[s] for s in self.sets]
        p = GF61.modulus
        g = [_g(s, self.parties, me) for s in self.sets]
        self.coeffs = tuple(g)  # of ψ_A in a degree-t share
        # of ψ_{A,l} in a degree-2t zero share, l = 1..t: g_A(i)·i^l
        self.zero_coeffs = tuple(c * pow(me, l, p) % p for c in g for l in range(1, t + 1))

    def streams(self, kind: int) -> list[Csprng]:
        """One keystream per key for the sharing kind ``kind`` (the nonce separates kinds)."""
        nonce = kind.to_bytes(16, "little")
        return [Csprng(k, nonce) for k in self._keys]

    def zero_streams(self, kind: int) -> list[Csprng]:
        """Keystreams of a degree-2t zero sharing: t per key, in :attr:`zero_coeffs` order."""
        nonce = [(kind + (l << 32)).to_bytes(16, "little") for l in range(1, self.t + 1)]
        return [Csprng(k, n) for k in self._keys for n in nonce]


def draw(rng: Csprng, out: U64) -> U64:
    """Fill ``out`` with uniform field elements from ``rng``: 61-bit values, the one value ≥ p
    (2^61 − 1) redrawn from the same stream (probability 2^−61 each), so every holder of the key
    draws the same elements for the same calls."""
    P = GF61._P
    np.bitwise_and(rng.fill(out), P, out=out)
    bad = np.flatnonzero(out == P)
    while bad.size:
        out[bad] = np.frombuffer(rng.random_bytes(8 * bad.size), dtype=np.uint64) & P
        bad = bad[out[bad] == P]
    return out


class Shares:
    """Blocked generation of PRSS shares: each call draws the next ``k`` elements of every stream
    into reused buffers and combines them (:meth:`PrimeField.lincomb`) into ``out``."""

    def __init__(self, streams: list[Csprng], coeffs: Sequence[int], block: int) -> None:
        self._streams, self._coeffs = streams, list(coeffs)
        self._bufs = [np.empty(block, dtype=np.uint64) for _ in streams]

    def next(self, out: U64) -> U64:
        k = out.size
        arrays = [draw(s, b[:k]) for s, b in zip(self._streams, self._bufs, strict=True)]
        return GF61.lincomb(self._coeffs, arrays, out=out)


# keystream kinds (nonces): the Beaver factors, the random bits' sharings, the double sharings'
# degree-t part, the 3-party resharing's zero sum, and (KIND_ZERO + l·2^32) the degree-2t zero
# sharing's coefficient l
KIND_A, KIND_B, KIND_U, KIND_R, KIND_RESHARE, KIND_ZERO = range(6)


@dataclass(slots=True, kw_only=True)
class Material:
    """One party's PRSS output for a pool: ``local`` is what the degree-2t opening opens, ``f``
    what the 3-party resharing sends (one of the two holds the triples' products)."""

    a: U64  # [a]_t, [b]_t of the triples
    b: U64
    r_t: U64  # [r]_t of the triples (c = r + (ab − r) once opened); empty when resharing
    u: U64  # [u]_t of the random bits
    d_t: U64  # double sharings ([r]_t, [r]_2t) for online degree reductions
    d_2t: U64
    local: U64  # a·b − [r]_2t per triple (unless resharing), then u² + [0]_2t per random bit
    f: U64  # resharing: this party's masked, scaled product share per triple (else empty)
    reshare: Reshare3 | None = None


class Reshare3:
    """Three parties, t = 1: a degree-2 product sharing back to degree 1 with ONE message per party
    (replicated resharing, as in Araki et al. 2016), instead of opening ``ab − r`` to everyone.

    Parties at positions k = 0, 1, 2 (ids x_k ascending, indices mod 3). ``λ_k·a_k·b_k`` is an
    additive sharing of ab; the zero sum ``z_k = x_{k+2}·F_{k,k+1} − x_k·F_{k−1,k}`` (``F_A``: the
    keystream of the PRSS key of pair A, which party k holds for both pairs) gives
    ``f_k = (λ_k/x_{k+1})·a_k·b_k + z_k`` with ``Σ_k x_{k+1}·f_k = ab``. Party k sends f_k to party
    k − 1, so f_j is held by j and j − 1, and ``c(x) = Σ_j f_j·(x_{j+1} − x)`` is a degree-1 sharing
    of ab whose share at x_k needs only f_k and f_{k+1}. Privacy for one party k: the one message it
    receives, f_{k+1}, is masked by ``x_k·F_{k+1,k+2}``, the keystream of the only key it lacks
    (its own nonce, independent of the streams of a and b).
    """

    def __init__(self, prss: Prss) -> None:
        ids = prss.parties
        if len(ids) != 3 or prss.t != 1:
            raise ValueError("the replicated resharing is for 3 parties with t = 1")
        p = GF61.modulus
        k = ids.index(prss.me)
        x = [ids[(k + d) % 3] for d in range(3)]  # x_k, x_{k+1}, x_{k+2}
        self.prev, self.next = x[2], x[1]
        lam = lagrange_at_zero(ids)[k]
        pair = {d: tuple(sorted((x[0], x[d]))) for d in (1, 2)}  # {k, k+1}, {k−1, k}
        streams = prss.streams(KIND_RESHARE)
        self._streams = [streams[prss.sets.index(pair[1])], streams[prss.sets.index(pair[2])]]
        self._coeffs = [lam * pow(x[1], p - 2, p) % p, x[2], p - x[0]]
        self.combine = (x[1] - x[0], x[2] - x[0])  # of (f_k, f_{k+1}) in c_k

    def masked(self, product: U64, out: U64, bufs: list[U64]) -> U64:
        """``f_k`` for a block of local products ``a_k·b_k``."""
        f1, f2 = (draw(s, buf[: product.size]) for s, buf in zip(self._streams, bufs, strict=True))
        return GF61.lincomb(self._coeffs, [product, f1, f2], out=out)


class Generator:
    """All PRSS sharings of a pool, block by block (keystreams, temporaries and the local product
    of one block stay in cache; nothing is sent). ``[r]_2t = [r]_t + [0]_2t``. With ``reshare``
    (3 parties) the triples' products become :class:`Reshare3` messages ``f``, not openings.

    :meth:`triples` advances through the triples (so a caller can send each chunk of ``f`` while
    the next is computed), :meth:`finish` does the rest. Keystreams are consumed in one order at
    every party: triples, then random bits, then double sharings, in calls of equal sizes.
    """

    def __init__(self, prss: Prss, triples: int, bits: int, doubles: int, block: int = BLOCK, *,
                 reshare: bool = False) -> None:
        self._share = {k: Shares(prss.streams(k), prss.coeffs, block) for k in (KIND_A, KIND_B, KIND_U, KIND_R)}
        self._zero = Shares(prss.zero_streams(KIND_ZERO), prss.zero_coeffs, block)
        self.reshare = Reshare3(prss) if reshare else None
        self._block, self._done, self._finished = block, 0, False
        opened = 0 if self.reshare else triples
        a, b, r_t, f = (np.empty(n, dtype=np.uint64) for n in (triples, triples, opened, triples - opened))
        u, d_t, d_2t, local = (np.empty(n, dtype=np.uint64) for n in (bits, doubles, doubles, opened + bits))
        self.material = Material(a=a, b=b, r_t=r_t, u=u, d_t=d_t, d_2t=d_2t, local=local, f=f, reshare=self.reshare)
        self._z, self._p = np.empty(block, dtype=np.uint64), np.empty(block, dtype=np.uint64)
        self._bufs = [np.empty(block, dtype=np.uint64) for _ in range(2)]

    def triples(self, stop: int) -> None:
        """Triples up to index ``stop`` (from where the last call ended)."""
        m, share, rs = self.material, self._share, self.reshare
        for s in range(self._done, stop, self._block):
            sl = slice(s, min(s + self._block, stop))
            z = self._z[: sl.stop - s]
            share[KIND_A].next(m.a[sl])
            share[KIND_B].next(m.b[sl])
            if rs is not None:
                rs.masked(GF61.mul(m.a[sl], m.b[sl], out=self._p[: sl.stop - s]), m.f[sl], self._bufs)
                continue
            GF61.add(share[KIND_R].next(m.r_t[sl]), self._zero.next(z), out=z)  # [r]_2t
            GF61.sub(GF61.mul(m.a[sl], m.b[sl], out=m.local[sl]), z, out=m.local[sl])
        self._done = max(self._done, stop)

    def finish(self) -> Material:
        """The remaining triples, the random bits and the double sharings."""
        m, share, zero = self.material, self._share, self._zero
        self.triples(m.a.size)
        if self._finished:
            return m
        opened, block = m.local.size - m.u.size, self._block
        for s in range(0, m.u.size, block):
            sl = slice(s, min(s + block, m.u.size))
            z, out = self._z[: sl.stop - s], m.local[opened + s : opened + sl.stop]
            share[KIND_U].next(m.u[sl])
            GF61.add(GF61.mul(m.u[sl], m.u[sl], out=out), zero.next(z), out=out)
        for s in range(0, m.d_t.size, block):
            sl = slice(s, min(s + block, m.d_t.size))
            GF61.add(share[KIND_R].next(m.d_t[sl]), zero.next(self._z[: sl.stop - s]), out=m.d_2t[sl])
        self._finished = True
        return m


def generate(prss: Prss, triples: int, bits: int, doubles: int, block: int = BLOCK, *,
             reshare: bool = False) -> Material:
    """Every sharing at once (:class:`Generator`)."""
    return Generator(prss, triples, bits, doubles, block, reshare=reshare).finish()


__all__ = ["KEY_BYTES", "KIND_A", "KIND_B", "KIND_R", "KIND_RESHARE", "KIND_U", "KIND_ZERO", "Generator", "Material", "Prss",
           "Reshare3", "Shares", "check_contribution", "contribution_payload", "derive_key", "draw", "generate",
           "key_sets", "keys_per_party", "shared_sets"]
