"""Preprocessed material of a session: what there is, the store that hands it out, and the dealer.

Kinds (``count`` items each; ``bits`` components are XOR sharings of 0/1 bytes in the binary
mode, arithmetic sharings of 0/1 in the arithmetic mode):

* ``triple`` — Beaver triples ``a, b, c = ab`` (arithmetic);
* ``double`` — Shamir double sharings ``[w]_t, [w]_2t`` (degree reduction, n ≥ 2t + 1);
* ``btriple`` — binary Beaver triples (bits);
* ``dabit`` — one random bit shared both arithmetically (``a``) and as bits (``b``);
* ``eda<n>`` — an edaBit (Escudero et al., CRYPTO 2020): ``r`` shared arithmetically together
  with its n low bits; in Z_2^64 ``r`` is uniform below 2^n, in GF(p) (n = 61) uniform in [0, p);
* ``tz<f>`` — truncation mask in Z_2^64: uniform ``r``, ``r >> f`` and the top bit ``r_63``;
* ``tp<f>`` — truncation mask in GF(p): an eda61 plus ``r mod 2^f``.

Counts are public (they follow from shapes, never from values). The trusted dealer (party 0)
generates the plain values and deals fresh sharings; :mod:`.dealerfree` builds the arithmetic
mode without a dealer for Shamir with an honest majority.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mpc.context import Context
from mpc.errors import ConfigError, ProtocolError
from mpc.field import GF61, U64, Z64
from mpc.rng import Csprng
from mpc.sharing import additive_share, lagrange_at, shamir_share

from ..common import Scheme
from ..triples import PoolExhausted

Need = dict[str, int]
Item = dict[str, np.ndarray]
BITS_COMPONENTS = {"btriple": ("a", "b", "c"), "dabit": ("b",)}
MAX_ITEMS = 20_000_000
DEALER = 0


def bit_components(kind: str) -> tuple[str, ...]:
    if kind.startswith(("eda", "tp")):
        return ("bits",)
    return BITS_COMPONENTS.get(kind, ())


def eda_bits(kind: str) -> int:
    """Bits of an ``eda<n>`` item, 61 for a ``tp<f>`` item."""
    return int(kind[3:]) if kind.startswith("eda") else 61


def check_kind(kind: str, scheme: Scheme) -> None:
    shamir = scheme.kind == "shamir"
    if kind in ("triple", "btriple", "dabit"):
        return
    if kind == "double" and shamir and scheme.can_reduce_degree:
        return
    if kind.startswith("eda") and kind[3:].isdigit():
        n = int(kind[3:])
        if (shamir and n == 61) or (not shamir and 1 <= n <= 63):
            return
    if kind[:2] in ("tz", "tp") and kind[2:].isdigit() and 0 < int(kind[2:]) < 60:
        if (kind[:2] == "tp") == shamir:
            return
    raise ConfigError(f"no preprocessing of kind {kind!r} for {scheme.kind} sharing")


def add_need(a: Mapping[str, int], b: Mapping[str, int]) -> Need:
    out = dict(a)
    for k, v in b.items():
        if v:
            out[k] = out.get(k, 0) + v
    return out


# -- plain material (the dealer's view) ---------------------------------------------------------
def random_bits(rng: Csprng, shape: tuple[int, ...]) -> NDArray[np.uint8]:
    count = int(np.prod(shape))
    raw = np.frombuffer(rng.random_bytes((count + 7) // 8), dtype=np.uint8)
    return np.unpackbits(raw)[:count].reshape(shape)


def to_bits(r: U64, n: int) -> NDArray[np.uint8]:
    """Bits 0..n−1 of each element, as rows (n, count), least significant first."""
    little = np.ascontiguousarray(r, dtype="<u8").view(np.uint8).reshape(r.size, 8)
    return np.ascontiguousarray(np.unpackbits(little, axis=1, count=n, bitorder="little").T)


def plain(kind: str, scheme: Scheme, count: int, rng: Csprng) -> Item:
    """The secret values of ``count`` items of ``kind``."""
    dom = scheme.domain
    if kind == "triple":
        a, b = dom.random(rng, count), dom.random(rng, count)
        return {"a": a, "b": b, "c": dom.mul(a, b)}
    if kind == "double":
        w = dom.random(rng, count)
        return {"t": w, "2t": w}
    if kind == "btriple":
        ba, bb = random_bits(rng, (count,)), random_bits(rng, (count,))
        return {"a": ba, "b": bb, "c": ba & bb}
    if kind == "dabit":
        bit = random_bits(rng, (count,))
        return {"a": bit.astype(np.uint64), "b": bit}
    if kind.startswith("eda"):
        n = eda_bits(kind)
        r = GF61.random(rng, count) if scheme.kind == "shamir" else rng.uint64(count) >> np.uint64(64 - n)
        return {"r": r, "bits": to_bits(r, n)}
    f = np.uint64(int(kind[2:]))
    if kind.startswith("tz"):
        r = rng.uint64(count)
        return {"r": r, "hi": r >> f, "top": r >> np.uint64(63)}
    r = GF61.random(rng, count)
    return {"r": r, "bits": to_bits(r, 61), "lo": r & ((np.uint64(1) << f) - np.uint64(1))}


def share_arith(scheme: Scheme, secret: U64, rng: Csprng) -> U64:
    """Rows of shares, one per party of ``scheme`` (any shape of ``secret``)."""
    flat = secret.reshape(-1)
    n = len(scheme.parties)
    if scheme.kind == "additive":
        rows = additive_share(flat, n, rng, Z64)
    else:
        rows = shamir_share(flat, scheme.parties, scheme.t, rng)
    return rows.reshape((n, *secret.shape))


SEED_BYTES = 32


def _is_bits(kind: str, comp: str, mode: str) -> bool:
    return mode == "binary" and comp in bit_components(kind)


def seeded(scheme: Scheme, kind: str, comp: str, mode: str, party: int) -> bool:
    """Whether ``party`` expands this component from its seed instead of receiving it (public).

    XOR and additive sharings: every party but the last (n − 1 of the n shares may be any
    values). Shamir: the first t parties, for degree-t components (t values of a random degree-t
    polynomial besides its secret are free)."""
    if _is_bits(kind, comp, mode) or scheme.kind == "additive":
        return party != scheme.parties[-1]
    return party in scheme.parties[: scheme.t] and comp != "2t"


def expand(seed: bytes, scheme: Scheme, need: Mapping[str, int], mode: str, party: int) -> dict[str, Item]:
    """``party``'s seeded components, drawn in the fixed order of kinds and components."""
    rng = Csprng(seed)
    out: dict[str, Item] = {}
    for kind in sorted(need):
        for comp, shape in shapes(kind, need[kind]).items():
            if seeded(scheme, kind, comp, mode, party):
                value = random_bits(rng, shape) if _is_bits(kind, comp, mode) else scheme.domain.random(rng, shape)
                out.setdefault(kind, {})[comp] = value
    return out


