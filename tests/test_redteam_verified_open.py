"""Red team: t = 2 colluding parties against verified openings (Shamir, n = 2t + 1 = 5).

Parties 4 and 5 shift their shares of the opened value by c·(x − 1)(x − 3): the shares of parties
1, 3, 4, 5 then lie on one degree-2 polynomial, and party 2's honest share is the only one off it.
Identification ("the one share whose removal leaves the rest consistent") then named honest party 2
as the cheater at parties 1 and 3: the colluders framed an honest party. Sound identification
needs the consistent remainder to hold t + 1 honest shares: n − 1 ≥ deg + 1 + t.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

import netsim
from mpc import Node, NodeConfig
from mpc.errors import ProtocolError
from mpc.field import GF61
from netsim import SimNetwork
from protocols import secure_sum

pytestmark = pytest.mark.timeout(30)
IDS = (1, 2, 3, 4, 5)
FRAMED, KEEP = 2, (1, 3)


class Colluder(Node):
    async def send_many(self, instance: str, tag: str, payloads: Any, *, same: bool) -> None:
        if tag.endswith("open"):
            m, p = self.party_id, GF61.modulus
            delta = 12345 * (m - KEEP[0]) * (m - KEEP[1]) % p
            payloads = {q: ((v.astype(object) + delta) % p).astype(np.uint64) for q, v in payloads.items()}
        await super().send_many(instance, tag, payloads, same=same)


def test_two_colluders_cannot_frame_an_honest_party_in_a_verified_opening():
    async def main() -> list[Any]:
        net = SimNetwork(IDS, {"latency_ms": 2})

        async def one(pid: int) -> Any:
            cfg = NodeConfig(party_id=pid, parties=IDS, session=b"redteam-verify", timeout=1.0)
            async with (Colluder if pid in (4, 5) else Node).from_config(cfg, net.transport(pid)) as node:
                try:
                    return await node.run(secure_sum, np.array([pid, 7]), sharing="shamir", threshold=2,
                                          verify_openings=True)
                except Exception as exc:  # noqa: BLE001
                    return exc

        return list(await asyncio.gather(*(one(p) for p in IDS)))

    results = netsim.run(main())
    for pid in (1, 2, 3):
        r = results[pid - 1]
        assert isinstance(r, ProtocolError), f"party {pid} accepted a tampered opening: {r!r}"
        assert r.peer not in (1, 2, 3), f"party {pid} blames honest party {r.peer}: {r}"
