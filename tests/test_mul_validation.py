"""Peer payloads of the multiplication protocols are validated: bad ones raise ProtocolError."""

from __future__ import annotations

import numpy as np
import pytest
from harness import run_nodes

from mpc.errors import ConfigError, ProtocolError
from mpc.field import GF61
from protocols.common import open_values
from protocols.common import Scheme
from protocols.dn07 import _check_contribution, _check_list, dn07_prepare
from protocols.triples import KINDS, Need, validate_bundle

pytestmark = pytest.mark.timeout(30)
SHAMIR = Scheme.make("shamir", (1, 2, 3), 1)


@pytest.mark.parametrize("payload", [None, [1, 2, 3], [1, 2, 3, 4, -1], [True, 0, 0, 0, 0], [10**9, 0, 0, 0, 0],
                                     [1, 0, 0, 9, 8], "need", [1.0, 0, 0, 0, 0]])
def test_malformed_requests(payload: object) -> None:
    with pytest.raises(ProtocolError):
        Need.from_payload(payload, peer=2)


def test_request_roundtrip() -> None:
    need = Need(triples=5, doubles=2, masks=3, frac_bits=8, mask_bits=40)
    assert Need.from_payload(need.as_payload(), peer=1) == need


def _bundle(n: int) -> dict[str, np.ndarray]:
    return {k: np.zeros(n, dtype=np.uint64) for k in KINDS}


@pytest.mark.parametrize("mutate", ["missing", "extra", "shape", "dtype", "field", "type"])
def test_malformed_dealer_bundle(mutate: str) -> None:
    need = Need(triples=4, doubles=4, masks=4, frac_bits=2, mask_bits=10)
    b: object = _bundle(4)
    assert isinstance(b, dict)
    if mutate == "missing":
        del b["c"]
    elif mutate == "extra":
        b["z"] = np.zeros(4, np.uint64)
    elif mutate == "shape":
        b["a"] = np.zeros(5, np.uint64)
    elif mutate == "dtype":
        b["a"] = np.zeros(4, np.int64)
    elif mutate == "field":
        b["a"] = np.full(4, GF61.modulus, np.uint64)
    else:
        b = [b]
    with pytest.raises(ProtocolError):
        validate_bundle(b, SHAMIR, need, peer=0)
    assert set(validate_bundle(_bundle(4), SHAMIR, need, peer=0)) == set(KINDS)


def test_malformed_dn07_messages() -> None:
    sizes = {"u": 2, "v": 2, "w": 2, "w2": 2, "m": 0, "m_hi": 0}
    good = {k: np.zeros(n, np.uint64) for k, n in sizes.items()}
    assert _check_contribution(good, 2, sizes, SHAMIR)
    with pytest.raises(ProtocolError):
        _check_contribution({**good, "u": np.zeros(3, np.uint64)}, 2, sizes, SHAMIR)
    with pytest.raises(ProtocolError):
        _check_contribution({k: v for k, v in good.items() if k != "w2"}, 2, sizes, SHAMIR)
    assert _check_list([1, 3], 2, (1, 2, 3)) == {1, 3}
    for bad in ([1, 7], "1,2", [1.0], [True]):
        with pytest.raises(ProtocolError):
            _check_list(bad, 2, (1, 2, 3))


@pytest.mark.parametrize("bad", ["shape", "field"])
async def test_opening_rejects_bad_shares(bad: str) -> None:
    """Party 1 sends a bad share. Each party interpolates from its own share and the t parties
    after it in the ring (Context.open_round): party 3 from {3, 1}, so it rejects it; party 2
    from {2, 3} never sees it, but the survivor agreement makes it drop its output too, with the
    same error type."""

    async def party(ctx):  # type: ignore[no-untyped-def]
        share = np.zeros(4, dtype=np.uint64)
        if ctx.party_id == 1:
            share = {"shape": np.zeros(5, np.uint64), "field": np.full(4, GF61.modulus, np.uint64)}[bad]
        return await open_values(ctx, SHAMIR, share, "open")

    res = await run_nodes((1, 2, 3), party, timeout=1.0)
    assert isinstance(res[3], ProtocolError) and res[3].peer == 1
    assert isinstance(res[2], ProtocolError) and "agreed to abort" in str(res[2])


def test_dn07_needs_an_honest_majority() -> None:
    import asyncio

    with pytest.raises(ConfigError):
        asyncio.run(dn07_prepare(None, Scheme.make("shamir", (1, 2, 3), 2), Need(triples=1)))  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        asyncio.run(dn07_prepare(None, Scheme.make("additive", (1, 2, 3)), Need(triples=1)))  # type: ignore[arg-type]


@pytest.mark.parametrize("payload", [{"seed": b"short"}, {"seed": "x" * 32}, {"seed": bytes(32), "a": 1}, [bytes(32)]])
def test_malformed_dealer_seed(payload: object) -> None:
    from protocols.dealer import receive

    need = Need(triples=4)
    with pytest.raises(ProtocolError):
        receive(payload, SHAMIR, need, me=1)  # party 1 is seeded when t = 1
    assert set(receive({"seed": bytes(32)}, SHAMIR, need, me=1)) == set(KINDS)
    with pytest.raises(ProtocolError):
        receive({"seed": bytes(32)}, SHAMIR, need, me=2)  # party 2 must get vectors