def _fit(scheme: Scheme, kind: str, comp: str, mode: str, secret: np.ndarray,
         known: dict[int, np.ndarray], rng: Csprng) -> dict[int, np.ndarray]:
    """The shares of the parties without a seed, so that all shares together share ``secret``."""
    rest = [p for p in scheme.parties if p not in known]
    if _is_bits(kind, comp, mode):
        last = secret.copy()
        for v in known.values():
            last ^= v
        return {rest[0]: last}
    dom = scheme.domain
    if scheme.kind == "additive":
        last = secret.astype(np.uint64)
        for v in known.values():
            last = last - v
        return {rest[0]: last}
    degree = 2 * scheme.t if comp == "2t" else scheme.t
    points = {0: secret.astype(np.uint64).reshape(-1), **{p: v.reshape(-1) for p, v in known.items()}}
    out: dict[int, np.ndarray] = {}
    for p in rest[: degree - len(known)]:  # free values of a degree-2t polynomial
        points[p] = out[p] = dom.random(rng, secret.size)
    xs = tuple(points)
    for p in rest:
        if p not in out:
            out[p] = dom.lincomb(lagrange_at(xs, p, dom.modulus), [points[x] for x in xs])
    return {p: v.reshape(secret.shape) for p, v in out.items()}


def deal(scheme: Scheme, need: Mapping[str, int], mode: str, rng: Csprng) -> dict[int, tuple[bytes, dict[str, Item]]]:
    """Every party's (seed, explicit shares) of ``need``: a party expands what :func:`seeded`
    names from its seed and receives the rest, so the dealer sends about one party's worth of
    shares instead of n (the joint distribution is that of fresh sharings)."""
    seeds = {p: rng.random_bytes(SEED_BYTES) for p in scheme.parties}
    known = {p: expand(seeds[p], scheme, need, mode, p) for p in scheme.parties}
    explicit: dict[int, dict[str, Item]] = {p: {} for p in scheme.parties}
    for kind in sorted(need):
        for comp, value in plain(kind, scheme, need[kind], rng).items():
            mine = {p: known[p][kind][comp] for p in scheme.parties if seeded(scheme, kind, comp, mode, p)}
            for p, share in _fit(scheme, kind, comp, mode, value, mine, rng).items():
                explicit[p].setdefault(kind, {})[comp] = share
    return {p: (seeds[p], explicit[p]) for p in scheme.parties}


