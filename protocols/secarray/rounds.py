"""One communication round of a session: every pending opening, input and reveal in ONE message
per party per peer.

Steps of an operation are generators that yield a list of requests and receive the list of
results (:class:`Open` → the opened values, :class:`Input` → this party's share, :class:`Reveal`
→ the value or ``None``). The session collects the requests of every operation that is waiting,
calls :func:`exchange` once, and hands the results back, so independent operations share rounds.

Wire form of one message (keys present only when used): ``t`` — degree-t (or additive) shares
opened to everyone; ``2t`` — degree-2t Shamir shares (degree reduction); ``x`` — XOR shares of
bits, packed; ``i`` — input shares from this input owner to the receiver; ``o`` — shares of
values revealed to the receiver only. Sizes follow from the program (public); a message of other
keys, dtypes or sizes is a :class:`ProtocolError` naming the sender.

Quorum: Shamir openings need t + 1 answers (2t + 1 with a degree reduction in the round);
additive sharing, XOR bits and inputs need every party concerned (:class:`PartyDropped`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mpc.context import Context
from mpc.errors import PartyDropped, ProtocolError, QuorumLost
from mpc.field import GF61, U64
from mpc.sharing import lagrange_at_zero, reconstruction_set

from ..common import Scheme


@dataclass(slots=True)
class Open:
    """Open ``value`` (flat) to every party: ``kind`` t, 2t (Shamir degree 2t) or x (XOR bits)."""

    value: np.ndarray
    kind: str = "t"


@dataclass(slots=True)
class Input:
    """``owner`` deals ``rows`` (one flat row of shares per party); everyone gets its share."""

    owner: int
    size: int
    rows: np.ndarray | None = None


@dataclass(slots=True)
class Reveal:
    """Open ``value`` (flat) to ``to`` only; the others get ``None``."""

    value: U64
    to: tuple[int, ...]


Request = Open | Input | Reveal
_EMPTY = np.empty(0, dtype=np.uint64)


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    if not parts:
        return np.empty(0, dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _sizes(reqs: Sequence[Request], me: int, peer: int) -> dict[str, int]:
    """Element counts of each section of ``peer``'s message to ``me``."""
    size = {"t": 0, "2t": 0, "x": 0, "i": 0, "o": 0}
    for r in reqs:
        if isinstance(r, Open):
            size[r.kind] += r.value.size
        elif isinstance(r, Input):
            size["i"] += r.size if r.owner == peer else 0
        elif me in r.to:
            size["o"] += r.value.size
    return size


def _message(reqs: Sequence[Request], scheme: Scheme, me: int, peer: int) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {"t": [], "2t": [], "x": [], "i": [], "o": []}
    for r in reqs:
        if isinstance(r, Open):
            parts[r.kind].append(r.value)
        elif isinstance(r, Input):
            if r.owner == me and r.rows is not None:
                parts["i"].append(r.rows[scheme.parties.index(peer)])
        elif peer in r.to:
            parts["o"].append(r.value)
    msg: dict[str, np.ndarray] = {}
    for key, arrs in parts.items():
        if arrs:
            flat = _cat(arrs, np.uint8 if key == "x" else np.uint64)
            msg[key] = np.packbits(flat) if key == "x" else flat
    return msg


