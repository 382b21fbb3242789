"""The protocol as a table: phases, message kinds, the allowed (phase, kind) transitions, and the
public parameters every party agrees on.

Message kinds double as round tags (``after:<kind>`` in a scenario's crash faults):

==============  ================  =====================================================
kind            direction         content
==============  ================  =====================================================
join            client → server   check-in (a crash after it = dropout before keys)
advertise       client → server   c_pk, s_pk (X25519), sig_pk (Ed25519), vector length
keys            server → clients  every advertised key set (U1) → session id, graph
share_keys      client → server   AES-GCM ciphertexts of shares of s_sk and b, per peer
shares          server → client   the ciphertexts addressed to this client (U2)
masked_input    client → server   y_u = x_u + PRG(b_u) + Σ ±PRG(s_uv)
survivors       server → clients  U3, the clients whose masked input arrived
consistency     client → server   Ed25519 signature over (sid, U3)
unmask_request  server → clients  the signatures of U4 and the list of dropped clients
unmask          client → server   shares of b_v (v ∈ U3) or of s_v^SK (v dropped), never both
result          server → clients  the aggregate (or only its size, see Params.result_to_clients)
abort           server → clients  QuorumLost: sent on the tag the client is waiting for
==============  ================  =====================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from mpc.errors import ConfigError, ProtocolError, UnexpectedMessage

from .crypto import harary_neighbours


class Kind(str, Enum):
    JOIN = "join"
    ADVERTISE = "advertise"
    KEYS = "keys"
    SHARE_KEYS = "share_keys"
    SHARES = "shares"
    MASKED_INPUT = "masked_input"
    SURVIVORS = "survivors"
    CONSISTENCY = "consistency"
    UNMASK_REQUEST = "unmask_request"
    UNMASK = "unmask"
    RESULT = "result"
    ABORT = "abort"


class ClientPhase(Enum):
    INIT = "init"
    ADVERTISED = "advertised"  # waiting for the key list
    SHARED = "shared"  # waiting for the ciphertexts addressed to me
    MASKED = "masked"  # waiting for U3
    SIGNED = "signed"  # waiting for the unmask request
    UNMASKED = "unmasked"  # waiting for the result
    DONE = "done"
    FAILED = "failed"


class ServerPhase(Enum):
    JOINING = "joining"
    ADVERTISING = "advertising"
    SHARING = "sharing"
    MASKING = "masking"
    CHECKING = "checking"
    UNMASKING = "unmasking"
    DONE = "done"
    FAILED = "failed"


# What a client accepts from the server, and the phase it moves to. ``abort`` is accepted in
# every waiting phase (and ends the run with QuorumLost).
CLIENT_TRANSITIONS: Mapping[tuple[ClientPhase, Kind], ClientPhase] = {
    (ClientPhase.ADVERTISED, Kind.KEYS): ClientPhase.SHARED,
    (ClientPhase.SHARED, Kind.SHARES): ClientPhase.MASKED,
    (ClientPhase.MASKED, Kind.SURVIVORS): ClientPhase.SIGNED,
    (ClientPhase.SIGNED, Kind.UNMASK_REQUEST): ClientPhase.UNMASKED,
    (ClientPhase.UNMASKED, Kind.RESULT): ClientPhase.DONE,
    **{(p, Kind.ABORT): ClientPhase.FAILED for p in (
        ClientPhase.ADVERTISED, ClientPhase.SHARED, ClientPhase.MASKED, ClientPhase.SIGNED, ClientPhase.UNMASKED)},
}

# What the server collects in each phase, and the phase it moves to.
SERVER_TRANSITIONS: Mapping[tuple[ServerPhase, Kind], ServerPhase] = {
    (ServerPhase.JOINING, Kind.JOIN): ServerPhase.ADVERTISING,
    (ServerPhase.ADVERTISING, Kind.ADVERTISE): ServerPhase.SHARING,
    (ServerPhase.SHARING, Kind.SHARE_KEYS): ServerPhase.MASKING,
    (ServerPhase.MASKING, Kind.MASKED_INPUT): ServerPhase.CHECKING,
    (ServerPhase.CHECKING, Kind.CONSISTENCY): ServerPhase.UNMASKING,
    (ServerPhase.UNMASKING, Kind.UNMASK): ServerPhase.DONE,
}

# The server's answer to each collected kind (the tag its clients wait on next).
REPLY: Mapping[Kind, Kind] = {
    Kind.JOIN: Kind.KEYS,  # a join quorum failure is announced on the tag clients wait on
    Kind.ADVERTISE: Kind.KEYS,
    Kind.SHARE_KEYS: Kind.SHARES,
    Kind.MASKED_INPUT: Kind.SURVIVORS,
    Kind.CONSISTENCY: Kind.UNMASK_REQUEST,
    Kind.UNMASK: Kind.RESULT,
}


def transition(table: Mapping[tuple[Any, Kind], Any], phase: Any, kind: Any, peer: int | None = None) -> Any:
    """The next phase for ``kind`` received in ``phase``; UnexpectedMessage if the pair is not allowed."""
    try:
        k = Kind(kind)
    except ValueError:
        raise UnexpectedMessage(f"unknown message kind {kind!r} in phase {phase.value}", peer=peer) from None
    nxt = table.get((phase, k))
    if nxt is None:
        raise UnexpectedMessage(f"message {k.value!r} not allowed in phase {phase.value}", peer=peer)
    return nxt


def kind_of(payload: Any, peer: int | None = None) -> str:
    if not isinstance(payload, dict) or not isinstance(payload.get("kind"), str):
        raise ProtocolError("a secure-aggregation message is a map with a 'kind'", peer=peer)
    return payload["kind"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    """Public parameters of one aggregation round (the same at the server and every client).

    ``threshold`` is the number of shares needed to rebuild a secret, i.e. the minimum number of
    survivors at each stage (SecAgg: of all clients; SecAgg+: of each client's neighbours).
    """

    clients: tuple[int, ...]
    threshold: int
    variant: str = "secagg"  # secagg | secagg+
    degree: int = 0  # SecAgg+: neighbours per client (0 for SecAgg: everyone)
    fractional_bits: int | None = None
    result_to_clients: bool = True
    server: int = 0

    @classmethod
    def make(cls, clients: tuple[int, ...], options: Mapping[str, Any], *,
             degree_threshold: int | None = None, fractional_bits: int | None = None) -> Params:
        """From a scenario's ``[options]`` (variant, degree, threshold, result_to_clients).

        ``degree_threshold`` is a top-level Shamir degree t (the project-wide meaning); it asks
        for t + 1 shares. Defaults: SecAgg+ degree 2·⌈log2 n⌉ (even), threshold ⌊m/2⌋ + 1 for m
        the number of share holders (n, or the degree + 1), i.e. a majority of them.
        """
        clients = tuple(sorted(clients))
        n = len(clients)
        if n < 2:
            raise ConfigError("secure aggregation needs at least two clients")
        variant = str(options.get("variant", "secagg"))
        if variant not in ("secagg", "secagg+"):
            raise ConfigError(f"options.variant must be 'secagg' or 'secagg+', got {variant!r}")
        if variant == "secagg+":
            default_k = 2 * math.ceil(math.log2(n))
            degree = int(options.get("degree", default_k))
            if degree < 2:
                raise ConfigError("options.degree must be at least 2")
            degree = min(n - 1, degree + degree % 2)
        else:
            degree = n - 1
        holders = degree + 1  # a client holds a share of its own secrets too (as in the paper)
        if "threshold" in options:
            needed = int(options["threshold"])
        elif degree_threshold is not None:
            needed = degree_threshold + 1
        else:
            needed = holders // 2 + 1
        if not 1 <= needed <= holders:
            raise ConfigError(f"threshold must be in 1..{holders} (share holders per client), got {needed}")
        return cls(clients=clients, threshold=needed, variant=variant, degree=degree if variant == "secagg+" else 0,
                   fractional_bits=fractional_bits, result_to_clients=bool(options.get("result_to_clients", True)))


def neighbourhoods(
    params: Params, u1: tuple[int, ...], sid: bytes, only: int | None = None
) -> dict[int, frozenset[int]]:
    """Who shares keys with whom: everyone (SecAgg) or the seeded Harary graph on U1 (SecAgg+);
    with ``only``, just that client's neighbourhood."""
    degree = params.degree if params.variant == "secagg+" else len(u1)
    return harary_neighbours(u1, degree, sid, only=only)


__all__ = [
    "CLIENT_TRANSITIONS",
    "ClientPhase",
    "Kind",
    "Params",
    "REPLY",
    "SERVER_TRANSITIONS",
    "ServerPhase",
    "kind_of",
    "neighbourhoods",
    "transition",
]
