"""Mailbox bounds and cancellation (unit level, plain asyncio)."""

import asyncio

import pytest

from mpc.codec import Limits
from mpc.errors import PartyDropped, ProtocolError
from mpc.mailbox import Mailbox
from mpc.message import Message

pytestmark = pytest.mark.timeout(10)


def _msg(tag, sender=2, instance="i#1"):
    return Message(session=b"s", instance=instance, tag=tag, sender=sender, payload=tag)


async def test_a_peer_cannot_leave_unbounded_bytes_buffered():
    box = Mailbox(b"s", (1, 2, 3), Limits(max_buffered_bytes_per_sender=1000))
    box.deliver(_msg("a"), 600)
    box.deliver(_msg("c", sender=3), 600)  # the bound is per sender
    box.deliver(_msg("b"), 600)  # over the quota: sender 2's oldest early message makes room
    assert box.evicted == {2: 1}
    with pytest.raises(PartyDropped):
        await box.recv("i#1", "a", 2, 0.05)
    assert await box.recv("i#1", "b", 2, 1.0) == "b"
    assert await box.recv("i#1", "c", 3, 1.0) == "c"
    with pytest.raises(ProtocolError, match="exceeds the per-sender buffer"):
        box.deliver(_msg("huge"), 1001)


async def test_a_flood_of_future_tags_neither_displaces_others_nor_the_flooders_own_next_message():
    box = Mailbox(b"s", (1, 2, 3))
    box.deliver(_msg("share", sender=3))  # an honest early message
    waiting = asyncio.create_task(box.recv("i#1", "share", 2, 5.0))  # someone waits on party 2
    await asyncio.sleep(0)
    flood = 10_000
    for k in range(flood):  # the attacker, party 2: distinct made-up future tags
        box.deliver(_msg(f"future-{k}"))
    box.deliver(_msg("share"))  # the message the waiter needs is never early, never evicted
    box.deliver(_msg("open"))  # party 2's own next in-protocol message is accepted
    assert await waiting == "share"
    assert await box.recv("i#1", "open", 2, 1.0) == "open"
    assert await box.recv("i#1", "share", 3, 1.0) == "share"
    assert box.evicted[2] == flood + 1 - box.limits.max_buffered_per_sender
    assert 3 not in box.evicted


async def test_a_sender_that_keeps_being_rejected_is_cut_off_once():
    box = Mailbox(b"s", (1, 2, 3), Limits(reject_burst=10, reject_rate=1.0))
    waiting = asyncio.create_task(box.recv("i#1", "t", 2, 5.0))
    await asyncio.sleep(0)
    assert not any(box.strike(2, now=0.0) for _ in range(10))
    assert box.strike(2, now=0.0)  # the 11th within the burst
    assert not box.strike(2, now=0.0)  # reported once
    with pytest.raises(PartyDropped, match="cut off"):
        await waiting
    with pytest.raises(ProtocolError, match="cut off"):
        box.deliver(_msg("t"))
    # rejections spread out in time are forgiven
    assert not any(box.strike(3, now=float(k)) for k in range(100))


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


async def test_recv_many_takes_buffered_messages_and_awaited_ones_in_the_senders_order():
    box = Mailbox(b"s", (1, 2, 3, 4, 5))
    box.deliver(_msg("x", sender=1))  # this party's own message, delivered locally before the gather
    box.deliver(_msg("x", sender=4))  # an early one
    box.deliver(_msg("y", sender=2))  # another tag: not this gather's
    task = asyncio.create_task(box.recv_many("i#1", "x", (5, 4, 3, 2, 1), 1.0))
    await asyncio.sleep(0)
    for s in (2, 3, 5):
        box.deliver(_msg("x", sender=s))
    got = await task
    assert list(got) == [5, 4, 3, 2, 1] and set(got.values()) == {"x"}
    with pytest.raises(ProtocolError, match="replayed"):
        box.deliver(_msg("x", sender=4))  # every one of them counts as received
    with pytest.raises(ProtocolError, match="already received"):
        await box.recv_many("i#1", "x", (3,), 1.0)
    assert await box.recv("i#1", "y", 2, 1.0) == "y"  # untouched


async def test_recv_many_reports_a_buffered_drop_and_a_late_sender_in_place():
    box = Mailbox(b"s", (1, 2, 3, 4))
    box.deliver(_msg("x", sender=1))
    task = asyncio.create_task(box.recv_many("i#1", "x", (1, 2, 3), 0.05))
    await asyncio.sleep(0)
    box.deliver(_msg("x", sender=2))
    got = await task  # 3 never answers
    assert got[1] == got[2] == "x" and isinstance(got[3], PartyDropped)
    box.mark_down(4, "gone")
    assert isinstance((await box.recv_many("i#1", "z", (4, 1), 0.05))[4], PartyDropped)


def test_each_wait_ends_by_its_own_deadline_under_the_shared_timer():
    """recv_many's deadlines share one loop timer armed for the earliest; a wait that ended in time
    leaves a stale timer behind. In virtual time: a later, shorter wait still ends at its own
    deadline (not the stale one's), a longer one is not cut short when the stale timer fires, and
    of two overlapping waits only the due one ends."""
    from netsim.clock import run

    async def main():
        loop = asyncio.get_running_loop()
        box = Mailbox(b"s", (1, 2, 3))
        ends = {}

        async def wait(tag, timeout):
            got = await box.recv_many("i#1", tag, (2, 3), timeout)
            ends[tag] = (round(loop.time(), 6), {s: not isinstance(v, PartyDropped) for s, v in got.items()})

        # a: ends in time (both arrive at 0.1); the timer for its deadline (0.2) stays armed
        loop.call_later(0.1, lambda: (box.deliver(_msg("a", 2)), box.deliver(_msg("a", 3))))
        await wait("a", 0.2)
        # b: a longer wait started at 0.1 is not expired by the stale timer firing at 0.2
        loop.call_later(2.0, lambda: (box.deliver(_msg("b", 2)), box.deliver(_msg("b", 3))))
        await wait("b", 5.0)
        # c and d overlap: d (1 s) expires alone, c (10 s) gets its messages at 2.1 + 3
        loop.call_later(3.0, lambda: (box.deliver(_msg("c", 2)), box.deliver(_msg("c", 3))))
        await asyncio.gather(wait("c", 10.0), wait("d", 1.0))
        # e: a short wait after the long ones (the armed timer is later than its deadline)
        loop.call_later(0.05, lambda: box.deliver(_msg("e", 3)))
        await wait("e", 0.5)
        return ends

    ends = run(main())
    assert ends["a"] == (0.1, {2: True, 3: True})
    assert ends["b"] == (2.1, {2: True, 3: True})
    assert ends["d"] == (3.1, {2: False, 3: False})
    assert ends["c"] == (5.1, {2: True, 3: True})
    assert ends["e"] == (5.6, {2: False, 3: True})
