"""Non-linear operations on Shareds: comparisons, where, abs, relu, min/max/argmax, sort.

All of them rest on :class:`.compare.Compare` (a sign or zero test by masking with edaBits) and
on :meth:`.bits.Bits.times`, which turns a comparison bit into a selection ``b·(x − y)`` in the
same round as the bit's conversion. Rounds per comparison layer: one opening, ceil(log2 w) AND
layers (w = 32 for 32-bit values in Z_2^64, 61 in GF(p)), one conversion (or selection).
Tournaments (min, max, argmax) take ceil(log2 n) layers; sorting is Batcher's odd–even merge
network, ceil(log2 n)·(ceil(log2 n) + 1)/2 layers.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from .graph import Shared

Arr = Any  # a SecureArray (duck-typed: this module sits below array.py)
from .prep import add_need as _add
from .errors import ShapeError
from .steps import Step


def _diff(x: Arr, other: Any, swap: bool) -> Arr:
    if isinstance(other, Shared):
        return other - x if swap else x - other
    return (-x) + other if swap else x - other


def compare(x: Arr, other: Any, op: str) -> Arr:
    """``x op other`` as a shared 0/1 integer array (op in < <= > >= == !=)."""
    s = x.session
    if op in ("==", "!="):
        z = _diff(x, other, False)
        test, negate = s.cmp.eqz, op == "!="
        need = s.cmp.eqz_need(z.size)
    else:
        z = _diff(x, other, op in (">", "<="))  # a > b ⇔ b − a < 0; a <= b ⇔ ¬(b − a < 0)
        test, negate = s.cmp.ltz, op in ("<=", ">=")
        need = s.cmp.ltz_need(z.size)
    need = _add(need, s.bits.convert_need(z.size))

    def step(v: np.ndarray) -> Step[np.ndarray]:
        bit = yield from test(v.reshape(-1))
        if negate:
            bit = s.bits.xor_pub(bit, np.uint8(1))
        out = yield from s.bits.to_arith(bit)
        return out.reshape(z.shape)

    return z._new(step, [z], z.shape, False, need)


def where(cond: Arr, a: Any, b: Any) -> Arr:
    """``b + cond·(a − b)`` elementwise for a shared 0/1 integer ``cond``: one product, none when
    a and b are public. An integer 0/1 times a fixed-point value needs no truncation."""
    if cond.fixed:
        raise ShapeError("where() takes a 0/1 integer condition (a comparison's result)")
    diff: Any
    if isinstance(a, Shared):
        diff = a - b
    elif isinstance(b, Shared):
        diff = -cast(Any, b) + a
    else:
        diff = np.asarray(a) - np.asarray(b)
    return cond * diff + b


def _select_bit(x: Arr, op: str) -> Arr:
    """x − 2·[x<0]·x (abs) or x − [x<0]·x (relu), the selection fused with the conversion."""
    s = x.session
    m = x.size
    need = _add(s.cmp.ltz_need(m), s.bits.convert_need(m, width=1))

    def step(v: np.ndarray) -> Step[np.ndarray]:
        flat = v.reshape(-1)
        neg = yield from s.cmp.ltz(flat)
        bx = yield from s.bits.times(neg, flat[None, :])
        bx = bx[0]
        out = s.dom.sub(flat, s.dom.add(bx, bx) if op == "abs" else bx)
        return out.reshape(x.shape)

    return x._new(step, [x], x.shape, x.fixed, need)


def absolute(x: Arr) -> Arr:
    return _select_bit(x, "abs")


def relu(x: Arr) -> Arr:
    return _select_bit(x, "relu")


def _rows(x: Arr, axis: int) -> tuple[Shared, tuple[int, ...]]:
    ax = axis % x.ndim
    moved = x if ax == x.ndim - 1 else _moveaxis(x, ax)
    rest = moved.shape[:-1]
    return moved.reshape(int(np.prod(rest)), moved.shape[-1]), rest


def _moveaxis(x: Arr, ax: int) -> Arr:
    shape = tuple(np.moveaxis(np.empty(x.shape, dtype=np.uint8), ax, -1).shape)
    return x._new(lambda v: np.array(np.moveaxis(v, ax, -1)), [x], shape, x.fixed)


def _tournament_need(s: Any, rows: int, n: int, width: int) -> dict[str, int]:
    need: dict[str, int] = {}
    while n > 1:
        h = n // 2
        need = _add(need, _add(s.cmp.ltz_need(rows * h), s.bits.convert_need(rows * h, width=width)))
        n -= h
    return need


def extreme(x: Arr, axis: int, which: str, index: bool = False) -> tuple[Arr, Arr]:
    """Max or min along ``axis`` (and the index of the first one), a log-depth tournament: each
    layer compares neighbours and keeps the winner with one fused selection."""
    if x.ndim == 0 or x.shape[axis] == 0:
        raise ShapeError("max/min/argmax of an empty axis")
    s = x.session
    rows, rest = _rows(x, axis)
    M, n = rows.shape
    width = 2 if index else 1
    need = _tournament_need(s, M, n, width)
    dom = s.dom

    def step(v: np.ndarray) -> Step[tuple[np.ndarray, np.ndarray]]:
        idx = s.arith.public(np.broadcast_to(np.arange(n, dtype=np.uint64), (M, n)).copy())
        while v.shape[1] > 1:
            h = v.shape[1] // 2
            a, b = v[:, 0 : 2 * h : 2], v[:, 1 : 2 * h : 2]
            z = dom.sub(a, b) if which == "max" else dom.sub(b, a)  # [a < b] (max) / [b < a] (min)
            bit = yield from s.cmp.ltz(np.ascontiguousarray(z).reshape(-1))
            deltas = [dom.sub(b, a).reshape(-1)]
            if index:
                deltas.append(dom.sub(idx[:, 1 : 2 * h : 2], idx[:, 0 : 2 * h : 2]).reshape(-1))
            prod = yield from s.bits.times(bit, np.stack(deltas))
            v = np.concatenate([dom.add(a, prod[0].reshape(M, h)), v[:, 2 * h :]], axis=1)
            if index:
                ia = idx[:, 0 : 2 * h : 2]
                idx = np.concatenate([dom.add(ia, prod[1].reshape(M, h)), idx[:, 2 * h :]], axis=1)
        return v[:, 0].reshape(rest), idx[:, 0].reshape(rest)

    both = rows._new(step, [rows], rest, x.fixed, need)
    value = both._new(lambda pair: pair[0], [both], rest, x.fixed)
    where_ = both._new(lambda pair: pair[1], [both], rest, False)
    return value, where_


def merge_layers(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Comparator layers of Batcher's odd–even merge sort for n keys (pairs lo < hi); built for
    the next power of two, then comparators reaching past n dropped (as if padded with +∞)."""
    size = 1 << max(0, (n - 1).bit_length())
    layers = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            starts = np.arange(k % p, size - k, 2 * k)[:, None]
            offs = np.arange(k)[None, :]
            lo = starts + offs
            keep = (offs < size - starts - k) & (lo // (2 * p) == (lo + k) // (2 * p))
            a = np.sort(lo[keep])
            b = a + k
            ok = b < n
            if ok.any():
                layers.append((a[ok], b[ok]))
            k //= 2
        p *= 2
    return layers


def sort(x: Arr, axis: int = -1) -> Arr:
    """Ascending sort along ``axis`` with a sorting network (data-independent comparisons)."""
    s = x.session
    rows, rest = _rows(x, axis)
    M, n = rows.shape
    layers = merge_layers(n)
    need: dict[str, int] = {}
    for a, _ in layers:
        need = _add(need, _add(s.cmp.ltz_need(M * a.size), s.bits.convert_need(M * a.size, width=1)))
    dom = s.dom

    def step(v: np.ndarray) -> Step[np.ndarray]:
        v = v.copy()
        for lo, hi in layers:
            a, b = v[:, lo], v[:, hi]
            bit = yield from s.cmp.ltz(dom.sub(b, a).reshape(-1))  # [b < a]: swap
            (d,) = yield from s.bits.times(bit, dom.sub(b, a).reshape(1, -1))
            d = d.reshape(M, lo.size)
            v[:, lo] = dom.add(a, d)
            v[:, hi] = dom.sub(b, d)
        return v

    out = rows._new(step, [rows], rows.shape, x.fixed, need)
    moved = out.reshape(*rest, n)
    ax = axis % x.ndim
    if ax == x.ndim - 1:
        return moved
    back = tuple(np.moveaxis(np.empty(moved.shape, dtype=np.uint8), -1, ax).shape)
    return moved._new(lambda v: np.array(np.moveaxis(v, -1, ax)), [moved], back, x.fixed)


def shift_right(a: Arr, bits: int) -> Arr:
    """An integer array divided by 2^bits (⌊·⌋ or one above), read as fixed point: the session's
    truncation with a mask of ``bits`` low bits (:meth:`.compare.Compare.trunc`)."""
    s = a.session

    def step(v: np.ndarray) -> Step[np.ndarray]:
        out = yield from s.cmp.trunc(v.reshape(-1), bits)
        return out.reshape(a.shape)

    return a._new(step, [a], a.shape, True, s.cmp.trunc_need(a.size, bits))


NEWTON_STEPS = 3  # the initial error 0.086 squares each step: 7e-3, 5e-5, 3e-9 < 2^-16


def _newton(y: Arr) -> tuple[Arr, Arr, Arr]:
    """(r, c, sign) with 1/y = sign·r·c·2^(f−K) and r ≈ 1/w for the normalised w ∈ [1/2, 1).

    Catrina–Saxena (FC 2010): with v = |y|·2^f < 2^K (K = k − 1) and the one-hot position h_j of
    its top bit (one comparison layer against every power of two), c = Σ h_j·2^(K−1−j) scales
    v into [2^(K−1), 2^K): w = v·c/2^K. Newton's r ← r·(2 − w·r) from r = 2.9142 − 2w reaches
    2^−16 in three steps."""
    s = y.session
    K, f = s.value_bits - 1, s.frac_bits
    m = y.size
    flat = y.reshape(m)
    v = abs(flat)._view(False)
    at_least = v.reshape(m, 1).broadcast_to(m, K) >= np.broadcast_to(1 << np.arange(K, dtype=np.int64), (m, K))
    onehot = at_least[:, : K - 1] - at_least[:, 1:]
    weights = np.broadcast_to(1 << (K - 1 - np.arange(K - 1, dtype=np.int64)), (m, K - 1))
    scale = (onehot * weights).sum(axis=1) + at_least[:, K - 1]  # v ≥ 2^(K−1): scale 1
    w = shift_right(v * scale, K - f)
    r = (w * -2.0) + 2.9142
    for _ in range(NEWTON_STEPS):
        r = r * ((w * r) * -1.0 + 2.0)
    return r, scale, (flat < 0) * -2 + 1


def divide(x: Any, y: Arr) -> Arr:
    """x / y for a shared fixed-point divisor y ≠ 0 (x shared or public): x·r first, at full
    precision, then the exact power-of-two rescaling by c·2^(f−K) and the sign. Needs
    |x/y| < 2^(k−1−f); y = 0 gives a meaningless result (not detected)."""
    y = y if y.fixed else y.to_fixed()
    s = y.session
    K, f = s.value_bits - 1, s.frac_bits
    r, scale, sign = _newton(y)
    if isinstance(x, Shared):
        if x.shape != y.shape:
            raise ShapeError(f"division of shapes {x.shape} and {y.shape}")
        xr = r * cast(Any, x).to_fixed().reshape(y.size)
    else:
        xr = r * np.broadcast_to(np.asarray(x, dtype=np.float64), y.shape).reshape(-1)
    q = shift_right(xr._view(False) * scale, K - f)
    return (q * sign).reshape(*y.shape)


def reciprocal(y: Arr) -> Arr:
    return divide(np.float64(1.0), y)


__all__ = ["absolute", "compare", "divide", "reciprocal", "shift_right", "extreme", "merge_layers", "relu", "sort", "where"]
