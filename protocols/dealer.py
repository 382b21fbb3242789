"""The trusted dealer: an extra node (party id 0, :data:`DEALER`) that deals preprocessing.

Threat model: the dealer is TRUSTED. It never sees inputs or outputs, but it knows every triple
and mask, so colluding with any party would break privacy; it exists for tests and benchmarks.

Protocol: every live computing party sends its public :class:`Need` (``need``); the dealer checks
they agree and answers them all with their shares in one round (``deal``). Shares are compressed with seeds: a
party in the seeded set gets a 32-byte key and expands all its shares from it with the CSPRNG
(additive: all parties but the last; Shamir: the first t, whose shares of a random polynomial may
be any values). The other parties' shares are computed to fit: the last additive share makes the
sum right, and Shamir shares are interpolated from the secret at 0, the seeded shares and, for a
degree-2t sharing, t more random shares. The joint distribution is that of fresh sharings, while
the dealer sends n − 1 (additive) or t (Shamir) parties a key instead of vectors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from mpc.context import Context
from mpc.errors import ConfigError, ProtocolError
from mpc.field import U64
from mpc.rng import Csprng
from mpc.sharing import lagrange_at

from .common import Scheme
from .triples import KINDS, Need, Pool, sizes_of, truncation_mask, validate_bundle

DEALER = 0
SEED_BYTES = 32


def seeded_parties(scheme: Scheme) -> tuple[int, ...]:
    """Parties whose shares come from a seed (public, from the scheme alone)."""
    return scheme.parties[:-1] if scheme.kind == "additive" else scheme.parties[: scheme.t]


def expand(seed: bytes, scheme: Scheme, need: Need) -> dict[str, U64]:
    """All of a seeded party's shares, in the fixed order of :data:`KINDS`."""
    rng = Csprng(seed)
    return {k: scheme.domain.random(rng, n) for k, n in sizes_of(need).items()}


def _secrets(scheme: Scheme, need: Need, rng: Csprng) -> dict[str, U64]:
    dom = scheme.domain
    a, b = dom.random(rng, need.triples), dom.random(rng, need.triples)
    r = dom.random(rng, need.doubles)
    m, m_hi, m_top = truncation_mask(dom, rng, need.masks, need.frac_bits, need.mask_bits)
    return {"a": a, "b": b, "c": dom.mul(a, b), "r_t": r, "r_2t": r, "m": m, "m_hi": m_hi, "m_top": m_top}


def deal(scheme: Scheme, need: Need, rng: Csprng) -> Iterator[tuple[int, Any]]:
    """Each computing party's ``deal`` payload, ``{"seed": key}`` or ``{kind: shares}``, in the order
    they become ready: the seeded parties first (a key each, at once), then every other party as
    soon as its own shares are computed, so the dealer sends while it computes the next party's."""
    dom, parties = scheme.domain, scheme.parties
    seeded = seeded_parties(scheme)
    seeds = {p: rng.random_bytes(SEED_BYTES) for p in seeded}
    yield from ((p, {"seed": s}) for p, s in seeds.items())
    known = {p: expand(seeds[p], scheme, need) for p in seeded}
    rest = [p for p in parties if p not in seeds]
    secrets = _secrets(scheme, need, rng)
    if scheme.kind == "additive":  # the last party's shares make the sum right
        for kind, secret in secrets.items():
            total = dom.sum(np.stack([known[p][kind] for p in seeded]), axis=0) if seeded else np.zeros_like(secret)
            dom.sub(secret, total, out=total)
            known.setdefault(rest[0], {})[kind] = total
        yield rest[0], known[rest[0]]
        return
    polys: dict[str, dict[int, U64]] = {}  # per kind: the points that fix the polynomial
    for kind, secret in secrets.items():
        degree = 2 * scheme.t if kind == "r_2t" else scheme.t
        points = {0: secret, **{p: known[p][kind] for p in seeded}}
        for p in rest[: degree - len(seeded)]:
            points[p] = dom.random(rng, secret.size)  # free values of the polynomial
        polys[kind] = points
    for p in rest:
        yield p, {kind: pts[p] if p in pts else dom.lincomb(lagrange_at(tuple(pts), p, dom.modulus), list(pts.values()))
                  for kind, pts in polys.items()}


def receive(payload: Any, scheme: Scheme, need: Need, me: int) -> dict[str, U64]:
    """Validate this party's ``deal`` payload (its form is public: seed or vectors)."""
    if me in seeded_parties(scheme):
        if not isinstance(payload, dict) or set(payload) != {"seed"}:
            raise ProtocolError("expected a seed", peer=DEALER)
        seed = payload["seed"]
        if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
            raise ProtocolError("malformed seed", peer=DEALER)
        return expand(seed, scheme, need)
    return validate_bundle(payload, scheme, need, DEALER)


async def dealer_prepare(ctx: Context, scheme: Scheme, need: Need) -> Pool:
    """A computing party's side: ask for ``need``, receive its shares."""
    t0 = ctx.now()
    await ctx.send(DEALER, "need", need.as_payload())
    shares = receive(await ctx.recv(DEALER, "deal"), scheme, need, ctx.party_id)
    return Pool(need, shares, mask_contributors=1, meta={"source": "dealer", "offline_s": ctx.now() - t0})


async def dealer_serve(ctx: Context, scheme: Scheme) -> dict[str, Any]:
    """The dealer's side: every live computing party asks for the same ``Need``; serve them all."""
    t0 = ctx.now()
    got = await ctx.gather("need", scheme.parties, quorum=1)
    needs = {p: Need.from_payload(v, p) for p, v in got.items()}
    need = next(iter(needs.values()))
    for p, other in needs.items():
        if other != need:
            raise ProtocolError(f"asked for {other}, others for {need}", peer=p)
    if need.doubles and 2 * scheme.t >= len(scheme.parties):
        raise ConfigError("double sharings need n >= 2t + 1")
    # one scatter, not a send per party: "deal" is one round, so a fault "after:deal" (and any
    # observer of rounds) sees it complete, as the parties do
    await ctx.scatter("deal", {p: payload for p, payload in deal(scheme, need, ctx.rng) if p in got})
    return {"role": "dealer", "served": sorted(got), "triples": need.triples, "doubles": need.doubles,
            "masks": need.masks, "offline_s": ctx.now() - t0}


__all__ = ["DEALER", "SEED_BYTES", "deal", "dealer_prepare", "dealer_serve", "expand", "receive", "seeded_parties"]
