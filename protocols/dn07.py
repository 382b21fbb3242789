"""Dealer-free preprocessing for Shamir sharing (n ≥ 2t + 1), after Damgård–Nielsen 2007.

Random sharings come from one of two sources, both ending in the same degree reduction:

* **PRSS** (:mod:`protocols.prss`, Cramer–Damgård–Ishai 2005), while every party holds at most
  :data:`PRSS_MAX_KEYS` keys (``C(n − 1, t)``: 3 parties 2, 5 parties with t = 2 six). One
  ``contrib`` round carries each party's 32-byte key contributions (to the other members of every
  set of n − t parties it belongs to) and its bounded truncation masks; ``agree`` fixes the
  contributor set ``D`` as below, and every sharing ``[a]_t, [b]_t, [r]_t, [u]_t`` and the
  degree-2t zero sharings are then computed locally from AES keystreams: no other messages.
* **Extraction** otherwise: ``contrib`` — every computing party deals random sharings
  ``[u]_t, [v]_t`` (for a, b), ``[w]_t, [w]_2t`` (the same secret at two degrees) and bounded
  masks; ``agree`` — every party announces whose contributions it received and all use the
  intersection ``D`` (a crash mid-batch must not make parties combine different sets); then,
  locally, with the Vandermonde matrix ``M[k][j] = j^k`` (k < |D| − t, j ∈ D) the outputs ``M·s``
  are uniformly random and unknown to any t parties — any |D| − t columns of ``M`` form an
  invertible matrix, so the |D| − t honest contributions alone determine them bijectively.
  Batches repeat while contributors that dropped out left the pool short.

Triples: ``a, b`` random; ``c`` by one degree reduction of the local products ``a_i·b_i`` (a
degree-2t sharing of ab) with a double sharing ``([r]_t, [r]_2t)``: open ``ab − r`` from 2t + 1
shares (``reduce``), ``[c] = [r]_t + (ab − r)``. The degree-2t sharing's higher coefficients are
uniform given any t parties' shares (extraction: dealt at random; PRSS: the zero sharing's part
that t parties cannot compute spans them), so the opening shows nothing but ab − r. With PRSS and
3 parties (t = 1), ``c`` comes instead from the replicated resharing of
:class:`protocols.prss.Reshare3`: each party sends one masked product share to one neighbour
(``reshare``, in chunks sent while the next is computed), half the bytes of the opening. Extra
double sharings go to the pool for online degree reductions (dot products).

Threat model: semi-honest, honest majority (at most t < n/2 colluding parties); PRSS adds AES as a
PRF (computational security). The hyper-invertibility checks against malicious dealers of the
original paper are not done. Dropouts: needs t + 1 agreed contributors and 2t + 1 live parties for
``agree`` and ``reduce``; fewer raise QuorumLost. The agreement assumes crash-stop parties whose
last round reached all peers or none (as the fault model delivers); a party that reached only some
peers with its ``agree`` list would need a real broadcast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc.context import Context
from mpc.errors import ConfigError, ProtocolError, QuorumLost
from mpc.field import GF61, U64
from mpc.rng import Csprng

from . import prss
from .common import Scheme, as_share, check_field, open_values
from .triples import FULL_MASK, Need, Pool, truncation_mask

MAX_BATCHES = 4
# PRSS while each party holds at most this many keys (C(n − 1, t)): 3 parties 2, 5 parties (t = 2)
# 6, 7 parties (t = 3) 20; beyond, the keystreams and combinations cost more than dealing and
# extracting random sharings
PRSS_MAX_KEYS = 6
RESHARE_CHUNK = 1 << 17  # elements per resharing message (1 MiB): sent while the next is computed


def extraction_matrix(contributors: tuple[int, ...], t: int) -> list[list[int]]:
    """Rows ``k < |D| − t`` of the Vandermonde matrix ``j^k mod p`` over contributor ids ``j``."""
    p = GF61.modulus
    return [[pow(j, k, p) for j in contributors] for k in range(len(contributors) - t)]


def extract(contributors: tuple[int, ...], t: int, shares: dict[int, U64]) -> U64:
    """``M · s`` over the contributions of ``D``, flattened: (|D| − t) · len outputs."""
    arrays = [shares[j] for j in contributors]
    rows = [GF61.lincomb(row, arrays) for row in extraction_matrix(contributors, t)]
    return np.concatenate(rows) if rows else np.empty(0, dtype=np.uint64)


def _check_contribution(payload: Any, peer: int, sizes: dict[str, int], scheme: Scheme,
                        keys: int | None = None) -> dict[str, Any]:
    """A peer's contribution: shares of the ``sizes`` kinds, and with PRSS ``keys`` key contributions."""
    want = set(sizes) | ({"keys"} if keys is not None else set())
    if not isinstance(payload, dict) or set(payload) != want:
        raise ProtocolError("malformed dn07 contribution", peer=peer)
    out: dict[str, Any] = {k: check_field(as_share(payload[k], peer, (n,)), scheme, peer) for k, n in sizes.items()}
    if keys is not None:
        out["keys"] = prss.check_contribution(payload["keys"], peer, keys)
    return out


