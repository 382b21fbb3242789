"""Red team 2: the TCP transport's accept caps (mpc/transport/tcp_accept.py) against a harder
flood than tests/test_redteam_tcp.py's: several processes, every connection sending a genuine
ClientHello at once (so each goes straight to the 8-slot handshake stage and evicts the oldest)."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from tests.test_redteam_tcp import client_hello, start_flood, tls_ids  # noqa: F401 - the fixture
from tests.test_tcp_transport import listener, the_real_peer_still_gets_in

pytestmark = [pytest.mark.real_time, pytest.mark.timeout(90)]


async def _real_peer_during_flood(creds, flooders: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    t1, port = listener(tls=creds[1])
    starting = asyncio.ensure_future(t1.start(20))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(flooders):  # every connection sends its ClientHello at once
            procs.append(await start_flood(port, client_hello(), 30, hello_every=1, keep=500))
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
