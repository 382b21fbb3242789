"""The asyncio TCP transport against the conformance suite, in plain TCP and with mutual TLS."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from mpc.transport.tcp import TcpTransport
from mpc.transport.tls import TlsCreds
from tests.test_transport_nng import tls_creds  # noqa: F401 - the same module-scoped identities
from tests.transport_conformance import CHECKS, Pair

pytestmark = [pytest.mark.timeout(60), pytest.mark.real_time]


def tcp_pair_factory(creds: dict[int, TlsCreds] | None = None):  # type: ignore[no-untyped-def]
    """``make_pair`` for :func:`check_transport`: party 1 listens, party 2 dials, on loopback."""

    @contextlib.asynccontextmanager
    async def make_pair() -> AsyncIterator[Pair]:
        a = TcpTransport(1, tls=creds[1] if creds else None)
        b = TcpTransport(2, tls=creds[2] if creds else None)

        async def crash_b() -> None:  # what the far end sees of a killed process: the sockets reset
            for conn in b._conns.values():
                if conn.transport is not None:
                    conn.transport.abort()
            await b.close()

        try:
            bound = a.bind([2])
            b.connect({1: bound[2]}, [1])
            a.connect({}, [2])
            await asyncio.gather(a.start(10), b.start(10))  # each start waits for the other side
            yield Pair(a=a, b=b, crash_b=crash_b)
        finally:
            await a.close()
            await b.close()

    return make_pair


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_tcp_plain_conforms(check):  # type: ignore[no-untyped-def]
    await check(tcp_pair_factory())


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_tcp_tls_conforms(check, tls_creds):  # type: ignore[no-untyped-def]
    await check(tcp_pair_factory(tls_creds))
