"""Red team of the openings in a ring (``Context.open_round``) and of the pulls that replace a
gone sender (``mpc/retained.py``, ``ControlPlane._on_pull``), from the attacker's side. Party 2
is the attacker (``round_attack.py``): a genuine member of the session and of the opening that
may send anything *as itself*; everything runs over netsim in virtual time, byte wire.

* a member that goes silent (no disconnect: a crash the others only see by their deadlines) for a
  chain of openings: the others must open every value, as they did all-to-all, in about the same
  time, and no honest party may count a strike against another;
* what a pull may get: never the *current* contents of a share array that was opened before and
  written since (a share of a value that was never opened), never a share of an opening the
  puller is not a member of (also when the pull comes first), nothing from a verified or
  additive opening, nothing once the puller is cut off;
* memory: pulls for made-up or future instances stay within ``PENDING`` per peer, pulls for
  finished ones hold nothing and cost no strike;
* a pulled attacker that answers twice is refused once and counted; the honest parties open right.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from mpc.message import CONTROL
from mpc.rng import Csprng
from protocols.common import Scheme, open_values
from round_attack import EVIL, _frame, _raw, _run

pytestmark = pytest.mark.timeout(60)

T = 2.0  # every party's round timeout in these tests


def _chain_shares(scheme: Scheme, rounds: int) -> list[list[np.ndarray]]:
    return [scheme.share(np.array([r + 1, 7 * r + 3], np.uint64), Csprng(bytes([r + 1]) * 32)) for r in range(rounds)]


def _pull(instance: str, tag: str) -> bytes:
    return _frame(CONTROL, "pull", EVIL, {"instance": instance, "tag": tag})


def _honest_rejections(nodes: dict[int, Any]) -> list[tuple[int, int, str]]:
    """Messages an honest node rejected from another honest node (a strike against it)."""
    return [(p, e.peer, str(e)) for p, node in nodes.items() if p != EVIL
            for e in node.rejected if e.peer != EVIL]


# -- a silent member during a chain of openings -------------------------------------------------
@pytest.mark.parametrize(("n", "t"), [(3, 1), (5, 2), (7, 3)])
async def test_a_silent_member_does_not_make_a_chain_of_openings_lose_its_quorum(n: int, t: int) -> None:
    """The attacker takes no part at all (connected, never sends: to the others a crash seen only
    through deadlines). Its ring takers wait for it to their deadline and pull a replacement, so
    they lag the others by one timeout; in the next round *their* takers' deadline races their
    share. A share that arrives just after the deadline must still count: n − 1 ≥ t + 1 live
    parties open every value of the chain, as the all-to-all exchange did (6 rounds: 12 s), and
    no honest party counts a strike against another."""
    ids = tuple(range(1, n + 1))
    scheme = Scheme.make("shamir", ids, t)
    rounds = 6
    shares = _chain_shares(scheme, rounds)
    at: dict[int, float] = {}
    nodes: dict[int, Any] = {}

    async def proto(ctx: Any) -> Any:
        nodes[ctx.party_id] = ctx._node
        if ctx.party_id == EVIL:
            await asyncio.sleep(rounds * T * 3)
            return None
        out = [(await open_values(ctx, scheme, shares[r][ctx.party_id - 1], f"r{r}/open")).tolist()
               for r in range(rounds)]
        at[ctx.party_id] = ctx.now()
        return out

    res = await _run(ids, lambda node: node.run(proto, name="chain"), timeout=T)
    want = [[r + 1, 7 * r + 3] for r in range(rounds)]
    assert {p: res[p] for p in ids if p != EVIL} == {p: want for p in ids if p != EVIL}, res
    # all-to-all: every round waits one timeout for the silent party (12 s); the ring may add
    # at most one more timeout in all, not one per round
    assert max(at.values()) <= (rounds + 1) * T + 0.5, at
    assert not _honest_rejections(nodes)


# -- what a pull may get ----------------------------------------------------------------------
async def test_a_pull_gets_the_share_that_was_opened_not_what_its_array_holds_now() -> None:
    """n = 3, t = 1. The honest parties open [5, 6] and then (their arrays are theirs again once
    ``open_values`` returned) write their share of a secret into the same array. The attacker,
    a member of the opening, pulls party 1's share afterwards: it must get the share that was
    opened, not party 1's share of the secret (which with its own share of the secret would
    give it the secret: t + 1 = 2 shares)."""
    ids = (1, 2, 3)
    scheme = Scheme.make("shamir", ids)
    opened = scheme.share(np.array([5, 6], np.uint64), Csprng(b"o" * 32))
    secret = np.array([4242, 77], np.uint64)
    hidden = scheme.share(secret, Csprng(b"h" * 32))

    async def proto(ctx: Any) -> Any:
        me = ctx.party_id
        if me == EVIL:
            # take part in the opening (its ring sender is party 3), then pull party 1's share
            await open_values(ctx, scheme, opened[me - 1].copy(), "r1/open")
            await asyncio.sleep(0.5)
            await _raw(ctx, (1,), _pull("c", "r1/open"))
            got = await ctx.gather("r1/open", [1], quorum=0, timeout=1.0)
            if not got:
                return None
            theirs = got[1]
            mine = hidden[me - 1]
            # Lagrange at 0 from the shares of parties 1 and 2
            P = scheme.domain.modulus  # x = 1, 2: λ1 = 2, λ2 = −1
            return [(2 * int(a) - int(b)) % P for a, b in zip(theirs.tolist(), mine.tolist(), strict=True)], theirs.tolist()
        buf = opened[me - 1].copy()
        out = (await open_values(ctx, scheme, buf, "r1/open")).tolist()
        buf[...] = hidden[me - 1]  # the array is the caller's again
        await asyncio.sleep(2.0)
        return out

    res = await _run(ids, lambda node: node.run(proto, name="c"))
    assert res[1] == res[3] == [5, 6], res
    assert res[EVIL] is not None, res  # a member's single pull is served ...
    reconstructed, share = res[EVIL]
    assert share == opened[0].tolist()  # ... with the share that was opened
    assert reconstructed != secret.tolist()
