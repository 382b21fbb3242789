"""The protocol table: every (phase, message kind) pair of the client and the server, allowed
pairs proceed (a handler runs), all others raise UnexpectedMessage before anything happens."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mpc.errors import MpcError, QuorumLost, UnexpectedMessage
from mpc.rng import Csprng
from protocols.secagg import ClientPhase, Kind, Params, SecAggClient, SecAggServer, ServerPhase
from protocols.secagg.phases import CLIENT_TRANSITIONS, SERVER_TRANSITIONS

pytestmark = pytest.mark.timeout(30)
PARAMS = Params.make((1, 2, 3), {})


def _client(phase: ClientPhase) -> SecAggClient:
    c = SecAggClient(1, PARAMS, np.zeros(4, dtype=np.uint64), Csprng())
    c.phase = phase
    return c


@pytest.mark.parametrize(("phase", "kind"), list(itertools.product(ClientPhase, [*Kind, "bogus"])))
def test_client_grid(phase: ClientPhase, kind: Kind | str) -> None:
    client = _client(phase)
    payload = {"kind": kind.value if isinstance(kind, Kind) else kind}
    allowed = isinstance(kind, Kind) and (phase, kind) in CLIENT_TRANSITIONS
    if not allowed:
        with pytest.raises(UnexpectedMessage):
            client.receive(payload)
        assert client.phase is phase  # nothing happened
        return
    # an allowed pair reaches its handler: the empty payload is then refused for its content
    # (or, for abort, ends the round with QuorumLost), never as unexpected
    with pytest.raises(MpcError) as info:
        client.receive(payload)
    assert not isinstance(info.value, UnexpectedMessage)
    assert client.phase is ClientPhase.FAILED


def test_client_abort_carries_quorum_lost() -> None:
    client = _client(ClientPhase.SHARED)
    with pytest.raises(QuorumLost) as info:
        client.receive({"kind": "abort", "error": "QuorumLost", "missing": [2, 3], "needed": 2, "have": 1})
    assert info.value.missing == (2, 3)


@pytest.mark.parametrize(("phase", "kind"), list(itertools.product(ServerPhase, [*Kind, "bogus"])))
def test_server_grid(phase: ServerPhase, kind: Kind | str) -> None:
    server = SecAggServer(PARAMS)
    server.phase = phase
    allowed = isinstance(kind, Kind) and (phase, kind) in SERVER_TRANSITIONS
    if not allowed:
        with pytest.raises(UnexpectedMessage):
            server.receive(kind, {})
        assert server.phase is phase
        return
    with pytest.raises(QuorumLost):  # an allowed but empty round is a lost quorum, not "unexpected"
        server.receive(kind, {})
    assert server.phase is ServerPhase.FAILED


def test_server_treats_a_wrong_kind_from_a_client_as_a_dropout() -> None:
    server = SecAggServer(PARAMS)
    server.receive(Kind.JOIN, {1: {"kind": "join"}, 2: {"kind": "join"}, 3: {"kind": "advertise"}})
    assert server.rounds[Kind.JOIN] == (1, 2)
    assert 3 in server.rejected


def test_tables_are_derived_from_one_stage_list() -> None:
    from protocols.secagg.phases import CLIENT_WAITS, PREVIOUS, REPLY, SERVER_ROUNDS, STAGES

    assert SERVER_ROUNDS == tuple(s.collect for s in STAGES)
    assert CLIENT_WAITS == (Kind.KEYS, Kind.SHARES, Kind.SURVIVORS, Kind.UNMASK_REQUEST, Kind.RESULT)
    assert REPLY[Kind.JOIN] is Kind.KEYS  # a join failure is announced on the tag clients wait on
    assert PREVIOUS[SERVER_ROUNDS[0]] is None
    assert all(PREVIOUS[b] is a for a, b in zip(SERVER_ROUNDS, SERVER_ROUNDS[1:]))
    # a client walks through every waiting phase to DONE, one reply at a time
    phase, seen = ClientPhase.ADVERTISED, []
    for tag in CLIENT_WAITS:
        phase = CLIENT_TRANSITIONS[(phase, tag)]
        seen.append(phase)
    assert seen[-1] is ClientPhase.DONE and len(set(seen)) == len(seen)


@pytest.mark.parametrize(("payload", "what"), [
    ({"kind": "advertise", "c_pk": b"x" * 31, "s_pk": b"y" * 32, "vk": b"v" * 44, "sig": b"z" * 64, "dim": 4}, "c_pk"),
    ({"kind": "advertise", "c_pk": b"x" * 32, "s_pk": b"y" * 32, "vk": b"v" * 44, "sig": b"z" * 64, "dim": True}, "dim"),
    ({"kind": "shares", "ids": [1, 2, 2], "cts": []}, "duplicates"),
    ({"kind": "unmask_request", "ids": [1, -2], "sigs": []}, "ids"),
    ({"kind": "shares", "ids": [1, 2], "cts": []}, "parallel"),
    ({"kind": "survivors", "bits": b"\x01", "extra": 1}, "unknown fields"),
    ({"kind": "keys", "ids": [1], "c_pk": [b"x" * 32], "s_pk": [b"y" * 32], "vk": [b"v"], "sig": [b"s"], "absent": [],
      "root": b"r" * 32, "proofs": np.zeros((2, 3, 32), dtype=np.uint8), "dim": 3}, "inclusion proof"),
    ({"kind": "survivors"}, "lacks"),
    ({"kind": "masked_input", "y": np.zeros(3, dtype=np.int64)}, "uint64"),
])
def test_messages_are_checked_at_construction(payload: dict, what: str) -> None:
    from mpc.errors import ProtocolError
    from protocols.secagg.messages import decode

    with pytest.raises(ProtocolError, match=what) as info:
        decode(payload, 7)
    assert info.value.peer == 7
