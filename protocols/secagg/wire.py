"""Field checks for secure-aggregation messages: each takes a peer's value and returns it
normalised (lists become tuples) or raises ProtocolError. :mod:`protocols.secagg.messages` attaches
them to dataclass fields, so a message that exists has been checked.

Payloads are msgpack maps with string keys (the codec refuses integer map keys), so per-peer data
travels as parallel lists: ``ids`` and the values in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from mpc.errors import ProtocolError
from mpc.field import GF61, U64

Check = Callable[[Any, str], Any]
MAX_ID = 1 << 31


def ids(value: Any, what: str) -> tuple[int, ...]:
    """A list of distinct party ids."""
    if not isinstance(value, (list, tuple)) or not all(type(v) is int and 0 <= v < MAX_ID for v in value):
        raise ProtocolError(f"{what} must be a list of party ids")
    if len(set(value)) != len(value):
        raise ProtocolError(f"{what} has duplicates")
    return tuple(value)


def within(value: tuple[int, ...], allowed: Collection[int], what: str, peer: int | None = None) -> tuple[int, ...]:
    """``value`` (ids) with every id in ``allowed``."""
    if not isinstance(allowed, (set, frozenset, dict)):
        allowed = frozenset(allowed)  # membership tests must not be O(n) each
    bad = [v for v in value if v not in allowed]
    if bad:
        raise ProtocolError(f"{what} names parties {bad[:5]} that may not appear here", peer=peer)
    return value


def blob(size: int | None = None, *, most: int = 1 << 16) -> Check:
    """One byte string (exactly ``size`` bytes when given, else at most ``most``)."""

    def check(value: Any, what: str) -> bytes:
        if not isinstance(value, bytes) or (len(value) != size if size is not None else len(value) > most):
            raise ProtocolError(f"{what} must be a {size if size is not None else f'<= {most}'}-byte string")
        return value

    return check


def blobs(size: int | None = None, *, most: int = 1 << 16) -> Check:
    """A list of byte strings (each exactly ``size`` bytes when given, else at most ``most``)."""
    one = blob(size, most=most)

    def check(value: Any, what: str) -> tuple[bytes, ...]:
        if not isinstance(value, (list, tuple)):
            raise ProtocolError(f"{what} must be a list of byte strings")
        if all(type(b) is bytes and len(b) == size for b in value) if size is not None else all(
                type(b) is bytes and len(b) <= most for b in value):
            return tuple(value)  # the common case in one pass
        return tuple(one(b, what) for b in value)

    return check


def array(ndim: int, *, field: bool = False) -> Check:
    """A uint64 array of ``ndim`` dimensions (with ``field``: every value below GF(2^61 − 1)'s p)."""

    def check(value: Any, what: str) -> U64:
        if not isinstance(value, np.ndarray) or value.dtype != np.uint64 or value.ndim != ndim:
            raise ProtocolError(f"{what} must be a {ndim}-d uint64 array")
        if field and value.size and int(value.max()) >= GF61.modulus:
            raise ProtocolError(f"{what} holds values outside the field")
        return value

    return check


def vector(value: Any, what: str) -> Any:
    """A 1-d numeric array (an aggregate: int64 or float64)."""
    if not isinstance(value, np.ndarray) or value.ndim != 1 or value.dtype.kind not in "iuf":
        raise ProtocolError(f"{what} must be a 1-d numeric array")
    return value


def hashes(value: Any, what: str) -> Any:
    """A (count, depth, 32) uint8 array of hashes (Merkle proofs)."""
    if not isinstance(value, np.ndarray) or value.dtype != np.uint8 or value.ndim != 3 or value.shape[2] != 32:
        raise ProtocolError(f"{what} must be a (count, depth, 32) uint8 array")
    if value.shape[1] > 40:
        raise ProtocolError(f"{what}: a tree deeper than 40 levels")
    return value


def positive_int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 1 << 40:
        raise ProtocolError(f"{what} must be a positive integer")
    return value


def count(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 40:
        raise ProtocolError(f"{what} must be a non-negative integer")
    return value


def text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a string")
    return value[:500]


def optional(check: Check) -> Check:
    def maybe(value: Any, what: str) -> Any:
        return None if value is None else check(value, what)

    return maybe


def same_length(what: str, *columns: tuple[Any, ...] | U64) -> None:
    """Parallel lists must line up."""
    if len({len(c) for c in columns}) > 1:
        raise ProtocolError(f"{what}: parallel lists of different lengths")


__all__ = ["Check", "array", "blob", "blobs", "count", "hashes", "ids", "optional", "positive_int", "same_length", "text", "vector", "within"]
