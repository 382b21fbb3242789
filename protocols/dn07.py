"""Dealer-free preprocessing for Shamir sharing (n ≥ 2t + 1), after Damgård–Nielsen 2007.

One batch:

1. ``contrib`` — every computing party deals random sharings: ``[u]_t, [v]_t`` (for a, b),
   ``[w]_t, [w]_2t`` (the same secret at two degrees) and bounded masks for truncation (their
   sum over contributors masks statistically; see :mod:`protocols.fixed` for κ).
2. ``agree`` — every party announces whose contributions it received; all use the intersection
   ``D`` (a crash mid-batch must not make parties combine different sets).
3. Extraction, locally: with the Vandermonde matrix ``M[k][j] = j^k`` (k < |D| − t, j ∈ D) the
   outputs ``M·s`` are uniformly random and unknown to any t parties — any |D| − t columns of
   ``M`` form an invertible matrix, so the |D| − t honest contributions alone determine them
   bijectively. |D| contributions of each kind yield |D| − t random sharings.

Triples: ``a, b`` from the ``u, v`` outputs; ``c`` by one degree reduction of the local products
``a_i·b_i`` (a degree-2t sharing of ab) with a double sharing ``([r]_t, [r]_2t)``: open
``ab − r`` from 2t + 1 shares (``reduce``), ``[c] = [r]_t + (ab − r)``. Extra double sharings go
to the pool for online degree reductions (dot products).

Threat model: semi-honest, honest majority (at most t < n/2 colluding parties). The
hyper-invertibility checks against malicious dealers of the original paper are not done.
Dropouts: needs 2t + 1 live parties for ``agree`` and ``reduce``; fewer raise QuorumLost.
Batches repeat while contributors dropped out left the pool short. The agreement assumes
crash-stop parties whose last round reached all peers or none (as the fault model delivers);
a party that reached only some peers with its ``agree`` list would need a real broadcast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc.context import Context
from mpc.errors import ConfigError, ProtocolError, QuorumLost
from mpc.field import GF61, U64

from .common import open_values
from .common import Scheme, as_share, check_field
from .triples import FULL_MASK, Need, Pool, truncation_mask

MAX_BATCHES = 4


def extraction_matrix(contributors: tuple[int, ...], t: int) -> list[list[int]]:
    """Rows ``k < |D| − t`` of the Vandermonde matrix ``j^k mod p`` over contributor ids ``j``."""
    p = GF61.modulus
    return [[pow(j, k, p) for j in contributors] for k in range(len(contributors) - t)]


def extract(contributors: tuple[int, ...], t: int, shares: dict[int, U64]) -> U64:
    """``M · s`` over the contributions of ``D``, flattened: (|D| − t) · len outputs."""
    arrays = [shares[j] for j in contributors]
    rows = [GF61.lincomb(row, arrays) for row in extraction_matrix(contributors, t)]
    return np.concatenate(rows) if rows else np.empty(0, dtype=np.uint64)


def _check_contribution(payload: Any, peer: int, sizes: dict[str, int], scheme: Scheme) -> dict[str, U64]:
    if not isinstance(payload, dict) or set(payload) != set(sizes):
        raise ProtocolError("malformed dn07 contribution", peer=peer)
    return {k: check_field(as_share(payload[k], peer, (n,)), scheme, peer) for k, n in sizes.items()}


def _check_list(payload: Any, peer: int, parties: tuple[int, ...]) -> frozenset[int]:
    if not isinstance(payload, list) or not all(type(p) is int and p in parties for p in payload):
        raise ProtocolError("malformed contributor list", peer=peer)
    return frozenset(payload)


async def _batch(ctx: Context, scheme: Scheme, sizes: dict[str, int], need: Need) -> tuple[tuple[int, ...], dict]:
    """One contribution + agreement round; returns the agreed contributors and their shares."""
    t, rng = scheme.t, ctx.rng
    mine: dict[str, U64] = {}
    for kind in ("u", "v"):
        mine[kind] = scheme.share(GF61.random(rng, sizes[kind]), rng)
    w = GF61.random(rng, sizes["w"])
    mine["w"], mine["w2"] = scheme.share(w, rng), scheme.share(w, rng, degree=2 * t)
    m, m_hi, _ = truncation_mask(GF61, rng, sizes["m"], need.frac_bits, need.mask_bits)
    mine["m"], mine["m_hi"] = scheme.share(m, rng), scheme.share(m_hi, rng)
    del w, m, m_hi
    rows = {p: k for k, p in enumerate(scheme.parties)}
    await ctx.scatter("contrib", {p: {k: v[rows[p]] for k, v in mine.items()} for p in scheme.parties})
    got = await ctx.gather("contrib", scheme.parties, quorum=t + 1)
    contributions = {p: _check_contribution(v, p, sizes, scheme) for p, v in got.items()}
    lists = await ctx.exchange("agree", sorted(contributions), among=scheme.parties, quorum=2 * t + 1)
    agreed = frozenset(scheme.parties)
    for p, v in lists.items():
        agreed &= _check_list(v, p, scheme.parties)
    if not agreed <= set(contributions):
        raise ProtocolError("agreed contributors include one this party never heard from")
    if len(agreed) <= t:
        raise QuorumLost(set(scheme.parties) - agreed, needed=t + 1, have=len(agreed))
    return tuple(sorted(agreed)), contributions


async def dn07_prepare(ctx: Context, scheme: Scheme, need: Need) -> Pool:
    """Fill a pool without a dealer: ``need.triples`` triples, ``need.doubles`` double sharings."""
    if scheme.kind != "shamir":
        raise ConfigError("dn07 triples need Shamir sharing (additive has no degree reduction)")
    n, t = len(scheme.parties), scheme.t
    if 2 * t + 1 > n:
        raise ConfigError(f"dn07 needs n >= 2t + 1 parties (n = {n}, t = {t})")
    if need.masks and need.mask_bits == FULL_MASK:
        raise ConfigError("dn07 deals bounded (statistical) truncation masks only; uniform ones need the dealer")
    t0, bytes0 = ctx.now(), ctx.stats()["bytes_sent"]
    n_ab, n_w = need.triples, need.triples + need.doubles
    out: dict[str, list[U64]] = {"u": [], "v": [], "w": [], "w2": []}
    have = {"u": 0, "v": 0, "w": 0, "w2": 0}
    target = {"u": n_ab, "v": n_ab, "w": n_w, "w2": n_w}
    masks: tuple[U64, U64] = (np.empty(0, np.uint64), np.empty(0, np.uint64))
    contributors = 0
    batch, expected = 0, n
    while True:
        want = {k: target[k] - have[k] for k in target}
        # slot counts assume every party (later: every agreed contributor of the last batch)
        # contributes, so all parties compute the same sizes up front
        sizes = {k: -(-v // (expected - t)) for k, v in want.items()}
        sizes["m"] = sizes["m_hi"] = need.masks if batch == 0 else 0
        agreed, contrib = await _batch(ctx.child(f"b{batch}"), scheme, sizes, need)
        for kind in out:
            vec = extract(agreed, t, {p: contrib[p][kind] for p in agreed})[: want[kind]]
            out[kind].append(vec)
            have[kind] += vec.size
        if batch == 0:
            masks = (GF61.sum(np.stack([contrib[p]["m"] for p in agreed]), axis=0),
                     GF61.sum(np.stack([contrib[p]["m_hi"] for p in agreed]), axis=0))
            contributors = len(agreed)
        batch, expected = batch + 1, len(agreed)
        if all(have[k] >= target[k] for k in target):
            break
        if batch == MAX_BATCHES:
            raise QuorumLost((), needed=n_w, have=have["w"])
    a, b = np.concatenate(out["u"]), np.concatenate(out["v"])
    r_t, r_2t = np.concatenate(out["w"]), np.concatenate(out["w2"])
    # c = ab: the local products form a degree-2t sharing; reduce it with the first double sharings
    local = GF61.mul(a, b)
    GF61.sub(local, r_2t[:n_ab], out=local)
    opened = await open_values(ctx, scheme, local, "reduce", degree=2 * t)
    c = GF61.add(r_t[:n_ab], opened)
    shares = {"a": a, "b": b, "c": c, "r_t": r_t[n_ab:], "r_2t": r_2t[n_ab:], "m": masks[0], "m_hi": masks[1],
              "m_top": np.zeros(need.masks, dtype=np.uint64)}  # bounded masks never wrap
    meta = {"source": "dn07", "offline_s": ctx.now() - t0, "offline_bytes_sent": ctx.stats()["bytes_sent"] - bytes0,
            "batches": batch, "mask_contributors": contributors}
    return Pool(need, shares, mask_contributors=contributors, meta=meta)


__all__ = ["dn07_prepare", "extract", "extraction_matrix"]
