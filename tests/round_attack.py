"""The attacker's tools for the red-team tests of the per-round hot path
(``test_redteam_round_path.py``: what a round message may be; ``test_redteam_round_waits.py``:
waits, cancellation, floods and send buffers). Party 2 is the attacker: a genuine party that may
send anything *as itself* down its own connections; the parties run over netsim in virtual time,
byte wire, so every frame goes through ``ReceivePath.ingress``."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from mpc import Node
from mpc.codec import DEFAULT_LIMITS, Limits
from mpc.errors import TransportError
from mpc.mailbox import Mailbox
from mpc.message import Message
from mpc.rng import Csprng
from netsim import SimNetwork
from netsim.endpoint import SimTransport
from protocols.common import Scheme

IDS = (1, 2, 3)
EVIL = 2
HONEST = (1, 3)
P61 = (1 << 61) - 1
SESSION = b"test-session"


async def _run(ids: tuple[int, ...], body: Any, *, wire: str = "bytes", timeout: float = 2.0,
               limits: Limits = DEFAULT_LIMITS, network: SimNetwork | None = None) -> dict[int, Any]:
    """``body(node)`` at every party over one netsim network; exceptions are returned."""
    net = network or SimNetwork(ids, wire=wire)

    async def one(pid: int) -> Any:
        async with Node(pid, transport=net.transport(pid), parties=ids, timeout=timeout, session=SESSION,
                        limits=limits) as node:
            return await body(node)

    res = await asyncio.gather(*(one(p) for p in ids), return_exceptions=True)
    return dict(zip(ids, res, strict=True))


def _frame(instance: str, tag: str, sender: int, payload: Any, session: bytes = SESSION) -> bytes:
    return Message(session=session, instance=instance, tag=tag, sender=sender, payload=payload).to_bytes()


async def _raw(ctx: Any, peers: tuple[int, ...], data: bytes) -> None:
    """The attacker writes ``data`` down its own connection to each of ``peers``."""
    for p in peers:
        await ctx._node.transport.send(p, data)


def _additive(secret: list[int]) -> tuple[Scheme, dict[int, np.ndarray], list[int]]:
    scheme = Scheme.make("additive", IDS)
    shares = scheme.share(np.array(secret, dtype=np.uint64), Csprng(b"s" * 32))
    return scheme, {p: shares[i] for i, p in enumerate(IDS)}, secret


def _waits(box: Mailbox) -> dict[Any, float]:
    """The recv_many deadlines the mailbox's shared timer still holds."""
    return {} if box._deadlines is None else dict(box._deadlines._waits)


def _reasons(node: Node) -> list[str]:
    return [str(e) for e in node.rejected if e.peer == EVIL]


async def run_nodes_bytes(proto: Any, **kw: Any) -> dict[int, Any]:
    return await _run(IDS, lambda node: node.run(proto), **kw)


class _TryTransport(SimTransport):
    """netsim's transport with a ``try_send``: to ``full`` peers it reports a full buffer (the
    node must then await ``send``), to ``broken`` ones every send fails."""

    __slots__ = ("full", "broken", "tried")

    def __init__(self, network: Any, party: int) -> None:
        super().__init__(network, party)
        self.full: set[int] = set()
        self.broken: set[int] = set()
        self.tried: list[int] = []

    def try_send(self, peer: int, data: bytes) -> bool:
        self.tried.append(peer)
        if peer in self.broken:
            raise TransportError(f"party {self.party_id}: send to {peer} failed (attack)")
        if peer in self.full:
            return False
        self.stats.messages_sent += 1
        self.stats.bytes_sent += len(data)
        self.network._route(self.party_id, peer, data, len(data), None, asyncio.get_running_loop().time())
        return True

    async def send(self, peer: int, data: bytes) -> None:
        if peer in self.broken:
            raise TransportError(f"party {self.party_id}: send to {peer} failed (attack)")
        await asyncio.sleep(0.2)  # a buffer that drains slowly
        await super().send(peer, data)


def _try_network(full: dict[int, set[int]], broken: dict[int, set[int]]) -> SimNetwork:
    net = SimNetwork(IDS, wire="bytes")
    for p in IDS:
        t = net._transports[p] = _TryTransport(net, p)
        t.full, t.broken = full.get(p, set()), broken.get(p, set())
    return net
