"""Run secure-array programs at every party over netsim (virtual time), with or without a dealer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import netsim
from harness import run_nodes

from mpc.context import Context
from protocols.common import Scheme
from protocols.secarray import Session
from protocols.secarray.prep import DEALER, dealer_serve

# (sharing, preprocessing source, bit mode): every combination the layer supports
CONFIGS = [
    ("additive", "dealer", "binary"),
    ("shamir", "dealer", "binary"),
    ("shamir", "dealer", "arith"),
    ("shamir", "dn07", "arith"),
]
IDS = [f"{a}-{b}-{c}" for a, b, c in CONFIGS]


def run(body: Callable[[Session], Awaitable[Any]], *, sharing: str = "shamir", source: str = "dealer",
        bits: str | None = None, n: int = 3, threshold: int | None = None, timeout: float = 20.0,
        raw: bool = False, **session_kw: Any) -> dict[int, Any]:
    """``body(session)`` at parties 1..n (and the dealer's loop at party 0 when ``source`` is
    dealer). Returns every computing party's result; raises the first error unless ``raw``."""
    parties = tuple(range(1, n + 1))
    scheme = Scheme.make(sharing, parties, threshold)
    ids = ((DEALER,) if source == "dealer" else ()) + parties

    async def party(ctx: Context) -> Any:
        if ctx.party_id == DEALER:
            return await dealer_serve(ctx, scheme)
        async with Session(ctx, scheme, source=source, bits=bits, **session_kw) as s:
            return await body(s)

    results = netsim.run(run_nodes(ids, party, timeout=timeout))
    out = {p: results[p] for p in parties}
    if not raw:
        for p in parties:
            if isinstance(out[p], BaseException):
                raise out[p]
    return out


def owned(s: Session, owner: int, value: Any, **kw: Any) -> Any:
    """Party ``owner``'s input ``value`` (the others pass only its public shape)."""
    import numpy as np

    v = np.asarray(value)
    return s.input(owner, v if s.me == owner else None, shape=v.shape, **kw)
