"""Validation of secure-aggregation payloads: every field a peer sends is checked here before use.

Payloads are msgpack maps with string keys (the codec refuses integer map keys), so per-peer data
travels as parallel lists: ``ids`` and the values in the same order.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from mpc.errors import ProtocolError
from mpc.field import GF61, U64

from .crypto import LIMBS


def field(payload: dict[str, Any], name: str, peer: int | None) -> Any:
    if name not in payload:
        raise ProtocolError(f"message lacks {name!r}", peer=peer)
    return payload[name]


def ids(value: Any, allowed: Collection[int], peer: int | None, what: str = "ids") -> tuple[int, ...]:
    """A list of distinct party ids, each in ``allowed``."""
    if not isinstance(value, list) or any(not isinstance(v, int) or isinstance(v, bool) for v in value):
        raise ProtocolError(f"{what} must be a list of party ids", peer=peer)
    if len(set(value)) != len(value):
        raise ProtocolError(f"{what} has duplicates", peer=peer)
    if not isinstance(allowed, (set, frozenset, dict)):
        allowed = frozenset(allowed)  # membership tests must not be O(n) each
    bad = [v for v in value if v not in allowed]
    if bad:
        raise ProtocolError(f"{what} names parties {bad[:5]} that may not appear here", peer=peer)
    return tuple(value)


def blobs(value: Any, count: int, size: int | None, peer: int | None, what: str) -> list[bytes]:
    """``count`` byte strings (each exactly ``size`` bytes when given)."""
    if not isinstance(value, list) or len(value) != count:
        raise ProtocolError(f"{what} must be a list of {count} byte strings", peer=peer)
    for b in value:
        if not isinstance(b, bytes) or (size is not None and len(b) != size):
            raise ProtocolError(f"{what} entries must be {size}-byte strings", peer=peer)
    return value


def limbs(value: Any, count: int, peer: int | None, what: str) -> U64:
    """A (count, LIMBS) uint64 array of field elements (shares of 32-byte secrets)."""
    if not isinstance(value, np.ndarray) or value.dtype != np.uint64 or value.shape != (count, LIMBS):
        raise ProtocolError(f"{what} must be a uint64 array of shape ({count}, {LIMBS})", peer=peer)
    if value.size and int(value.max()) >= GF61.modulus:
        raise ProtocolError(f"{what} holds values outside the field", peer=peer)
    return value


def vector(value: Any, dim: int, peer: int | None, what: str) -> U64:
    if not isinstance(value, np.ndarray) or value.dtype != np.uint64 or value.shape != (dim,):
        raise ProtocolError(f"{what} must be a uint64 vector of length {dim}", peer=peer)
    return value


def positive_int(value: Any, peer: int | None, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 1 << 40:
        raise ProtocolError(f"{what} must be a positive integer", peer=peer)
    return value


__all__ = ["blobs", "field", "ids", "limbs", "positive_int", "vector"]
