"""The per-round fast paths give what the general paths give.

* Beaver products of at most ``TINY`` elements (Python ints) equal the numpy path's and the
  plaintext, at the field's edge values, under Shamir (GF(2^61 − 1)) and additive (Z_2^64) sharing.
* The tiny Shamir opening still rejects a share outside the field, naming its sender.
* A message with one array payload is written and read by hand: the bytes equal the general
  codec's, and every mutation of them decodes exactly as the general decoder decodes it (same
  fields, or a rejection).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from harness import run_nodes

from mpc import codec
from mpc.errors import CodecError, ProtocolError
from mpc.field import TINY
from mpc.message import Message, _build, _decode_array_message, _decode_generic, _encode_array_message
from mpc.rng import Csprng
from protocols.beaver import Beaver
from protocols.common import Scheme
from protocols.triples import Need, Pool

pytestmark = pytest.mark.timeout(30)
IDS = (1, 2, 3)
P61 = (1 << 61) - 1


def _edges(modulus: int) -> list[int]:
    return [0, 1, 2, modulus - 1, modulus - 2, modulus // 2, modulus // 2 + 1, (1 << 31) - 1, 1 << 31,
            (1 << 32) + 5, 1 << 60]


def _dealt(scheme: Scheme, xs: list[int], ys: list[int], seed: int) -> dict[int, dict[str, Any]]:
    """Each party's shares of x, y and of len(xs) Beaver triples (a test's own dealer)."""
    dom, rng, n = scheme.domain, Csprng(bytes([seed]) * 32), len(xs)
    a, b = dom.random(rng, n), dom.random(rng, n)
    secrets = {"x": np.array(xs, dtype=np.uint64), "y": np.array(ys, dtype=np.uint64),
               "a": a, "b": b, "c": dom.mul(a, b)}
    shares = {k: scheme.share(v, rng) for k, v in secrets.items()}
    return {p: {k: s[i] for k, s in shares.items()} for i, p in enumerate(scheme.parties)}


async def _layers(ctx: Any, scheme: Scheme, dealt: dict[int, dict[str, Any]], split: int) -> list[np.ndarray]:
    """Multiply twice from the same shares: as one layer of pairs (first ``split`` elements as a
    2-D pair, the rest flat) and, padded past TINY, through numpy; open everything."""
    mine = dealt[ctx.party_id]
    n = mine["x"].size
    pool = Pool(Need(triples=n), {"a": mine["a"], "b": mine["b"], "c": mine["c"]})
    tiny = Beaver(ctx.child("tiny"), scheme, pool)
    x, y = mine["x"], mine["y"]
    pairs = [(x[:split].reshape(1, split), y[:split].reshape(1, split)), (x[split:], y[split:])]
    z = await tiny.mul_layer(pairs)
    assert z[0].shape == (1, split) and z[0].dtype == np.uint64
    reps = TINY // n + 1
    big = Pool(Need(triples=n * reps), {k: np.tile(mine[k], reps) for k in "abc"})
    wide = Beaver(ctx.child("wide"), scheme, big)
    (zw,) = await wide.mul_layer([(np.tile(x, reps), np.tile(y, reps))])
    return [await tiny.open(np.concatenate([z[0].reshape(-1), z[1]])), await wide.open(zw)]


@pytest.mark.parametrize("kind", ["shamir", "additive"])
async def test_tiny_beaver_equals_numpy_and_plaintext(kind: str) -> None:
    scheme = Scheme.make(kind, IDS)
    P = scheme.domain.modulus
    xs = _edges(P)
    ys = list(reversed(xs))
    assert len(xs) <= TINY
    dealt = _dealt(scheme, xs, ys, seed=5)
    res = await run_nodes(IDS, _layers, scheme, dealt, 3)
    want = [(x * y) % P for x, y in zip(xs, ys, strict=True)]
    for p in IDS:
        tiny, wide = res[p]
        assert tiny.tolist() == want, p
        assert wide.tolist() == want * (TINY // len(xs) + 1), p


async def _open_with_bad_share(ctx: Any, scheme: Scheme, shares: dict[int, np.ndarray]) -> Any:
    from protocols.common import open_values

    if ctx.party_id == 2:  # the attacker: a "share" that is not a field element
        await ctx.broadcast("r1/open", np.array([P61], dtype=np.uint64))
        return None
    return await open_values(ctx, scheme, shares[ctx.party_id], "r1/open")


async def test_tiny_opening_rejects_a_share_outside_the_field() -> None:
    scheme = Scheme.make("shamir", IDS)
    shares = scheme.share(np.array([7], dtype=np.uint64), Csprng(b"k" * 32))
    res = await run_nodes(IDS, _open_with_bad_share, scheme, {p: shares[i] for i, p in enumerate(IDS)})
    # party 1 interpolates from its nearest peer, party 2 (the attacker)
    assert isinstance(res[1], ProtocolError) and res[1].peer == 2, res[1]


# -- the message codec's hand-written form -------------------------------------------------------
def _general(m: Message) -> bytes:
    return codec.encode([1, m.session, m.instance, m.tag, m.sender, m.payload])


def _random_message(rng: random.Random) -> Message:
    shape = tuple(rng.randint(1, 4) for _ in range(rng.randint(1, 3)))
    dt = rng.choice(list(codec.DTYPES.values()))
    body = bytes(rng.getrandbits(8) for _ in range(int(np.prod(shape)) * dt.itemsize))
    arr = np.frombuffer(body, dtype=dt).reshape(shape)
    name = "".join(rng.choice("aé#/x") for _ in range(rng.choice([0, 5, 31, 32, 200, 256])))
    tag = "".join(rng.choice("ab/1") for _ in range(rng.choice([0, 1, 31, 32, 255])))
    sender = rng.choice([0, 1, 127, 128, 255, 256, 65535, 65536, (1 << 20) - 1])
    return _build(Message, bytes(rng.randint(0, 64)), name, tag, sender, arr)


def _outcome(decode: Any, data: bytes) -> Any:
    try:
        m, charge = decode(data)
    except CodecError as exc:
        return "rejected", type(exc)
    return (m.session, m.instance, m.tag, m.sender, m.payload.dtype, m.payload.shape,
            m.payload.tobytes(), charge)


def test_array_messages_are_the_general_codecs_bytes() -> None:
    rng = random.Random(11)
    for _ in range(500):
        m = _random_message(rng)
        data = m.to_bytes()
        assert _encode_array_message(m) == data == _general(m)
        fast = _decode_array_message(data, codec.DEFAULT_LIMITS)
        assert fast is not None
        assert _outcome(lambda d: fast, data) == _outcome(lambda d: _decode_generic(Message, d, codec.DEFAULT_LIMITS), data)
    # other payloads and odd arrays keep the general form
    for payload in ({"k": 1}, [np.arange(3, dtype=np.uint64)], np.array(5, dtype=np.uint64),
                    np.zeros(0, dtype=np.uint64), np.arange(6, dtype=np.uint64).reshape(2, 3).T,
                    np.arange(3, dtype=">u8"), np.arange(3, dtype=np.int16)):
        m = Message(session=b"s", instance="i", tag="t", sender=1, payload=payload)
        assert _encode_array_message(m) is None


def test_mutated_array_messages_decode_as_the_general_decoder_decodes_them() -> None:
    rng = random.Random(12)
    limits = codec.Limits(max_str_len=200, max_envelope_bytes=600)
    general = lambda d: _decode_generic(Message, d, limits)  # noqa: E731
    both = lambda d: Message.from_bytes_charged(d, limits)  # noqa: E731
    for _ in range(300):
        data = bytearray(_random_message(rng).to_bytes())
        for _ in range(8):
            cut = bytes(data[: rng.randrange(len(data) + 1)])
            assert _outcome(both, cut) == _outcome(general, cut)
            mutated = bytearray(data)
            for _ in range(rng.randint(1, 3)):
                mutated[rng.randrange(min(len(mutated), 80))] = rng.getrandbits(8)
            assert _outcome(both, bytes(mutated)) == _outcome(general, bytes(mutated))
            assert _outcome(both, bytes(data) + b"\0") == _outcome(general, bytes(data) + b"\0")


def test_a_forwarding_wrapper_does_not_lend_its_inner_try_send() -> None:
    """The node sends through ``try_send`` only when the transport's own class has it: a wrapper
    that forwards attributes (the app's send-counting fault) must see every send itself."""
    from mpc.app.party import SendCounter
    from mpc.transport.base import try_sender
    from mpc.transport.tcp import TcpTransport

    inner = TcpTransport(1, {1: "tcp://127.0.0.1:2000", 2: "tcp://127.0.0.1:2100"})
    assert try_sender(inner) is not None
    assert try_sender(SendCounter(inner, "open", 1, lambda: None)) is None


# -- a one-element product (Beaver.mul's scalar path) ---------------------------------------------
async def _scalar_chain(ctx: Any, scheme: Scheme, dealt: dict[int, dict[str, Any]], shape: tuple[int, ...]) -> list[Any]:
    """Each element multiplied alone through ``Beaver.mul`` (the one-element path), reshaped to
    ``shape``, and opened; one pool serves all of them in order."""
    mine = dealt[ctx.party_id]
    pool = Pool(Need(triples=mine["x"].size), {"a": mine["a"], "b": mine["b"], "c": mine["c"]})
    bv = Beaver(ctx, scheme, pool)
    out = []
    for i in range(mine["x"].size):
        z = await bv.mul(mine["x"][i : i + 1].reshape(shape), mine["y"][i : i + 1].reshape(shape))
        assert z.shape == shape and z.dtype == np.uint64
        out.append(int((await bv.open(z)).reshape(-1)[0]))
    assert bv.multiplications == mine["x"].size and pool._used["triples"] == mine["x"].size
    return out


@pytest.mark.parametrize("kind", ["shamir", "additive"])
@pytest.mark.parametrize("shape", [(1,), (), (1, 1)])
async def test_one_element_products_equal_the_plaintext(kind: str, shape: tuple[int, ...]) -> None:
    scheme = Scheme.make(kind, IDS)
    P = scheme.domain.modulus
    xs = _edges(P)
    ys = [P - 1, 2, P // 3, 0, 1, P - 2, 7, 1 << 40, P // 2, 3, (1 << 61) - 5][: len(xs)]
    dealt = _dealt(scheme, xs, ys, seed=9)
    res = await run_nodes(IDS, _scalar_chain, scheme, dealt, shape)
    want = [(x * y) % P for x, y in zip(xs, ys, strict=True)]
    for p in IDS:
        assert res[p] == want, (p, res[p])


def test_triple_ints_follow_the_arrays_across_blocks() -> None:
    """Python-int triples (taken a few at a time, across conversion blocks, mixed with array takes)
    are the array triples at the same positions; the pool runs out at the same point."""
    from protocols.triples import INT_BLOCK, PoolExhausted

    n = 2 * INT_BLOCK + 37
    arrays = {k: np.arange(n, dtype=np.uint64) * (i + 3) for i, k in enumerate("abc")}
    pool = Pool(Need(triples=n), arrays)
    pos = 0
    rng = random.Random(3)
    while pos < n:
        k = min(rng.choice([1, 2, 5, 32]), n - pos)
        if rng.random() < 0.2:
            got = [x.tolist() for x in pool.triples(k)]
        else:
            got = list(pool.triple_ints(k))
        assert got == [arrays[c][pos : pos + k].tolist() for c in "abc"], pos
        pos += k
    with pytest.raises(PoolExhausted):
        pool.triple_ints(1)
