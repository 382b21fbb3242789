"""Pure sharing math: functions of arrays, no I/O.

Shamir shares live in GF(2^61 − 1) and are evaluations of a random degree-t polynomial at the
parties' ids (1..n, never 0). Additive shares live in Z_2^64 (or any :class:`Domain`).

:func:`shamir_share` is the code base's one Shamir sharer (inputs, DN07 contributions, SecAgg's key
shares); reconstruction and consistency checks go through :meth:`PrimeField.lincomb`, with
Lagrange coefficients cached per point set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from .errors import MpcError
from .field import BLOCK, GF61, U64, Domain, PrimeField
from .rng import Csprng


class SharingError(MpcError, ValueError):
    """Parameters of a sharing or reconstruction are inconsistent."""


def additive_share(secret: U64, n: int, rng: Csprng, dom: Domain) -> U64:
    """n shares of ``secret`` stacked on axis 0; any n − 1 of them are uniformly random."""
    if n < 1:
        raise SharingError("need at least one share")
    shares = np.empty((n, *secret.shape), dtype=np.uint64)
    if n > 1:
        shares[1:] = dom.random(rng, (n - 1, *secret.shape))
        shares[0] = dom.sub(secret, dom.sum(shares[1:], axis=0))
    else:
        shares[0] = secret
    return shares


def additive_reconstruct(shares: U64, dom: Domain) -> U64:
    return dom.sum(shares, axis=0)


def _check_points(points: Sequence[int], field: PrimeField) -> tuple[int, ...]:
    pts = tuple(int(x) for x in points)
    if len(set(pts)) != len(pts):
        raise SharingError(f"duplicate evaluation points {pts}")
    if any(x % field.modulus == 0 for x in pts):
        raise SharingError("evaluation point 0 would reveal the secret")
    if any(not 0 < x < 1 << 32 for x in pts):
        raise SharingError("evaluation points are party ids in 1..2^32 − 1")
    return pts


def shamir_share(secret: U64, points: Sequence[int], t: int, rng: Csprng, field: PrimeField = GF61) -> U64:
    """Evaluate a random degree-``t`` polynomial with constant term ``secret`` at ``points``.

    Returns shares stacked on axis 0, in the order of ``points`` (shape ``(len(points),
    *secret.shape)``). This is the one Shamir sharer of the code base (inputs, preprocessing,
    SecAgg's key shares). Horner's rule runs over the coefficients with all points at once
    (:meth:`PrimeField.horner_step`), so the cost is ``t`` vector steps whatever the number of
    points; long secrets go block by block, so the random coefficients and temporaries of one
    block stay in cache and no ``(t, len)`` coefficient array is ever built.
    """
    pts = _check_points(points, field)
    if not 0 <= t < len(pts):
        raise SharingError(f"threshold t={t} needs 0 <= t < n={len(pts)}")
    if secret.dtype != np.uint64:
        raise SharingError(f"secrets are uint64 field elements, got {secret.dtype}")
    flat = np.ascontiguousarray(secret).reshape(-1)
    n, size = len(pts), flat.size
    out = np.empty((n, size), dtype=np.uint64)
    if t == 0:
        out[:] = flat  # degree 0: every share is the secret (callers decide whether that is allowed)
        return out.reshape((n, *secret.shape))
    xs = np.array(pts, dtype=np.uint64)
    cols = max(1, min(size, BLOCK // n))  # a block of n rows holds about BLOCK elements
    # long rows: rows with small points (≤ 7: one multiply per step) go apart from the others;
    # short rows (e.g. SecAgg's key limbs for many holders): one call per step costs least
    runs = _runs([x <= field.SMALL for x in pts]) if cols >= 1024 else [(0, n)]
    groups = [slice(a, b) for a, b in runs]
    acc, lo, hi = (np.empty((n, cols), dtype=np.uint64) for _ in range(3))
    for s in range(0, size, cols):
        e = min(s + cols, size)
        k = e - s
        coeffs = field.random(rng, (t, k))  # c_1..c_t of this block's polynomials
        a = acc[:, :k]
        a[:] = coeffs[t - 1]
        for j in range(t - 2, -2, -1):  # f(x) = (…(c_t·x + c_{t−1})·x + …)·x + secret
            c = flat[s:e] if j < 0 else coeffs[j]
            for g in groups:
                field.horner_step(a[g], xs[g], c, lo[g, :k], hi[g, :k])
        out[:, s:e] = a
    return out.reshape((n, *secret.shape))


def shamir_extend(secret: U64, fixed: Mapping[int, U64], points: Sequence[int], field: PrimeField = GF61) -> dict[int, U64]:
    """Shares at ``points`` of the polynomial through ``(0, secret)`` and ``(x, fixed[x])``.

    With ``len(fixed) = t`` uniformly random values (e.g. expanded from seeds that their holders
    receive instead of vectors), this is a random degree-t sharing of ``secret``: a degree-t
    polynomial with a given value at 0 is exactly as random as its values at t other points.
    """
    known = _check_points(tuple(fixed), field)
    targets = _check_points(points, field)
    if set(known) & set(targets):
        raise SharingError("a point is both fixed and asked for")
    basis = (0, *known)  # 0 is the secret's point: never a share
    arrays = [secret, *(fixed[x] for x in known)]
    return {x: field.lincomb(lagrange_at(basis, x, field.modulus), arrays) for x in targets}


def _runs(flags: list[bool]) -> list[tuple[int, int]]:
    """[start, end) of each run of equal flags."""
    bounds = [0] + [i for i in range(1, len(flags)) if flags[i] != flags[i - 1]] + [len(flags)]
    return list(zip(bounds[:-1], bounds[1:]))


def lagrange_at_zero(points: tuple[int, ...], modulus: int = GF61.modulus) -> tuple[int, ...]:
    """Coefficients λ_i with f(0) = Σ λ_i f(x_i) for deg f < len(points); cached per point set."""
    return lagrange_at(points, 0, modulus)


def reconstruction_set(me: int, others: Sequence[int], size: int) -> tuple[int, ...]:
    """``me`` and the ``size − 1`` ids nearest to it: nearby points give small integer Lagrange
    coefficients (for 3 parties, t = 1 always ±1, 2 or 3), which :meth:`PrimeField.lincomb`
    applies with one multiply per term."""
    near = sorted(others, key=lambda p: (abs(p - me), p))
    return (me, *near[: size - 1])


def shamir_reconstruct(points: Sequence[int], shares: U64, field: PrimeField = GF61) -> U64:
    """Interpolate at 0 from shares (stacked on axis 0) taken at ``points``.

    With more shares than t + 1 the result is the same for consistent shares; pass exactly the
    t + 1 you trust to save work.
    """
    pts = _check_points(points, field)
    if shares.shape[0] != len(pts):
        raise SharingError(f"{shares.shape[0]} shares for {len(pts)} points")
    return field.lincomb(lagrange_at_zero(pts, field.modulus), list(shares))


def shamir_consistent(points: Sequence[int], shares: U64, t: int, field: PrimeField = GF61) -> bool:
    """True when all shares lie on one polynomial of degree ≤ t (detects inconsistent shares)."""
    pts = _check_points(points, field)
    if shares.shape[0] != len(pts):
        raise SharingError(f"{shares.shape[0]} shares for {len(pts)} points")
    base = list(shares[: t + 1])
    for k in range(t + 1, len(pts)):
        if not np.array_equal(field.lincomb(lagrange_at(pts[: t + 1], pts[k], field.modulus), base), shares[k]):
            return False
    return True


def inconsistent_shares(points: Sequence[int], shares: U64, t: int, field: PrimeField = GF61, *,
                        trusted: int | None = None, corrupt: int = 1) -> tuple[int, ...]:
    """The points whose shares may be wrong; ``()`` when all lie on one polynomial of degree ≤ t.

    n shares of a degree-t sharing over-determine it when n ≥ t + 2, so any single wrong share is
    detected. It is also *identified* when the other n − 1 shares agree and, even if ``corrupt``
    of them were wrong, still hold t + 1 right ones (n − 1 ≥ t + 1 + corrupt): then exactly one
    point is returned. Otherwise every point but ``trusted`` (one's own share) is a suspect.
    (With fewer shares, ``corrupt`` colluders can shift theirs onto a polynomial through all
    shares but one honest party's, and that party would be named.)
    """
    pts = _check_points(points, field)
    if shamir_consistent(pts, shares, t, field):
        return ()
    suspects = [x for x in pts if x != trusted]
    if len(pts) - 1 >= t + 1 + max(corrupt, 1):
        alone = [x for k, x in enumerate(pts) if x != trusted
                 and shamir_consistent(pts[:k] + pts[k + 1:], np.delete(shares, k, axis=0), t, field)]
        if len(alone) == 1:
            return tuple(alone)
    return tuple(suspects)


@lru_cache(maxsize=4096)
def lagrange_at(points: tuple[int, ...], x: int, modulus: int = GF61.modulus) -> tuple[int, ...]:
    """Coefficients λ_i with f(x) = Σ λ_i f(x_i)."""
    lam = []
    for i, xi in enumerate(points):
        num, den = 1, 1
        for j, xj in enumerate(points):
            if i != j:
                num = num * (xj - x) % modulus
                den = den * (xj - xi) % modulus
        lam.append(num * pow(den, modulus - 2, modulus) % modulus)
    return tuple(lam)


__all__ = [
    "SharingError",
    "additive_reconstruct",
    "additive_share",
    "inconsistent_shares",
    "lagrange_at",
    "lagrange_at_zero",
    "reconstruction_set",
    "shamir_consistent",
    "shamir_extend",
    "shamir_reconstruct",
    "shamir_share",
]
