"""Mailbox.recv_many (one deadline for a whole round), exercised in virtual time."""

from __future__ import annotations

import asyncio

import pytest

from mpc.errors import PartyDropped, ProtocolError
from mpc.mailbox import Mailbox
from mpc.message import Message
from netsim import run

pytestmark = pytest.mark.timeout(30)
S = b"session"


def msg(sender: int, tag: str = "r", payload: int = 0) -> Message:
    return Message(session=S, instance="p#1", tag=tag, sender=sender, payload=payload)


def test_recv_many_mixes_early_late_dropped_and_silent_senders() -> None:
    async def main() -> tuple[dict[int, object], float]:
        loop = asyncio.get_running_loop()
        box = Mailbox(S, (1, 2, 3, 4, 5))
        box.deliver(msg(1, payload=10))  # early: buffered before anyone asks
        box.mark_down(5)  # known gone before the round
        loop.call_later(0.5, box.deliver, msg(2, payload=20))  # late but in time
        loop.call_later(1.0, box.mark_down, 3)  # drops while we wait
        t0 = loop.time()
        got = await box.recv_many("p#1", "r", (1, 2, 3, 4, 5), timeout=2.0)  # 4 stays silent
        return got, loop.time() - t0

    got, waited = run(main())
    assert got[1] == 10 and got[2] == 20
    assert all(isinstance(got[p], PartyDropped) for p in (3, 4, 5))
    assert "within 2s" in str(got[4])
    assert waited == 2.0  # the silent sender costs exactly the deadline, in virtual time


def test_recv_many_returns_as_soon_as_everyone_answered_and_rejects_replays() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        box = Mailbox(S, (1, 2, 3))
        loop.call_later(0.25, box.deliver, msg(2))
        loop.call_later(0.75, box.deliver, msg(3))
        t0 = loop.time()
        got = await box.recv_many("p#1", "r", (2, 3), timeout=10.0)
        assert got == {2: 0, 3: 0}
        with pytest.raises(ProtocolError):
            await box.recv_many("p#1", "r", (2,), timeout=1.0)
        with pytest.raises(ProtocolError):
            box.deliver(msg(3))  # a replay of a consumed message
        return loop.time() - t0

    assert run(main()) == 0.75
