"""Red team: a peer pins memory past its per-sender buffer (virtual time, bytes on the wire).

1. Rejected messages: the node keeps its last 32 rejections for inspection, and each exception's
   traceback held the frames that decoded the message, so the decoded payload (up to ~20 MiB from a
   256 KiB envelope) stayed alive: 32 × 20 MiB, outside the per-sender quota.
2. Early abort notices: an END-tag message with ``ok: False`` for a computation the receiver has not started is buffered
in the mailbox (charged to the sender's quota, evicted when over it) *and* kept in the node's
``_early_aborts`` table (up to 1024 instances) as the whole decoded payload. Eviction from the
mailbox frees nothing: the table still holds the payload. A payload of 100 KiB of empty maps
decodes to ~6 MiB of Python objects, so 1024 such notices pin ~6 GiB, whatever the quota.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from typing import Any

import pytest

import netsim
from mpc import Node, NodeConfig, codec
from mpc.agreement import END_TAG
from netsim import SimNetwork

pytestmark = pytest.mark.timeout(60)
IDS = (1, 2, 3)
QUOTA = 4 << 20


@pytest.mark.parametrize(("notices", "junk"), [
    (24, 100_000),  # each over the quota: rejected (pinned by the kept exceptions' tracebacks)
    (64, 40_000),  # each within it: buffered, evicted, but kept as an early abort cause
], ids=["rejected", "evicted"])
def test_abort_notices_stay_within_the_senders_buffer_quota(notices: int, junk: int):
    limits = codec.Limits(max_buffered_bytes_per_sender=QUOTA)
    held: dict[str, int] = {}

    async def main() -> None:
        net = SimNetwork(IDS, {"latency_ms": 2, "wire": "bytes"})

        async def one(pid: int) -> None:
            cfg = NodeConfig(party_id=pid, parties=IDS, session=b"redteam-early", timeout=1.0, limits=limits)
            async with Node.from_config(cfg, net.transport(pid)) as node:
                if pid == 1:
                    gc.collect()
                    tracemalloc.start()
                    before = tracemalloc.get_traced_memory()[0]
                    await asyncio.sleep(2.0)
                    gc.collect()
                    held["bytes"] = tracemalloc.get_traced_memory()[0] - before
                    tracemalloc.stop()
                elif pid == 3:
                    await asyncio.sleep(0.1)
                    maps: Any = [{}] * junk  # 1 envelope byte, ~64 decoded bytes each
                    for k in range(notices):
                        msg = node._message(f"never-started-{k}", END_TAG, {"ok": False, "kind": "X", "junk": maps})
                        await node._send_all([(1, msg)])
                    await asyncio.sleep(2.0)
                else:
                    await asyncio.sleep(2.1)

        await asyncio.gather(*(one(p) for p in IDS))

    netsim.run(main())
    budget = QUOTA + 80 * 256 * 1024 + (8 << 20)  # quota + one message being decoded + slack
    assert held["bytes"] < budget, f"party 3 pins {held['bytes'] / 2**20:.0f} MiB at party 1 (budget {budget / 2**20:.0f})"
