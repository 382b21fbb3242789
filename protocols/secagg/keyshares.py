"""Secret sharing of secure aggregation's 32-byte secrets (the self-mask seed b_u and the mask key
s_u^SK) over GF(2^61 − 1).

A secret is cut into 5 limbs of at most 56 bits (each < p), and every limb is Shamir-shared with
the same evaluation points by :func:`mpc.sharing.shamir_share`; reconstruction is
:func:`mpc.sharing.shamir_reconstruct`, or :func:`reconstruct_each` when every owner has its own
holders (SecAgg+). Functions of bytes and arrays, tested alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from mpc.field import GF61, U64
from mpc.rng import Csprng
from mpc.sharing import SharingError, shamir_reconstruct, shamir_share

KEY_BYTES = 32
LIMB_BYTES = 7  # 56-bit limbs stay below p = 2^61 − 1
LIMBS = -(-KEY_BYTES // LIMB_BYTES)  # 5 field elements per 32-byte secret


def secret_to_limbs(secret: bytes) -> U64:
    if len(secret) != KEY_BYTES:
        raise ValueError("secrets are 32 bytes")
    padded = secret + bytes(LIMBS * LIMB_BYTES - KEY_BYTES)
    return np.array([int.from_bytes(padded[i * LIMB_BYTES:(i + 1) * LIMB_BYTES], "little") for i in range(LIMBS)],
                    dtype=np.uint64)


def limbs_to_secret(limbs: U64) -> bytes:
    raw = b"".join(int(v).to_bytes(LIMB_BYTES, "little") if int(v) < 1 << (8 * LIMB_BYTES) else b"\xff" * 8
                   for v in limbs)
    if len(raw) != LIMBS * LIMB_BYTES or any(raw[KEY_BYTES:]):
        raise SharingError("reconstructed limbs do not encode a 32-byte secret")
    return raw[:KEY_BYTES]


def share_secrets(secrets: Sequence[bytes], points: Sequence[int], needed: int, rng: Csprng) -> U64:
    """Shamir shares of 32-byte secrets' limbs at ``points`` (:func:`mpc.sharing.shamir_share`,
    degree ``needed − 1``, all secrets in one call); shape (len(points), len(secrets), LIMBS).
    Degree 0 is refused: its "shares" are the secret itself."""
    if not 2 <= needed <= len(points):
        raise SharingError(f"need 2 <= needed={needed} <= {len(points)} points (degree 0 is no sharing)")
    return shamir_share(np.stack([secret_to_limbs(s) for s in secrets]), points, needed - 1, rng)


def reconstruct_secret(points: Sequence[int], shares: U64) -> bytes:
    """The 32-byte secret from ``needed`` shares (stacked on axis 0) at ``points``."""
    return limbs_to_secret(shamir_reconstruct(points, shares))


def reconstruct_many(points: Sequence[int], shares: U64) -> U64:
    """Limbs of many secrets shared at the same points: ``shares`` is (points, secrets, LIMBS)."""
    return shamir_reconstruct(points, shares)


def reconstruct_each(points: NDArray[np.int64], shares: U64) -> U64:
    """Limbs of many secrets, each shared at its own points (SecAgg+: every owner has its own
    holders): ``points`` (owners, t), ``shares`` (owners, t, LIMBS) → (owners, LIMBS).

    Lagrange at 0 for all owners at once: λ_i = Π_j x_j / (x_i · Π_{j≠i} (x_j − x_i)), the
    products as t vector steps, the t·owners inverses in Python ints (extended Euclid), then one
    vector multiply-and-sum. Points must be distinct party ids in 1..2^32 − 1 per owner."""
    m, t = points.shape
    if shares.shape != (m, t, LIMBS):
        raise SharingError(f"shares of shape {shares.shape} for points of shape {points.shape}")
    x = points.astype(np.int64)
    if m == 0 or t == 0:
        return np.zeros((m, LIMBS), dtype=np.uint64)
    ordered = np.sort(x, axis=1)
    if ordered[:, 0].min() <= 0 or ordered[:, -1].max() >= 1 << 32 or (ordered[:, 1:] == ordered[:, :-1]).any():
        raise SharingError("evaluation points are distinct party ids in 1..2^32 − 1")
    p = GF61.modulus
    xu = x.astype(np.uint64)
    den = xu.copy()  # x_i · Π_{j≠i} (x_j − x_i), all exact below 2^32 before reduction
    num = xu[:, 0].copy()  # Π_j x_j
    for j in range(t):
        step = ((x[:, j:j + 1] - x) % p).astype(np.uint64)
        step[:, j] = 1
        GF61.mul(den, step, out=den)
        if j:
            GF61.mul(num, xu[:, j].copy(), out=num)
    inverses = np.array([pow(d, -1, p) for d in den.ravel().tolist()], dtype=np.uint64).reshape(m, t)
    lam = GF61.mul(inverses, np.repeat(num[:, None], t, axis=1))
    terms = GF61.mul(np.ascontiguousarray(shares, dtype=np.uint64), np.repeat(lam[:, :, None], LIMBS, axis=2))
    return GF61.sum(terms, axis=1)


__all__ = [
    "KEY_BYTES",
    "LIMBS",
    "LIMB_BYTES",
    "limbs_to_secret",
    "reconstruct_each",
    "reconstruct_many",
    "reconstruct_secret",
    "secret_to_limbs",
    "share_secrets",
]
