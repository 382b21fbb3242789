"""SecureArray: a numpy-like shared array of one session (integers, or fixed-point reals).

Every operation returns a new array at once and only records what to compute; the session
evaluates pending work in batched rounds when a value is revealed (see :mod:`.session`).
Local operations (+, −, public scaling, indexing, reshapes, sums) cost no round.

Shapes are public. Shared operands must have equal shapes and kinds (integer vs fixed point):
nothing broadcasts silently between shared arrays; a public scalar or array broadcasts to the
shared array's shape. Mixing sessions raises :class:`SessionMismatch`, mixing shapes or kinds
:class:`ShapeError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import nonlinear
from .errors import ShapeError
from .graph import Engine, Shared
from .prep import add_need as _add
from .rounds import Open
from .steps import Arith, Step


def _sum(dom: Any, a: np.ndarray, axis: int) -> np.ndarray:
    moved = np.moveaxis(a, axis, 0)
    rest = moved.shape[1:]
    if moved.shape[0] == 0:
        return np.zeros(rest, dtype=np.uint64)
    flat = np.ascontiguousarray(moved).reshape(moved.shape[0], -1)
    return np.asarray(dom.sum(flat, axis=0), dtype=np.uint64).reshape(rest)


def local_matmul(dom: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share-level ``a @ b`` for 2-D operands (either may be public)."""
    if dom.modulus == 1 << 64:
        return np.matmul(a, b)
    m, k = a.shape
    n = b.shape[1]
    prod = dom.mul(np.ascontiguousarray(np.broadcast_to(a[:, :, None], (m, k, n))),
                   np.ascontiguousarray(np.broadcast_to(b[None, :, :], (m, k, n))))
    return _sum(dom, prod, 1)


def _shape_of(shape: tuple[int, ...], key: Any) -> tuple[int, ...]:
    return np.broadcast_to(np.empty((), dtype=np.uint8), shape)[key].shape


