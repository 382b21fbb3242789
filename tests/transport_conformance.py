"""What every :class:`~mpc.transport.Transport` must do: ``await check_transport(make_pair)``.

The pattern of trio's ``check_one_way_stream``: one suite, run against each implementation.

``make_pair`` is an async context manager factory: ``async with make_pair() as pair`` yields a
:class:`Pair` whose ``a`` and ``b`` are two transports, already started and connected to each other
(``b.party_id in a.peers`` and the other way round), plus ``crash_b``, a coroutine function that
makes ``b`` go away as a crashed process would (``a`` must then receive ``(b.party_id, PEER_DOWN)``
exactly once). Leaving the context releases everything (closing an already closed transport must be
harmless). The suite asks for a fresh pair per check and only uses ``asyncio`` timeouts, so it runs
on a real event loop and on netsim's virtual-time loop alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import pytest

from mpc.errors import TransportError
from mpc.transport import PEER_DOWN, DirectDelivery, Transport
from mpc.transport.base import try_sender

DEADLINE_S = 20.0
QUIET_S = 1.0  # how long "nothing more arrives" is watched for


@dataclass(frozen=True, slots=True, kw_only=True)
class Pair:
    a: Transport
    b: Transport
    crash_b: Callable[[], Awaitable[None]]


MakePair = Callable[[], AbstractAsyncContextManager[Pair]]


async def _recv(t: Transport, timeout: float = DEADLINE_S) -> tuple[int, bytes | None]:
    async with asyncio.timeout(timeout):
        return await t.recv()


async def _nothing_more(t: Transport) -> None:
    with pytest.raises(TimeoutError):
        await _recv(t, QUIET_S)


async def check_identity_and_peers(make_pair: MakePair) -> None:
    async with make_pair() as p:
        assert p.a.party_id != p.b.party_id
        assert p.b.party_id in p.a.peers and p.a.party_id in p.b.peers
        assert p.a.party_id not in p.a.peers
        assert isinstance(p.a, Transport) and isinstance(p.b, Transport)
        with pytest.raises(AttributeError):
            p.a.peers = ()  # type: ignore[misc]  # read-only


async def check_ordered_delivery_both_ways(make_pair: MakePair, count: int = 300) -> None:
    async with make_pair() as p:
        msgs = [i.to_bytes(4, "little") * (1 + i % 7) for i in range(count)]

        async def send_all(src: Transport, dst: int) -> None:
            for m in msgs:
                await src.send(dst, m)

        async def recv_all(dst: Transport, src: int) -> list[bytes]:
            got = []
            for _ in msgs:
                peer, data = await _recv(dst)
                assert peer == src and data is not None
                got.append(data)
            return got

        _, _, at_b, at_a = await asyncio.gather(
            send_all(p.a, p.b.party_id), send_all(p.b, p.a.party_id),
            recv_all(p.b, p.a.party_id), recv_all(p.a, p.b.party_id))
        assert at_b == msgs and at_a == msgs


async def check_large_and_empty_messages(make_pair: MakePair, size: int = 8 << 20) -> None:
    async with make_pair() as p:
        big = bytes(range(256)) * (size // 256)
        await p.a.send(p.b.party_id, big)
        await p.a.send(p.b.party_id, b"after")
        assert await _recv(p.b) == (p.a.party_id, big)
        assert await _recv(p.b) == (p.a.party_id, b"after")
        await p.b.send(p.a.party_id, b"")  # an empty frame is delivered as one (the node rejects it)
        assert await _recv(p.a) == (p.b.party_id, b"")


async def check_stats(make_pair: MakePair) -> None:
    async with make_pair() as p:
        s0a, s0b = p.a.stats.messages_sent, p.b.stats.messages_received
        b0a, b0b = p.a.stats.bytes_sent, p.b.stats.bytes_received
        for n in (1, 10, 1000):
            await p.a.send(p.b.party_id, bytes(n))
        for _ in range(3):
            await _recv(p.b)
        assert p.a.stats.messages_sent - s0a == 3 and p.b.stats.messages_received - s0b == 3
        assert p.a.stats.bytes_sent - b0a == 1011 and p.b.stats.bytes_received - b0b == 1011
        assert {"messages_sent", "bytes_sent", "messages_received", "bytes_received"} <= set(p.a.stats.as_dict())


async def check_unknown_peer_fails_typed(make_pair: MakePair) -> None:
    async with make_pair() as p:
        for bad in (p.a.party_id, max(p.a.peers) + 1000, -1):
            with pytest.raises(TransportError):
                await p.a.send(bad, b"x")


async def check_direct_delivery(make_pair: MakePair) -> None:
    async with make_pair() as p:
        if not isinstance(p.b, DirectDelivery):
            return
        n0 = p.b.stats.messages_received
        await p.a.send(p.b.party_id, b"one")
        async with asyncio.timeout(DEADLINE_S):  # wait until "one" sits in b's queue
            while p.b.stats.messages_received == n0:
                await asyncio.sleep(0.005)
        got: list[tuple[int, bytes | None]] = []
        arrived = asyncio.Event()

        def sink(peer: int, data: bytes | None) -> None:
            got.append((peer, data))
            if len(got) == 2:
                arrived.set()

        p.b.set_sink(sink)  # the queued "one" is handed over first
        await p.a.send(p.b.party_id, b"two")
        async with asyncio.timeout(DEADLINE_S):
            await arrived.wait()
        assert got == [(p.a.party_id, b"one"), (p.a.party_id, b"two")]
        p.b.set_sink(None)


async def check_peer_down_once(make_pair: MakePair) -> None:
    async with make_pair() as p:
        await p.b.send(p.a.party_id, b"last words")
        assert await _recv(p.a) == (p.b.party_id, b"last words")
        await p.crash_b()
        assert await _recv(p.a) == (p.b.party_id, PEER_DOWN)
        await _nothing_more(p.a)  # reported once


async def check_close(make_pair: MakePair) -> None:
    async with make_pair() as p:
        await p.a.close()
        with pytest.raises(TransportError):
            await p.a.send(p.b.party_id, b"after close")
        await p.a.close()  # idempotent


async def check_try_send(make_pair: MakePair, count: int = 200) -> None:
    """A transport with ``try_send``: what it sent arrives in order with what ``send`` sent, is
    counted, and its errors are typed; one that returned False sent nothing (``send`` then does)."""
    async with make_pair() as p:
        if try_sender(p.a) is None:
            return
        sent: list[bytes] = []
        for i in range(count):
            data = i.to_bytes(4, "big") * (1 + i % 7)
            if i % 3 == 0 or not p.a.try_send(p.b.party_id, data):  # type: ignore[attr-defined]
                await p.a.send(p.b.party_id, data)
            sent.append(data)
        got = [await _recv(p.b) for _ in sent]
        assert got == [(p.a.party_id, d) for d in sent]
        assert p.a.stats.messages_sent >= count
        for bad in (p.a.party_id, max(p.a.peers) + 1000):
            with pytest.raises(TransportError):
                p.a.try_send(bad, b"x")  # type: ignore[attr-defined]
        await p.a.close()
        with pytest.raises(TransportError):
            p.a.try_send(p.b.party_id, b"after close")  # type: ignore[attr-defined]


CHECKS = (
    check_try_send,
    check_identity_and_peers,
    check_ordered_delivery_both_ways,
    check_large_and_empty_messages,
    check_stats,
    check_unknown_peer_fails_typed,
    check_direct_delivery,
    check_peer_down_once,
    check_close,
)


async def check_transport(make_pair: MakePair) -> None:
    """Run every check in :data:`CHECKS`, each on a fresh pair."""
    for check in CHECKS:
        await check(make_pair)


__all__ = ["CHECKS", "MakePair", "Pair", "check_transport"]
