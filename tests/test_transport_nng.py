"""The pynng transport against the conformance suite, in plain TCP and with mutual TLS."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from mpc.identity import generate
from mpc.transport.nng import NngTransport, TlsCreds
from tests.transport_conformance import CHECKS, Pair

pytestmark = [pytest.mark.timeout(60), pytest.mark.real_time]


def nng_pair_factory(creds: dict[int, TlsCreds] | None = None):  # type: ignore[no-untyped-def]
    """``make_pair`` for :func:`check_transport`: party 1 listens, party 2 dials, on loopback."""

    @contextlib.asynccontextmanager
    async def make_pair() -> AsyncIterator[Pair]:
        a = NngTransport(1, tls=creds[1] if creds else None)
        b = NngTransport(2, tls=creds[2] if creds else None)
        try:
            bound = a.bind([2])
            b.connect({1: bound[2]}, [1])
            a.connect({}, [2])
            await a.start(10)
            await b.start(10)
            yield Pair(a=a, b=b, crash_b=b.close)
        finally:
            await a.close()
            await b.close()

    return make_pair


@pytest.fixture(scope="module")
def tls_creds(tmp_path_factory):  # type: ignore[no-untyped-def]
    return generate(tmp_path_factory.mktemp("keys"), [1, 2, 3])


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_nng_plain_conforms(check):  # type: ignore[no-untyped-def]
    await check(nng_pair_factory())


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
async def test_nng_tls_conforms(check, tls_creds):  # type: ignore[no-untyped-def]
    await check(nng_pair_factory(tls_creds))
