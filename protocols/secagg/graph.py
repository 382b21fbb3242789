"""The SecAgg+ communication graph (Bell et al., CCS 2020): a Harary graph on a seeded random
circular order of the clients, the same for every party (the seed is public).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from mpc.rng import Csprng

INFO_GRAPH = b"secagg+/graph"

Ring = tuple[NDArray[np.int64], dict[int, int]]
"""The seeded circular order of the clients and each client's place in it."""


def harary_ring(ids: Sequence[int], seed: bytes) -> Ring:
    """A uniform random permutation of the clients, sorting by 64-bit keystream values (ties:
    probability ~n²/2^65); computed once per round (:func:`protocols.secagg.params.neighbourhoods`)."""
    order = np.sort(np.asarray(ids, dtype=np.int64))[
        np.argsort(Csprng(hashlib.sha256(INFO_GRAPH + seed).digest()).uint64(len(ids)), kind="stable")]
    return order, {int(u): i for i, u in enumerate(order.tolist())}


def harary_neighbours(
    clients: Sequence[int], degree: int, seed: bytes, only: int | None = None, ring: Ring | None = None
) -> dict[int, frozenset[int]]:
    """Bell et al.'s graph: the Harary graph H(k, n) on a seeded random permutation of the clients.

    Each client is joined to the k/2 nearest on either side of a random circular order; ``degree``
    is rounded up to even and capped at n − 1 (then every pair is joined, i.e. plain SecAgg).
    The seed is public (fixed by the job before any client advertises), so every party computes
    the same graph and dropping clients does not change it.
    With ``only`` the result holds just that client's neighbourhood (what a client needs);
    ``ring`` is :func:`harary_ring` of the same clients and seed, if the caller kept it.
    """
    n = len(clients)
    if degree >= n - 1:
        everyone = frozenset(clients)
        return {u: everyone - {u} for u in (clients if only is None else (only,))}
    half = (degree + 1) // 2
    order, position = ring if ring is not None else harary_ring(clients, seed)
    offsets = np.concatenate([np.arange(1, half + 1), -np.arange(1, half + 1)])
    if only is not None:
        return {only: frozenset(order[(position[only] + offsets) % n].tolist())}
    table = order[(np.arange(n)[:, None] + offsets[None, :]) % n]  # row i: neighbours of order[i]
    return {int(u): frozenset(row.tolist()) for u, row in zip(order, table, strict=True)}


__all__ = ["Ring", "harary_neighbours", "harary_ring"]