def _check_list(payload: Any, peer: int, parties: tuple[int, ...]) -> frozenset[int]:
    if not isinstance(payload, list) or not all(type(p) is int and p in parties for p in payload):
        raise ProtocolError("malformed contributor list", peer=peer)
    return frozenset(payload)


def _deal(scheme: Scheme, rng: Csprng, sizes: dict[str, int], need: Need) -> dict[str, U64]:
    """This party's contribution: random sharings (``u``, ``v``; ``w`` at degrees t and 2t) and
    bounded truncation masks, as many of each as ``sizes`` says (shares stacked in party order)."""
    t, mine = scheme.t, dict[str, U64]()
    for kind in ("u", "v"):
        if kind in sizes:
            mine[kind] = scheme.share(GF61.random(rng, sizes[kind]), rng)
    if "w" in sizes:
        w = GF61.random(rng, sizes["w"])
        mine["w"], mine["w2"] = scheme.share(w, rng), scheme.share(w, rng, degree=2 * t)
    m, m_hi, _ = truncation_mask(GF61, rng, sizes["m"], need.frac_bits, need.mask_bits)
    mine["m"], mine["m_hi"] = scheme.share(m, rng), scheme.share(m_hi, rng)
    return mine


async def _batch(ctx: Context, scheme: Scheme, sizes: dict[str, int], need: Need,
                 keys: dict[tuple[int, ...], bytes] | None = None) -> tuple[tuple[int, ...], dict]:
    """One contribution + agreement round; returns the agreed contributors and their shares.

    With ``keys`` (this party's PRSS key contributions), each message also carries the
    contributions for the key sets that hold both sender and receiver."""
    t, me, parties = scheme.t, ctx.party_id, scheme.parties
    mine = _deal(scheme, ctx.rng, sizes, need)
    rows = {p: k for k, p in enumerate(parties)}
    payloads = {p: {k: v[rows[p]] for k, v in mine.items()} for p in parties}
    if keys is not None:
        for p in parties:
            payloads[p]["keys"] = prss.contribution_payload(keys, prss.shared_sets(parties, t, me, p))
    del mine
    await ctx.scatter("contrib", payloads)
    del payloads
    got = await ctx.gather("contrib", parties, quorum=t + 1)
    contributions = {p: _check_contribution(v, p, sizes, scheme, None if keys is None
                                            else len(prss.shared_sets(parties, t, p, me)))
                     for p, v in got.items()}
    lists = await ctx.exchange("agree", sorted(contributions), among=parties, quorum=2 * t + 1)
    agreed = frozenset(parties)
    for p, v in lists.items():
        agreed &= _check_list(v, p, parties)
    if not agreed <= set(contributions):
        raise ProtocolError("agreed contributors include one this party never heard from")
    if len(agreed) <= t:
        raise QuorumLost(set(parties) - agreed, needed=t + 1, have=len(agreed))
    return tuple(sorted(agreed)), contributions


def _bounded_masks(agreed: tuple[int, ...], contrib: dict) -> tuple[U64, U64]:
    """Σ over the agreed contributors of their bounded masks (statistically hiding, see fixed.py)."""
    return (GF61.sum(np.stack([contrib[p]["m"] for p in agreed]), axis=0),
            GF61.sum(np.stack([contrib[p]["m_hi"] for p in agreed]), axis=0))


def _layout(need: Need) -> tuple[int, int, int]:
    """(triples, random bits, double sharings) the pool needs: 61 bits per uniform mask."""
    n_bits = need.masks * GF61.BITS if need.mask_bits == FULL_MASK else 0
    return need.triples, n_bits, need.doubles


