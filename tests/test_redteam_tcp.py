"""Red team: the TCP transport against anyone who can open a connection to a party's port.

Before the hello every accepted connection allocated its 256 KiB frame buffer, and every refused
connection logged a warning; under TLS, asyncio's server built an SSLProtocol (its own 256 KiB
buffer) at accept, for every connection, without limit on their number. So an attacker without any
identity held ~256 KiB of the party's memory per connection that never finished its handshake (for
the 10 s handshake timeout), and wrote one log line per connection it opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import subprocess
import sys
import tracemalloc

import pytest

from mpc.transport.tcp_accept import MAX_ADMITTED_TLS, MAX_WAITING
from tests.test_tcp_transport import _port, close_all, connected, hello, listener, the_real_peer_still_gets_in

pytestmark = [pytest.mark.real_time, pytest.mark.timeout(60)]
IDLE = 300


def client_hello() -> bytes:
    """A genuine TLS 1.3 ClientHello (no certificate: the attacker has none)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="party-1")
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


async def _open(port: int, first: bytes = b"") -> socket.socket:
    """An attacker's connection: opened, ``first`` sent, then nothing (it never answers)."""
    loop = asyncio.get_running_loop()
    s = socket.socket()
    s.setblocking(False)
    await loop.sock_connect(s, ("127.0.0.1", port))
    if first:
        await loop.sock_sendall(s, first)
    return s


async def _held(first: bytes = b"", tls=None, count: int = IDLE) -> tuple[float, dict[int, TcpTransport]]:
    """Bytes (Python allocations) the listener of an established pair holds per attacker connection
    that sends ``first`` and then stalls; the pair is checked undisturbed afterwards."""
    ts = await connected(tls=tls)
    port = _port(ts[1]._listen_addr[2])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        conns = [await _open(port, first) for _ in range(count)]
        await asyncio.sleep(0.5)  # every one accepted (and, with a ClientHello, answered), none goes on
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    for c in conns:
        c.close()
    # the honest pair is undisturbed
    await ts[2].send(1, b"still here")
    assert await asyncio.wait_for(ts[1].recv(), 5) == (2, b"still here")
    await close_all(ts)
    return held / count, ts


async def test_idle_unauthenticated_connections_cost_the_listener_little_memory():
    per_conn, _ = await _held()
    assert per_conn < 32 * 1024, f"{IDLE} idle connections hold {per_conn * IDLE / 2**20:.0f} MiB"


@pytest.fixture(scope="module")
def tls_ids(tmp_path_factory):
    from mpc.identity import generate

    return generate(tmp_path_factory.mktemp("redteam-tls"), [1, 2], days=1)


async def test_the_measurement_sees_what_asyncios_tls_server_holds_per_idle_connection(tls_ids):
    """The control: a TLS server as the transport had it (``create_server(ssl=...)``) holds its
    SSLProtocol's 256 KiB per idle connection from accept on; the same measurement shows it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls_ids[1].cert_key_file)
    server = await asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        conns = [await _open(port) for _ in range(40)]
        await asyncio.sleep(0.3)
        per_conn = (tracemalloc.get_traced_memory()[0] - before) / 40
    finally:
        tracemalloc.stop()
        for c in conns:
            c.close()
        server.close()
    assert per_conn > 200 * 1024, per_conn


async def test_idle_connections_under_tls_cost_the_listener_little_memory(tls_ids):
    per_conn, ts = await _held(tls=tls_ids)
    assert per_conn < 32 * 1024, f"{IDLE} idle connections hold {per_conn * IDLE / 2**20:.0f} MiB under TLS"
    # beyond MAX_WAITING the oldest idle connection was dropped, and counted
    assert ts[1].stats.connections_dropped >= IDLE - MAX_WAITING


async def test_stalled_tls_handshakes_are_capped_and_hold_bounded_memory(tls_ids):
    """Each attacker connection sends a genuine ClientHello and never finishes the handshake: the
    listener answers, and would keep every handshake's TLS state (256 KiB of buffer each, 75 MiB
    for 300) until its timeout; only MAX_ADMITTED_TLS are kept, the oldest dropped first."""
    per_conn, ts = await _held(client_hello(), tls=tls_ids)
    budget = MAX_ADMITTED_TLS * 320 * 1024 + IDLE * 8 * 1024  # kept handshakes + a socket each
    assert per_conn * IDLE < budget, f"{IDLE} stalled handshakes hold {per_conn * IDLE / 2**20:.1f} MiB"
    assert ts[1].stats.connections_dropped >= IDLE - MAX_ADMITTED_TLS


async def test_certified_connections_that_never_say_hello_are_capped_too(tls_ids):
    """An insider (a genuine certificate, here party 2's) completes TLS handshakes and then never
    sends the party-id hello: each would keep its TLS buffers for the 10 s hello timeout. They stay
    in the admitted stage, at most MAX_ADMITTED_TLS per listener, the oldest dropped."""
    ts = await connected(tls=tls_ids)
    port = _port(ts[1]._listen_addr[2])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_cert_chain(tls_ids[2].cert_key_file)
    ctx.load_verify_locations(tls_ids[2].ca_file)
    insiders = []
    for _ in range(40):
        with contextlib.suppress(OSError):  # an older one may be dropped while a newer one connects
            insiders.append(await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="party-1"))
    await asyncio.sleep(0.3)
    acceptor = ts[1]._acceptors[0]
    assert len(acceptor.admitted) <= MAX_ADMITTED_TLS and len(ts[1]._pending) <= MAX_ADMITTED_TLS
    assert ts[1].stats.connections_dropped >= 40 - MAX_ADMITTED_TLS
    await ts[2].send(1, b"still here")  # the established pair is undisturbed
    assert await asyncio.wait_for(ts[1].recv(), 5) == (2, b"still here")
    for _, writer in insiders:
        writer.close()
    await close_all(ts)


FLOOD = """
import socket, sys, time
port, hello, until = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), time.monotonic() + float(sys.argv[3])
every, keep = int(sys.argv[4]), int(sys.argv[5])
opened, n = [], 0
while time.monotonic() < until:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        if hello and n % every == every - 1:
            s.sendall(hello)
        opened.append(s)
        n += 1
    except OSError:
        pass
    if len(opened) > keep:  # the attacker's own descriptors
        opened.pop(0).close()
    if n == 100:
        print("flooding", flush=True)
