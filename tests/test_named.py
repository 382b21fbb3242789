"""Named computations: matched across parties by name, not call order (virtual time)."""

import asyncio

import numpy as np
import pytest

import netsim
from mpc import ConfigError, Node
from mpc.errors import NameInUse
from netsim import SimNetwork
from protocols import secure_sum

pytestmark = pytest.mark.timeout(30)
IDS = (1, 2, 3)
WORK = {"payroll": lambda p: p, "audit": lambda p: 100 * p}  # opens to 6 and 600
ORDER = {1: ("payroll", "audit"), 2: ("audit", "payroll"), 3: ("audit", "payroll")}


def _serve(stagger_s: float):
    """Each party starts both computations in its own order; with ``stagger_s`` the second one only
    after that much (virtual) time, so one party is deep into a computation the other has not begun."""

    async def main():
        net = SimNetwork(IDS, {"latency_ms": 5})

        async def party(pid):
            async with Node(pid, transport=net.transport(pid), parties=IDS, session=b"named", timeout=2.0) as node:
                tasks = {}
                for k, name in enumerate(ORDER[pid]):
                    if k and stagger_s:
                        await asyncio.sleep(stagger_s * pid)
                    tasks[name] = asyncio.create_task(node.run(secure_sum, np.array([WORK[name](pid)]), name=name))
                return {name: (await t).tolist() for name, t in tasks.items()}

        return await asyncio.gather(*(party(p) for p in IDS))

    return netsim.run(main())


@pytest.mark.parametrize("stagger_s", [0.0, 0.004, 0.05])
def test_named_computations_started_in_opposite_orders_give_the_right_results(stagger_s):
    for res in _serve(stagger_s):
        assert res == {"payroll": [6], "audit": [600]}


def test_a_name_is_used_once_per_session_and_unnamed_runs_keep_their_counter():
    async def main():
        net = SimNetwork((1, 2))

        async def party(pid):
            async with Node(pid, transport=net.transport(pid), parties=(1, 2), session=b"n", timeout=1.0) as node:
                first = await node.run(secure_sum, [pid], name="q1")
                with pytest.raises(NameInUse, match="q1"):
                    await node.run(secure_sum, [pid], name="q1")
                for bad in ("", "x#1", "~end", "y" * 300):
                    with pytest.raises(ConfigError):
                        await node.run(secure_sum, [pid], name=bad)
                # names do not advance the counter: unnamed runs still line up by call order
                second = await node.run(secure_sum, [10 * pid])
                third = await node.run(secure_sum, [100 * pid], name="q2")
                return first.tolist(), second.tolist(), third.tolist(), node.traffic()["messages_sent"]

        return await asyncio.gather(party(1), party(2))

    (a1, b1, c1, sent1), (a2, b2, c2, sent2) = netsim.run(main())
    assert a1 == a2 == [3] and b1 == b2 == [30] and c1 == c2 == [300]
    # refused names sent nothing: three computations of share + open + end, plus hello
    assert sent1 == sent2 == 1 + 3 * 3
