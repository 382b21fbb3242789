"""Red team 2: a malicious party against dn07's dealer-free preprocessing (PRSS keys agreed in the
``contrib`` / ``agree`` rounds, the 3-party ``reshare*`` chunks). Virtual time (netsim).

What must hold: no honest party outputs a wrong product; a malformed message is a typed error.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

import netsim
from mpc import Node, NodeConfig
from mpc.errors import MpcError, ProtocolError
from netsim import SimNetwork
from protocols import secure_product

pytestmark = pytest.mark.timeout(30)
X = {1: np.array([3, -4, 5, 7]), 2: np.array([6, 2, -1, 9])}


def _products(liar: type[Node], ids: tuple[int, ...], t: int, session: bytes) -> dict[int, Any]:
    async def main() -> dict[int, Any]:
        net = SimNetwork(ids, {"latency_ms": 2})

        async def one(pid: int) -> Any:
            cfg = NodeConfig(party_id=pid, parties=ids, session=session, timeout=1.0)
            async with (liar if pid == ids[-1] else Node).from_config(cfg, net.transport(pid)) as node:
                await asyncio.sleep(0.1)
                try:
                    return await node.run(secure_product, X.get(pid), input_parties=(1, 2), threshold=t)
                except MpcError as exc:
                    return exc

        return dict(zip(ids, await asyncio.gather(*(one(p) for p in ids)), strict=True))

    return netsim.run(main())


def _honest_right_or_typed(results: dict[int, Any], honest: tuple[int, ...]) -> None:
    want = (X[1] * X[2]).tolist()
    assert all(isinstance(results[p], MpcError) or results[p].tolist() == want for p in honest), results


class Tamper(Node):
    """The last party: rewrites its payloads of tags ending in ``suffix`` with ``edit(peer, payload)``."""

    suffix = ""

    def edit(self, peer: int, payload: Any) -> Any:
        return payload

    async def send_many(self, instance: str, tag: str, payloads: Any, *, same: bool) -> None:
        if self.suffix and tag.endswith(self.suffix):
            payloads = {p: self.edit(p, v) for p, v in payloads.items()}
            same = False
        await super().send_many(instance, tag, payloads, same=same)


class SplitAgree(Tamper):
    """Tells party 1 it heard every contribution and party 2 that it heard none but its own and
    party 1's: the two honest parties intersect different contributor sets and derive different
    keys for the sets that hold party 5."""

    suffix = "agree"

    def edit(self, peer: int, payload: Any) -> Any:
        return payload if peer != 2 else [1, self.party_id]


def test_a_party_equivocating_in_the_agree_round_makes_the_honest_parties_abort_not_output_wrongly():
    """dn07's agree round is no broadcast (it assumes crash-stop parties): the split lists make
    parties 1 and 2 derive different PRSS keys, so their triples are inconsistent and their
    openings differ. The survivor agreement compares output digests: every honest party aborts
    with a ProtocolError ("outputs differ") rather than output a wrong product."""
    results = _products(SplitAgree, (1, 2, 3, 4, 5), 1, b"redteam2-dn07-split")
    _honest_right_or_typed(results, (1, 2, 3, 4))
    assert all(isinstance(results[p], ProtocolError) for p in (1, 2, 3, 4)), results


class ExtraKeyRow(Tamper):
    """Its key contributions carry one row more than the key sets it shares with the receiver."""

    suffix = "contrib"

    def edit(self, peer: int, payload: Any) -> Any:
        if isinstance(payload, dict) and "keys" in payload:
            k = payload["keys"]
            return {**payload, "keys": np.concatenate([k, k[:1]])}
        return payload


class ShortReshare(Tamper):
    """3 parties: its resharing chunk is one element short."""

    suffix = "reshare0"

    def edit(self, peer: int, payload: Any) -> Any:
        return np.asarray(payload)[:-1]


class ExtraReshare(Node):
    """3 parties: sends one resharing chunk more than the pool has (tag ``reshare1``) and a
    replay of its first chunk; the receiver must use exactly its chunk count."""

    async def send_many(self, instance: str, tag: str, payloads: Any, *, same: bool) -> None:
        await super().send_many(instance, tag, payloads, same=same)
        if tag.endswith("reshare0"):
            junk = {p: np.zeros(len(np.asarray(v)), np.uint64) for p, v in payloads.items()}
            await super().send_many(instance, tag[: -1] + "1", junk, same=False)
            await super().send_many(instance, tag, junk, same=False)  # a second message with the same tag


@pytest.mark.parametrize(("liar", "ids"), [(ExtraKeyRow, (1, 2, 3)), (ExtraKeyRow, (1, 2, 3, 4, 5)),
                                           (ShortReshare, (1, 2, 3))])
def test_a_malformed_key_contribution_or_resharing_chunk_is_a_protocol_error(liar: type[Node], ids: tuple[int, ...]):
    results = _products(liar, ids, 1, b"redteam2-dn07-" + liar.__name__.encode())
    honest = ids[:-1]
    _honest_right_or_typed(results, honest)
    assert all(isinstance(results[p], MpcError) for p in honest), results
    assert any(isinstance(results[p], ProtocolError) for p in honest), results


def test_an_extra_or_repeated_resharing_chunk_changes_no_product():
    results = _products(ExtraReshare, (1, 2, 3), 1, b"redteam2-dn07-extra")
    assert all(results[p].tolist() == (X[1] * X[2]).tolist() for p in (1, 2)), results