async def _prss_material(ctx: Context, scheme: Scheme, need: Need) -> tuple[prss.Material, tuple[U64, U64], int,
                                                                           U64 | None]:
    """Keys for every set of n − t parties in one contribution round (which also carries the
    bounded masks), then every sharing locally (:class:`protocols.prss.Generator`); 3 parties
    reshare the triples' products meanwhile and get ``c`` (else None: ``c`` comes from the
    opening)."""
    t, me, parties = scheme.t, ctx.party_id, scheme.parties
    n_ab, n_bits, n_dbl = _layout(need)
    own = {s: ctx.rng.random_bytes(prss.KEY_BYTES) for s in prss.key_sets(parties, t) if me in s}
    sizes = {"m": need.masks if not n_bits else 0, "m_hi": need.masks if not n_bits else 0}
    agreed, contrib = await _batch(ctx.child("b0"), scheme, sizes, need, keys=own)
    heard: dict[tuple[int, ...], dict[int, bytes]] = {s: {} for s in own}
    for j in agreed:
        for s, k in zip(prss.shared_sets(parties, t, j, me), contrib[j]["keys"], strict=True):
            heard[s][j] = k
    keys = {s: prss.derive_key(s, heard[s]) for s in own}
    del own, heard
    gen = prss.Generator(prss.Prss(parties, t, me, keys), n_ab, n_bits, n_dbl, reshare=len(parties) == 3 and t == 1)
    c = await _reshare(ctx, scheme, gen, gen.reshare) if gen.reshare is not None else None
    return gen.finish(), _bounded_masks(agreed, contrib), len(agreed), c


