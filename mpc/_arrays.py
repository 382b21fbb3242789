"""The plumbing the arithmetic domains share (:mod:`mpc.primefield`, :mod:`mpc.ring64`): the
element type :data:`U64`, operand checks that raise :class:`ArithmeticMismatch` instead of
broadcasting, result arrays (fresh or ``out=``), blocks of :data:`BLOCK` elements with reusable
per-thread scratch, and the tiny-vector results of the pure-Python paths (up to :data:`TINY`).

Public names are re-exported by :mod:`mpc.field`; import them from there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from .errors import MpcError

U64 = NDArray[np.uint64]

BLOCK = 1 << 15  # elements per block: the temporaries of one product stay in L2 cache
TINY = 32  # up to this many elements, Python ints beat numpy's per-call overhead


class ArithmeticMismatch(MpcError, ValueError):
    """Operands of different shapes or dtypes were mixed."""


_DT = np.dtype(np.uint64)


def _same(a: U64, b: U64) -> None:
    if a.dtype is _DT and b.dtype is _DT and a.shape == b.shape:  # the fast, common case
        return
    if a.dtype != np.uint64 or b.dtype != np.uint64:
        raise ArithmeticMismatch(f"expected uint64 operands, got {a.dtype} and {b.dtype}")
    if a.shape != b.shape:
        raise ArithmeticMismatch(f"shape mismatch: {a.shape} vs {b.shape}")


def _target(shape: tuple[int, ...], out: U64 | None) -> U64:
    """The result array: a fresh one, or ``out`` checked (uint64, ``shape``, C-contiguous)."""
    if out is None:
        return np.empty(shape, dtype=_DT)
    if out.dtype != np.uint64 or out.shape != shape or not out.flags.c_contiguous:
        raise ArithmeticMismatch(f"out= must be a C-contiguous uint64 array of shape {shape}")
    return out


def _flat(a: U64) -> U64:
    return a.reshape(-1) if a.flags.c_contiguous else np.ascontiguousarray(a).reshape(-1)


def _ints(a: U64) -> list[int]:
    return a.tolist() if a.ndim == 1 else a.reshape(-1).tolist()


def _blocks(n: int) -> Iterator[slice]:
    for s in range(0, n, BLOCK):
        yield slice(s, min(s + BLOCK, n))


_SCRATCH = threading.local()


def _scratch(count: int, size: int) -> list[U64]:
    """``count`` temporaries of ``size`` ≤ :data:`BLOCK` elements, reused from call to call.

    Kernels called block by block (PRSS, sharing) would otherwise allocate and free several
    256 KiB arrays per call: above glibc's mmap threshold, each one is a fresh mapping with a page
    fault per 4 KiB. One buffer per thread; no kernel calls another while it holds scratch, and
    scratch never leaves a kernel (results go to fresh arrays or ``out=``)."""
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.shape[0] < count:
        buf = _SCRATCH.buf = np.empty((max(count, 6), BLOCK), dtype=_DT)
    return [buf[i, :size] for i in range(count)]


def _tiny(shape: tuple[int, ...], out: U64 | None, values: list[int]) -> U64:
    """The result of a pure-Python tiny-vector path as an array (fresh, or written into ``out``)."""
    if out is None:
        res = np.array(values, dtype=_DT)
        return res if len(shape) == 1 else res.reshape(shape)
    _target(shape, out).reshape(-1)[:] = values
    return out



__all__ = ["BLOCK", "TINY", "U64", "ArithmeticMismatch"]
