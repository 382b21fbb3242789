"""The asyncio TCP transport over real loopback sockets, in one process: delivery, framing limits,
peer down, close, and attacks on the handshake written from the attacker's side."""

from __future__ import annotations

import asyncio
import ssl
import struct

import numpy as np
import pytest
from deploy_harness import free_base_ports

from mpc import Node
from mpc.errors import ConfigError, ProtocolError, TransportError
from mpc.identity import generate
from mpc.transport.base import PEER_DOWN
from mpc.transport.tcp import TcpTransport, new_transport
from mpc.transport.tcp_conn import HELLO, MAGIC, RECV_BUFFER, VERSION
from protocols import secure_sum

pytestmark = [pytest.mark.real_time, pytest.mark.timeout(60)]


class Inbox:
    """A sink that records deliveries and lets a test wait for a count."""

    def __init__(self) -> None:
        self.items: list[tuple[int, bytes | None]] = []
        self._changed = asyncio.Event()

    def __call__(self, peer: int, data: bytes | None) -> None:
        self.items.append((peer, None if data is None else bytes(data)))
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[int, bytes | None]]:
        async with asyncio.timeout(timeout):
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.items


async def connected(ids=(1, 2), tls=None, **kw) -> dict[int, TcpTransport]:
    ts = {p: TcpTransport(p, tls=None if tls is None else tls[p], **kw) for p in ids}
    bound = {p: ts[p].bind([q for q in ids if q > p]) for p in ids}
    for p in ids:
        ts[p].connect({q: bound[q][p] for q in ids if q < p}, [q for q in ids if q != p])
    await asyncio.gather(*(t.start(10) for t in ts.values()))
    return ts


async def close_all(ts) -> None:
    for t in ts.values():
        await t.close()


def hello(sender: int, receiver: int) -> bytes:
    return HELLO.pack(MAGIC, VERSION, sender, receiver)


