"""Node and mailbox behaviour under bad input, replays, reordering and silent or dead peers."""

import asyncio

import numpy as np
import pytest

from mpc import CodecError, Node, PartyDropped, ProtocolError, QuorumLost
from mpc.message import Message
from netsim import SimNetwork
from protocols import secure_sum

pytestmark = pytest.mark.timeout(30)
SESSION = b"test-session"


async def _sum_with_rogue(inject):
    """Parties 1 and 2 sum while party 3's transport is driven by ``inject`` (a hostile peer)."""
    net = SimNetwork((1, 2, 3))
    captured: list[tuple[int, int, bytes]] = []
    net.observers.append(lambda sent, arrives, src, dst, data: captured.append((src, dst, data)))
    nodes = {}

    async def honest(pid):
        async with Node(pid, transport=net.transport(pid), parties=(1, 2), session=SESSION, timeout=2) as node:
            nodes[pid] = node
            first = await node.run(secure_sum, np.array([pid, -pid]), sharing="additive")
            if pid == 1:
                await inject(net.transport(3), captured)
            await asyncio.sleep(0.05)
            second = await node.run(secure_sum, np.array([10 * pid]), sharing="additive")
            return first, second

    await net.transport(3).start(1)
    results = await asyncio.gather(honest(1), honest(2))
    return results, nodes


def _check_sums(results):
    for first, second in results:
        assert first.tolist() == [3, -3] and second.tolist() == [30]


async def test_malformed_and_wrong_session_and_spoofed_messages_are_rejected_and_node_lives():
    async def inject(rogue, captured):
        await rogue.send(1, b"\xc1garbage")
        await rogue.send(1, Message(session=b"other", instance="secure_sum#2", tag="share", sender=3).to_bytes())
        await rogue.send(2, Message(session=SESSION, instance="secure_sum#2", tag="share", sender=1).to_bytes())

    results, nodes = await _sum_with_rogue(inject)
    _check_sums(results)
    assert nodes[1].rejected_count == 2 and nodes[2].rejected_count == 1
    kinds = " | ".join(str(e) for e in nodes[1].rejected + nodes[2].rejected)
    assert any(isinstance(e, CodecError) for e in nodes[1].rejected)
    assert "another session" in kinds and "claims to be party 1" in kinds
    assert all(isinstance(e, ProtocolError) and e.peer == 3 for e in nodes[1].rejected + nodes[2].rejected)


async def test_replayed_and_stale_messages_are_rejected():
    net = SimNetwork((1, 2))
    captured = []
    net.observers.append(lambda sent, arrives, src, dst, data: captured.append((src, dst, data)))

    async def party(pid):
        async with Node(pid, transport=net.transport(pid), session=SESSION, timeout=2, parties=(1, 2)) as node:
            a = await node.run(secure_sum, np.array([pid]), sharing="additive")
            if pid == 2:  # replay every message party 2 received during the first sum
                for src, dst, data in list(captured):
                    if dst == 2 and src == 1:
                        net._transports[2]._arrive(1, data)
            await asyncio.sleep(0.01)
            b = await node.run(secure_sum, np.array([pid]), sharing="additive")
            return node, a, b

    (n1, a1, b1), (n2, a2, b2) = await asyncio.gather(party(1), party(2))
    assert a1.tolist() == b1.tolist() == a2.tolist() == b2.tolist() == [3]
    assert n2.rejected_count >= 2  # share + open of the finished instance (hello is control: idempotent)
    assert any("finished instance" in str(e) for e in n2.rejected)


async def test_duplicate_within_an_instance_is_rejected():
    net = SimNetwork((1, 2))

    async def _send_twice(ctx):
        if ctx.party_id == 1:
            await ctx.send(2, "x", 1)
            await ctx.send(2, "x", 2)
            return None
        await asyncio.sleep(0.01)
        return await ctx.recv(1, "x")

    async def one(pid):
        async with Node(pid, transport=net.transport(pid), parties=(1, 2), session=SESSION, timeout=1) as node:
            return node, await node.run(_send_twice)

    (_, _), (n2, got) = await asyncio.gather(one(1), one(2))
    assert got == 1
    assert any("duplicate" in str(e) for e in n2.rejected)


async def test_early_messages_wait_in_the_mailbox(parties):
    async def body(node):
        async def proto(ctx):
            if ctx.party_id == 1:
                for tag in ("c", "b", "a"):
                    await ctx.send(2, tag, tag.upper())
                return None
            return [await ctx.recv(1, t) for t in ("a", "b", "c")]

        return await node.run(proto)

    res = await parties(2, body)
    assert res[2] == ["A", "B", "C"]


async def test_silent_peer_at_start_is_detected():
    net = SimNetwork((1, 2, 3))  # party 3 never starts a node
    t0 = asyncio.get_running_loop().time()

    async def one(pid):
        async with Node(pid, transport=net.transport(pid), parties=(1, 2, 3), session=SESSION,
                        connect_timeout=0.5) as node:
            return node

    res = await asyncio.gather(one(1), one(2), return_exceptions=True)
    assert all(isinstance(r, PartyDropped) and r.party == 3 for r in res)
    assert asyncio.get_running_loop().time() - t0 < 5


async def test_silent_peer_mid_protocol_raises_partydropped_within_the_timeout(parties):
    async def body(node):
        async def proto(ctx):
            if ctx.party_id == 3:
                return "silent"  # never sends its share: alive but mute
            await ctx.broadcast("r", ctx.party_id)
            return await ctx.gather("r")

        return await node.run(proto)

    t0 = asyncio.get_running_loop().time()
    res = await parties(3, body, timeout=0.5)
    # party 3 finished its part, but the survivors agree: nobody keeps an output when one aborted
    for pid in (1, 2, 3):
        assert isinstance(res[pid], PartyDropped) and res[pid].party == 3
    assert asyncio.get_running_loop().time() - t0 < 5


async def test_quorum_lost_names_the_missing(parties):
    async def body(node):
        async def proto(ctx):
            if ctx.party_id in (3, 4):
                return None
            await ctx.broadcast("r", 1)
            return await ctx.gather("r", quorum=3)

        return await node.run(proto)

    res = await parties(4, body, timeout=0.3)
    for pid in (1, 2):
        assert isinstance(res[pid], QuorumLost) and res[pid].missing == (3, 4)
