"""Red team 2: the TCP transport's accept caps (mpc/transport/tcp_accept.py) against a harder
flood than tests/test_redteam_tcp.py's: several processes, every connection sending a genuine
ClientHello at once (so each goes straight to the 8-slot handshake stage and evicts the oldest)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from tests.test_redteam_tcp import client_hello, tls_ids  # noqa: F401 - the fixture
from tests.test_tcp_transport import listener, the_real_peer_still_gets_in

pytestmark = [pytest.mark.real_time, pytest.mark.timeout(90)]

FLOOD = """
import socket, sys, time
port, hello, until = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), time.monotonic() + float(sys.argv[3])
opened, n = [], 0
while time.monotonic() < until:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        s.sendall(hello)
        opened.append(s)
        n += 1
    except OSError:
        pass
    if len(opened) > 500:
        opened.pop(0).close()
    if n == 100:
        print("flooding", flush=True)
"""


async def _real_peer_during_flood(creds, flooders: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    t1, port = listener(tls=creds[1])
    starting = asyncio.ensure_future(t1.start(20))
    procs = [subprocess.Popen([sys.executable, "-c", FLOOD, str(port), client_hello().hex(), "30"],
                              stdout=subprocess.PIPE) for _ in range(flooders)]
    try:
        for p in procs:
            assert p.stdout is not None
            assert await asyncio.wait_for(asyncio.to_thread(p.stdout.readline), 20) == b"flooding\n"
        began = asyncio.get_running_loop().time()
        await the_real_peer_still_gets_in(t1, port, starting, tls=creds[2])
        return asyncio.get_running_loop().time() - began, t1.stats.connections_dropped
    finally:
        for p in procs:
            p.kill()
            p.wait()


@pytest.mark.slow
@pytest.mark.parametrize("flooders", [1, 3])
async def test_the_real_peer_connects_while_processes_flood_the_handshake_stage(tls_ids, flooders):  # noqa: F811
    took, dropped = await _real_peer_during_flood(tls_ids, flooders)
    print(f"{flooders} flooders: real peer connected in {took:.2f}s ({dropped} connections dropped)")
    assert dropped > 0 and took < 10, (took, dropped)
