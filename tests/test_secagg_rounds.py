"""Whole rounds with the state machines wired in-process: dropouts at every stage, lost quorums,
and the defences against a lying server or client."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from mpc.errors import ConfigError, ProtocolError, QuorumLost
from mpc.rng import Csprng
from protocols.secagg import InconsistentView, Kind, Params, SecAggClient, SecAggServer
from protocols.secagg import commit
from protocols.secagg.inprocess import run_round

pytestmark = pytest.mark.timeout(60)
STAGES = ["join", "advertise", "share_keys", "masked_input", "consistency", "unmask"]
BEFORE_MASKED_INPUT = {"join", "advertise", "share_keys"}


def _inputs(clients: tuple[int, ...], dim: int = 64, seed: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {u: rng.integers(-10**6, 10**6, dim) for u in clients}


def _plain_sum(inputs: dict[int, np.ndarray], used: tuple[int, ...]) -> np.ndarray:
    return np.sum([inputs[u] for u in used], axis=0)


@pytest.mark.parametrize("variant", ["secagg", "secagg+"])
@pytest.mark.parametrize("stage", STAGES)
def test_dropouts_at_each_stage_give_the_sum_of_the_used_clients(stage: str, variant: str) -> None:
    clients = tuple(range(1, 16))
    params = Params.make(clients, {"variant": variant, "degree": 6})
    inputs = _inputs(clients)
    drops = {2: stage, 7: stage, 11: stage}
    trace = run_round(params, inputs, drop_after=drops)
    assert trace.server_error is None and not trace.client_errors
    used = trace.server.used()
    expect_used = tuple(u for u in clients if drops.get(u) not in BEFORE_MASKED_INPUT)
    assert used == expect_used
    assert np.array_equal(trace.output, _plain_sum(inputs, used))
    for u in clients:  # every client that stayed gets the same aggregate
        if u not in drops:
            assert np.array_equal(trace.clients[u].output, trace.output)


def test_dropouts_at_mixed_stages() -> None:
    clients = tuple(range(1, 21))
    params = Params.make(clients, {})
    inputs = _inputs(clients, seed=3)
    drops = {c: STAGES[k % len(STAGES)] for k, c in enumerate((3, 4, 8, 9, 14, 17))}
    trace = run_round(params, inputs, drop_after=drops)
    expect_used = tuple(u for u in clients if drops.get(u) not in BEFORE_MASKED_INPUT)
    assert trace.server.used() == expect_used
    assert np.array_equal(trace.output, _plain_sum(inputs, expect_used))
    assert trace.server.meta()["stages"] == {"join": 20, "advertise": 19, "share_keys": 18, "masked_input": 17,
                                             "consistency": 16, "unmask": 15}


@pytest.mark.parametrize("stage", STAGES[:-1])
def test_too_few_survivors_at_a_stage_is_quorum_lost_everywhere(stage: str) -> None:
    clients = tuple(range(1, 11))
    params = Params.make(clients, {"threshold": 7})
    drops = {u: stage for u in (1, 2, 3, 4)}  # 6 remain < 7
    trace = run_round(params, _inputs(clients), drop_after=drops)
    assert isinstance(trace.server_error, QuorumLost)
    assert trace.output is None
    for u in clients:
        if u not in drops:
            assert isinstance(trace.client_errors.get(u), QuorumLost), u


def _seeded() -> Any:
    """Deterministic client randomness, so a second run of the round has the same keys and graph."""
    counter = itertools.count(1)
    return lambda: Csprng(next(counter).to_bytes(32, "little"))


def test_secagg_plus_neighbourhood_quorum() -> None:
    """SecAgg+: enough clients survive globally, but one client lost too many of its holders."""
    clients = tuple(range(1, 31))
    params = Params.make(clients, {"variant": "secagg+", "degree": 4, "threshold": 4})
    inputs = _inputs(clients)
    probe = run_round(params, inputs, rng=_seeded())
    assert np.array_equal(probe.output, _plain_sum(inputs, clients))
    graph = probe.server.graph
    assert all(len(vs) == 4 for vs in graph.values()) and len(graph[1]) < len(clients) - 1
    gone = sorted(graph[1])[:2]  # client 1 keeps 3 of its 5 holders (itself included) < 4
    trace = run_round(params, inputs, rng=_seeded(), drop_after={v: "consistency" for v in gone})
    assert trace.server.graph == graph
    assert isinstance(trace.server_error, QuorumLost)
    assert set(gone) <= set(trace.server_error.missing)
    assert isinstance(trace.client_errors[1], QuorumLost)


def test_reals_in_fixed_point() -> None:
    clients = tuple(range(1, 8))
    params = Params.make(clients, {}, fractional_bits=20)
    rng = np.random.default_rng(5)
    inputs = {u: rng.uniform(-100, 100, 50) for u in clients}
    trace = run_round(params, inputs, drop_after={3: "share_keys"})
    used = trace.server.used()
    assert np.allclose(trace.output, _plain_sum(inputs, used), atol=len(used) * 2.0**-21)


def test_inputs_without_headroom_are_refused() -> None:
    params = Params.make((1, 2, 3), {})
    with pytest.raises(ConfigError):
        run_round(params, {1: np.array([2**62]), 2: np.array([0]), 3: np.array([0])})


# -- defences ---------------------------------------------------------------------------------
def test_each_client_reveals_one_secret_per_peer() -> None:
    clients = tuple(range(1, 8))
    params = Params.make(clients, {"threshold": 5})
    trace = run_round(params, _inputs(clients), drop_after={6: "share_keys"})
    assert trace.server_error is None
    c = trace.clients[2]
    assert c.revealed[6] == "sk" and c.revealed[3] == "b"  # decided from the U3 it signed
    with pytest.raises(ProtocolError):  # the ledger refuses the second kind of reveal
        c._reveal(3, "sk")
    for u in clients:
        if u != 6:  # nobody reveals the dropped client's self-mask or a survivor's mask key
            assert trace.clients[u].revealed.get(6) == "sk"
            assert all(w == "b" for v, w in trace.clients[u].revealed.items() if v != 6)


def _without(params: Params, bits: bytes, gone: int) -> bytes:
    u3 = [v for v in commit.members(bits, params.clients) if v != gone]
    return commit.bitmap(u3, params.slot_of, len(params.clients))


class RelayingAnything(SecAggServer):
    """A lying server: relays every consistency signature without checking it."""

    def _signature_ok(self, u: int, sig: bytes, message: bytes) -> bool:
        return True


def test_inconsistent_dropout_lists_make_honest_clients_abort() -> None:
    clients = tuple(range(1, 9))
    params = Params.make(clients, {"threshold": 5})

    def split_view(kind: Kind, u: int, payload: dict[str, Any]) -> dict[str, Any]:
        if kind is Kind.SURVIVORS and u in (1, 2):  # tell 1 and 2 that 8 dropped
            return {**payload, "bits": _without(params, payload["bits"], 8)}
        return payload

    trace = run_round(params, _inputs(clients), tamper=split_view, server=RelayingAnything(params))
    for u in clients:  # everyone sees a signature over a different survivor set, and reveals nothing
        assert isinstance(trace.client_errors[u], InconsistentView), u
        assert trace.clients[u].revealed == {}
    assert isinstance(trace.server_error, QuorumLost)


def test_messages_replayed_from_another_round_are_rejected() -> None:
    clients = tuple(range(1, 6))
    params = Params.make(clients, {"threshold": 3})
    inputs = _inputs(clients)
    captured: dict[Kind, dict[str, Any]] = {}

    def capture(kind: Kind, u: int, payload: dict[str, Any]) -> dict[str, Any]:
        if u == 1:
            captured[kind] = payload
        return payload

    first = run_round(params, inputs, tamper=capture)
    assert first.server_error is None
    for kind in (Kind.KEYS, Kind.SHARES, Kind.UNMASK_REQUEST):
        def replay(k: Kind, u: int, payload: dict[str, Any], kind: Kind = kind) -> dict[str, Any]:
            return captured[kind] if (k is kind and u == 1) else payload

        trace = run_round(params, inputs, tamper=replay)
        assert isinstance(trace.client_errors.get(1), ProtocolError), kind
        assert trace.clients[1].revealed == {}


@pytest.mark.parametrize("secret", ["sk", "b"])
def test_a_wrong_share_is_caught_by_the_public_key_or_commitment(secret: str) -> None:
    clients = tuple(range(1, 7))
    params = Params.make(clients, {"threshold": 4})

    def corrupt(kind: Kind, u: int, payload: dict[str, Any]) -> dict[str, Any]:
        if kind is Kind.UNMASK and u == 2 and len(payload[secret]):
            bad = payload[secret].copy()
            # a middle limb: X25519 clamping ignores the lowest 3 bits, so an error there is harmless
            bad[0, 2] = (bad[0, 2] + np.uint64(1)) % np.uint64((1 << 61) - 1)
            return {**payload, secret: bad}
        return payload

    trace = run_round(params, _inputs(clients), drop_after={6: "share_keys"}, tamper_up=corrupt)
    assert isinstance(trace.server_error, ProtocolError)
    assert "public key" in str(trace.server_error) or "commitment" in str(trace.server_error)
    assert trace.output is None


def test_a_malformed_client_is_dropped_not_fatal() -> None:
    clients = tuple(range(1, 8))
    params = Params.make(clients, {"threshold": 4})
    inputs = _inputs(clients)

    def short(kind: Kind, u: int, payload: dict[str, Any]) -> dict[str, Any]:
        if kind is Kind.MASKED_INPUT and u == 3:
            return {**payload, "y": payload["y"][:-1]}
        return payload

    trace = run_round(params, inputs, tamper_up=short)
    assert 3 in trace.server.rejected and 3 not in trace.server.used()
    assert isinstance(trace.client_errors[3], ProtocolError)  # told, not left waiting
    assert np.array_equal(trace.output, _plain_sum(inputs, trace.server.used()))


# -- SecAgg+: O(degree) per client, bound by a commitment ------------------------------------------
def _keys_bytes(n: int) -> int:
    clients = tuple(range(1, n + 1))
    params = Params.make(clients, {"variant": "secagg+", "degree": 8, "corrupt_fraction": 0.0})
    trace = run_round(params, _inputs(clients, dim=4), measure_bytes=True)
    assert trace.server_error is None
    return max(trace.bytes_down.values())


def test_secagg_plus_clients_receive_o_degree_bytes() -> None:
    """Four times the clients, same degree: a client's download grows by the proof depth and the
    survivor bitmap only (log n and n/8 bytes), not by n advertisements."""
    small, large = _keys_bytes(48), _keys_bytes(192)
    assert large < small * 1.5, (small, large)


@pytest.mark.parametrize("lie", ["proof", "hide"])
def test_secagg_plus_key_list_must_match_its_commitment(lie: str) -> None:
    clients = tuple(range(1, 41))
    params = Params.make(clients, {"variant": "secagg+", "degree": 8, "corrupt_fraction": 0.0})

    def tamper(kind: Kind, u: int, payload: dict[str, Any]) -> dict[str, Any]:
        if kind is not Kind.KEYS or u != 1:
            return payload
        if lie == "proof":  # one bit of one proof flipped
            proofs = payload["proofs"].copy()
            proofs[0, 0, 0] ^= 1
            return {**payload, "proofs": proofs}
        # claim a neighbour never advertised (its absent leaf does not hash into the root)
        k = next(i for i, v in enumerate(payload["ids"]) if v != 1)
        cols = ("ids", "c_pk", "s_pk", "vk", "sig")
        cut = {c: [x for i, x in enumerate(payload[c]) if i != k] for c in cols}
        order = [*range(len(payload["ids"]))]
        order.remove(k)
        proofs = payload["proofs"][[*order, k, *range(len(payload["ids"]), len(payload["proofs"]))]]
        return {**payload, **cut, "absent": [*payload["absent"], payload["ids"][k]], "proofs": proofs}

    trace = run_round(params, _inputs(clients, dim=4), tamper=tamper)
    err = trace.client_errors.get(1)
    assert isinstance(err, ProtocolError) and "commitment" in str(err)
    assert [m["kind"] for m in trace.sent[1]] == ["join", "advertise"]
