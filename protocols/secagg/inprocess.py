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
from mpc.errors import MpcError, QuorumLost
from mpc.rng import Csprng

from . import messages as m
from .crypto import SigningKey
from .client import SecAggClient
from .masks import encode_input
from .params import Params
from .phases import SERVER_ROUNDS, Kind
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
    signing_keys: Mapping[int, SigningKey] | None = None,
    identities: Mapping[int, object] | None = None,
) -> RoundTrace:
    """Run one round; client ``u`` stops for good right after sending ``drop_after[u]``.

    ``tamper`` rewrites server → client messages (a lying server), ``tamper_up`` client → server
    messages (a lying client); ``server`` replaces the honest server machine. ``signing_keys``
    and ``identities`` are the clients' long-term keys and the PKI every client checks against.
    """
    drops = {u: Kind(k) for u, k in (drop_after or {}).items()}
    tick = clock or (lambda: 0.0)
    n = len(params.clients)
    trace = RoundTrace(server=server if server is not None else SecAggServer(params, identities=identities),
                       clients={})
    for u in params.clients:
        trace.clients[u] = SecAggClient(u, params, encode_input(inputs[u], n, params.fractional_bits), rng(),
                                        signing_key=signing_keys[u] if signing_keys else None, identities=identities)
        trace.client_seconds[u] = trace.bytes_up[u] = trace.bytes_down[u] = 0
        trace.sent[u] = []
    alive = set(params.clients)
    outbox: dict[int, dict[Kind, dict[str, Any]]] = {u: {} for u in params.clients}

    def post(u: int, message: m.Message) -> None:
        kind, msg = message.KIND, message.to_wire()
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
        if len(batch) < params.threshold:  # what the driver's gather(quorum=t) raises
            step = trace.server.fail(kind, QuorumLost(set(expected) - set(batch), needed=params.threshold,
                                                      have=len(batch)))
        else:
            step = trace.server.step(kind, batch)
        trace.server_seconds += tick() - t0
        wire = {id(msg): msg.to_wire() for msg in step.replies.values()}  # shared replies converted once
        for u, msg in step.replies.items():
            if u in alive:
                deliver(u, wire[id(msg)], msg.KIND)
        if step.error is not None:
            trace.server_error = step.error
            return trace
    trace.output = trace.server.output
    return trace


__all__ = ["RoundTrace", "Tamper", "run_round"]
