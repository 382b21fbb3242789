"""Attacks on the connection layer, written from the attacker's side, over real pynng sockets.

The intruder is party 3 with its own genuine certificate (same CA), or anyone who can open a TCP
connection in plain mode. It targets party 1's listener for the pair (1, 2).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import numpy as np
import pynng
import pytest

from mpc import Node
from mpc.errors import TransportError
from mpc.identity import generate
from mpc.message import Message
from mpc.transport.nng import DOWN_GRACE_S, NngTransport, TlsCreds
from tests.nng_mesh import IDS, connect, mesh, run_sum, until

pytestmark = [pytest.mark.timeout(60), pytest.mark.real_time]
SP_HEADER_PAIR0 = b"\x00SP\x00\x00\x10\x00\x00"  # what an nng Pair0 peer sends first


def _intruder(creds: TlsCreds, expect_listener: str) -> pynng.Pair0:
    sock = pynng.Pair0(send_timeout=300, recv_timeout=300)
    sock.tls_config = pynng.TLSConfig(pynng.TLSConfig.MODE_CLIENT, server_name=expect_listener,
                                      ca_files=[creds.ca_file], cert_key_file=creds.cert_key_file,
                                      auth_mode=pynng.TLSConfig.AUTH_MODE_REQUIRED)
    return sock


async def _sum(ts, session, inputs, during=None):  # type: ignore[no-untyped-def]
    res = await run_sum(ts, session, inputs, during=during)
    for p, r in res.items():
        assert not isinstance(r, BaseException), (p, r)
        assert not r[1].down, f"party {p} saw {r[1].down} go down"
    return {p: r[0][0] for p, r in res.items()}


async def test_party3_cannot_impersonate_party2_at_party1_and_the_real_party2_still_connects(tmp_path):
    creds = generate(tmp_path, IDS)
    ts, bound = mesh(creds)
    # party 3 dials party 1's listener meant for party 2, before party 2 does; party 1's
    # certificate is genuine, so the intruder's own checks pass
    intruder = _intruder(creds[3], "party-1")
    try:
        with contextlib.suppress(pynng.NNGException):
            intruder.dial(bound[1][2], block=True)
        spoof = Message(session=b"attack", instance="secure_sum#1", tag="share", sender=2,
                        payload=np.zeros(3, dtype=np.uint64)).to_bytes()
        with contextlib.suppress(pynng.NNGException):
            intruder.send(spoof)  # as "party 2"
        # party 1 has decided about the intruder: refused it, or (without pinning) taken it as party 2
        await until(lambda: ts[1].stats.connections_refused >= 1 or ts[1]._links[2].pipe is not None)
        connect(ts, bound)
        inputs = {1: [5, 6, 7], 2: [10, 20, 30], 3: [100, 200, 300]}
        outs = await _sum(ts, b"attack", inputs)
        assert outs == {p: [115, 226, 337] for p in IDS}
        # nothing of party 1's reached the intruder; party 1 says whom it refused and why
        with pytest.raises(pynng.NNGException):
            intruder.recv(block=False)
        assert any("presenting 'party-3' (expected 'party-2')" in n for n in ts[1]._links[2].notes)
    finally:
        intruder.close()
        for t in ts.values():
            await t.close()


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "plain"])
async def test_a_late_intruder_connection_does_not_make_the_connected_peer_down(tmp_path, tls):
    creds = generate(tmp_path, IDS) if tls else None
    ts, bound = mesh(creds)
    connect(ts, bound)
    raw: list[socket.socket] = []
    intruders: list[pynng.Pair0] = []

    async def intrude_once_connected(p: int, node: Node) -> None:
        if p != 1:
            return
        host, port = bound[1][2].rsplit("//", 1)[1].rsplit(":", 1)
        if creds is not None:  # a certified party that is not party 2
            sock = _intruder(creds[3], "party-1")
            intruders.append(sock)
            with contextlib.suppress(pynng.NNGException):
                sock.dial(bound[1][2], block=True)
        else:  # anyone: raw TCP and the 8-byte SP header
            s = socket.create_connection((host, int(port)), timeout=5)
            raw.append(s)
            s.sendall(SP_HEADER_PAIR0)
            assert await asyncio.to_thread(s.recv, 8) == SP_HEADER_PAIR0  # party 1's nng answered
        await asyncio.sleep(3 * DOWN_GRACE_S)  # longer than a wrongly reported drop would take

    try:
        outs = await _sum(ts, b"late", {1: [1], 2: [2], 3: [3]}, during=intrude_once_connected)
        assert outs == {p: [6] for p in IDS}
        assert any("refused" in n for n in ts[1]._links[2].notes)
    finally:
        for s in raw:
            s.close()
        for i in intruders:
            i.close()
        for t in ts.values():
            await t.close()


async def test_the_dialer_refuses_a_listener_that_is_not_the_party_it_dialed(tmp_path):
    creds = generate(tmp_path, IDS)
    # party 3's identity answers at the address where party 2 expects party 1
    fake1, t2 = NngTransport(1, tls=creds[3]), NngTransport(2, tls=creds[2])
    try:
        bound = fake1.bind([2])
        t2.connect({1: bound[2]}, [1])
        fake1.connect({}, [2])
        res = await asyncio.gather(fake1.start(1.5), t2.start(1.5), return_exceptions=True)
        assert all(isinstance(r, TransportError) for r in res), res
        assert "party 1: dialing tls+tcp://" in str(res[1]) and "TLS handshake failed" in str(res[1])
    finally:
        await fake1.close()
        await t2.close()
