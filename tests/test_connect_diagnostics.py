"""At the connect deadline every deployment mistake says, per peer, what happened — in one line,
as a typed error, with no pynng traceback."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from mpc import Node
from mpc.errors import ConfigError, TransportError
from mpc.identity import generate
from mpc.transport.nng import NngTransport, static_listen_addresses

pytestmark = [pytest.mark.timeout(60), pytest.mark.real_time]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def _no_tracebacks(caplog):  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG, logger="pynng")
    yield
    assert not [r for r in caplog.records if r.name.startswith("pynng") and r.levelno >= logging.ERROR]


async def _start_all(*ts: NngTransport, timeout: float = 1.5) -> list[BaseException | None]:
    try:
        return list(await asyncio.gather(*(t.start(timeout) for t in ts), return_exceptions=True))
    finally:
        for t in ts:
            await t.close()


def _line(err: BaseException | None) -> str:
    assert isinstance(err, TransportError), err
    text = str(err)
    assert "\n" not in text
    return text


async def test_nothing_listening_says_refused_and_the_address():
    port = _free_port()
    t2 = NngTransport(2, {1: f"tcp://127.0.0.1:{port - 2}", 2: f"tcp://127.0.0.1:{port + 100}"})
    (err,) = await _start_all(t2)
    assert _line(err) == (f"party 2: not connected within 1.5s: party 1: dialing tcp://127.0.0.1:{port}: "
                          f"connection refused (nothing listens there: is party 1 running, with this address?)")


@pytest.mark.parametrize("case, listener, dialer, says", [
    ("foreign CA", ("a", 1), ("b", 2), "TLS handshake failed: the listener's certificate ('party-1') is not signed by our CA"),
    ("wrong listener", ("a", 3), ("a", 2), "TLS handshake failed: the listener presents 'party-3', expected 'party-1'"),
    ("plain listener", None, ("a", 2), "TLS handshake failed: the listener does not complete a TLS handshake"),
    ("plain dialer", ("a", 1), None, "the listener speaks TLS: use tls+tcp:// addresses"),
    ("wrong dialer", ("a", 1), ("a", 3), "but it did not keep our connection (it refused our identity"),
], ids=["foreign-ca", "wrong-listener", "plain-listener", "plain-dialer", "wrong-dialer"])
async def test_tls_mistakes_say_what_is_wrong_on_the_dialing_side(tmp_path, case, listener, dialer, says):
    keys = {"a": generate(tmp_path / "a", [1, 2, 3]), "b": generate(tmp_path / "b", [1, 2])}
    t1 = NngTransport(1, tls=keys[listener[0]][listener[1]] if listener else None)
    t2 = NngTransport(2, tls=keys[dialer[0]][dialer[1]] if dialer else None)
    bound = t1.bind([2])
    t2.connect({1: ("tls+tcp://" if dialer else "tcp://") + bound[2].split("://")[1]}, [1])
    t1.connect({}, [2])
    e1, e2 = await _start_all(t1, t2, timeout=2.0)
    assert f"party 2: listening on {bound[2]}" in _line(e1)
    assert f"party 1: dialing {'tls+tcp' if dialer else 'tcp'}://127.0.0.1:" in _line(e2) and says in _line(e2)
    if case == "wrong dialer":  # the listener says whom it refused
        assert "refused a TLS connection from 127.0.0.1:" in _line(e1) and "presenting 'party-3'" in _line(e1)


async def test_a_second_process_with_the_same_party_id_is_named_on_both_sides():
    t1, t2, dup = NngTransport(1), NngTransport(2), NngTransport(2)
    bound = t1.bind([2])
    t1.connect({}, [2])
    t2.connect({1: bound[2]}, [1])
    try:
        await asyncio.gather(t1.start(5), t2.start(5))
        dup.connect({1: bound[2]}, [1])
        try:
            await dup.start(1.5)
        except TransportError as err:
            assert "party 1: dialing tcp://" in _line(err)
            assert "did not keep our connection (it refused our identity, or another process is connected as " \
                   "party 2); the connection to party 1 opened and closed" in _line(err)
        # else: the duplicate's pipe stayed up for its whole settle time before party 1's refusal
        # reached it (a heavily loaded machine); its node then learns at the hello barrier
        # the listener names the duplicate, and the real pair is undisturbed
        assert any("refused a second connection" in n and "another process using party id 2" in n
                   for n in t1._links[2].notes)
        await t2.send(1, b"still here")
        async with asyncio.timeout(10):
            assert await t1.recv() == (2, b"still here")
    finally:
        for t in (t1, t2, dup):
            await t.close()


async def test_a_peer_in_another_session_is_a_config_error_naming_it():
    t1, t2 = NngTransport(1), NngTransport(2)
    bound = t1.bind([2])
    t1.connect({}, [2])
    t2.connect({1: bound[2]}, [1])

    async def enter(p: int, t: NngTransport, session: bytes) -> None:
        async with Node(p, transport=t, parties=(1, 2), session=session, connect_timeout=1.0):
            pass

    res = await asyncio.gather(enter(1, t1, b"alpha"), enter(2, t2, b"beta"), return_exceptions=True)
    assert [type(r) for r in res] == [ConfigError, ConfigError]
    assert str(res[0]) == "party 1: party 2 is in another session (check the session both sides use)"


def test_port_collisions_are_refused_up_front_naming_both_pairs():
    peers = {1: "tcp://127.0.0.1:9100", 2: "tcp://127.0.0.1:9101", 3: "tcp://127.0.0.1:9200", 4: "tcp://127.0.0.1:9300"}
    with pytest.raises(ConfigError, match=r"party 2 would listen for party 3 on tcp://127.0.0.1:9104, "
                                          r"where party 1 listens for party 4"):
        NngTransport(3, peers)
    # other hosts, same numbers: no collision
    static_listen_addresses({1: "tcp://10.0.0.1:9100", 2: "tcp://10.0.0.2:9100", 3: "tcp://10.0.0.3:9100"})


async def test_address_in_use_names_the_address():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        t1 = NngTransport(1, {1: f"tcp://127.0.0.1:{port - 2}", 2: "tcp://127.0.0.1:1"})
        with pytest.raises(TransportError) as err:
            await t1.start(1.0)
    assert str(err.value) == f"party 1: cannot listen on tcp://127.0.0.1:{port} for party 2: address in use"
