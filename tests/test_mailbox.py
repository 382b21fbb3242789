"""Mailbox bounds and cancellation (unit level, plain asyncio)."""

import asyncio

import pytest

from mpc import mailbox as mb
from mpc.errors import ProtocolError
from mpc.mailbox import Mailbox
from mpc.message import Message

pytestmark = pytest.mark.timeout(10)


def _msg(tag, sender=2, instance="i#1"):
    return Message(session=b"s", instance=instance, tag=tag, sender=sender, payload=tag)


async def test_a_peer_cannot_leave_unbounded_bytes_buffered(monkeypatch):
    monkeypatch.setattr(mb, "MAX_PENDING_BYTES_PER_SENDER", 1000)
    box = Mailbox(b"s", (1, 2, 3))
    box.deliver(_msg("a"), 600)
    with pytest.raises(ProtocolError, match="buffered bytes"):
        box.deliver(_msg("b"), 600)
    box.deliver(_msg("c", sender=3), 600)  # the bound is per sender
    assert await box.recv("i#1", "a", 2, 1.0) == "a"  # reading frees the budget
    box.deliver(_msg("b"), 600)


async def test_a_cancelled_gather_leaves_no_orphan_wait():
    box = Mailbox(b"s", (1, 2, 3))
    task = asyncio.create_task(box.recv_many("i#1", "t", (2, 3), 5.0))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    box.deliver(_msg("t"))
    assert await box.recv("i#1", "t", 2, 1.0) == "t"


async def test_two_waiters_on_one_message_is_a_protocol_error():
    box = Mailbox(b"s", (1, 2))
    first = asyncio.create_task(box.recv("i#1", "t", 2, 1.0))
    await asyncio.sleep(0)
    with pytest.raises(ProtocolError, match="already being awaited"):
        await box.recv("i#1", "t", 2, 1.0)
    box.deliver(_msg("t"))
    assert await first == "t"
