"""Red team of the per-round hot path (issue 14's speed-ups), from the attacker's side: what a
round message may be (helpers and the attacker's role: ``round_attack.py``).

* replays and duplicates of a round message (before the receiver waits, while it waits, after it
  received, after the computation finished), a frame claiming another sender, another session:
  each is a counted ``ProtocolError`` at the receiver, and the honest outputs equal the plaintext;
* the tiny (Python-int) opening and the one-element Beaver product reject a share of the wrong
  type, dtype, shape or size, or outside the field, naming the attacker; a verified scheme still
  checks them;
* the hand-read decoder hands over only what the strict decoder would.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import numpy as np
import pytest

from mpc import Node
from mpc.codec import DEFAULT_LIMITS
from mpc.errors import MpcError, ProtocolError
from mpc.message import Message, decode_array_parts
from mpc.rng import Csprng
from protocols.beaver import Beaver
from protocols.common import Scheme, open_values
from protocols.triples import Need, Pool
from round_attack import EVIL, HONEST, IDS, P61, _additive, _frame, _raw, _reasons, _run, run_nodes_bytes

pytestmark = pytest.mark.timeout(60)


# -- replays, duplicates, spoofed senders, other sessions (byte ingress) -------------------------
ATTACKS = ["dup-before-wait", "dup-while-waiting", "dup-across-wait", "replay-after-received", "spoof-sender",
           "spoof-receiver", "wrong-session", "unknown-sender"]
EXPECT = {"dup-before-wait": "duplicate message", "dup-while-waiting": "duplicate message",
          "dup-across-wait": "duplicate message",
          "replay-after-received": "replayed message", "spoof-sender": "claims to be party 3",
          "spoof-receiver": "claims to be party", "wrong-session": "another session",
          "unknown-sender": "claims to be party 7"}


@pytest.mark.parametrize("size", [4, 40])  # the tiny (Python-int) opening and the numpy one
@pytest.mark.parametrize("attack", ATTACKS)
async def test_replayed_duplicated_and_spoofed_round_messages_are_rejected(attack: str, size: int) -> None:
    secret = [(7 * k + 3) % 1000 for k in range(size)]
    scheme, shares, _ = _additive(secret)
    second = np.arange(size, dtype=np.uint64)

    async def proto(ctx: Any) -> Any:
        me, share = ctx.party_id, shares[ctx.party_id]
        own = _frame(ctx.instance, "r1/open", EVIL, shares[EVIL])
        if me != EVIL:
            if attack == "dup-before-wait":
                await asyncio.sleep(1.0)  # both copies arrive before this party waits
            elif attack == "dup-across-wait":  # party 1 waits (for party 3) from 1 s to 1.5 s
                await asyncio.sleep(1.0 if me == 1 else 1.5)
            first = await open_values(ctx, scheme, share, "r1/open")
            await asyncio.sleep(1.0)  # the replay after the round arrives meanwhile
            return first, await ctx.exchange("r2", second + np.uint64(me))
        if attack == "dup-before-wait":
            await _raw(ctx, HONEST, own)
            await _raw(ctx, HONEST, own)
        elif attack == "dup-across-wait":  # the first copy early, the second while party 1 waits
            await _raw(ctx, HONEST, own)
            await asyncio.sleep(1.2)
            await _raw(ctx, HONEST, own)
        elif attack == "dup-while-waiting":
            await asyncio.sleep(0.5)  # the receivers wait already (party 3's share arrived)
            await _raw(ctx, HONEST, own)
            await _raw(ctx, HONEST, own)
        else:
            if attack == "spoof-sender":  # party 3's round message, forged before the real one
                await _raw(ctx, (1,), _frame(ctx.instance, "r1/open", 3, np.zeros(size, np.uint64)))
            elif attack == "spoof-receiver":  # "your own share" (no longer passed through the mailbox)
                for p in HONEST:
                    await _raw(ctx, (p,), _frame(ctx.instance, "r1/open", p, np.zeros(size, np.uint64)))
            elif attack == "wrong-session":
                await _raw(ctx, HONEST, _frame(ctx.instance, "r1/open", EVIL, np.zeros(size, np.uint64), b"other"))
            elif attack == "unknown-sender":
                await _raw(ctx, HONEST, _frame(ctx.instance, "r1/open", 7, np.zeros(size, np.uint64)))
            await asyncio.sleep(0.1)
            await _raw(ctx, HONEST, own)  # its real share, once
            if attack == "replay-after-received":
                await asyncio.sleep(0.5)
                await _raw(ctx, HONEST, own)
        await asyncio.sleep(1.0)
        return None, await ctx.exchange("r2", second + np.uint64(me))

    async def body(node: Node) -> Any:
        out = await node.run(proto, name="c1")
        return out, _reasons(node), node.rejected_count

    res = await _run(IDS, body)
    want_r2 = {p: (second + np.uint64(p)).tolist() for p in IDS}
    for p in HONEST:
        assert not isinstance(res[p], BaseException), (p, res[p])
        (opened, r2), reasons, count = res[p]
        assert opened.tolist() == secret, p
        assert {q: v.tolist() for q, v in r2.items()} == want_r2
        if attack == "spoof-sender" and p == 3:
            assert count == 0  # sent to party 1 only
            continue
        assert count == 1, (p, reasons)
        assert EXPECT[attack] in reasons[0], (p, reasons)


async def test_a_replay_into_a_finished_computation_is_rejected_and_the_next_one_is_right() -> None:
    scheme, shares, secret = _additive([11, 22, 33])
    old: dict[str, bytes] = {}

    async def first(ctx: Any) -> Any:
        if ctx.party_id == EVIL:
            old["frame"] = _frame(ctx.instance, "r1/open", EVIL, shares[EVIL])
        return await open_values(ctx, scheme, shares[ctx.party_id], "r1/open")

    async def second(ctx: Any) -> Any:
        if ctx.party_id == EVIL:
            await _raw(ctx, HONEST, old["frame"])  # computation c1's round message, again
            # and c1's message under this computation's name: a fresh message of its own (allowed)
        await asyncio.sleep(0.5)
        return await open_values(ctx, scheme, shares[ctx.party_id], "r1/open")

    async def body(node: Node) -> Any:
        a = await node.run(first, name="c1")
        b = await node.run(second, name="c2")
        return a.tolist(), b.tolist(), _reasons(node)

    res = await _run(IDS, body)
    for p in HONEST:
        a, b, reasons = res[p]
        assert a == b == secret
        assert len(reasons) == 1 and "finished instance 'c1'" in reasons[0], reasons


# -- the tiny opening and the one-element product: what the attacker's share may not be ------------
BAD = {
    "out-of-field": lambda n: np.full(n, P61, dtype=np.uint64),
    "max-uint64": lambda n: np.full(n, (1 << 64) - 1, dtype=np.uint64),
    "int64": lambda n: np.ones(n, dtype=np.int64),
    "float64": lambda n: np.ones(n, dtype=np.float64),
    "bool": lambda n: np.ones(n, dtype=bool),
    "too-long": lambda n: np.ones(n + 1, dtype=np.uint64),
    "too-short": lambda n: np.ones(max(n - 1, 0), dtype=np.uint64),
    "2-d": lambda n: np.ones((1, n), dtype=np.uint64),
    "scalar": lambda n: np.uint64(1),
    "list": lambda n: [1] * n,
    "dict": lambda n: {"share": 1},
    "none": lambda n: None,
}


def _expect_blamed(res: dict[int, Any], kind: str) -> None:
    """Every honest party fails with ProtocolError. Those that take the attacker's share name it:
    additive, everyone; Shamir (n = 3, t = 1), each party takes the share of the party after it in
    the ring (Context.open_round), so party 1 takes party 2's; party 3 never sees it and ends
    with the agreed abort (started by party 1; by the attacker, when its own send failed)."""
    takers = HONEST if kind == "additive" else (1,)
    for p in HONEST:
        assert isinstance(res[p], MpcError), (p, res[p])
        assert isinstance(res[p], ProtocolError), (p, res[p])
        if p in takers:
            assert res[p].peer == EVIL, (p, res[p], res[p].peer)
        else:
            assert "agreed to abort" in str(res[p]) and res[p].peer in (1, EVIL), (p, res[p])


@pytest.mark.parametrize("kind", ["shamir", "additive"])
@pytest.mark.parametrize("bad", sorted(BAD))
async def test_the_tiny_opening_rejects_a_malformed_share(kind: str, bad: str) -> None:
    if kind == "additive" and bad in ("out-of-field", "max-uint64"):
        pytest.skip("every uint64 is a Z_2^64 share")
    scheme = Scheme.make(kind, IDS)
    n = 3
    shares = scheme.share(np.array([5, 6, 7], dtype=np.uint64), Csprng(b"t" * 32))

    async def proto(ctx: Any) -> Any:
        if ctx.party_id == EVIL:
            await ctx.broadcast("r1/open", BAD[bad](n), to=HONEST)
            return None
        return await open_values(ctx, scheme, shares[IDS.index(ctx.party_id)], "r1/open")

    _expect_blamed(await run_nodes_bytes(proto), kind)


@pytest.mark.parametrize("bad", ["out-of-field", "int64", "flat", "1-d-3", "2x2", "list"])
@pytest.mark.parametrize("kind", ["shamir", "additive"])
async def test_the_one_element_product_rejects_a_malformed_masked_pair(kind: str, bad: str) -> None:
    """Beaver.mul of one element opens a (2, 1) array (d and e) in Python ints: the attacker's
    (2, 1) must be a uint64 array of that shape, in the field under Shamir."""
    if kind == "additive" and bad == "out-of-field":
        pytest.skip("every uint64 is a Z_2^64 share")
    scheme = Scheme.make(kind, IDS)
    dom, rng = scheme.domain, Csprng(b"u" * 32)
    a, b = dom.random(rng, 1), dom.random(rng, 1)
    sh = {k: scheme.share(v, rng) for k, v in {"x": np.array([3], np.uint64), "y": np.array([4], np.uint64),
                                               "a": a, "b": b, "c": dom.mul(a, b)}.items()}
    payload = {"out-of-field": np.full((2, 1), P61, np.uint64), "int64": np.ones((2, 1), np.int64),
               "flat": np.ones(2, np.uint64), "1-d-3": np.ones(3, np.uint64), "2x2": np.ones((2, 2), np.uint64),
               "list": [[1], [2]]}[bad]

    async def proto(ctx: Any) -> Any:
        i = IDS.index(ctx.party_id)
        if ctx.party_id == EVIL:
            await ctx.broadcast("r1/open", payload, to=HONEST)
            return None
        pool = Pool(Need(triples=1), {k: sh[k][i] for k in "abc"})
        return await Beaver(ctx, scheme, pool).mul(sh["x"][i], sh["y"][i])

    _expect_blamed(await run_nodes_bytes(proto), kind)


async def test_the_one_element_product_is_right_against_an_honest_attacker_control() -> None:
    """The control of the two tests above: the same product with party 2 honest opens 12."""
    scheme = Scheme.make("shamir", IDS)
    dom, rng = scheme.domain, Csprng(b"u" * 32)
    a, b = dom.random(rng, 1), dom.random(rng, 1)
    sh = {k: scheme.share(v, rng) for k, v in {"x": np.array([3], np.uint64), "y": np.array([4], np.uint64),
                                               "a": a, "b": b, "c": dom.mul(a, b)}.items()}

    async def proto(ctx: Any) -> Any:
        i = IDS.index(ctx.party_id)
        bv = Beaver(ctx, scheme, Pool(Need(triples=1), {k: sh[k][i] for k in "abc"}))
        return (await bv.open(await bv.mul(sh["x"][i], sh["y"][i]))).tolist()

    res = await run_nodes_bytes(proto)
    assert all(res[p] == [12] for p in IDS), res


@pytest.mark.parametrize("path", ["one", "tiny", "open"])
async def test_a_verified_scheme_still_checks_the_fast_paths_openings(path: str) -> None:
    """Shamir with verified openings (n = 5, t = 2): the one-element product, a tiny layer and a
    tiny opening go through the verified opening, not the unverified Python-int one. The attacker
    sends a well-formed, in-field but wrong share (off the others' polynomial): every honest party
    raises ProtocolError naming it among the suspects (a silent substitution would open a wrong
    value)."""
    ids = (1, 2, 3, 4, 5)
    scheme = Scheme.make("shamir", ids, verify=True)
    dom, rng = scheme.domain, Csprng(b"z" * 32)
    n = 1 if path == "one" else 3
    a, b = dom.random(rng, n), dom.random(rng, n)
    sh = {k: scheme.share(v, rng) for k, v in {"x": np.arange(3, 3 + n, dtype=np.uint64),
                                               "y": np.arange(4, 4 + n, dtype=np.uint64),
                                               "a": a, "b": b, "c": dom.mul(a, b)}.items()}

    async def proto(ctx: Any) -> Any:
        i = ids.index(ctx.party_id)
        if ctx.party_id == EVIL:
            mine = sh["x"][i] if path == "open" else np.concatenate([sh["x"][i], sh["y"][i]]).reshape(2, n)
            await ctx.broadcast("r1/open", dom.add(mine, np.ones_like(mine)), to=[p for p in ids if p != EVIL])
            return None
        bv = Beaver(ctx, scheme, Pool(Need(triples=n), {k: sh[k][i] for k in "abc"}))
        if path == "open":
            return await bv.open(sh["x"][i], kind="open")
        if path == "one":
            return await bv.mul(sh["x"][i], sh["y"][i])
        return (await bv.mul_layer([(sh["x"][i], sh["y"][i])]))[0]

    res = await _run(ids, lambda node: node.run(proto))
    # one extra share detects a wrong one but cannot locate it with t = 2: the suspects include it
    for p in (1, 3, 4, 5):
        assert isinstance(res[p], ProtocolError), (p, res[p])
        assert res[p].peer == EVIL or "inconsistent shares in opening 'r1/open'" in str(res[p]), (p, res[p])
        assert res[p].peer == EVIL or f"{EVIL}," in str(res[p]), (p, res[p])


# -- the hand-read frame: what reaches Mailbox.put without a Message object ---------------------
def test_the_fast_decoder_only_ever_hands_over_a_well_formed_one_array_message() -> None:
    """Mutated round frames: whenever ``decode_array_parts`` returns fields (the path straight to
    ``Mailbox.put``), they are exactly what the strict decoder returns for the same bytes."""
    rnd = random.Random(7)
    base = _frame("mul#1", "r12/open", 2, np.arange(6, dtype=np.uint64).reshape(2, 3))
    taken = 0
    for _ in range(20000):
        mutated = bytearray(base)
        for _ in range(rnd.randint(1, 3)):
            mutated[rnd.randrange(len(mutated))] = rnd.getrandbits(8)
        data = bytes(mutated[: rnd.choice([len(mutated), rnd.randrange(len(mutated) + 1)])])
        parts = decode_array_parts(data, DEFAULT_LIMITS)
        if parts is None:
            continue
        taken += 1
        msg, charge = Message.from_bytes_charged(data, DEFAULT_LIMITS)
        assert (msg.session, msg.instance, msg.tag, msg.sender) == parts[:4]
        assert msg.payload.dtype == parts[4].dtype and msg.payload.shape == parts[4].shape
        assert msg.payload.tobytes() == parts[4].tobytes() and charge == parts[5]
    assert taken > 1000