class SecureArray(Shared):
    """A shared array; build expressions with numpy-style operators, then ``await x.reveal()``."""

    __slots__ = ()
    __array_priority__ = 1000  # numpy defers reflected operators to this class

    # -- basics -----------------------------------------------------------------------------
    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d secure array")
        return self.shape[0]

    def __repr__(self) -> str:
        kind = "fixed" if self.fixed else "int"
        return f"SecureArray(shape={self.shape}, {kind}, party {self.session.me})"

    def __bool__(self) -> bool:
        raise TypeError("a secure array has no truth value; reveal it, or use where()")

    def _shared(self, other: SecureArray, what: str) -> None:
        self.session.check(other)
        if other.shape != self.shape:
            raise ShapeError(f"{what} of shapes {self.shape} and {other.shape} (shared arrays never broadcast)")
        if other.fixed != self.fixed:
            raise ShapeError(f"{what} of an integer and a fixed-point array; convert with to_fixed()")

    def _public(self, value: Any, fixed: bool | None = None) -> np.ndarray:
        enc = self.session.encode(value, self.fixed if fixed is None else fixed)
        try:
            return np.array(np.broadcast_to(enc, self.shape))
        except ValueError:
            raise ShapeError(f"public operand of shape {enc.shape} does not fit {self.shape}") from None

    # -- linear, local ----------------------------------------------------------------------
    def __add__(self, other: Any) -> SecureArray:
        dom = self.session.dom
        if isinstance(other, SecureArray):
            self._shared(other, "sum")
            return self._new(dom.add, [self, other], self.shape, self.fixed)
        pub = self._public(other)
        ar = self.session.arith
        return self._new(lambda x: ar.add_public(x, pub), [self], self.shape, self.fixed)

    __radd__ = __add__

    def __neg__(self) -> SecureArray:
        return self._new(self.session.dom.neg, [self], self.shape, self.fixed)

    def __sub__(self, other: Any) -> SecureArray:
        if isinstance(other, SecureArray):
            self._shared(other, "difference")
            return self._new(self.session.dom.sub, [self, other], self.shape, self.fixed)
        return self + (-np.asarray(other))

    def __rsub__(self, other: Any) -> SecureArray:
        return (-self) + other

    def to_fixed(self) -> SecureArray:
        """An integer array as fixed point (a local scaling by 2^f)."""
        if self.fixed:
            return self
        ar, f = self.session.arith, self.session.frac_bits
        return self._new(lambda x: ar.mul_public(x, np.uint64(1 << f)), [self], self.shape, True)

    # -- products ---------------------------------------------------------------------------
    def _trunc_step(self, x: np.ndarray) -> Step[np.ndarray]:
        s = self.session
        out = yield from s.cmp.trunc(x.reshape(-1), s.frac_bits)
        return out.reshape(x.shape)

    def _trunc_need(self, m: int) -> dict[str, int]:
        s = self.session
        return s.cmp.trunc_need(m, s.frac_bits)

    def __mul__(self, other: Any) -> SecureArray:
        """Products: fixed × fixed is truncated once (f bits); integer × fixed (a 0/1 selector,
        a count) and anything × a public integer are exact; integer × a public float (numpy
        dtype float) is fixed point, exact."""
        s = self.session
        if isinstance(other, SecureArray):
            s.check(other)
            if other.shape != self.shape:
                raise ShapeError(f"product of shapes {self.shape} and {other.shape} (shared arrays never broadcast)")
            both, fixed = self.fixed and other.fixed, self.fixed or other.fixed
            need = Arith.mul_need(s.scheme, self.size)
            if both:
                need = _add(need, self._trunc_need(self.size))

            def product(x: np.ndarray, y: np.ndarray) -> Step[np.ndarray]:
                z = yield from s.arith.mul(x.reshape(-1), y.reshape(-1))
                if both:
                    z = yield from s.cmp.trunc(z, s.frac_bits)
                return z.reshape(self.shape)

            return self._new(product, [self, other], self.shape, fixed, need)
        v = np.asarray(other)
        if v.dtype.kind in "iub" or (self.fixed and bool(np.all(v == np.rint(v)))):
            pub = self._public(v.astype(np.int64), fixed=False)
            return self._new(lambda x: s.arith.mul_public(x, pub), [self], self.shape, self.fixed)
        pub = self._public(v, fixed=True)
        if not self.fixed:
            return self._new(lambda x: s.arith.mul_public(x, pub), [self], self.shape, True)
        return self._new(lambda x: self._trunc_step(s.arith.mul_public(x, pub)), [self], self.shape, True,
                         self._trunc_need(self.size))

    __rmul__ = __mul__

    def __rtruediv__(self, other: Any) -> SecureArray:
        return nonlinear.divide(other, self)

    def __truediv__(self, other: Any) -> SecureArray:
        if isinstance(other, SecureArray):
            return nonlinear.divide(self, other)
        d = np.asarray(other, dtype=np.float64)
        if np.any(d == 0):
            raise ZeroDivisionError("division by a public zero")
        return self.to_fixed() * (1.0 / d)

    def __matmul__(self, other: Any) -> SecureArray:
        s = self.session
        a2 = self.shape if self.ndim == 2 else (1, *self.shape)
        if isinstance(other, SecureArray):
            s.check(other)
            if other.fixed != self.fixed:
                raise ShapeError("matmul of an integer and a fixed-point array")
            b_shape = other.shape
        else:
            pub = s.encode(other, self.fixed)
            b_shape = pub.shape
        b2 = b_shape if len(b_shape) == 2 else (*b_shape, 1)
        if self.ndim not in (1, 2) or len(b_shape) not in (1, 2) or a2[1] != b2[0]:
            raise ShapeError(f"matmul of shapes {self.shape} and {b_shape}")
        out = tuple(d for d, keep in ((a2[0], self.ndim == 2), (b2[1], len(b_shape) == 2)) if keep)
        m, k, n = a2[0], a2[1], b2[1]
        fixed = self.fixed
        if not isinstance(other, SecureArray):
            def by_public(x: np.ndarray) -> Any:
                z = local_matmul(s.dom, x.reshape(a2), pub.reshape(b2)).reshape(out)
                return self._trunc_step(z) if fixed else z

            return self._new(by_public, [self], out, fixed, self._trunc_need(m * n) if fixed else None)
        need = {"double": m * n} if s.scheme.can_reduce_degree else {"triple": m * k * n}
        if fixed:
            need = _add(need, self._trunc_need(m * n))

        def matmul(x: np.ndarray, y: np.ndarray) -> Step[np.ndarray]:
            z = yield from _shared_matmul(s, x.reshape(a2), y.reshape(b2))
            if fixed:
                z = yield from s.cmp.trunc(z.reshape(-1), s.frac_bits)
            return z.reshape(out)

        return self._new(matmul, [self, other], out, fixed, need)

    def __rmatmul__(self, other: Any) -> SecureArray:
        o = np.asarray(other)
        if self.ndim == 1:
            return self @ o.T
        res = self.T @ o.T
        return res.T if res.ndim == 2 else res

    def dot(self, other: Any) -> SecureArray:
        return self @ other

    # -- shape, local -----------------------------------------------------------------------
    def __getitem__(self, key: Any) -> SecureArray:
        shape = _shape_of(self.shape, key)
        return self._new(lambda x: np.array(x[key], dtype=np.uint64), [self], shape, self.fixed)

    def reshape(self, *shape: Any) -> SecureArray:
        new = np.empty(self.shape, dtype=np.uint8).reshape(*shape).shape
        return self._new(lambda x: x.reshape(new), [self], new, self.fixed)

    def broadcast_to(self, *shape: Any) -> SecureArray:
        """numpy broadcasting, explicitly (shared operands never broadcast on their own)."""
        new = np.broadcast_to(np.empty(self.shape, dtype=np.uint8), shape[0] if len(shape) == 1 else shape).shape
        return self._new(lambda x: np.array(np.broadcast_to(x, new)), [self], new, self.fixed)

    def flatten(self) -> SecureArray:
        return self.reshape(-1)

    @property
    def T(self) -> SecureArray:  # noqa: N802 (numpy's name)
        return self._new(lambda x: np.array(x.T), [self], self.shape[::-1], self.fixed)

    def sum(self, axis: int | None = None) -> SecureArray:
        dom = self.session.dom
        if axis is None:
            return self._new(lambda x: _sum(dom, x.reshape(-1), 0), [self], (), self.fixed)
        ax = axis % self.ndim
        shape = self.shape[:ax] + self.shape[ax + 1 :]
        return self._new(lambda x: _sum(dom, x, ax), [self], shape, self.fixed)

    def mean(self, axis: int | None = None) -> SecureArray:
        n = self.size if axis is None else self.shape[axis]
        return self.sum(axis) / n

    # -- comparisons and friends (see nonlinear.py) -----------------------------------------
    def _cmp(self, other: Any, op: str) -> SecureArray:
        return nonlinear.compare(self, other, op)

    def __lt__(self, other: Any) -> SecureArray:
        return self._cmp(other, "<")

    def __le__(self, other: Any) -> SecureArray:
        return self._cmp(other, "<=")

    def __gt__(self, other: Any) -> SecureArray:
        return self._cmp(other, ">")

    def __ge__(self, other: Any) -> SecureArray:
        return self._cmp(other, ">=")

    def __eq__(self, other: Any) -> SecureArray:  # type: ignore[override]
        return self._cmp(other, "==")

    def __ne__(self, other: Any) -> SecureArray:  # type: ignore[override]
        return self._cmp(other, "!=")

    __hash__ = None  # type: ignore[assignment]

    def __abs__(self) -> SecureArray:
        return nonlinear.absolute(self)

    def relu(self) -> SecureArray:
        return nonlinear.relu(self)

    def max(self, axis: int = -1) -> SecureArray:
        return nonlinear.extreme(self, axis, "max")[0]

    def min(self, axis: int = -1) -> SecureArray:
        return nonlinear.extreme(self, axis, "min")[0]

    def argmax(self, axis: int = -1) -> SecureArray:
        return nonlinear.extreme(self, axis, "max", index=True)[1]

    def argmin(self, axis: int = -1) -> SecureArray:
        return nonlinear.extreme(self, axis, "min", index=True)[1]

    def sort(self, axis: int = -1) -> SecureArray:
        return nonlinear.sort(self, axis)

    async def reveal(self, to: Sequence[int] | None = None) -> Any:
        return await self.session.reveal(self, to=to)


