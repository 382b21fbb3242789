"""One aggregation round with the state machines wired directly to each other (no network).

Used by tests (dropouts at every stage, attacks through ``tamper``) and by ``mpc bench secagg``
(compute time per role through an injected ``clock``, bytes per client through the codec). It
follows the same stage order and the same threshold checks as the async drivers: the server
collects each kind from the previous stage's survivors, and an error at the server is announced to
the waiting clients with an ``abort`` message, exactly like :func:`protocols.secagg.run_server`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from numpy.typing import ArrayLike, NDArray

from mpc import codec
from mpc.errors import MpcError, ProtocolError, QuorumLost
from mpc.rng import Csprng

from .client import SecAggClient
from .masks import encode_input
from .phases import REPLY, Kind, Params
from .protocol import SERVER_ROUNDS, abort_message
from .server import SecAggServer

Tamper = Callable[[Kind, int, dict[str, Any]], dict[str, Any]]
"""``(kind, client, payload) -> payload``: what a lying server sends instead of ``payload``."""


@dataclass(slots=True)
class RoundTrace:
    server: SecAggServer
    clients: dict[int, SecAggClient]
    output: NDArray[Any] | None = None
    server_error: MpcError | None = None
    client_errors: dict[int, MpcError] = field(default_factory=dict)
    client_seconds: dict[int, float] = field(default_factory=dict)
    server_seconds: float = 0.0
    bytes_up: dict[int, int] = field(default_factory=dict)  # client → server, per client
    bytes_down: dict[int, int] = field(default_factory=dict)  # server → client, per client
    sent: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # every client message


def run_round(
    params: Params,
    inputs: Mapping[int, ArrayLike],
    *,
    drop_after: Mapping[int, Kind | str] | None = None,
    tamper: Tamper | None = None,
    tamper_up: Tamper | None = None,
    server: SecAggServer | None = None,
    clock: Callable[[], float] | None = None,
    measure_bytes: bool = False,
    rng: Callable[[], Csprng] = Csprng,
) -> RoundTrace:
    """Run one round; client ``u`` stops for good right after sending ``drop_after[u]``.

    ``tamper`` rewrites server → client messages (a lying server), ``tamper_up`` client → server
    messages (a lying client); ``server`` replaces the honest server machine.
    """
    drops = {u: Kind(k) for u, k in (drop_after or {}).items()}
    tick = clock or (lambda: 0.0)
    n = len(params.clients)
    trace = RoundTrace(server=server if server is not None else SecAggServer(params), clients={})
    for u in params.clients:
        trace.clients[u] = SecAggClient(u, params, encode_input(inputs[u], n, params.fractional_bits), rng())
        trace.client_seconds[u] = trace.bytes_up[u] = trace.bytes_down[u] = 0
        trace.sent[u] = []
    alive = set(params.clients)
    outbox: dict[int, dict[Kind, dict[str, Any]]] = {u: {} for u in params.clients}

    def post(u: int, msg: dict[str, Any]) -> None:
        kind = Kind(msg["kind"])
        if tamper_up is not None:
            msg = tamper_up(kind, u, msg)
        outbox[u][kind] = msg
        trace.sent[u].append(msg)
        if measure_bytes:
            trace.bytes_up[u] += len(codec.encode(msg))
        if drops.get(u) is kind:
            alive.discard(u)

    def deliver(u: int, payload: dict[str, Any], kind: Kind) -> None:
        if tamper is not None:
            payload = tamper(kind, u, payload)
        if measure_bytes:
            trace.bytes_down[u] += len(codec.encode(payload))
        t0 = tick()
        try:
            reply = trace.clients[u].receive(payload)
        except MpcError as exc:
            trace.client_errors[u] = exc
            alive.discard(u)
            return
        finally:
            trace.client_seconds[u] += tick() - t0
        if reply is not None:
            post(u, reply)

    for u in params.clients:
        t0 = tick()
        first = trace.clients[u].start()
        trace.client_seconds[u] += tick() - t0
        for msg in first:
            if u in alive:
                post(u, msg)

    for kind in SERVER_ROUNDS:
        expected = trace.server.expected(kind)
        batch = {u: outbox[u][kind] for u in expected if kind in outbox[u]}
        t0 = tick()
        try:
            if len(batch) < params.threshold:  # what the driver's gather(quorum=t) raises
                raise QuorumLost(set(expected) - set(batch), needed=params.threshold, have=len(batch))
            replies = trace.server.receive(kind, batch)
        except (QuorumLost, ProtocolError) as exc:
            trace.server_seconds += tick() - t0
            trace.server_error = exc
            for u in expected:
                if u in alive:
                    deliver(u, abort_message(exc), Kind.ABORT)
            return trace
        trace.server_seconds += tick() - t0
        for u, why in trace.server.newly_rejected().items():  # a misbehaving client is told
            replies[u] = abort_message(ProtocolError(why, peer=u))
        for u, payload in replies.items():
            if u in alive:
                deliver(u, payload, REPLY[kind])
    trace.output = trace.server.output
    return trace


__all__ = ["RoundTrace", "Tamper", "run_round"]