"""


async def start_flood(port: int, hello: bytes, seconds: float, *, hello_every: int = 2,
                      keep: int = 2000) -> subprocess.Popen[bytes]:
    """Another process opening connections to ``port`` as fast as it can (every ``hello_every``-th
    one sends ``hello`` and stalls), returned once 100 are in: the flood is under way."""
    proc = subprocess.Popen([sys.executable, "-c", FLOOD, str(port), hello.hex(), str(seconds), str(hello_every),
                             str(keep)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20) == b"flooding\n"
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
async def test_the_real_peer_connects_while_a_flood_of_unfinished_handshakes_goes_on(tls, tls_ids):
    """Party 1 starts listening while another process opens connections to its port as fast as it
    can (idle ones and, under TLS, ones that stall after a genuine ClientHello); party 2 dials."""
    creds = tls_ids if tls else None
    t1, port = listener(tls=None if creds is None else creds[1])
    starting = asyncio.ensure_future(t1.start(20))
    # 100 connections in (over both caps): the flood is under way before party 2 dials
    attacker = await start_flood(port, client_hello() if tls else b"", 25)
    try:
        began = asyncio.get_running_loop().time()
        await the_real_peer_still_gets_in(t1, port, starting, tls=None if creds is None else creds[2])
        took = asyncio.get_running_loop().time() - began
    finally:
        attacker.kill()
        attacker.wait()
    print(f"real peer connected in {took:.2f}s during the flood ({t1.stats.connections_dropped} "
          f"connections dropped by the listener)")
    assert t1.stats.connections_dropped > 0  # the flood did hit the caps
    assert took < 15, took


async def test_a_stream_of_refused_connections_is_not_a_log_flood(caplog):
    ts = await connected()
    port = _port(ts[1]._listen_addr[2])
    caplog.set_level(logging.WARNING, logger="mpc.transport.tcp")
    for _ in range(400):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(hello(2, 1))  # a second connection for the established pair: refused
        await reader.read()
        writer.close()
    await ts[2].send(1, b"still here")
    assert await asyncio.wait_for(ts[1].recv(), 5) == (2, b"still here")
    assert ts[1].rejected_count == 400  # every refusal is still counted
    await close_all(ts)
    lines = [r for r in caplog.records if r.name == "mpc.transport.tcp"]
    assert len(lines) <= 64, f"{len(lines)} warning lines for 400 refused connections"


async def test_a_declared_huge_frame_reserves_memory_only_as_its_bytes_arrive() -> None:
    """A certified peer announcing a 1 GiB frame and sending 1 MiB of it pins about 9 MiB, not 1 GiB;
    a 20 MiB frame sent in full arrives intact."""
    from mpc.transport import tcp_conn

    class Owner:
        max_message_bytes = 1 << 30

        def __init__(self) -> None:
            self.got: list[bytes] = []

        def deliver(self, peer: int, data: bytes) -> None:
            self.got.append(bytes(data))

        def rejected(self, exc: Exception) -> None:
            raise AssertionError(exc)

        def loop(self):  # noqa: ANN202
            return asyncio.get_running_loop()

    owner = Owner()
    conn = tcp_conn.PairConnection(owner, 2, dialer=True)  # type: ignore[arg-type]
    conn.established = True  # as after the hello: the full receive buffer
    conn._buf = bytearray(tcp_conn.RECV_BUFFER)
    conn._view = memoryview(conn._buf)

    def feed(data: bytes) -> None:
        pos = 0
        while pos < len(data):
            buf = conn.get_buffer(-1)
            k = min(len(buf), len(data) - pos)
            buf[:k] = data[pos:pos + k]
            conn.buffer_updated(k)
            pos += k

    feed(tcp_conn.HEADER.pack(1 << 30) + b"x" * (1 << 20))
    reserved = sum(len(c) for c in conn._big_chunks) + len(conn._big or b"")
    assert reserved <= tcp_conn.BIG_CHUNK + (1 << 20)
    conn._big = None  # abandon that frame; a fresh connection state for the next one
    conn._big_chunks, conn._big_pos, conn._big_need, conn._big_got = [], 0, 0, 0
    body = bytes(range(256)) * (20 * 4096)
    feed(tcp_conn.HEADER.pack(len(body)) + body)
    assert owner.got == [body]
