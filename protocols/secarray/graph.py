"""The engine under a session: scheme, preprocessing source, bit mode and the round scheduler.

Operations on :class:`~.array.SecureArray` build a graph lazily; nothing is sent until a value
is needed (:meth:`Session.reveal`, :meth:`Session.run`). Evaluation then runs every pending
operation in lock step: each round collects the requests of every operation that waits on the
network and sends ONE message per peer (:mod:`.rounds`). Independent operations therefore share
rounds, and a program's round count is its depth, not its length. Reveals issued concurrently
(``asyncio.gather(a.reveal(), b.reveal())``) join one evaluation: the first schedules it a few
event-loop turns ahead, so the others can join; membership is fixed when it starts, the same
at every party because it depends only on the program, never on message timing.

Before the online rounds, the session adds up the preprocessing the pending operations declare
(counts follow from public shapes) and fetches what the store lacks: one round trip to the dealer
(party 0), or the dealer-free generation of :mod:`.dealerfree`.
"""

from __future__ import annotations

import asyncio
import heapq
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mpc.context import Context
from mpc.errors import ConfigError
from mpc.fixedpoint import encode_fixed

from ..common import Scheme
from .bits import Bits
from .compare import Compare
from .errors import RangeError, SessionMismatch, ShapeError
from .prep import Need, Store, add_need, dealer_done, dealer_fetch
from .rounds import Open, Request, Reveal, exchange
from .steps import Arith, Step


SOURCES = ("dealer", "dn07")
HOPS = 3  # event-loop turns a scheduled evaluation waits for concurrent reveals to join


class _Node:
    __slots__ = ("fn", "id", "inputs", "need", "value")

    def __init__(self, nid: int, fn: Callable[..., Any] | None, inputs: tuple[_Node, ...], need: Need,
                 value: Any = None) -> None:
        self.id = nid
        self.fn = fn
        self.inputs = inputs
        self.need = need
        self.value = value

    def __lt__(self, other: _Node) -> bool:
        return self.id < other.id


