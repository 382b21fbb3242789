"""The async drivers: they move the state machines' messages through a Context.

Clients talk only to the server (a star): every client-to-client message — the encrypted shares —
is relayed by the server, as in the paper. Round tags are the message kinds (see
:mod:`protocols.secagg.phases`), so a scenario can crash a client ``after:<kind>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from numpy.typing import ArrayLike, NDArray

from mpc.context import Context
from mpc.errors import QuorumLost

from . import messages as m
from .crypto import SigningKey
from .client import SecAggClient
from .masks import encode_input
from .params import Params
from .phases import CLIENT_WAITS, SERVER_ROUNDS
from .server import SecAggServer


async def run_client(
    ctx: Context,
    params: Params,
    x: ArrayLike,
    *,
    signing_key: SigningKey | None = None,
    identities: Mapping[int, object] | None = None,
) -> NDArray[Any] | None:
    """One client's part: its vector goes in masked; returns the aggregate (if the server shares it).

    ``signing_key`` (this client's long-term Ed25519 or ECDSA P-256 key) and ``identities``
    (party id → verification key of every client) enable the active-adversary defences; see
    :mod:`protocols.secagg.client` for what is not defended without them.
    """
    encoded = encode_input(x, len(params.clients), params.fractional_bits)
    client = SecAggClient(ctx.party_id, params, encoded, ctx.rng, signing_key=signing_key, identities=identities)
    try:
        for msg in client.start():
            await ctx.send(params.server, msg.KIND.value, msg.to_wire())
        for tag in CLIENT_WAITS:
            reply = client.receive(await ctx.recv(params.server, tag.value))
            if reply is not None:
                await ctx.send(params.server, reply.KIND.value, reply.to_wire())
    finally:  # also when dropped out or cancelled
        client.close()
    return client.output


async def run_server(ctx: Context, params: Params, *, identities: Mapping[int, object] | None = None) -> SecAggServer:
    """The aggregator's part; the returned machine holds the output, U3 and per-stage counts."""
    server = SecAggServer(params, identities=identities)
    for kind in SERVER_ROUNDS:
        try:
            got = await ctx.gather(kind.value, server.expected(kind), quorum=params.threshold)
        except QuorumLost as exc:
            step = server.fail(kind, exc)
        else:
            step = server.step(kind, got)
        await _send(ctx, step.tag.value, step.replies)
        if step.error is not None:
            raise step.error
    return server


async def _send(ctx: Context, tag: str, replies: Mapping[int, m.Message]) -> None:
    """Send replies; a message shared by several clients is encoded once and broadcast."""
    groups: dict[int, tuple[m.Message, list[int]]] = {}
    for u, msg in replies.items():
        groups.setdefault(id(msg), (msg, []))[1].append(u)
    single = {}
    for msg, to in groups.values():
        if len(to) > 1:
            await ctx.broadcast(tag, msg.to_wire(), to=to)
        else:
            single[to[0]] = msg.to_wire()
    if single:
        await ctx.scatter(tag, single)


__all__ = ["run_client", "run_server"]
