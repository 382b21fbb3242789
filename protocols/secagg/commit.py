"""Commitments that let a SecAgg+ client check only its neighbourhood: a Merkle tree over the
round's advertisements, and survivor sets as bitmaps.

The tree has one leaf per *registered* client, in the order of ``Params.clients``: the hash of
its advertisement (id, dim, c_pk, s_pk, vk, signature) or of "absent" if it sent none. Its root
goes into the session id, so every later message (share ciphertexts, consistency signatures) is
bound to one set of advertisements, and the consistency check — ``threshold`` neighbours' signatures
over (sid, U3) — makes neighbours agree on it. A client receives its neighbours' leaves with
inclusion proofs (``depth`` sibling hashes each): O(k log n) hashes per client instead of n keys,
and, because every slot is a leaf, the server cannot hide a neighbour's advertisement from one
client while showing it to another without changing the root. Domain separation (0x00 leaves,
0x01 inner nodes, 0x02 padding) rules out second-preimage tricks between levels.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Collection, Sequence

import numpy as np
from numpy.typing import NDArray

HASH = 32
_PAD = hashlib.sha256(b"\x02secagg/merkle-padding").digest()

Levels = list[NDArray[np.uint8]]  # level 0: the leaves, (2^depth, 32); the last: the root, (1, 32)


def leaf(party: int, dim: int, advert: Sequence[bytes] | None) -> bytes:
    h = hashlib.sha256(b"\x00" + struct.pack(">IQ", party, dim))
    if advert is None:
        h.update(b"absent")
    else:
        for part in advert:
            h.update(struct.pack(">H", len(part)) + part)
    return h.digest()


def depth_for(n: int) -> int:
    return max(1, (n - 1).bit_length())


def build(leaves: Sequence[bytes]) -> Levels:
    """Every level of the tree over ``leaves`` (padded to a power of two)."""
    width = 1 << depth_for(len(leaves))
    level = np.frombuffer(b"".join(leaves) + _PAD * (width - len(leaves)), dtype=np.uint8).reshape(width, HASH)
    levels = [level]
    while len(level) > 1:
        pairs = level.reshape(-1, 2 * HASH)
        level = np.frombuffer(b"".join(hashlib.sha256(b"\x01" + row.tobytes()).digest() for row in pairs),
                              dtype=np.uint8).reshape(-1, HASH)
        levels.append(level)
    return levels


def root(levels: Levels) -> bytes:
    return levels[-1][0].tobytes()


def proofs(levels: Levels, slots: Sequence[int]) -> NDArray[np.uint8]:
    """Sibling hashes for each slot, bottom up: shape (len(slots), depth, 32), gathered per level."""
    idx = np.asarray(slots, dtype=np.int64)
    out = np.empty((len(idx), len(levels) - 1, HASH), dtype=np.uint8)
    for lvl in range(len(levels) - 1):
        out[:, lvl] = levels[lvl][(idx >> lvl) ^ 1]
    return out


def verify(leaf_hash: bytes, slot: int, path: NDArray[np.uint8], expected_root: bytes, *, memo: bool = True) -> bool:
    """Whether ``path`` (sibling hashes, bottom up) leads from the leaf at ``slot`` to the root."""
    return (_verify if memo else _verify.__wrapped__)(leaf_hash, slot, path.tobytes(), expected_root)


@functools.lru_cache(maxsize=1 << 14)
def _verify(leaf_hash: bytes, slot: int, path: bytes, expected_root: bytes) -> bool:
    """Memoised on the exact inputs, so a repeated check gives the verdict a fresh one would: in a
    simulation the server hands each client's proof to all of its neighbours, checked once here
    (sized for ~10^4 clients per process; beyond that hits are lost, never correctness)."""
    h = leaf_hash
    for lvl in range(len(path) // HASH):
        sibling = path[lvl * HASH:(lvl + 1) * HASH]
        h = hashlib.sha256(b"\x01" + (h + sibling if not (slot >> lvl) & 1 else sibling + h)).digest()
    return h == expected_root


# -- survivor sets as bitmaps over the registered clients ------------------------------------
def bitmap(members: Collection[int], slot_of: dict[int, int], n: int) -> bytes:
    bits = np.zeros(n, dtype=bool)
    bits[[slot_of[u] for u in members]] = True
    return np.packbits(bits).tobytes()


def bitmap_size(n: int) -> int:
    return (n + 7) // 8


def in_bitmap(bits: bytes, slot: int) -> bool:
    return bool(bits[slot >> 3] >> (7 - (slot & 7)) & 1)


def members(bits: bytes, clients: Sequence[int]) -> tuple[int, ...]:
    """The clients (in registration order) whose bit is set; extra bits past n must be clear."""
    flags = np.unpackbits(np.frombuffer(bits, dtype=np.uint8))
    if flags[len(clients):].any():
        raise ValueError("bits set past the registered clients")
    return tuple(int(clients[int(i)]) for i in np.flatnonzero(flags[: len(clients)]))


__all__ = ["bitmap", "bitmap_size", "build", "depth_for", "in_bitmap", "leaf", "members", "proofs", "root", "verify"]