class Engine:
    """Shared arithmetic among ``scheme.parties`` over ``ctx``.

    ``source``: ``dealer`` (a trusted dealer, party 0, deals everything; bits are XOR-shared and
    packed) or ``dn07`` (dealer-free, Shamir with n ≥ 2t + 1; bits are arithmetic).
    ``value_bits`` k: integers (and fixed-point encodings) satisfy |v| < 2^(k−1); comparisons
    are exact in that range. ``frac_bits`` f: reals are encoded as round(x·2^f).
    """

    def __init__(self, ctx: Context, scheme: Scheme, *, source: str = "dealer", bits: str | None = None,
                 value_bits: int = 32, frac_bits: int = 16, input_parties: Sequence[int] | None = None) -> None:
        if ctx.party_id not in scheme.parties:
            raise ConfigError(f"party {ctx.party_id} is not a computing party of this session")
        if source not in SOURCES:
            raise ConfigError(f"unknown preprocessing source {source!r} ({' | '.join(SOURCES)})")
        if source == "dn07" and not scheme.can_reduce_degree:
            raise ConfigError("dealer-free preprocessing needs Shamir sharing with n >= 2t + 1")
        mode = bits or ("binary" if source == "dealer" else "arith")
        if mode not in ("binary", "arith") or (source == "dn07" and mode != "arith"):
            raise ConfigError(f"bit mode {mode!r} is not available with {source!r} preprocessing")
        if mode == "arith" and scheme.kind == "additive":
            raise ConfigError("arithmetic bits need Shamir sharing (Z_2^64 has no field to compute in)")
        top = 59 if scheme.kind == "shamir" else 62
        if not 2 <= value_bits <= top:
            raise ConfigError(f"value_bits must be in 2..{top} for {scheme.kind} sharing")
        if not 0 < frac_bits < value_bits - 1:
            raise ConfigError(f"frac_bits must be in 1..{value_bits - 2}")
        self.ctx, self.scheme, self.source, self.mode = ctx, scheme, source, mode
        self.value_bits, self.frac_bits = value_bits, frac_bits
        self.me = ctx.party_id
        self.input_parties = tuple(scheme.parties if input_parties is None else input_parties)
        self.store = Store()
        self.arith = Arith(scheme, self.me, self.store)
        self.bits = Bits(self.arith, mode)
        self.cmp = Compare(self.arith, self.bits, value_bits)
        self.rounds = 0
        self.pre_rounds = 0
        self._pre_requests = 0
        self._ids = 0
        self._lock = asyncio.Lock()
        self._batch: list[_Node] = []
        self._batch_done: asyncio.Future[None] | None = None
        self._traffic0 = dict(ctx.stats())
        self._closed = False
        self.meta: dict[str, Any] = {}  # a program's own figures (numbers), reported with the run
        self.options: Mapping[str, Any] = {}  # a scenario program's public options

    @property
    def dom(self) -> Any:
        return self.scheme.domain

    # -- graph ------------------------------------------------------------------------------
    def node(self, fn: Callable[..., Any], inputs: Sequence[_Node], need: Mapping[str, int] | None = None) -> _Node:
        self._ids += 1
        return _Node(self._ids, fn, tuple(inputs), dict(need or {}))

    def constant(self, value: Any) -> _Node:
        self._ids += 1
        return _Node(self._ids, None, (), {}, value)

    def check(self, other: Shared) -> None:
        if other.session is not self:
            raise SessionMismatch("operands belong to different sessions")

    # -- encoding ---------------------------------------------------------------------------
    def encode(self, value: Any, fixed: bool) -> np.ndarray:
        """Public numbers to domain elements, range-checked against value_bits."""
        v = np.asarray(value)
        if fixed:
            enc = encode_fixed(v, self.frac_bits)
        elif v.dtype.kind in "iub":
            enc = v.astype(np.int64)
        elif v.dtype.kind == "f" and np.all(np.isfinite(v)) and np.all(v == np.rint(v)):
            enc = v.astype(np.int64)
        else:
            raise RangeError(f"integer arrays take integers, got {v.dtype} (use fixed=True for reals)")
        bound = 1 << (self.value_bits - 1)
        if enc.size and (int(enc.max()) >= bound or int(enc.min()) <= -bound):
            raise RangeError(f"value out of the session's range |v| < 2^{self.value_bits - 1}"
                             + (f" (encoded with {self.frac_bits} fractional bits)" if fixed else ""))
        return self.dom.encode(enc)

    def decode(self, opened: np.ndarray, fixed: bool) -> np.ndarray:
        signed = self.dom.decode(opened)
        return np.ldexp(signed.astype(np.float64), -self.frac_bits) if fixed else signed

    # -- evaluation -------------------------------------------------------------------------
    def _pending(self, targets: Sequence[_Node]) -> list[_Node]:
        seen: dict[int, _Node] = {}
        stack = [n for n in targets if n.fn is not None]
        while stack:
            n = stack.pop()
            if n.id in seen:
                continue
            seen[n.id] = n
            stack.extend(i for i in n.inputs if i.fn is not None and i.id not in seen)
        return sorted(seen.values())

    def need_of(self, nodes: Sequence[_Node]) -> Need:
        total: Need = {}
        for n in nodes:
            total = add_need(total, n.need)
        return total

    async def _ensure(self, need: Need) -> None:
        missing = self.store.missing(need)
        if not missing:
            return
        if self.source == "dealer":
            items = await dealer_fetch(self.ctx, self.scheme, missing, self.mode, self._pre_requests)
            self._pre_requests += 1
            self.pre_rounds += 1
        else:
            from .dealerfree import generate

            items, rounds = await generate(self.ctx.child(f"pre{self._pre_requests}"), self.scheme, missing)
            self._pre_requests += 1
            self.pre_rounds += rounds
        self.store.add(items, missing)

    async def _evaluate(self, targets: Sequence[_Node]) -> None:
        nodes = self._pending(targets)
        if not nodes:
            return
        await self._ensure(self.need_of(nodes))
        waiting = {n.id: sum(1 for i in n.inputs if i.fn is not None) for n in nodes}
        users: dict[int, list[_Node]] = {}
        for n in nodes:
            for i in n.inputs:
                if i.fn is not None:
                    users.setdefault(i.id, []).append(n)
        ready = [n for n in nodes if waiting[n.id] == 0]
        heapq.heapify(ready)
        active: dict[int, tuple[_Node, Step[Any], list[Request]]] = {}

        def finish(n: _Node, value: Any) -> None:
            n.value, n.fn, n.inputs = value, None, ()
            for u in users.get(n.id, ()):
                waiting[u.id] -= 1
                if waiting[u.id] == 0:
                    heapq.heappush(ready, u)

        def advance(n: _Node, gen: Step[Any], answer: Any) -> None:
            try:
                reqs = gen.send(answer)
            except StopIteration as stop:
                finish(n, stop.value)
            else:
                active[n.id] = (n, gen, reqs)

        while True:
            while ready:
                n = heapq.heappop(ready)
                assert n.fn is not None  # ready nodes are pending by construction
                out = n.fn(*(i.value for i in n.inputs))
                if isinstance(out, types.GeneratorType):
                    advance(n, out, None)
                else:
                    finish(n, out)
            if not active:
                return
            order = sorted(active)
            reqs = [r for k in order for r in active[k][2]]
            answers = await exchange(self.ctx, self.scheme, f"r{self.rounds}", reqs) if reqs else []
            if reqs:
                self.rounds += 1
            off = 0
            for k in order:
                n, gen, mine = active.pop(k)
                advance(n, gen, answers[off : off + len(mine)])
                off += len(mine)

    async def run(self, *arrays: Shared) -> None:
        """Evaluate ``arrays`` (and whatever else is pending with them) without revealing."""
        for a in arrays:
            self.check(a)
        await self._join([a.node for a in arrays])

    async def _join(self, nodes: Sequence[_Node]) -> None:
        if self._closed:
            raise ConfigError("the session is closed")
        loop = asyncio.get_running_loop()
        self._batch.extend(nodes)
        if self._batch_done is None:
            fut: asyncio.Future[None] = loop.create_future()
            self._batch_done = fut
            self._kick(HOPS, fut)
        await asyncio.shield(self._batch_done)

    def _kick(self, hops: int, fut: asyncio.Future[None]) -> None:
        loop = asyncio.get_running_loop()
        if hops:
            loop.call_soon(self._kick, hops - 1, fut)
            return
        batch, self._batch, self._batch_done = self._batch, [], None
        loop.create_task(self._flush(batch, fut))

    async def _flush(self, batch: list[_Node], fut: asyncio.Future[None]) -> None:
        try:
            async with self._lock:
                await self._evaluate(batch)
        except BaseException as exc:  # every waiter of this batch sees the failure
            if not fut.done():
                fut.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if not fut.done():
                fut.set_result(None)

    async def prepare(self, *arrays: Shared) -> Need:
        """Fetch the preprocessing that evaluating ``arrays`` needs, ahead of the online phase."""
        need = self.need_of(self._pending([a.node for a in arrays]))
        async with self._lock:
            await self._ensure(need)
        return need

    async def reveal(self, *arrays: Shared, to: Sequence[int] | None = None) -> Any:
        """Open ``arrays`` to every party (or to ``to``); one array → one numpy array, else a list.
        Parties outside ``to`` get ``None``."""
        nodes = [reveal_node(a, None if to is None else tuple(to)) for a in arrays]
        await self._join(nodes)
        outs = [n.value for n in nodes]
        return outs[0] if len(outs) == 1 else outs

    async def close(self) -> None:
        """End the session (tells the dealer no more requests will come)."""
        if self._closed:
            return
        async with self._lock:
            self._closed = True
            if self.source == "dealer":
                await dealer_done(self.ctx, self._pre_requests)

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if exc[0] is None:
            await self.close()

    def stats(self) -> dict[str, Any]:
        now = self.ctx.stats()
        return {"rounds": self.rounds, "pre_rounds": self.pre_rounds,
                "messages_sent": now.get("messages_sent", 0) - self._traffic0.get("messages_sent", 0),
                "bytes_sent": now.get("bytes_sent", 0) - self._traffic0.get("bytes_sent", 0),
                "preprocessing": dict(self.store.consumed)}