async def _extracted_material(ctx: Context, scheme: Scheme, need: Need) -> tuple[prss.Material, tuple[U64, U64],
                                                                                 int, int]:
    """Random sharings dealt by every party and extracted (Vandermonde), in batches until enough."""
    n, t = len(scheme.parties), scheme.t
    n_ab, n_bits, n_dbl = _layout(need)
    n_w = n_ab + n_bits + n_dbl
    out: dict[str, list[U64]] = {"u": [], "v": [], "w": [], "w2": []}
    have = {"u": 0, "v": 0, "w": 0, "w2": 0}
    target = {"u": n_ab + n_bits, "v": n_ab, "w": n_w, "w2": n_w}
    masks: tuple[U64, U64] = (np.empty(0, np.uint64), np.empty(0, np.uint64))
    contributors = 0
    batch, expected = 0, n
    while True:
        want = {k: target[k] - have[k] for k in target}
        # slot counts assume every party (later: every agreed contributor of the last batch)
        # contributes, so all parties compute the same sizes up front
        sizes = {k: -(-v // (expected - t)) for k, v in want.items()}
        sizes["m"] = sizes["m_hi"] = need.masks if batch == 0 and not n_bits else 0
        agreed, contrib = await _batch(ctx.child(f"b{batch}"), scheme, sizes, need)
        for kind in out:
            vec = extract(agreed, t, {p: contrib[p][kind] for p in agreed})[: want[kind]]
            out[kind].append(vec)
            have[kind] += vec.size
        if batch == 0:
            masks, contributors = _bounded_masks(agreed, contrib), len(agreed)
        batch, expected = batch + 1, len(agreed)
        if all(have[k] >= target[k] for k in target):
            break
        if batch == MAX_BATCHES:
            raise QuorumLost((), needed=n_w, have=have["w"])
    u, b = np.concatenate(out["u"]), np.concatenate(out["v"])
    r_t, r_2t = np.concatenate(out["w"]), np.concatenate(out["w2"])
    a, u = u[:n_ab], u[n_ab:]
    # ab − r (then [c] = [r]_t + (ab − r)) and, for the random bits, u² re-randomized by the zero
    # sharing [r]_2t − [r]_t (reveals u² and nothing else)
    local = GF61.mul(np.concatenate([a, u]), np.concatenate([b, u]))
    GF61.sub(local[:n_ab], r_2t[:n_ab], out=local[:n_ab])
    bits = slice(n_ab, n_ab + n_bits)
    GF61.add(local[n_ab:], GF61.sub(r_2t[bits], r_t[bits]), out=local[n_ab:])
    rest = slice(n_ab + n_bits, None)
    material = prss.Material(a=a, b=b, r_t=r_t[:n_ab], u=u, d_t=r_t[rest], d_2t=r_2t[rest], local=local,
                             f=np.empty(0, np.uint64))
    return material, masks, contributors, batch


async def _reshare(ctx: Context, scheme: Scheme, gen: prss.Generator, rs: prss.Reshare3) -> U64:
    """:class:`protocols.prss.Reshare3`: send f_k to the previous party chunk by chunk as the
    generator produces it (the transport moves one chunk while the next is computed), then
    combine with the next party's chunks."""
    f = gen.material.f
    bounds = [(s, min(s + RESHARE_CHUNK, f.size)) for s in range(0, f.size, RESHARE_CHUNK)]
    for k, (lo, hi) in enumerate(bounds):
        gen.triples(hi)
        await ctx.send(rs.prev, f"reshare{k}", f[lo:hi])
    c = np.empty_like(f)
    for k, (lo, hi) in enumerate(bounds):
        got = await ctx.gather(f"reshare{k}", (rs.next,), quorum=1)
        f_next = check_field(as_share(got[rs.next], rs.next, (hi - lo,)), scheme, rs.next)
        GF61.lincomb(rs.combine, [f[lo:hi], f_next], out=c[lo:hi])
    return c


async def dn07_prepare(ctx: Context, scheme: Scheme, need: Need, *, use_prss: bool | None = None) -> Pool:
    """Fill a pool without a dealer: ``need.triples`` triples, ``need.doubles`` double sharings.

    Random sharings come from PRSS (:mod:`protocols.prss`) while each party holds at most
    :data:`PRSS_MAX_KEYS` keys, else from the DN07 extraction; ``use_prss`` forces either.
    """
    if scheme.kind != "shamir":
        raise ConfigError("dn07 triples need Shamir sharing (additive has no degree reduction)")
    n, t = len(scheme.parties), scheme.t
    if 2 * t + 1 > n:
        raise ConfigError(f"dn07 needs n >= 2t + 1 parties (n = {n}, t = {t})")
    t0, bytes0 = ctx.now(), ctx.stats()["bytes_sent"]
    n_ab, n_bits, _ = _layout(need)
    if use_prss is None:
        use_prss = prss.keys_per_party(n, t) <= PRSS_MAX_KEYS
    c: U64 | None = None
    if use_prss:
        material, masks, contributors, c = await _prss_material(ctx, scheme, need)
        batches = 1
    else:
        material, masks, contributors, batches = await _extracted_material(ctx, scheme, need)
    # one opening of degree 2t: ab − r for the triples (unless resharing), u² for the random bits
    opened = material.local
    if opened.size:
        opened = await open_values(ctx, scheme, material.local, "reduce", degree=2 * t)
    n_open = opened.size - n_bits
    if c is None:
        c = GF61.add(material.r_t, opened[:n_open], out=material.r_t)
    m, m_hi, m_top = (uniform_masks(material.u, opened[n_open:], need.frac_bits) if n_bits
                      else (*masks, np.zeros(need.masks, dtype=np.uint64)))  # bounded masks never wrap
    shares = {"a": material.a, "b": material.b, "c": c, "r_t": material.d_t, "r_2t": material.d_2t,
              "m": m, "m_hi": m_hi, "m_top": m_top}
    contributors = 1 if n_bits else contributors
    meta = {"source": "dn07", "prss": use_prss, "offline_s": ctx.now() - t0,
            "offline_bytes_sent": ctx.stats()["bytes_sent"] - bytes0, "batches": batches,
            "mask_contributors": contributors}
    return Pool(need, shares, mask_contributors=contributors, meta=meta)


def uniform_masks(u: U64, squares: U64, frac_bits: int) -> tuple[U64, U64, U64]:
    """Shares of ``(r, ⌊r/2^f⌋, [r ≥ 2^60])`` for r = Σ_i 2^i·b_i from 61 random bits per mask.

    A bit from a random sharing [u] and the public u² (Damgård et al. 2006): with v the square
    root of u² that :meth:`PrimeField.sqrt` picks, u/v = ±1 with equal probability and nobody
    knows which, so ``[b] = ([u]·v⁻¹ + 1)/2`` is a uniform shared bit. r is uniform on [0, 2^61),
    i.e. on [0, p) except that r = p (probability 2^−61) means r ≡ 0 with wrong high bits: the
    masks are 2^−61-close to the dealer's uniform ones (κ = 61).
    """
    if not squares.all():
        raise ProtocolError("a random-bit square opened to 0 (probability 2^-61): run the preprocessing again")
    coeff = GF61.sqrt_inv(squares)  # v⁻¹ for the principal root v of u²
    half = GF61.inv(2)
    bits = GF61.scale(GF61.add(GF61.mul(u, coeff), np.ones_like(u)), half).reshape(GF61.BITS, -1)
    r = GF61.lincomb([1 << i for i in range(GF61.BITS)], list(bits))
    r_hi = GF61.lincomb([1 << (i - frac_bits) for i in range(frac_bits, GF61.BITS)], list(bits[frac_bits:]))
    return r, r_hi, bits[GF61.BITS - 1].copy()


__all__ = ["PRSS_MAX_KEYS", "dn07_prepare", "extract", "extraction_matrix", "uniform_masks"]