def _validate(payload: Any, size: dict[str, int], scheme: Scheme, peer: int) -> dict[str, np.ndarray]:
    want = {k for k, n in size.items() if n}
    if not isinstance(payload, dict) or set(payload) != want:
        raise ProtocolError(f"round message with sections {sorted(payload) if isinstance(payload, dict) else '?'}, "
                            f"expected {sorted(want)}", peer=peer)
    out: dict[str, np.ndarray] = {}
    for key in want:
        v = payload[key]
        if key == "x":
            if not isinstance(v, np.ndarray) or v.dtype != np.uint8 or v.shape != ((size["x"] + 7) // 8,):
                raise ProtocolError("malformed bit shares", peer=peer)
            out[key] = np.unpackbits(v, count=size["x"])
            continue
        if not isinstance(v, np.ndarray) or v.dtype != np.uint64 or v.shape != (size[key],):
            raise ProtocolError(f"malformed {key!r} shares", peer=peer)
        if scheme.kind == "shamir" and v.size and int(v.max()) >= GF61.modulus:
            raise ProtocolError("share outside the field", peer=peer)
        out[key] = v
    return out


def reconstruct(scheme: Scheme, me: int, shares: dict[int, U64], degree: int) -> U64:
    """Additive: the sum of all shares; Shamir: interpolate at 0 from ``degree + 1`` of them."""
    dom = scheme.domain
    if scheme.kind == "additive":
        acc = np.zeros_like(shares[me])
        for v in shares.values():
            acc += v
        return acc
    use = reconstruction_set(me, [p for p in shares if p != me], degree + 1)
    lam = lagrange_at_zero(tuple(use), dom.modulus)
    return dom.lincomb(lam, [shares[p] for p in use])


async def exchange(ctx: Context, scheme: Scheme, tag: str, reqs: Sequence[Request]) -> list[Any]:
    """One round for ``reqs``; returns one result per request, in order."""
    me, parties = ctx.party_id, scheme.parties
    down = set(parties) - set(ctx.alive)
    has = {k: any(isinstance(r, Open) and r.kind == k for r in reqs) for k in ("t", "2t", "x")}
    everyone = scheme.kind == "additive" or has["x"]
    owners = {r.owner for r in reqs if isinstance(r, Input)}
    gone = sorted(down & (owners | (set(parties) if everyone else set())))
    if gone:
        raise PartyDropped(gone[0], f"needed for round {tag!r} but gone (with {gone[1:]})")
    live = tuple(p for p in parties if p not in down or p == me)
    quorum = None if everyone else (2 * scheme.t + 1 if has["2t"] else scheme.t + 1)
    await ctx.scatter(tag, {p: _message(reqs, scheme, me, p) for p in live if p != me})
    others = tuple(p for p in live if p != me)
    got = await ctx.gather(tag, others, quorum=None if quorum is None else max(0, quorum - 1))
    for p in owners:
        if p != me and p not in got:
            raise PartyDropped(p, f"its input for round {tag!r} never came")
    msgs = {p: _validate(v, _sizes(reqs, me, p), scheme, p) for p, v in got.items()}
    msgs[me] = {k: (np.unpackbits(v, count=_sizes(reqs, me, me)["x"]) if k == "x" else v)
                for k, v in _message(reqs, scheme, me, me).items()}
    return _distribute(reqs, scheme, me, msgs)


def _distribute(reqs: Sequence[Request], scheme: Scheme, me: int, msgs: dict[int, dict[str, np.ndarray]]) -> list[Any]:
    opened: dict[str, np.ndarray] = {}
    if any(isinstance(r, Open) and r.kind == "t" for r in reqs):
        opened["t"] = reconstruct(scheme, me, {p: m["t"] for p, m in msgs.items()}, scheme.t)
    if any(isinstance(r, Open) and r.kind == "2t" for r in reqs):
        opened["2t"] = reconstruct(scheme, me, {p: m["2t"] for p, m in msgs.items()}, 2 * scheme.t)
    if any(isinstance(r, Open) and r.kind == "x" for r in reqs):
        bits = [m["x"] for m in msgs.values()]
        acc = bits[0].copy()
        for b in bits[1:]:
            acc ^= b
        opened["x"] = acc
    mine_o = any(isinstance(r, Reveal) and me in r.to for r in reqs)
    if mine_o:
        if len(msgs) < scheme.open_quorum:
            raise QuorumLost(set(scheme.parties) - set(msgs), needed=scheme.open_quorum, have=len(msgs))
        opened["o"] = reconstruct(scheme, me, {p: m["o"] for p, m in msgs.items()}, scheme.t)
    offsets = dict.fromkeys(("t", "2t", "x", "o"), 0)
    in_off: dict[int, int] = {}
    out: list[Any] = []
    for r in reqs:
        if isinstance(r, Open):
            o = offsets[r.kind]
            out.append(opened[r.kind][o : o + r.value.size])
            offsets[r.kind] = o + r.value.size
        elif isinstance(r, Input):
            o = in_off.get(r.owner, 0)
            out.append(msgs[r.owner]["i"][o : o + r.size])
            in_off[r.owner] = o + r.size
        elif me in r.to:
            o = offsets["o"]
            out.append(opened["o"][o : o + r.value.size])
            offsets["o"] = o + r.value.size
        else:
            out.append(None)
    return out


__all__ = ["Input", "Open", "Request", "Reveal", "exchange", "reconstruct"]
