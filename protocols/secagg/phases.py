"""The protocol as one table of stages; transitions, replies and round lists are derived from it.

Message kinds double as round tags (``after:<kind>`` in a scenario's crash faults):

==============  ================  =====================================================
kind            direction         content
==============  ================  =====================================================
join            client → server   check-in (a crash after it = dropout before keys)
advertise       client → server   c_pk, s_pk (X25519), signed with the client's signing key
keys            server → clients  the advertisements a client needs, bound by a commitment
share_keys      client → server   AES-GCM ciphertexts of shares of s_sk and b, per peer
shares          server → client   the ciphertexts addressed to this client (U2)
masked_input    client → server   y_u = x_u + PRG(b_u) + Σ ±PRG(s_uv)
survivors       server → clients  U3, the clients whose masked input arrived
consistency     client → server   a signature over (sid, U3)
unmask_request  server → clients  the signatures of this client's holders in U4
unmask          client → server   shares of b_v (v ∈ U3) or of s_v^SK (v dropped), never both
result          server → clients  the aggregate (or only its size, see Params.result_to_clients)
abort           server → clients  QuorumLost or ProtocolError, on the tag the client waits on
==============  ================  =====================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from mpc.errors import UnexpectedMessage


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage:
    """One round trip: the server, in ``server``, collects ``collect`` from the previous stage's
    survivors and answers with ``reply``; meanwhile its clients wait in ``client``. ``join`` has
    no answer of its own (clients send it and their advertisement back to back)."""

    collect: Kind
    server: ServerPhase
    reply: Kind | None = None
    client: ClientPhase | None = None


STAGES: tuple[Stage, ...] = (
    Stage(collect=Kind.JOIN, server=ServerPhase.JOINING),
    Stage(collect=Kind.ADVERTISE, server=ServerPhase.ADVERTISING, reply=Kind.KEYS, client=ClientPhase.ADVERTISED),
    Stage(collect=Kind.SHARE_KEYS, server=ServerPhase.SHARING, reply=Kind.SHARES, client=ClientPhase.SHARED),
    Stage(collect=Kind.MASKED_INPUT, server=ServerPhase.MASKING, reply=Kind.SURVIVORS, client=ClientPhase.MASKED),
    Stage(collect=Kind.CONSISTENCY, server=ServerPhase.CHECKING, reply=Kind.UNMASK_REQUEST, client=ClientPhase.SIGNED),
    Stage(collect=Kind.UNMASK, server=ServerPhase.UNMASKING, reply=Kind.RESULT, client=ClientPhase.UNMASKED),
)

# -- derived from STAGES ------------------------------------------------------------------
SERVER_ROUNDS: tuple[Kind, ...] = tuple(s.collect for s in STAGES)
CLIENT_WAITS: tuple[Kind, ...] = tuple(s.reply for s in STAGES if s.reply is not None)
PREVIOUS: Mapping[Kind, Kind | None] = {s.collect: (STAGES[i - 1].collect if i else None) for i, s in enumerate(STAGES)}

# The tag the clients wait on while the server collects each kind: its reply, or the next one.
REPLY: Mapping[Kind, Kind] = {
    s.collect: next(r.reply for r in STAGES[i:] if r.reply is not None) for i, s in enumerate(STAGES)
}

# What the server collects in each phase, and the phase it moves to.
SERVER_TRANSITIONS: Mapping[tuple[ServerPhase, Kind], ServerPhase] = {
    (s.server, s.collect): (STAGES[i + 1].server if i + 1 < len(STAGES) else ServerPhase.DONE)
    for i, s in enumerate(STAGES)
}

_WAITING = tuple(s for s in STAGES if s.reply is not None and s.client is not None)

# What a client accepts from the server, and the phase it moves to; ``abort`` in every waiting
# phase (it ends the run with the error it carries).
CLIENT_TRANSITIONS: Mapping[tuple[ClientPhase, Kind], ClientPhase] = {
    **{(s.client, s.reply): (_WAITING[i + 1].client if i + 1 < len(_WAITING) else ClientPhase.DONE)  # type: ignore[misc]
       for i, s in enumerate(_WAITING)},
    **{(s.client, Kind.ABORT): ClientPhase.FAILED for s in _WAITING},  # type: ignore[misc]
}


P = TypeVar("P", ClientPhase, ServerPhase)


def transition(table: Mapping[tuple[P, Kind], P], phase: P, kind: object, peer: int | None = None) -> P:
    """The next phase for ``kind`` received in ``phase``; UnexpectedMessage if the pair is not allowed."""
    try:
        k = Kind(kind)
    except ValueError:
        raise UnexpectedMessage(f"unknown message kind {str(kind)[:40]!r} in phase {phase.value}", peer=peer) from None
    nxt = table.get((phase, k))
    if nxt is None:
        raise UnexpectedMessage(f"message {k.value!r} not allowed in phase {phase.value}", peer=peer)
    return nxt


__all__ = [
    "CLIENT_TRANSITIONS",
    "CLIENT_WAITS",
    "ClientPhase",
    "Kind",
    "PREVIOUS",
    "REPLY",
    "SERVER_ROUNDS",
    "SERVER_TRANSITIONS",
    "STAGES",
    "ServerPhase",
    "Stage",
    "transition",
]
