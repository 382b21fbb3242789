"""Red team 2: the nng transport's admission frame (``ADMIT``: the listener's "I kept your pipe",
which a dialer needs before it counts its peer connected) as a peer's tool (real pynng sockets).

In this mesh the lower id listens: party 1 listens for 2 and 3, party 2 for 3; party 3 only dials.
What must hold: an ADMIT never reaches a node as data from a listener, one sent by a dialer is a
rejected message like any other malformed frame, and neither changes an output.
"""

from __future__ import annotations

import numpy as np
import pytest
from nng_mesh import close_all, connect, mesh, run_sum

from mpc.errors import CodecError, ProtocolError
from mpc.transport.nng import ADMIT

pytestmark = [pytest.mark.timeout(30), pytest.mark.real_time]
INPUTS = {1: [1, 2], 2: [10, 20], 3: [100, 200]}
WANT = [[111, 222]]


async def _run(during) -> dict:  # type: ignore[no-untyped-def]
    ts, bound = mesh()
    connect(ts, bound)
    try:
        return await run_sum(ts, b"redteam2-admit", INPUTS, during=during, timeout=3)
    finally:
        await close_all(ts)


def _admits(sender: int, to: tuple[int, ...], count: int):  # type: ignore[no-untyped-def]
    """The attacker's hook: ``sender`` sends ``count`` ADMIT frames as data to each of ``to``."""

    async def during(p, node):  # type: ignore[no-untyped-def]
        if p == sender:
            for _ in range(count):
                for q in to:
                    await node.transport.send(q, ADMIT)

    return during


async def test_a_dialer_sending_admit_frames_is_rejected_as_malformed_and_the_sum_is_right():
    """Party 3 (a dialer on both its links) sends ADMIT frames as data to its listeners."""

    res = await _run(_admits(3, (1, 2), 5))
    for p in (1, 2):
        assert not isinstance(res[p], BaseException), res
        outs, node = res[p]
        assert outs == WANT, res
        got = [e for e in node.rejected if e.peer == 3 and "malformed" in str(e)]
        assert len(got) == 5 and all(isinstance(e, ProtocolError | CodecError) for e in got), node.rejected
        assert 3 not in node.mailbox.down


async def test_repeated_admit_frames_from_a_listener_after_start_never_reach_the_node():
    """Party 1 (the listener on both its links) repeats ADMIT after start: the dialers drop them
    before the node (no rejection, no message counted), and nothing else changes."""

    res = await _run(_admits(1, (2, 3), 50))
    for p in (1, 2, 3):
        assert not isinstance(res[p], BaseException), res
        outs, node = res[p]
        assert outs == WANT, res
        # (late agreement messages for the finished sum may be rejected; never a malformed frame)
        assert not any("malformed" in str(e) for e in node.rejected), (p, node.rejected)


async def test_a_listener_admit_is_not_data_even_when_it_carries_a_valid_prefix():
    """The ADMIT bytes are a zero length prefix with trailing bytes: as data they are malformed to
    the codec, so an ADMIT can never pass as a message (a frame with another payload is data)."""
    from mpc.message import Message

    with pytest.raises((CodecError, ProtocolError)):
        Message.from_bytes(ADMIT)
    assert np.frombuffer(ADMIT[:4], "<u4")[0] == 0 and len(ADMIT) > 4