class Shared:
    """What every shared array is to the engine: a graph node of a session, a public shape and
    kind (fixed point or integer). :class:`~.array.SecureArray` adds the operators."""

    __slots__ = ("fixed", "node", "session", "shape")

    def __init__(self, session: Engine, node: _Node, shape: tuple[int, ...], fixed: bool) -> None:
        self.session, self.node, self.shape, self.fixed = session, node, tuple(shape), fixed

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def _new(self, fn: Any, inputs: Sequence[Shared], shape: tuple[int, ...], fixed: bool,
             need: Mapping[str, int] | None = None) -> Any:
        """A new array of this array's class computed by ``fn`` from ``inputs``."""
        s = self.session
        return type(self)(s, s.node(fn, [x.node for x in inputs], need), shape, fixed)

    def _view(self, fixed: bool) -> Any:
        """The same node read as another kind (no computation)."""
        return type(self)(self.session, self.node, self.shape, fixed)


def reveal_node(a: Shared, to: tuple[int, ...] | None) -> _Node:
    s = a.session
    s.check(a)
    if to is not None:
        bad = [p for p in to if p not in s.scheme.parties]
        if bad:
            raise ShapeError(f"cannot reveal to {bad}: not computing parties")

    def reveal(x: np.ndarray) -> Step[Any]:
        flat = np.ascontiguousarray(x).reshape(-1)
        (opened,) = yield [Open(flat) if to is None else Reveal(flat, to)]
        return None if opened is None else s.decode(opened, a.fixed).reshape(a.shape)

    return s.node(reveal, [a.node])



__all__ = ["HOPS", "SOURCES", "Engine", "Shared", "reveal_node"]
