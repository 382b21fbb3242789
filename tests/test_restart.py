"""Node lifetime: start/close, and a restarted party that joins the next computation."""

import asyncio

import numpy as np
import pytest

import netsim
from mpc import Crashed, Node, PartyDropped
from mpc.app.runner import crash_after
from mpc.transport.nng import NngTransport
from netsim import SimNetwork
from protocols import secure_sum

pytestmark = [pytest.mark.timeout(60), pytest.mark.real_time]
IDS = (1, 2, 3)


def _restart_in_sim(named: bool):
    async def main():
        net = SimNetwork(IDS, {"latency_ms": 5})
        back = asyncio.Event()
        names = {"first": "first", "second": "second"} if named else {"first": None, "second": None}

        async def survivor(pid):
            node = Node(pid, transport=net.transport(pid), parties=IDS, session=b"svc", timeout=1.0)
            await node.start()
            try:
                try:
                    first = await node.run(secure_sum, [pid], sharing="additive", name=names["first"])
                except PartyDropped as exc:
                    first = exc
                await back.wait()  # the service gets its next request once party 3 is back
                second = await node.run(secure_sum, [10 * pid], sharing="additive", name=names["second"])
                return first, second.tolist()
            finally:
                await node.close()

        async def restarting():
            def crash():
                net.crash(3)
                raise Crashed("killed between computations' sends")

            old = Node(3, transport=net.transport(3), parties=IDS, session=b"svc", timeout=1.0)
            old.add_send_observer(crash_after("share", crash))
            async with old:
                with pytest.raises(Crashed):
                    await old.run(secure_sum, [3], sharing="additive", name=names["first"])
            await asyncio.sleep(0.5)  # down for a while (virtual time)
            async with Node(3, transport=net.revive(3), parties=IDS, session=b"svc", timeout=1.0) as new:
                back.set()
                second = await new.run(secure_sum, [30], sharing="additive", name=names["second"])
                return None, second.tolist()

        return await asyncio.gather(survivor(1), survivor(2), restarting())

    return netsim.run(main())


@pytest.mark.parametrize("named", [True, False])
def test_a_restarted_party_takes_part_in_the_next_computation(named):
    res = _restart_in_sim(named)
    for first, _ in res[:2]:  # the computation in flight failed with a clear error at the survivors
        assert isinstance(first, PartyDropped) and first.party == 3
    assert [second for _, second in res] == [[60]] * 3  # unnamed: the new node adopted the counter


async def test_a_restarted_party_rejoins_over_real_sockets():
    transports = {p: NngTransport(p) for p in IDS}
    bound = {p: transports[p].bind([q for q in IDS if q > p]) for p in IDS}

    def dial(p):
        return {q: bound[q][p] for q in IDS if q < p}

    for p in IDS:
        transports[p].connect(dial(p), [q for q in IDS if q != p])
    nodes = {p: Node(p, transport=transports[p], parties=IDS, session=b"real-restart", timeout=5.0) for p in IDS}
    await asyncio.wait_for(asyncio.gather(*(n.start() for n in nodes.values())), 30)
    try:
        first = await asyncio.wait_for(asyncio.gather(
            *(nodes[p].run(secure_sum, np.array([p]), name="before") for p in IDS)), 30)
        assert [r.tolist() for r in first] == [[6]] * 3
        await nodes[3].close(goodbye=False)  # party 3 dies without a word
        t3 = NngTransport(3)
        t3.connect(dial(3), [1, 2])  # a new process: same id, same addresses, fresh state
        nodes[3] = Node(3, transport=t3, parties=IDS, session=b"real-restart", timeout=5.0)
        await asyncio.wait_for(nodes[3].start(), 30)
        second = await asyncio.wait_for(asyncio.gather(
            *(nodes[p].run(secure_sum, np.array([100 * p]), name="after") for p in IDS)), 30)
        assert [r.tolist() for r in second] == [[600]] * 3
    finally:
        await asyncio.gather(*(n.close() for n in nodes.values()), return_exceptions=True)