# -- wire form ----------------------------------------------------------------------------------
def shapes(kind: str, count: int) -> dict[str, tuple[int, ...]]:
    if kind in ("triple", "btriple"):
        return {"a": (count,), "b": (count,), "c": (count,)}
    if kind == "double":
        return {"t": (count,), "2t": (count,)}
    if kind == "dabit":
        return {"a": (count,), "b": (count,)}
    if kind.startswith("eda"):
        return {"r": (count,), "bits": (eda_bits(kind), count)}
    if kind.startswith("tz"):
        return {"r": (count,), "hi": (count,), "top": (count,)}
    return {"r": (count,), "bits": (61, count), "lo": (count,)}


def pack(items: Mapping[str, Item], mode: str) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    for kind, comps in items.items():
        bitc = bit_components(kind) if mode == "binary" else ()
        out[kind] = {c: (np.packbits(v, axis=-1) if c in bitc else v) for c, v in comps.items()}
    return out


def unpack(payload: Any, scheme: Scheme, need: Mapping[str, int], mode: str, peer: int, me: int) -> dict[str, Item]:
    """Validate a dealt bundle against the agreed ``need`` — a seed and exactly the components
    this party does not expand from it — and return all of this party's shares."""
    if not isinstance(payload, dict) or set(payload) != {"seed", "items"}:
        raise ProtocolError("malformed preprocessing bundle", peer=peer)
    seed, bundle = payload["seed"], payload["items"]
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES or not isinstance(bundle, dict):
        raise ProtocolError("malformed preprocessing seed", peer=peer)
    out = expand(seed, scheme, need, mode, me)
    wanted = {k: {c: sh for c, sh in shapes(k, n).items() if not seeded(scheme, k, c, mode, me)} for k, n in need.items()}
    if set(bundle) != {k for k, comps in wanted.items() if comps}:
        raise ProtocolError("preprocessing bundle of the wrong kinds", peer=peer)
    for kind, want in wanted.items():
        if not want:
            continue
        comps = bundle[kind]
        if not isinstance(comps, dict) or set(comps) != set(want):
            raise ProtocolError(f"malformed {kind} bundle", peer=peer)
        bitc = bit_components(kind) if mode == "binary" else ()
        item: Item = {}
        for c, shape in want.items():
            v = comps[c]
            if c in bitc:
                packed = (*shape[:-1], (shape[-1] + 7) // 8)
                if not isinstance(v, np.ndarray) or v.dtype != np.uint8 or v.shape != packed:
                    raise ProtocolError(f"bad {kind}.{c} bits", peer=peer)
                item[c] = np.unpackbits(v, axis=-1, count=shape[-1])
            else:
                if not isinstance(v, np.ndarray) or v.dtype != np.uint64 or v.shape != shape:
                    raise ProtocolError(f"bad {kind}.{c} shares", peer=peer)
                if scheme.kind == "shamir" and v.size and int(v.max()) >= GF61.modulus:
                    raise ProtocolError("share outside the field", peer=peer)
                item[c] = v
        out.setdefault(kind, {}).update(item)
    return out


def check_need(payload: Any, scheme: Scheme, peer: int) -> Need:
    if not isinstance(payload, dict) or not all(isinstance(k, str) and type(v) is int for k, v in payload.items()):
        raise ProtocolError("malformed preprocessing request", peer=peer)
    for kind, count in payload.items():
        if not 0 < count <= MAX_ITEMS:
            raise ProtocolError(f"request for {count} {kind} out of bounds", peer=peer)
        try:
            check_kind(kind, scheme)
        except ConfigError as exc:
            raise ProtocolError(str(exc), peer=peer) from None
    return dict(payload)


# -- the store ----------------------------------------------------------------------------------
class Store:
    """One party's preprocessed shares, handed out front to back; every item is used once."""

    def __init__(self) -> None:
        self._items: dict[str, Item] = {}
        self._have: dict[str, int] = {}
        self.consumed: dict[str, int] = {}

    def have(self, kind: str) -> int:
        return self._have.get(kind, 0)

    def missing(self, need: Mapping[str, int]) -> Need:
        return {k: v - self.have(k) for k, v in need.items() if v > self.have(k)}

    def add(self, items: Mapping[str, Item], counts: Mapping[str, int]) -> None:
        for kind, comps in items.items():
            old = self._items.get(kind)
            self._items[kind] = comps if old is None else {c: np.concatenate([old[c], v], axis=-1)
                                                           for c, v in comps.items()}
            self._have[kind] = self.have(kind) + counts[kind]

    def take(self, kind: str, count: int) -> Item:
        have = self.have(kind)
        if count > have:
            raise PoolExhausted(f"asked for {count} {kind}, {have} left (a need was declared too small)")
        comps = self._items[kind]
        self._items[kind] = {c: v[..., count:] for c, v in comps.items()}
        self._have[kind] = have - count
        self.consumed[kind] = self.consumed.get(kind, 0) + count
        return {c: v[..., :count] for c, v in comps.items()}


# -- the dealer ---------------------------------------------------------------------------------
async def dealer_fetch(ctx: Context, scheme: Scheme, need: Mapping[str, int], mode: str, k: int) -> dict[str, Item]:
    """A computing party's side of request ``k``: send the need, receive and check its shares."""
    await ctx.send(DEALER, f"pre{k}", {"need": dict(need), "mode": mode})
    return unpack(await ctx.recv(DEALER, f"deal{k}"), scheme, need, mode, DEALER, ctx.party_id)


async def dealer_done(ctx: Context, k: int) -> None:
    await ctx.send(DEALER, f"pre{k}", {"done": True})


async def dealer_serve(ctx: Context, scheme: Scheme, *, idle_timeout: float | None = None) -> dict[str, Any]:
    """The dealer's loop: serve agreed requests until every live party says it is done."""
    served: dict[str, int] = {}
    k = 0
    while True:
        got = await ctx.gather(f"pre{k}", scheme.parties, quorum=1, timeout=idle_timeout)
        if all(isinstance(v, dict) and v.get("done") is True for v in got.values()):
            return {"role": "dealer", "requests": k, "served": served}
        first = None
        for p, v in got.items():
            if not isinstance(v, dict) or set(v) != {"need", "mode"} or v["mode"] not in ("binary", "arith"):
                raise ProtocolError("malformed preprocessing request", peer=p)
            req = (check_need(v["need"], scheme, p), v["mode"])
            if first is None:
                first = req
            elif req != first:
                raise ProtocolError(f"asked for {req}, another party for {first}", peer=p)
        assert first is not None  # gather returned at least one answer (quorum=1)
        need, mode = first
        shares = deal(scheme, need, mode, ctx.rng)
        await ctx.scatter(f"deal{k}", {p: {"seed": shares[p][0], "items": pack(shares[p][1], mode)} for p in got})
        served = add_need(served, need)
        k += 1


__all__ = [
    "DEALER", "Item", "Need", "Store", "add_need", "bit_components", "check_kind", "deal", "dealer_done",
    "dealer_fetch", "dealer_serve", "eda_bits", "expand", "plain", "random_bits", "seeded", "share_arith", "to_bits",
]