def _shared_matmul(s: Engine, a: np.ndarray, b: np.ndarray) -> Step[np.ndarray]:
    """Shared (m, k) @ (k, n): Shamir with n ≥ 2t + 1 reduces the local degree-2t matrix product
    once per output (m·n elements opened); otherwise an elementwise Beaver product per term."""
    m, k = a.shape
    n = b.shape[1]
    if s.scheme.can_reduce_degree:
        d = s.store.take("double", m * n)
        local = s.dom.sub(local_matmul(s.dom, a, b).reshape(-1), d["2t"])
        (opened,) = yield [Open(local, "2t")]
        return s.dom.add(d["t"], opened).reshape(m, n)
    x = np.ascontiguousarray(np.broadcast_to(a[:, :, None], (m, k, n))).reshape(-1)
    y = np.ascontiguousarray(np.broadcast_to(b[None, :, :], (m, k, n))).reshape(-1)
    prod = yield from s.arith.mul(x, y)
    return _sum(s.dom, prod.reshape(m, k, n), 1)


def concatenate(arrays: Sequence[SecureArray], axis: int = 0) -> SecureArray:
    first = arrays[0]
    for a in arrays[1:]:
        first.session.check(a)
        if a.fixed != first.fixed:
            raise ShapeError("concatenate of integer and fixed-point arrays")
    shape = np.concatenate([np.empty(a.shape, dtype=np.uint8) for a in arrays], axis=axis).shape
    return first._new(lambda *xs: np.concatenate(xs, axis=axis), list(arrays), shape, first.fixed)


def stack(arrays: Sequence[SecureArray], axis: int = 0) -> SecureArray:
    return concatenate([a.reshape(1, *a.shape) if axis == 0 else a.reshape(*a.shape, 1) for a in arrays],
                       axis=0 if axis == 0 else -1)


__all__ = ["SecureArray", "concatenate", "local_matmul", "stack"]
