"""Object wire mode: the same simulation as byte mode (times, traces, outcomes), exact sizes, and
payloads that no receiver can change for another (or the sender for its receivers)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mpc.errors import CodecError, ProtocolError
from mpc.message import Message
from mpc.node import Node
from mpc.app.runner import run_sim
from mpc.app.scenario import load
from netsim import SimNetwork, run
from netsim.objects import Packer, Parcel

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parent.parent
SESSION = b"objects-test"


def _msg(payload: Any, tag: str = "t", sender: int = 1) -> Message:
    return Message(session=SESSION, instance="p#1", tag=tag, sender=sender, payload=payload)


JITTERY = {"preset": "wan", "loss": 0.02, "uplink_mbps": 50, "party": {"3": {"preset": "mobile"}}}


@pytest.mark.parametrize("name,network", [
    ("sum-5-shamir", {}), ("mul-7-crash", {}), ("secagg-10", {}),
    # every message its own instant (jitter, losses, shared uplinks, one mobile party): netsim's wheel
    ("sum-5-shamir", JITTERY), ("mul-7-crash", JITTERY),
])
def test_shipped_scenario_has_the_same_time_and_trace_in_both_wire_modes(tmp_path: Path, name: str,
                                                                         network: dict[str, Any]) -> None:
    scn = load(ROOT / "scenarios" / f"{name}.toml")
    if network:
        scn = dataclasses.replace(scn, network=network)
    reports, traces = {}, {}
    for wire in ("objects", "bytes"):
        variant = dataclasses.replace(scn, network={**scn.network, "wire": wire})
        path = tmp_path / f"{wire}.jsonl"
        reports[wire] = run_sim(variant, trace=str(path))
        traces[wire] = path.read_bytes()
    objects, data = reports["objects"], reports["bytes"]
    assert objects.ok and data.ok, (objects.reason, data.reason)
    assert objects.elapsed_s == data.elapsed_s  # simulated time, exactly
    assert traces["objects"] == traces["bytes"]  # every send time, arrival, size, in the same order
    assert traces["objects"].count(b"\n") == objects.as_dict()["messages"] > 0
    assert objects.as_dict()["outputs"] == data.as_dict()["outputs"]
    assert objects.as_dict()["bytes"] == data.as_dict()["bytes"]


def test_the_same_seed_gives_the_same_trace_with_jitter_and_loss(tmp_path: Path) -> None:
    scn = load(ROOT / "scenarios" / "sum-5-shamir.toml")
    scn = dataclasses.replace(scn, network={"preset": "wan", "loss": 0.05})
    first, second, other = (tmp_path / f"{k}.jsonl" for k in "abc")
    assert run_sim(scn, trace=str(first)).ok and run_sim(scn, trace=str(second)).ok
    assert first.read_bytes() == second.read_bytes()
    assert run_sim(dataclasses.replace(scn, seed=scn.seed + 1), trace=str(other)).ok
    assert other.read_bytes() != first.read_bytes()


@pytest.mark.parametrize("payload", [
    None, 7, -2**63, 2**64 - 1, 1.5, "text", b"\x00bytes", True, [], {},
    np.arange(8, dtype=np.uint64), np.arange(6, dtype=">i8").reshape(2, 3), np.zeros((0, 4), np.uint64),
    np.asfortranarray(np.arange(12, dtype=np.uint64).reshape(3, 4)), np.arange(10, dtype=np.uint64)[::3],
    np.uint64(5), np.float64(0.25), (1, 2), [np.arange(3, dtype=np.int32), {"k": [b"x", 2.0]}],
    {"a": np.ones((2, 2), np.float64), "b": [1, [2, [3]]]},
])
def test_parcel_size_and_snapshot_are_what_the_codec_gives(payload: Any) -> None:
    msg = _msg(payload)
    data = msg.to_bytes()
    parcel = Packer().pack(msg)
    assert isinstance(parcel, Parcel)
    assert parcel.size == len(data)
    decoded = Message.from_bytes(data).payload
    got = parcel.open().payload
    assert type(got) is type(decoded)
    if isinstance(decoded, np.ndarray):
        assert got.dtype == decoded.dtype and got.shape == decoded.shape and np.array_equal(got, decoded)
        assert not got.flags.writeable
    else:
        assert Message(session=SESSION, instance="p#1", tag="t", sender=1, payload=got).to_bytes() == data


def test_envelope_cache_is_exact_for_other_senders_tags_and_shapes() -> None:
    packer = Packer()
    for sender in (1, 127, 128, 70000):
        for tag in ("t", "x" * 40):
            for n in (0, 1, 15, 16, 70000):
                msg = _msg(np.arange(n, dtype=np.uint64), tag=tag, sender=sender)
                parcel = packer.pack(msg)
                assert isinstance(parcel, Parcel) and parcel.size == len(msg.to_bytes())


def test_unencodable_payload_fails_at_the_sender_and_undecodable_one_travels_as_bytes() -> None:
    with pytest.raises(CodecError):
        Packer().pack(_msg({1, 2}))
    with pytest.raises(CodecError):
        Packer().pack(_msg(np.array([True, False])))
    packed = Packer().pack(_msg({1: "int keys"}))  # encodes, but no receiver would decode it
    assert isinstance(packed, bytes) and packed == _msg({1: "int keys"}).to_bytes()


async def _broadcast_and_tamper(parties: tuple[int, ...]) -> dict[int, Any]:
    """Party 1 broadcasts an array and a nested list, then overwrites its own buffers; every other
    party tries to change what it received, in arrival order; each reports what it saw."""
    net = SimNetwork(parties, {"latency_ms": 1})
    seen: dict[int, Any] = {}

    async def party(pid: int) -> None:
        async with Node(pid, transport=net.transport(pid), parties=parties, session=SESSION, timeout=5) as node:
            async def proto(ctx: Any) -> None:
                if pid == 1:
                    arr, nested = np.arange(4, dtype=np.uint64), [[1, 2], {"k": [3]}]
                    await ctx.broadcast("a", arr, to=parties[1:])  # a bare array: the fast path
                    await ctx.broadcast("b", {"arr": arr, "nested": nested}, to=parties[1:])
                    arr[:] = 99
                    nested[0].append("sender edit")
                    return
                bare, got = await ctx.recv(1, "a"), await ctx.recv(1, "b")
                seen[pid] = (bare.copy(), got["arr"].copy(), repr(got["nested"]),
                             bare.flags.writeable or got["arr"].flags.writeable)
                for arr in (bare, got["arr"]):
                    with pytest.raises(ValueError):
                        arr[0] = 12345  # read-only, as a decoded array is
                got["nested"][0].append(pid)  # this receiver's own copy
                got["nested"][1]["k"].clear()

            await node.run(proto)

    await asyncio.gather(*(party(p) for p in parties))
    return seen


def test_a_broadcast_payload_cannot_be_changed_by_a_receiver_or_by_the_sender_afterwards() -> None:
    seen = run(_broadcast_and_tamper((1, 2, 3, 4)))
    assert sorted(seen) == [2, 3, 4]
    for bare, arr, nested, writeable in seen.values():
        assert bare.tolist() == arr.tolist() == [0, 1, 2, 3] and not writeable
        assert nested == "[[1, 2], {'k': [3]}]"


async def _rogue(send: Any) -> tuple[Node, Any]:
    """Parties 1 and 2 exchange one value; party 3 (a raw transport) sends ``send`` first."""
    net = SimNetwork((1, 2, 3))
    rogue = net.transport(3)
    await rogue.start(1)
    nodes: dict[int, Node] = {}

    async def party(pid: int) -> Any:
        async with Node(pid, transport=net.transport(pid), parties=(1, 2, 3), neighbors=(1, 2),
                        session=SESSION, timeout=2) as node:
            nodes[pid] = node
            if pid == 1:
                send(rogue)

            async def proto(ctx: Any) -> Any:
                return await ctx.exchange("v", pid * 10, among=(1, 2))

            return await node.run(proto)

    results = await asyncio.gather(party(1), party(2))
    assert results[0] == results[1] == {1: 10, 2: 20}  # the honest exchange is unaffected
    return nodes[1], nodes[2]


@pytest.mark.parametrize("forged,needle", [
    (Message(session=SESSION, instance="proto#1", tag="v", sender=2, payload=666), "claims to be party 2"),
    (Message(session=b"another", instance="proto#1", tag="v", sender=3, payload=666), "another session"),
])
def test_object_mode_applies_the_same_checks_as_decoding(forged: Message, needle: str) -> None:
    n1, _ = run(_rogue(lambda rogue: rogue.send_messages([(1, forged)])))
    assert n1.rejected_count == 1 and needle in str(n1.rejected[0])
    assert isinstance(n1.rejected[0], ProtocolError) and n1.rejected[0].peer == 3


def test_an_undecodable_payload_is_rejected_by_the_receiver_as_in_byte_mode() -> None:
    forged = Message(session=SESSION, instance="proto#1", tag="w", sender=3, payload={1: "x"})
    n1, _ = run(_rogue(lambda rogue: rogue.send_messages([(1, forged)])))
    assert n1.rejected_count == 1 and isinstance(n1.rejected[0], CodecError)


def test_a_frozen_array_travels_without_a_copy_and_anything_else_is_copied() -> None:
    owner = np.arange(24, dtype=np.uint64).reshape(3, 8).copy()  # owns its memory
    owner.setflags(write=False)
    row = owner[1]  # a row of a frozen share matrix: read-only down to its owner
    parcel = Packer().pack(_msg(row))
    assert isinstance(parcel, Parcel) and parcel.open().payload is row and parcel.size == len(_msg(row).to_bytes())
    decoded = Message.from_bytes(_msg(row).to_bytes()).payload  # read-only over immutable bytes
    assert Packer().pack(_msg(decoded)).open().payload is decoded  # type: ignore[union-attr]
    writable = np.arange(8, dtype=np.uint64)
    view = writable[:]
    view.setflags(write=False)  # read-only, but its owner is not: the sender could still change it
    over_bytearray = np.frombuffer(memoryview(bytearray(64)).toreadonly(), dtype=np.uint64)
    reshaped = np.arange(8, dtype=np.uint64).reshape(2, 4)
    reshaped.setflags(write=False)  # its base, the arange, stays writeable
    for payload in (writable, view, over_bytearray, reshaped, owner[:, ::2]):  # the last: not C-contiguous
        snap = Packer().pack(_msg(payload)).open().payload  # type: ignore[union-attr]
        assert snap is not payload and not snap.flags.writeable and np.array_equal(snap, payload)
    writable[:] = 7
    assert snap is not None and not np.shares_memory(snap, writable)


def test_a_frozen_row_reaches_a_transport_without_a_message_sink_as_its_bytes() -> None:
    async def main() -> tuple[int, bytes | None, dict[str, int]]:
        net = SimNetwork((1, 2), {"latency_ms": 2})
        a, b = net.transport(1), net.transport(2)
        await a.start(1)
        await b.start(1)
        rows = np.arange(16, dtype=np.uint64).reshape(2, 8).copy()
        rows.setflags(write=False)
        assert a.send_messages([(2, _msg(rows[1]))]) == {}
        got = await b.recv()  # no sink: queued, then read as bytes
        return got[0], got[1], b.stats.as_dict()

    src, data, stats = run(main())
    want = _msg(np.arange(8, 16, dtype=np.uint64)).to_bytes()
    assert src == 1 and data == want
    assert stats["messages_received"] == 1 and stats["bytes_received"] == len(want)
