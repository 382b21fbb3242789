"""Secure sum and mean over the in-memory network: the same protocol code as over pynng."""

import asyncio

import numpy as np

import pytest

from mpc import Crashed, Node, PartyDropped, ProtocolError, QuorumLost
from mpc.app.runner import crash_after
from netsim import SimNetwork
from protocols import secure_mean, secure_sum

pytestmark = pytest.mark.timeout(60)

@pytest.mark.parametrize("sharing,n,t", [("additive", 3, None), ("shamir", 3, 1), ("shamir", 5, 2), ("shamir", 4, 0)])
async def test_sum_matches_plaintext_with_negatives(parties, sharing, n, t):
    rng = np.random.default_rng(n)
    xs = {p: rng.integers(-(1 << 40), 1 << 40, 1000) for p in range(1, n + 1)}

    async def body(node):
        return await node.run(secure_sum, xs[node.party_id], sharing=sharing, threshold=t)

    res = await parties(n, body, latency=0.001)
    want = sum(xs.values())
    for p in range(1, n + 1):
        assert np.array_equal(res[p], want)

async def test_compute_only_parties_and_mean_of_floats(parties):
    xs = {1: np.array([1.5, -2.25, 1e6]), 2: np.array([0.25, 0.0, -3.0])}

    async def body(node):
        x = xs.get(node.party_id)
        return await node.run(secure_mean, x, input_parties=(1, 2), fractional_bits=20)

    res = await parties(5, body)
    want = (xs[1] + xs[2]) / 2
    for p in range(1, 6):
        assert np.allclose(res[p], want, atol=2.0**-20)

async def test_input_shape_mismatch_is_a_protocol_error(parties):
    async def body(node):
        return await node.run(secure_sum, np.arange(node.party_id + 1), sharing="shamir")

    res = await parties(3, body, timeout=0.5)
    # every party sees a dealer whose share has another shape than the first dealer's
    assert all(isinstance(r, ProtocolError) for r in res.values()), res
    assert all("shape" in str(r) for r in res.values()), res

def _crashing_parties(n, crash_party, after, sharing, threshold=None):
    net = SimNetwork(range(1, n + 1), latency=0.002)
    ids = tuple(range(1, n + 1))

    async def one(pid):
        def on_crash():
            net.crash(pid)
            raise Crashed("fault")

        node = Node(pid, transport=net.transport(pid), parties=ids, session=b"s", timeout=1.0)
        if pid == crash_party:
            node.add_send_observer(crash_after(after, on_crash))
        async with node:
            return await node.run(secure_sum, np.array([pid, 2 * pid]), sharing=sharing, threshold=threshold)

    return asyncio.gather(*(one(p) for p in ids), return_exceptions=True)

async def test_shamir_sum_survives_a_crash_after_sharing():
    res = await _crashing_parties(5, 3, "share", "shamir", threshold=2)
    assert isinstance(res[2], Crashed)
    for r in res[:2] + res[3:]:
        assert r.tolist() == [15, 30]  # the crashed party's input was shared, so it counts

async def test_additive_sum_fails_cleanly_when_a_party_crashes():
    t0 = asyncio.get_running_loop().time()
    res = await _crashing_parties(3, 2, "share", "additive")
    assert isinstance(res[1], Crashed)
    assert all(isinstance(r, PartyDropped) and r.party == 2 for r in (res[0], res[2]))
    assert asyncio.get_running_loop().time() - t0 < 1.0  # detected by the disconnect, not the timeout

async def test_shamir_open_loses_quorum_when_too_many_crash():
    net = SimNetwork(range(1, 4))

    async def one(pid):
        async with Node(pid, transport=net.transport(pid), parties=(1, 2, 3), session=b"s", timeout=0.5) as node:
            if pid == 3:
                net.crash(3)
                return "crashed"
            await asyncio.sleep(0.01)
            return await node.run(secure_sum, np.array([pid]), sharing="shamir", threshold=1, input_parties=(1, 2))

    res = await asyncio.gather(one(1), one(2), one(3), return_exceptions=True)
    # t = 1 needs 2 shares to open: 1 and 2 still have them → success
    assert res[0].tolist() == [3] and res[1].tolist() == [3]

    net = SimNetwork(range(1, 4))

    async def two(pid):
        async with Node(pid, transport=net.transport(pid), parties=(1, 2, 3), session=b"s", timeout=0.5) as node:
            if pid != 1:
                net.crash(pid)
                return "crashed"
            await asyncio.sleep(0.01)
            return await node.run(secure_sum, np.array([pid]), sharing="shamir", threshold=1, input_parties=(1,))

    res = await asyncio.gather(two(1), two(2), two(3), return_exceptions=True)
    assert isinstance(res[0], QuorumLost) and res[0].missing == (2, 3)


@pytest.mark.parametrize("bad,needle", [
    (np.arange(8, dtype=np.int64), "expected a uint64 share array"),
    (np.arange(8, dtype=np.uint32), "expected a uint64 share array"),  # np.stack would upcast it silently
    (np.arange(9, dtype=np.uint64), "share of shape (9,), expected (8,)"),
    ([1, 2, 3], "expected a uint64 share array"),
    (np.full(8, (1 << 61) - 1, dtype=np.uint64), "share outside the field"),
])
def test_stacked_shares_are_checked_and_the_first_culprit_is_named(bad, needle):
    from protocols.common import Scheme, stack_shares

    scheme = Scheme.make("shamir", (1, 2, 3, 4))
    good = {p: np.full(8, p, dtype=np.uint64) for p in (1, 2, 3, 4)}
    stacked = stack_shares(good, (4, 2, 1), scheme)
    assert stacked.shape == (3, 8) and stacked[:, 0].tolist() == [4, 2, 1]
    with pytest.raises(ProtocolError, match=needle.replace("(", r"\(").replace(")", r"\)")) as err:
        stack_shares({**good, 3: bad, 4: bad}, (1, 2, 3, 4), scheme)
    assert err.value.peer == 3  # the first culprit in the order asked
    with pytest.raises(ProtocolError, match="share of shape"):
        stack_shares(good, (1, 2), scheme, shape=(4,))
    assert stack_shares(good, (), scheme, shape=(8,)).shape == (0, 8)


def test_a_list_that_numpy_would_read_as_uint64_is_not_a_share():
    from protocols.common import Scheme, stack_shares

    scheme = Scheme.make("additive", (1, 2))
    with pytest.raises(ProtocolError, match="expected a uint64 share array") as err:
        stack_shares({1: np.zeros(2, np.uint64), 2: [2**63, 2**63 + 1]}, (1, 2), scheme)
    assert err.value.peer == 2
