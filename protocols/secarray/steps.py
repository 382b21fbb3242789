"""Steps: generators that yield the requests of one round and receive their results.

A step is ``Generator[list[Request], list[Any], R]``. :func:`par` runs steps side by side, so
their requests share rounds; :func:`done` makes a value a step of zero rounds. The arithmetic
steps here (products, truncation) are written once for both schemes.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, TypeVar

import numpy as np

from mpc.field import GF61, U64, Ring64

from .rounds import Open, Request

R = TypeVar("R")
Step = Generator[list[Request], list[Any], R]


def done(value: R) -> Step[R]:
    return value
    yield  # pragma: no cover  (makes this a generator)


def par(steps: Sequence[Step[Any]]) -> Step[list[Any]]:
    """Run ``steps`` in lock step: round j carries every step's j-th requests."""
    results: list[Any] = [None] * len(steps)
    sends: dict[int, Any] = dict.fromkeys(range(len(steps)))
    active = list(range(len(steps)))
    while True:
        reqs: list[Request] = []
        spans: list[tuple[int, int]] = []
        for i in list(active):
            try:
                got = steps[i].send(sends[i])
            except StopIteration as stop:
                results[i] = stop.value
                active.remove(i)
                continue
            spans.append((i, len(got)))
            reqs.extend(got)
        if not spans:
            return results
        answers = yield reqs
        off = 0
        for i, n in spans:
            sends[i] = answers[off : off + n]
            off += n


class Arith:
    """Local arithmetic on shares of one session: public constants, products, truncation."""

    def __init__(self, scheme: Any, me: int, store: Any) -> None:
        self.scheme = scheme
        self.dom = scheme.domain
        self.me = me
        self.store = store
        self.leader = me == scheme.parties[0]
        self.reduce = scheme.can_reduce_degree

    # -- local ------------------------------------------------------------------------------
    def public(self, value: U64) -> U64:
        """A share of the public ``value``: every Shamir share is the value; additive: the leader's."""
        if self.scheme.kind == "shamir" or self.leader:
            return value.copy()
        return np.zeros_like(value)

    def add_public(self, x: U64, value: np.ndarray | np.generic) -> U64:
        return self.dom.add(x, self.public(np.broadcast_to(value, x.shape).astype(np.uint64)))

    def mul_public(self, x: U64, value: np.ndarray | np.generic) -> U64:
        return self.dom.mul(x, np.array(np.broadcast_to(value, x.shape), dtype=np.uint64))

    def where_public(self, cond: np.ndarray, x: U64, y: U64) -> U64:
        return np.where(cond.astype(bool), x, y)

    # -- products ---------------------------------------------------------------------------
    @staticmethod
    def mul_need(scheme: Any, count: int) -> dict[str, int]:
        return {"double": count} if scheme.can_reduce_degree else {"triple": count}

    def mul(self, x: U64, y: U64) -> Step[U64]:
        """Elementwise ``x·y`` (flat, equal sizes), one round: a degree reduction under Shamir
        with n ≥ 2t + 1 (one opened element), otherwise Beaver (two)."""
        n = x.size
        if n == 0:
            return x.copy()
        if self.reduce:
            d = self.store.take("double", n)
            local = GF61.sub(GF61.mul(x, y), d["2t"])
            (opened,) = yield [Open(local, "2t")]
            return GF61.add(d["t"], opened)
        tr = self.store.take("triple", n)
        masked = np.concatenate([self.dom.sub(x, tr["a"]), self.dom.sub(y, tr["b"])])
        (opened,) = yield [Open(masked)]
        return self.dom.beaver_combine(tr["c"], opened[:n], y, opened[n:], tr["a"])

    # -- truncation (fixed point) -----------------------------------------------------------
    def trunc_z64(self, x: U64, f: int) -> Step[U64]:
        """``x / 2^f`` in Z_2^64 for |x| < 2^62, one round, perfectly hiding (a uniform 64-bit
        mask): with y = x + 2^62 and c = y + r opened, y >> f = (c >> f) − (r >> f) − carry +
        2^(64−f)·ov, where the wrap ov = r_63·(1 − c_63) because y < 2^63. The carry of the low
        f bits is dropped: the result is ⌊x/2^f⌋ or ⌊x/2^f⌋ + 1."""
        m = self.store.take(f"tz{f}", x.size)
        y = self.add_public(x, np.uint64(1 << 62))
        (c,) = yield [Open(Ring64().add(y, m["r"]))]
        ov = np.where((c >> np.uint64(63)) == 0, m["top"], np.uint64(0)) << np.uint64(64 - f)
        pub = (c >> np.uint64(f)) - np.uint64(1 << (62 - f))
        return self.add_public(ov - m["hi"], pub)


__all__ = ["Arith", "Step", "done", "par"]
