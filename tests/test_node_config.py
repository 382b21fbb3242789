"""NodeConfig validation, the two constructors, send observers and the star barrier (virtual time)."""

import asyncio

import numpy as np
import pytest

import netsim
from mpc import ConfigError, Node, NodeConfig, PartyDropped
from mpc.message import peek_route
from netsim import SimNetwork
from protocols import secure_sum

pytestmark = pytest.mark.timeout(30)


def test_config_requires_a_session_and_checks_its_fields():
    with pytest.raises(TypeError):
        NodeConfig(party_id=1, parties=(1, 2))  # type: ignore[call-arg]  # no default session
    with pytest.raises(ConfigError, match="session"):
        NodeConfig(party_id=1, parties=(1, 2), session=b"")
    with pytest.raises(ConfigError, match="not among"):
        NodeConfig(party_id=3, parties=(1, 2), session=b"s")
    with pytest.raises(ConfigError, match="barrier"):
        NodeConfig(party_id=1, parties=(1, 2), session=b"s", barrier="ring")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="root"):
        NodeConfig(party_id=3, parties=(1, 2, 3), session=b"s", neighbors=(2,), barrier="star")
    cfg = NodeConfig(party_id=2, parties=(3, 1, 2, 2), session=b"s", neighbors=(1, 2))
    assert cfg.parties == (1, 2, 3) and cfg.peers == (1,) and cfg.root == 1
    with pytest.raises(TypeError):
        Node(1, transport=SimNetwork((1, 2)).transport(1), parties=(1, 2))  # type: ignore[call-arg]


def _traffic(net):
    sent = []
    net.observers.append(lambda at, arr, src, dst, data: sent.append((src, dst, peek_route(data))))
    return sent


def _sum_all(ids, barrier, *, from_config=False, start=None):
    async def main():
        net = SimNetwork(ids)
        sent = _traffic(net)

        async def one(pid):
            if from_config:
                cfg = NodeConfig(party_id=pid, parties=ids, session=b"cfg", barrier=barrier)
                node = Node.from_config(cfg, net.transport(pid))
            else:
                node = Node(pid, transport=net.transport(pid), parties=ids, session="cfg", barrier=barrier)
            async with node:
                return await node.run(secure_sum, np.array([pid]))

        res = await asyncio.gather(*(one(p) for p in (start or ids)))
        return res, sent

    return netsim.run(main())


@pytest.mark.parametrize("barrier", ["mesh", "star"])
def test_both_barrier_shapes_run_a_sum(barrier):
    ids = tuple(range(1, 8))
    res, sent = _sum_all(ids, barrier, from_config=barrier == "star")
    assert all(r.tolist() == [28] for r in res)
    hellos = [(s, d) for s, d, route in sent if route == ("", "hello")]
    if barrier == "mesh":
        assert len(hellos) == 7 * 6
    else:  # six leaves tell the root, the root answers six: O(n), and only after all arrived
        assert len(hellos) == 12 and all(1 in pair for pair in hellos)
        assert [s for s, _ in hellos[:6]] != [1] * 6


def test_star_root_answers_only_when_everyone_arrived():
    async def main():
        net = SimNetwork((1, 2, 3))
        nodes = {p: Node(p, transport=net.transport(p), parties=(1, 2, 3), session=b"s", barrier="star",
                         connect_timeout=0.5) for p in (1, 2, 3)}
        # party 3 never starts: neither the root nor the other leaf passes the barrier
        res = await asyncio.gather(nodes[1].start(), nodes[2].start(), return_exceptions=True)
        return res

    res = netsim.run(main())
    assert isinstance(res[0], PartyDropped) and res[0].party == 3
    assert isinstance(res[1], PartyDropped) and res[1].party == 1  # the root never answered


def test_send_observer_sees_every_round_tag():
    seen = {}

    async def main():
        net = SimNetwork((1, 2))

        async def one(pid):
            node = Node(pid, transport=net.transport(pid), parties=(1, 2), session=b"s")
            seen[pid] = []
            node.add_send_observer(seen[pid].append)
            async with node:
                return await node.run(secure_sum, np.array([pid]), sharing="additive")

        return await asyncio.gather(one(1), one(2))

    res = netsim.run(main())
    assert [r.tolist() for r in res] == [[3], [3]]
    assert seen[1][:2] == ["share", "open"] and seen[2][:2] == ["share", "open"]
