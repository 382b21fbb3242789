"""The async drivers: they move the state machines' messages through a Context.

Clients talk only to the server (a star): every client-to-client message — the encrypted shares —
is relayed by the server, as in the paper. Round tags are the message kinds (see
:mod:`protocols.secagg.phases`), so a scenario can crash a client ``after:<kind>``.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from numpy.typing import ArrayLike, NDArray

from mpc.context import Context
from mpc.errors import ProtocolError, QuorumLost

from .client import SecAggClient
from .masks import encode_input
from .phases import REPLY, Kind, Params
from .server import SecAggServer

CLIENT_WAITS = (Kind.KEYS, Kind.SHARES, Kind.SURVIVORS, Kind.UNMASK_REQUEST, Kind.RESULT)
SERVER_ROUNDS = (Kind.JOIN, Kind.ADVERTISE, Kind.SHARE_KEYS, Kind.MASKED_INPUT, Kind.CONSISTENCY, Kind.UNMASK)


async def run_client(
    ctx: Context,
    params: Params,
    x: ArrayLike,
    *,
    identity: Ed25519PrivateKey | None = None,
    known_identities: dict[int, bytes] | None = None,
) -> NDArray[Any] | None:
    """One client's part: its vector goes in masked; returns the aggregate (if the server shares it)."""
    encoded = encode_input(x, len(params.clients), params.fractional_bits)
    client = SecAggClient(ctx.party_id, params, encoded, ctx.rng, identity=identity, known_identities=known_identities)
    for msg in client.start():
        await ctx.send(params.server, msg["kind"], msg)
    for tag in CLIENT_WAITS:
        reply = client.receive(await ctx.recv(params.server, tag.value))
        if reply is not None:
            await ctx.send(params.server, reply["kind"], reply)
    return client.output


async def run_server(ctx: Context, params: Params) -> SecAggServer:
    """The aggregator's part; the returned machine holds the output, U3 and per-stage counts."""
    server = SecAggServer(params)
    for kind in SERVER_ROUNDS:
        expected = server.expected(kind)
        try:
            got = await ctx.gather(kind.value, expected, quorum=params.threshold)
            replies = server.receive(kind, got)
        except (QuorumLost, ProtocolError) as exc:
            # every client still waiting learns why the round ended, on the tag it waits on
            await ctx.scatter(REPLY[kind].value, {u: abort_message(exc) for u in expected})
            raise
        excluded = {u: abort_message(ProtocolError(why, peer=u)) for u, why in server.newly_rejected().items()}
        await _send(ctx, REPLY[kind].value, {**replies, **excluded})
    return server


def abort_message(exc: QuorumLost | ProtocolError) -> dict[str, Any]:
    msg: dict[str, Any] = {"kind": Kind.ABORT.value, "error": type(exc).__name__, "reason": str(exc)[:500]}
    if isinstance(exc, QuorumLost):
        msg.update(missing=list(exc.missing), needed=exc.needed, have=exc.have)
    return msg


async def _send(ctx: Context, tag: str, replies: dict[int, Any]) -> None:
    """Send replies; a payload shared by several clients is encoded once and broadcast."""
    groups: dict[int, tuple[Any, list[int]]] = {}
    for u, payload in replies.items():
        groups.setdefault(id(payload), (payload, []))[1].append(u)
    single = {}
    for payload, to in groups.values():
        if len(to) > 1:
            await ctx.broadcast(tag, payload, to=to)
        else:
            single[to[0]] = payload
    if single:
        await ctx.scatter(tag, single)


__all__ = ["CLIENT_WAITS", "SERVER_ROUNDS", "abort_message", "run_client", "run_server"]
