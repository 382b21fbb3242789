"""Share and open: the building blocks every protocol uses (additive over Z_2^64, Shamir over GF(p))."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mpc.context import Context
from mpc.errors import ConfigError, ProtocolError
from mpc.field import GF61, TINY, U64, Z64, PrimeField, Ring64
from mpc.rng import Csprng
from mpc.sharing import (additive_share, inconsistent_shares, lagrange_at_zero, reconstruction_set, shamir_extend,
                         shamir_share)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scheme:
    """A sharing scheme among ``parties``: ``shamir`` with degree ``t``, or ``additive`` (t = n − 1).

    ``verify``: Shamir openings check that ALL received shares lie on one polynomial of the
    opening's degree and raise :class:`ProtocolError` naming the inconsistent party (n ≥ 2t + 1).
    """

    kind: str
    parties: tuple[int, ...]
    t: int
    verify: bool = False

    @classmethod
    def make(cls, kind: str, parties: Sequence[int], threshold: int | None = None, *,
             verify: bool = False) -> Scheme:
        parties = tuple(sorted(parties))
        n = len(parties)
        if kind == "additive":
            if verify:
                raise ConfigError("verified openings need Shamir sharing (additive shares carry no redundancy)")
            return cls(kind=kind, parties=parties, t=n - 1)
        if kind != "shamir":
            raise ConfigError(f"unknown sharing {kind!r} (shamir | additive)")
        # default: honest majority, but never degree 0 (a degree-0 share *is* the secret)
        t = max(1, (n - 1) // 2) if threshold is None and n > 1 else (0 if threshold is None else threshold)
        if not 0 <= t < n:
            raise ConfigError(f"Shamir threshold t={t} needs 0 <= t < parties={n}")
        if verify and n < 2 * t + 1:
            raise ConfigError(f"verified openings need n >= 2t + 1 parties (n = {n}, t = {t})")
        return cls(kind=kind, parties=parties, t=t, verify=verify)

    @property
    def domain(self) -> PrimeField | Ring64:
        return GF61 if self.kind == "shamir" else Z64

    @property
    def can_reduce_degree(self) -> bool:
        """Shamir with n ≥ 2t + 1: a degree-2t product of shares can be reduced back to degree t."""
        return self.kind == "shamir" and 2 * self.t < len(self.parties)

    @property
    def open_quorum(self) -> int:
        """Shares needed to open: t + 1 for Shamir, all n for additive."""
        return self.t + 1 if self.kind == "shamir" else len(self.parties)

    def share(self, secret: U64, rng: Csprng, *, degree: int | None = None) -> U64:
        """Shares of ``secret`` for every party (rows in party order); Shamir of degree ``t``
        (or ``degree``, e.g. 2t for a double sharing), additive over Z_2^64."""
        if self.kind == "shamir":
            return shamir_share(secret, self.parties, self.t if degree is None else degree, rng)
        return additive_share(secret, len(self.parties), rng, Z64)


def as_share(payload: Any, peer: int, shape: tuple[int, ...] | None = None) -> U64:
    """Validate a received share: a uint64 array (of ``shape``, when known). Never trust peers."""
    if not isinstance(payload, np.ndarray) or payload.dtype != np.uint64:
        raise ProtocolError("expected a uint64 share array", peer=peer)
    if shape is not None and payload.shape != shape:
        raise ProtocolError(f"share of shape {payload.shape}, expected {shape}", peer=peer)
    return payload


def check_field(share: U64, scheme: Scheme, peer: int) -> U64:
    if scheme.kind == "shamir" and share.size and int(share.max()) >= GF61.modulus:
        raise ProtocolError("share outside the field", peer=peer)
    return share


def frozen(a: U64) -> U64:
    """``a``, made read-only down to the array owning its memory: a promise that nothing writes
    to it again, so a simulated network passes its rows to receivers without copying them (see
    :mod:`netsim.objects`). Only for arrays this code has just made."""
    b: Any = a
    while isinstance(b, np.ndarray):
        b.setflags(write=False)
        b = b.base
    return a


def snapshot(a: U64) -> U64:
    """``a`` if nothing can write to it any more (it and every array it views are read-only, see
    :func:`frozen`), else a read-only copy: an opening's share is kept for pulls after the opening
    returns, when the caller may reuse its array. The chain must end at an array owning its
    memory or at immutable ``bytes`` (a read-only view of a ``bytearray`` or a memoryview could
    still change under it: copied, as :func:`netsim.objects.frozen_array` refuses it)."""
    b: Any = a
    while isinstance(b, np.ndarray):
        if b.flags.writeable:
            return frozen(a.copy())
        b = b.base
    return a if b is None or type(b) is bytes else frozen(a.copy())


def stack_shares(got: Mapping[int, Any], senders: Sequence[int], scheme: Scheme,
                 shape: tuple[int, ...] | None = None) -> U64:
    """The received shares ``got[s]`` of ``senders``, validated as :func:`as_share` and
    :func:`check_field` do (one shape: ``shape``, or the first sender's), stacked on axis 0.
    Checked for all senders at once; one by one only to name the first culprit."""
    vals = [got[s] for s in senders]
    if not vals:
        return np.empty((0, *(shape or ())), dtype=np.uint64)
    try:  # the loops over senders run in C: a 1000-party round has 1000 shares per party
        rows = set(map(len, vals)) if set(map(type, vals)) == {np.ndarray} else set()
        flat = np.concatenate(vals, dtype=np.uint64, casting="no")  # checks every other dimension
    except (TypeError, ValueError):
        rows = set()
    if len(rows) == 1:
        stacked = flat.reshape(len(vals), *vals[0].shape)
        if (shape is None or stacked.shape[1:] == shape) and (
                scheme.kind != "shamir" or not stacked.size or int(stacked.max()) < GF61.modulus):
            return stacked
    checked: list[U64] = []
    for s, v in zip(senders, vals, strict=True):
        checked.append(check_field(as_share(v, s, shape), scheme, s))
        shape = checked[-1].shape
    return np.stack(checked)


SEED_BYTES = 32
MAX_SEEDED_ELEMENTS = 1 << 25  # a 40-byte seed may make its holder allocate 256 MiB (a sender's buffer quota), no more


def seeded_holders(scheme: Scheme, dealer: int) -> tuple[int, ...]:
    """Shamir: the t parties after ``dealer`` in id order (cyclically) get a 32-byte seed that
    expands to their share of its input instead of the share itself; additive: none (public)."""
    ps = scheme.parties
    if scheme.kind != "shamir" or scheme.t == 0:
        return ()
    start = ps.index(dealer) + 1 if dealer in ps else 0
    return tuple(p for p in (ps[(start + i) % len(ps)] for i in range(len(ps))) if p != dealer)[: scheme.t]


def _expand_seed(payload: Any, peer: int, scheme: Scheme, expected: tuple[int, ...] | None = None) -> U64:
    """A seeded share: ``{"seed": 32 bytes, "shape": [dims]}`` expanded with the CSPRNG; refused
    before anything is allocated if its shape is not ``expected`` (when known)."""
    if not isinstance(payload, dict) or set(payload) != {"seed", "shape"}:
        raise ProtocolError("expected a share seed", peer=peer)
    seed, shape = payload["seed"], payload["shape"]
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise ProtocolError("malformed share seed", peer=peer)
    if (not isinstance(shape, list) or len(shape) > 8 or not all(type(d) is int and d >= 0 for d in shape)
            or int(np.prod(shape, dtype=object)) > MAX_SEEDED_ELEMENTS):
        raise ProtocolError(f"share seed for an unacceptable shape {shape!r}", peer=peer)
    if expected is not None and tuple(shape) != expected:
        raise ProtocolError(f"share seed for shape {tuple(shape)}, expected {expected}", peer=peer)
    return scheme.domain.random(Csprng(seed), tuple(shape))


def _seed_shape(x: U64 | None, got: Mapping[int, Any], seeded: frozenset[int]) -> tuple[int, ...] | None:
    """The shape every dealer's share must have, known before any seed is expanded (one 40-byte
    seed made its holder allocate up to 256 MiB, and as much again to stack it): our own input's;
    else the one shape all dealers declare (their vectors' and seeds'), or a ProtocolError naming
    them (we cannot tell whose shape is the computation's)."""
    if x is not None:
        return x.shape
    shapes: dict[int, tuple[int, ...]] = {}
    for d, v in got.items():
        if d not in seeded and isinstance(v, np.ndarray):
            shapes[d] = v.shape
        elif d in seeded and isinstance(v, dict) and isinstance(v.get("shape"), list) and len(v["shape"]) <= 8:
            shapes[d] = tuple(v["shape"])
    if len(set(shapes.values())) > 1:
        raise ProtocolError(f"the dealers' shares have different shapes: {dict(sorted(shapes.items()))}"[:300])
    return next(iter(shapes.values()), None)


def seeded_from(scheme: Scheme, me: int, dealers: Sequence[int]) -> frozenset[int]:
    """The dealers whose :func:`seeded_holders` include ``me``, in O(n) for all dealers at once
    (a 1000-party sum has 1000 dealers: :func:`seeded_holders` per dealer would be O(n^2))."""
    ps = scheme.parties
    if scheme.kind != "shamir" or scheme.t == 0 or me not in ps:
        return frozenset()
    pos = {p: k for k, p in enumerate(ps)}
    m, n, t = pos[me], len(ps), scheme.t
    return frozenset(d for d in dealers if (1 <= (m - pos[d]) % n <= t if d in pos else m < t))


async def share_inputs(
    ctx: Context, x: U64 | None, scheme: Scheme, dealers: Sequence[int], tag: str = "share"
) -> dict[int, U64]:
    """Every dealer secret-shares its (encoded) vector to all parties; returns my share per dealer.

    Shamir: the t :func:`seeded_holders` of a dealer receive a seed instead of a vector (their
    shares of a random polynomial may be any values; the others' follow from them and the input),
    so a dealer sends n − 1 − t vectors instead of n − 1.
    """
    stacked = await share_inputs_stacked(ctx, x, scheme, dealers, tag)
    return {d: stacked[k] for k, d in enumerate(dealers)}


async def share_inputs_stacked(
    ctx: Context, x: U64 | None, scheme: Scheme, dealers: Sequence[int], tag: str = "share"
) -> U64:
    """:func:`share_inputs` with my shares stacked on axis 0 in the order of ``dealers``."""
    if ctx.party_id in dealers:
        if x is None:
            raise ConfigError(f"party {ctx.party_id} is an input party but has no input")
        seeded = seeded_holders(scheme, ctx.party_id)
        if seeded:
            seeds = {p: ctx.rng.random_bytes(SEED_BYTES) for p in seeded}
            fixed = {p: scheme.domain.random(Csprng(s), x.shape) for p, s in seeds.items()}
            rest = shamir_extend(x, fixed, [p for p in scheme.parties if p not in seeds])
            del fixed
            # never written again: sent without copies
            await ctx.scatter(tag, {p: {"seed": s, "shape": list(x.shape)} for p, s in seeds.items()}
                              | {p: frozen(v) for p, v in rest.items()})
            del rest
        else:
            shares = frozen(scheme.share(x, ctx.rng))  # never written again: sent without copies
            await ctx.scatter(tag, {p: shares[k] for k, p in enumerate(scheme.parties)})
    got = await ctx.gather(tag, dealers)
    seeded_to_me = seeded_from(scheme, ctx.party_id, dealers)
    mine = x if ctx.party_id in dealers else None
    if seeded_to_me:
        shape = _seed_shape(mine, got, seeded_to_me)
        got = {d: _expand_seed(v, d, scheme, shape) if d in seeded_to_me else v for d, v in got.items()}
    # our own input's shape, when we have one: a dealer whose share differs is named, not the others
    return stack_shares(got, dealers, scheme, None if mine is None else mine.shape)


def _validated(payload: Any, peer: int, shape: tuple[int, ...], scheme: Scheme) -> U64:
    return check_field(as_share(payload, peer, shape), scheme, peer)


async def open_values(ctx: Context, scheme: Scheme, share: U64, tag: str, *, degree: int | None = None) -> U64:
    """Open a (possibly batched) sharing to every computing party in one all-to-all round.

    Shamir: interpolates from ``degree + 1`` shares (own share and the nearest ids); shares are
    consistent, so any surviving quorum yields the same value. Additive: all shares are needed.
    """
    dom = scheme.domain
    if _in_ints(scheme, share, degree):
        out = np.array(await _open_in_ints(ctx, scheme, share, tag, degree, None), dtype=np.uint64)
        return out if share.ndim == 1 else out.reshape(share.shape)
    if scheme.kind == "additive":
        got = await ctx.exchange(tag, share, among=scheme.parties)
        others = [p for p in got if p != ctx.party_id]
        if not others:
            return share.copy()
        # a new array: never written into ``share``
        return dom.add(share, dom.sum(stack_shares(got, others, scheme, share.shape), axis=0))
    deg = scheme.t if degree is None else degree
    # verified: a consistency check needs one share more than the degree fixes (else unverifiable:
    # a degree-2t reduction among n = 2t + 1 parties is opened as usual)
    check = _verifies(scheme, degree)
    if check:
        got = await ctx.exchange(tag, share, among=scheme.parties, quorum=deg + 2)
        return _verified_open(ctx.party_id, scheme, share, got, deg, tag)
    # deg + 1 shares in a ring (Context.open_round): n·deg messages and bytes instead of n·(n − 1)
    got = await ctx.open_round(tag, snapshot(share), among=scheme.parties, need=deg + 1)
    use, coeffs = _interpolation(ctx.party_id, tuple(got), deg + 1, dom.modulus)
    arrays = [share if p == ctx.party_id else _validated(got[p], p, share.shape, scheme) for p in use]
    return dom.lincomb(coeffs, arrays)


def _verifies(scheme: Scheme, degree: int | None) -> bool:
    return scheme.verify and scheme.kind == "shamir" and len(scheme.parties) >= (
        scheme.t if degree is None else degree) + 2


FEW_SHARES = 16  # up to this many shares combined, an opening of TINY elements runs in Python ints


def _in_ints(scheme: Scheme, share: U64, degree: int | None) -> bool:
    """An opening cheaper in Python ints than in numpy: a few elements from a few shares (a
    dependent chain's round), unverified. A sum over 1000 parties' shares stays in numpy."""
    combined = len(scheme.parties) if scheme.kind == "additive" else (scheme.t if degree is None else degree) + 1
    return share.size <= TINY and combined <= FEW_SHARES and not _verifies(scheme, degree)


async def open_ints(ctx: Context, scheme: Scheme, share: U64, tag: str, *, degree: int | None = None,
                    own: list[int] | None = None) -> list[int]:
    """:func:`open_values` as a flat list of Python ints: for a few elements from a few shares (a
    round of a dependent chain, see :func:`_in_ints`) computed in ints, the same message, checks
    and values without a numpy round trip; otherwise through the arrays. ``own``: ``share`` as a
    flat list, when the caller has it."""
    if not _in_ints(scheme, share, degree):  # verified, or many shares: on arrays
        return flat_ints(await open_values(ctx, scheme, share, tag, degree=degree))
    return await _open_in_ints(ctx, scheme, share, tag, degree, own)


async def _open_in_ints(ctx: Context, scheme: Scheme, share: U64, tag: str, degree: int | None,
                        own: list[int] | None) -> list[int]:
    """:func:`open_ints` once :func:`_in_ints` holds."""
    me, P, shape = ctx.party_id, scheme.domain.modulus, share.shape
    mine = own if own is not None else flat_ints(share)
    if scheme.kind == "additive":
        got = await ctx.exchange(tag, share, among=scheme.parties)
        total = mine
        for p, v in got.items():
            if p != me:
                total = [a + b for a, b in zip(total, _share_ints(v, p, shape, 0), strict=True)]
        return [a % P for a in total]
    deg = scheme.t if degree is None else degree
    # deg + 1 shares, not everyone's: n·deg messages a round instead of n·(n − 1)
    got = await ctx.open_round(tag, snapshot(share), among=scheme.parties, need=deg + 1)
    use, coeffs = _interpolation(me, tuple(got), deg + 1, P)
    acc: list[int] | None = None
    for p, c in zip(use, coeffs, strict=True):
        vals = mine if p == me else _share_ints(got[p], p, shape, P)
        acc = [c * v for v in vals] if acc is None else [a + c * v for a, v in zip(acc, vals, strict=True)]
    assert acc is not None
    return [a % P for a in acc]


def flat_ints(a: U64) -> list[int]:
    """An array's values as Python ints, flattened (a reshape costs more than a 1-D tolist)."""
    vals: list[int] = a.tolist() if a.ndim == 1 else a.ravel().tolist()
    return vals


def _share_ints(payload: Any, peer: int, shape: tuple[int, ...], field: int) -> list[int]:
    """A received share's values (:func:`as_share`'s checks; below ``field`` when it is not 0)."""
    arr = payload
    if arr.__class__ is not np.ndarray or arr.dtype != np.uint64 or arr.shape != shape:
        arr = as_share(payload, peer, shape)  # (raises, or accepts an ndarray subclass)
    vals = flat_ints(arr)
    if field and vals and max(vals) >= field:
        raise ProtocolError("share outside the field", peer=peer)
    return vals


@functools.lru_cache(maxsize=256)
def _interpolation(me: int, answered: tuple[int, ...], size: int, modulus: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The reconstruction set among ``me`` and the parties that ``answered`` (``me`` may be among
    them), and its Lagrange coefficients at 0 (the same few sets every round)."""
    use = reconstruction_set(me, tuple(p for p in answered if p != me), size)
    return use, tuple(c % modulus for c in lagrange_at_zero(use, modulus))


def _verified_open(me: int, scheme: Scheme, share: U64, got: dict[int, Any], deg: int, tag: str) -> U64:
    """Interpolate after checking that every received share lies on one degree-``deg`` polynomial."""
    pts = tuple(sorted(got))
    stacked = np.stack([share if p == me else _validated(got[p], p, share.shape, scheme) for p in pts])
    # up to t shares may be wrong: a single culprit is named only when that is sound for t colluders
    suspects = inconsistent_shares(pts, stacked, deg, trusted=me, corrupt=scheme.t)
    if len(suspects) == 1:
        raise ProtocolError(f"share in opening {tag!r} is off the degree-{deg} polynomial of the others",
                            peer=suspects[0])
    if suspects:
        raise ProtocolError(f"inconsistent shares in opening {tag!r}: one of parties {list(suspects)} is wrong")
    use = pts[: deg + 1]
    return scheme.domain.lincomb(lagrange_at_zero(use, scheme.domain.modulus), list(stacked[: deg + 1]))


async def open_shares(ctx: Context, share: U64, scheme: Scheme, tag: str = "open") -> U64:
    """Open a shared value to every party: one round, all-to-all.

    Shamir needs t + 1 of the live parties (dropouts tolerated); additive needs all of them.
    """
    return await open_values(ctx, scheme, share, tag)


__all__ = ["Scheme", "as_share", "check_field", "flat_ints", "frozen", "open_ints", "open_shares", "open_values",
           "seeded_from", "seeded_holders", "share_inputs", "share_inputs_stacked", "stack_shares"]