def frame(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _port(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def listener(pid: int = 1, peer: int = 2, **kw) -> tuple[TcpTransport, int]:
    """A transport that listens for ``peer`` (not started yet) and the port it listens on."""
    t = TcpTransport(pid, **kw)
    port = _port(t.bind([peer])[peer])
    t.connect({}, [peer])
    return t, port


async def the_real_peer_still_gets_in(t1: TcpTransport, port: int, starting, tls=None) -> None:
    t2 = TcpTransport(2, tls=tls)
    t2.connect({1: f"tcp://127.0.0.1:{port}"}, [1])
    await asyncio.gather(starting, t2.start(10))
    await t2.send(1, b"genuine")
    assert await asyncio.wait_for(t1.recv(), 5) == (2, b"genuine")
    await t1.close()
    await t2.close()


# -- the conformance behaviours --------------------------------------------------------------
async def test_messages_arrive_in_order_both_ways_through_recv_and_through_a_sink():
    ts = await connected()
    try:
        for i in range(200):
            await ts[1].send(2, b"a%d" % i)
            await ts[2].send(1, b"b%d" % i)
        got = [await asyncio.wait_for(ts[2].recv(), 5) for _ in range(200)]
        assert got == [(1, b"a%d" % i) for i in range(200)]
        inbox = Inbox()
        ts[1].set_sink(inbox)  # hands over what recv() has not taken yet, in order, then direct
        for i in range(200, 300):
            await ts[2].send(1, b"b%d" % i)
        items = await inbox.wait_for(300)
        assert items == [(2, b"b%d" % i) for i in range(300)]
        assert ts[1].stats.messages_sent == ts[2].stats.messages_received == 200
        assert ts[2].stats.messages_sent == ts[1].stats.messages_received == 300
    finally:
        await close_all(ts)


@pytest.mark.parametrize("size", [1, RECV_BUFFER - 5, RECV_BUFFER - 4, RECV_BUFFER - 3, RECV_BUFFER + 1, 9 << 20])
async def test_messages_of_every_size_class_arrive_intact_between_small_ones(size):
    ts = await connected()
    try:
        inbox = Inbox()
        ts[2].set_sink(inbox)
        big = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
        await ts[1].send(2, b"before")
        await ts[1].send(2, big)
        await ts[1].send(2, b"after")
        items = await inbox.wait_for(3)
        assert items == [(1, b"before"), (1, big), (1, b"after")]
    finally:
        await close_all(ts)


async def test_a_closed_peer_is_reported_down_once_and_sends_to_it_fail():
    ts = await connected((1, 2, 3))
    try:
        inbox = Inbox()
        ts[1].set_sink(inbox)
        await ts[3].send(1, b"last words")
        await ts[3].close()
        items = await inbox.wait_for(2)
        assert items[:2] == [(3, b"last words"), (3, PEER_DOWN)]
        with pytest.raises(TransportError, match="down"):
            await ts[1].send(3, b"x")
        await ts[2].send(1, b"still here")  # the other pair is untouched
        assert (await inbox.wait_for(3))[2] == (2, b"still here")
        await asyncio.sleep(0.05)
        assert [d for p, d in inbox.items if p == 3].count(PEER_DOWN) == 1
    finally:
        await close_all(ts)


async def test_a_second_start_is_harmless_and_close_is_idempotent():
    ts = await connected()
    await ts[1].start(1)
    await ts[2].send(1, b"still one pair")
    assert await asyncio.wait_for(ts[1].recv(), 5) == (2, b"still one pair")
    await close_all(ts)
    await close_all(ts)


async def test_close_reports_nothing_to_the_closer_and_rejects_later_sends():
    ts = await connected()
    inbox = Inbox()
    ts[1].set_sink(inbox)
    await ts[1].close()
    with pytest.raises(TransportError):
        await ts[1].send(2, b"x")
    got = await asyncio.wait_for(ts[2].recv(), 5)
    assert got == (1, PEER_DOWN)
    await ts[2].close()
    assert inbox.items == []


async def test_oversized_sends_are_refused_locally():
    ts = await connected(max_message_bytes=1000)
    try:
        with pytest.raises(TransportError, match="more than 1000"):
            await ts[1].send(2, bytes(1001))
        with pytest.raises(TransportError, match="unknown peer"):
            await ts[1].send(9, b"x")
    finally:
        await close_all(ts)


async def test_a_send_waits_above_the_high_water_mark_until_the_peer_reads_again():
    ts = await connected(send_timeout=30)
    try:
        inbox = Inbox()
        ts[2].set_sink(inbox)
        ts[2]._conns[1].transport.pause_reading()  # a slow receiver
        chunk, sent = bytes(1 << 20), 0
        while not ts[1]._conns[2].paused:  # the kernel buffers fill, then ours, up to HIGH_WATER
            ts[1]._conns[2].write(chunk)
            sent += 1
            assert sent < 1000
        waiting = asyncio.ensure_future(ts[1].send(2, b"tail"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        ts[2]._conns[1].transport.resume_reading()
        await asyncio.wait_for(waiting, 20)
        items = await inbox.wait_for(sent + 1, 20)
        assert items[-1] == (1, b"tail") and all(d == chunk for _, d in items[:-1])
    finally:
        await close_all(ts)


async def test_a_send_waiting_on_a_stuck_peer_times_out_and_one_waiting_on_a_dead_peer_fails():
    for outcome in ("timeout", "down"):
        ts = await connected(send_timeout=0.5 if outcome == "timeout" else 30)
        ts[2]._conns[1].transport.pause_reading()
        conn = ts[1]._conns[2]
        while not conn.paused:
            conn.write(bytes(1 << 20))
        waiting = asyncio.ensure_future(ts[1].send(2, b"x"))
        if outcome == "down":
            await asyncio.sleep(0.05)
            ts[2]._conns[1].transport.abort()
        with pytest.raises(TransportError, match="timed out" if outcome == "timeout" else "went down"):
            await asyncio.wait_for(waiting, 10)
        await close_all(ts)


async def test_start_without_the_peer_fails_at_its_deadline_saying_why():
    t, port = listener()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(TransportError, match=f"party 2: listening on tcp://127.0.0.1:{port}: no connection from it arrived"):
        await t.start(0.3)
    assert 0.25 < loop.time() - t0 < 3
    nobody = TcpTransport(2)
    nobody.connect({1: f"tcp://127.0.0.1:{port}"}, [1])  # the listener is closed now
    with pytest.raises(TransportError, match="party 1: dialing .* connection refused"):
        await nobody.start(0.3)


def test_bad_choices_are_config_errors():
    with pytest.raises(ConfigError, match="transport must be one of"):
        new_transport("carrier-pigeon", 1)
    with pytest.raises(ConfigError):
        TcpTransport(1, max_message_bytes=1 << 32)
    with pytest.raises(ConfigError, match="no address"):
        TcpTransport(3, {1: "tcp://127.0.0.1:1", 2: "tcp://127.0.0.1:2"})


# -- a hostile peer on a plain connection -----------------------------------------------------
async def _attacker(port: int, payload: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    return reader, writer


async def test_garbage_frames_are_rejected_and_the_pair_keeps_working():
    victim, port = listener(max_message_bytes=1000)
    starting = asyncio.ensure_future(victim.start(10))
    # the attacker is party 2 (no TLS: nothing proves otherwise) and sends framing garbage
    reader, writer = await _attacker(port, hello(2, 1))
    answer = await asyncio.wait_for(reader.readexactly(HELLO.size), 5)
    assert HELLO.unpack(answer) == (MAGIC, VERSION, 1, 2)
    await asyncio.wait_for(starting, 5)
    inbox = Inbox()
    victim.set_sink(inbox)
    writer.write(frame(b"ok-1"))
    writer.write(struct.pack(">I", 0))  # an empty frame: passed on as one, for the node to reject
    writer.write(struct.pack(">I", 1001) + bytes(1001))  # one byte over the limit: skipped whole
    writer.write(frame(b"ok-2"))  # still in step
    writer.write(struct.pack(">I", 0xFFFFFFFF) + frame(b"swallowed") * 500)  # a 4 GB claim: discarded as it streams
    await writer.drain()
    items = await inbox.wait_for(3)
    assert items == [(2, b"ok-1"), (2, b""), (2, b"ok-2")]
    await asyncio.sleep(0.1)
    assert len(inbox.items) == 3
    assert victim.rejected_count == 2  # the two oversized frames
    assert all(isinstance(e, ProtocolError) and e.peer == 2 for e in victim.rejected_errors)
    writer.close()
    items = await inbox.wait_for(4)
    assert items[3] == (2, PEER_DOWN)  # the attacker's own connection ending is its pair going down
    await victim.close()


async def test_in_range_garbage_reaches_the_node_which_rejects_it_and_keeps_serving():
    ts = await connected()
    for junk in (b"\xc1garbage", b"", bytes(range(256))):  # party 2 misbehaves on its real connection
        ts[2]._conns[1].write(junk)

    async def party(p):
        async with Node(p, transport=ts[p], parties=(1, 2), session=b"s", connect_timeout=10, timeout=5) as node:
            out = await node.run(secure_sum, np.array([p, 10 * p]))
            return out.tolist(), node.rejected_count, list(node.rejected)

    res = await asyncio.wait_for(asyncio.gather(party(1), party(2)), 30)
    assert [r[0] for r in res] == [[3, 30], [3, 30]]
    assert res[0][1] == 3 and all(isinstance(e, ProtocolError) and e.peer == 2 for e in res[0][2])
    assert res[1][1] == 0


async def test_bad_hellos_are_refused_and_leave_the_listener_for_the_real_peer():
    t1, port = listener()
    starting = asyncio.ensure_future(t1.start(10))
    for payload in (b"GET / HTTP/1.1\r\n\r\n", hello(3, 1), hello(2, 7), HELLO.pack(MAGIC, VERSION + 1, 2, 1)):
        reader, writer = await _attacker(port, payload)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed without an answer
        writer.close()
    assert t1.rejected_count == 4 and t1.stats.connections_refused == 4
    await the_real_peer_still_gets_in(t1, port, starting)


async def test_a_second_connection_for_an_established_pair_is_refused_without_disturbing_it():
    ts = await connected()
    port = _port(ts[1]._listen_addr[2])
    reader, writer = await _attacker(port, hello(2, 1))
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    await ts[2].send(1, b"undisturbed")
    assert await asyncio.wait_for(ts[1].recv(), 5) == (2, b"undisturbed")
    assert ts[1].rejected_count == 1 and "second connection" in str(ts[1].rejected_errors[0])
    await close_all(ts)


# -- mutual TLS with pinned identities --------------------------------------------------------
@pytest.fixture(scope="module")
def creds(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    return generate(d / "ok", [1, 2, 3], days=1), generate(d / "foreign", [1, 2], days=1)


def _client_ctx(cred) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_cert_chain(cred.cert_key_file)
    ctx.load_verify_locations(cred.ca_file)
    return ctx


async def test_tls_pair_delivers_and_each_side_saw_the_other_certificate(creds):
    ok, _ = creds
    ts = await connected((1, 2, 3), tls=ok)
    try:
        await ts[3].send(1, b"over tls")
        assert await asyncio.wait_for(ts[1].recv(), 5) == (3, b"over tls")
        assert ts[1]._conns[3]._names >= {"party-3"} and ts[3]._conns[1]._names >= {"party-1"}
    finally:
        await close_all(ts)


async def test_tls_a_valid_party_cannot_impersonate_another(creds):
    ok, _ = creds
    t1, port = listener(tls=ok[1])
    starting = asyncio.ensure_future(t1.start(10))
    # party 3 holds a genuine certificate of this CA and claims to be party 2
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=_client_ctx(ok[3]),
                                                   server_hostname="party-1")
    writer.write(hello(2, 1))
    await writer.drain()
    with pytest.raises((ConnectionError, ssl.SSLError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reader.readexactly(HELLO.size), 5)
    writer.close()
    assert any("certificate names ['party-3']" in str(e) for e in t1.rejected_errors)
    await the_real_peer_still_gets_in(t1, port, starting, tls=ok[2])


async def test_tls_a_listener_with_the_wrong_identity_is_not_connected_to(creds):
    ok, _ = creds
    # party 3 listens where party 2 expects party 1
    fake, port = listener(3, 2, tls=ok[3])
    fake_start = asyncio.ensure_future(fake.start(1.0))
    t2 = TcpTransport(2, tls=ok[2])
    t2.connect({1: f"tls+tcp://127.0.0.1:{port}"}, [1])
    with pytest.raises(TransportError, match="TLS handshake failed on our side: .* does not name party-1"):
        await t2.start(1.0)
    with pytest.raises(TransportError, match="the dialer closed the connection during the TLS handshake"):
        await fake_start  # the listener sees the failed handshake (it accepts plain TCP, then starts TLS)
    assert fake._conns == {} and t2._conns == {}


async def test_tls_nodes_from_another_ca_refuse_each_other_saying_why(creds):
    ok, foreign = creds
    t1, t2 = TcpTransport(1, tls=ok[1]), TcpTransport(2, tls=foreign[2])
    bound = t1.bind([2])
    t1.connect({}, [2])
    t2.connect({1: bound[2]}, [1])

    async def party(p, t):
        async with Node(p, transport=t, parties=(1, 2), session=b"x", connect_timeout=1.0):
            pass

    res = await asyncio.gather(party(1, t1), party(2, t2), return_exceptions=True)
    assert [type(r) for r in res] == [TransportError, TransportError]
    # the listener sees the handshake fail (it accepts plain TCP, then starts TLS itself)
    assert "party 2: listening on tls+tcp://" in str(res[0]) and "during the TLS handshake" in str(res[0])
    assert "party 1: dialing tls+tcp://" in str(res[1]) and "TLS handshake failed" in str(res[1])


# -- nodes ----------------------------------------------------------------------------------
async def test_nodes_with_static_addresses_pick_tcp_by_name():
    ids = (1, 2, 3)
    base = free_base_ports(1, 40)[0]  # party p's base is base + 10 p; its pair ports base + 10 p + j
    bases = {p: base + 10 * p for p in ids}
    peers = {p: f"tcp://127.0.0.1:{bases[p]}" for p in ids}

    async def party(p):
        async with Node(p, peers, transport_kind="tcp", session=b"static") as node:
            assert isinstance(node.transport, TcpTransport)
            return await node.run(secure_sum, np.array([p * 10]))

    res = await asyncio.wait_for(asyncio.gather(*(party(p) for p in ids)), 30)
    assert [r.tolist() for r in res] == [[60]] * 3
