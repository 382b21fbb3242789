"""Pure sharing math: functions of arrays, no I/O.

Shamir shares live in GF(2^61 − 1) and are evaluations of a random degree-t polynomial at the
parties' ids (1..n, never 0). Additive shares live in Z_2^64 (or any :class:`Domain`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from .errors import MpcError
from .field import GF61, U64, Domain, PrimeField
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
    return pts


def shamir_share(secret: U64, points: Sequence[int], t: int, rng: Csprng, field: PrimeField = GF61) -> U64:
    """Evaluate a random degree-``t`` polynomial with constant term ``secret`` at ``points``.

    Returns shares stacked on axis 0, in the order of ``points``.
    """
    pts = _check_points(points, field)
    if not 0 <= t < len(pts):
        raise SharingError(f"threshold t={t} needs 0 <= t < n={len(pts)}")
    coeffs = field.random(rng, (t, *secret.shape))
    shares = np.empty((len(pts), *secret.shape), dtype=np.uint64)
    for k, x in enumerate(pts):
        acc = coeffs[t - 1].copy() if t else secret.copy()
        for j in range(t - 2, -1, -1):  # Horner: t scalar multiplications per point
            acc = field.add(field.scale(acc, x), coeffs[j])
        if t:
            acc = field.add(field.scale(acc, x), secret)
        shares[k] = acc
    return shares


def lagrange_at_zero(points: tuple[int, ...], modulus: int = GF61.modulus) -> tuple[int, ...]:
    """Coefficients λ_i with f(0) = Σ λ_i f(x_i) for deg f < len(points); cached per point set."""
    return lagrange_at(points, 0, modulus)


def shamir_reconstruct(points: Sequence[int], shares: U64, field: PrimeField = GF61) -> U64:
    """Interpolate at 0 from shares (stacked on axis 0) taken at ``points``.

    With more shares than t + 1 the result is the same for consistent shares; pass exactly the
    t + 1 you trust to save work.
    """
    pts = _check_points(points, field)
    if shares.shape[0] != len(pts):
        raise SharingError(f"{shares.shape[0]} shares for {len(pts)} points")
    lam = lagrange_at_zero(pts, field.modulus)
    acc = field.scale(shares[0], lam[0])
    for k in range(1, len(pts)):
        acc = field.add(acc, field.scale(shares[k], lam[k]))
    return acc


def shamir_consistent(points: Sequence[int], shares: U64, t: int, field: PrimeField = GF61) -> bool:
    """True when all shares lie on one polynomial of degree ≤ t (detects inconsistent shares)."""
    pts = _check_points(points, field)
    if len(pts) <= t + 1:
        return True
    base = pts[: t + 1]
    for k in range(t + 1, len(pts)):
        x = pts[k]
        lam = lagrange_at(base, x, field.modulus)
        acc = field.scale(shares[0], lam[0])
        for j in range(1, t + 1):
            acc = field.add(acc, field.scale(shares[j], lam[j]))
        if not np.array_equal(acc, shares[k]):
            return False
    return True


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
    "lagrange_at",
    "lagrange_at_zero",
    "shamir_consistent",
    "shamir_reconstruct",
    "shamir_share",
]
