"""Every fault kind changes the outcome as documented, in virtual time."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from mpc.errors import ConfigError
from mpc.app.runner import Report, run_sim
from mpc.app.scenario import parse

pytestmark = pytest.mark.timeout(60)
INPUTS = {"1": [10, -20, 30], "2": [-1, -2, -3], "3": [1000, 0, 7], "4": [5, 5, 5]}
TOTAL = [1014, -17, 39]


def sim(faults: list[dict[str, Any]], *, sharing: str = "shamir", parties: int = 5, latency_ms: float = 10,
        timeout_s: float = 2.0, **net: Any) -> Report:
    doc = {"name": "f", "protocol": "sum", "parties": parties, "sharing": sharing, "threshold": 1, "seed": 3,
           "timeout_s": timeout_s, "inputs": {k: v for k, v in INPUTS.items() if int(k) <= parties},
           "network": {"latency_ms": latency_ms, **net}, "faults": faults}
    if sharing == "additive":
        doc.pop("threshold")
    return run_sim(parse(doc))


def outputs(report: Report) -> dict[int, list[int]]:
    return {p: np.asarray(o.result.output).tolist() for p, o in report.outcomes.items()
            if o.status == "ok" and o.result is not None}


def errors(report: Report) -> dict[int, str | None]:
    return {p: o.error for p, o in report.outcomes.items() if o.status == "error"}


def statuses(report: Report) -> dict[int, str]:
    return {p: o.status for p, o in report.outcomes.items()}


def test_baseline_without_faults() -> None:
    r = sim([])
    assert r.ok and outputs(r) == {p: TOTAL for p in range(1, 6)}
    assert r.elapsed_s == pytest.approx(0.06)  # hello, share, open, end (survivor agreement), its echo, bye


def test_crash_at_a_virtual_time_is_survived_by_shamir() -> None:
    # party 5 (no input) dies at 12 ms, after sharing: any t + 1 of the others open the sum
    r = sim([{"party": 5, "crash": "at_ms:12"}])
    assert r.ok, r.reason
    assert statuses(r)[5] == "crashed" and outputs(r) == {p: TOTAL for p in range(1, 5)}


def test_crash_after_a_round_tag_fails_additive_sharing() -> None:
    r = sim([{"party": 2, "crash": "after:share"}], sharing="additive")
    assert statuses(r)[2] == "crashed"
    assert errors(r) == {1: "PartyDropped", 3: "PartyDropped", 4: "PartyDropped", 5: "PartyDropped"}


def test_restart_brings_a_fresh_incarnation_that_cannot_rejoin_a_running_protocol() -> None:
    r = sim([{"party": 2, "restart": "after:share", "down_ms": 50}])
    # the others open without it; the new incarnation of 2 starts from scratch, waits for hellos
    # that its peers sent long ago, and gives up after the connect timeout (no rejoin protocol)
    assert outputs(r) == {p: TOTAL for p in (1, 3, 4, 5)}
    assert errors(r) == {2: "PartyDropped"}
    assert "hello" in r.outcomes[2].message
    assert r.outcomes[2].stats["messages_sent"] == 4  # the second incarnation's hellos
    assert r.elapsed_s == pytest.approx(0.010 + 0.050 + 30.0)  # crash at 10 ms, back at 60 ms, 30 s wait


def test_restart_before_it_was_needed_changes_nothing_for_a_party_that_already_finished() -> None:
    r = sim([{"party": 2, "restart": "at_ms:5000"}])
    assert r.ok and outputs(r) == {p: TOTAL for p in range(1, 6)}


def test_silent_party_times_out_its_peers_after_exactly_the_timeout() -> None:
    """Nodes driven directly: PartyDropped is raised exactly ``timeout`` after the protocol starts."""
    import asyncio

    import netsim
    from mpc.errors import PartyDropped
    from mpc.node import Node
    from netsim.faults import AfterRound, Silent
    from protocols.sum import secure_sum

    async def party(net: netsim.SimNetwork, pid: int) -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        async with Node(pid, transport=net.transport(pid), parties=(1, 2, 3), session=b"faults", timeout=5.0) as node:
            t0 = loop.time()
            try:
                await node.run(secure_sum, [pid], sharing="additive")
            except PartyDropped as exc:
                return str(exc), loop.time() - t0
        return "no error", loop.time() - t0

    async def main() -> list[tuple[str, float]]:
        net = netsim.build_network((1, 2, 3), {"latency_ms": 100}, faults=[Silent(party=3, when=AfterRound("hello"))])
        net.apply_faults({}, lambda pid: None)
        return await asyncio.gather(*(party(net, p) for p in (1, 2, 3)))

    wall = time.perf_counter()
    results = netsim.run(main())
    wall = time.perf_counter() - wall
    # virtual seconds: exactly the timeout in the protocol, then twice the timeout waiting for the
    # silent party's word in the survivor agreement, then one latency for the echo round
    for message, waited in results[:2]:
        assert "missing 'share' from [3]" in message
        assert waited == pytest.approx(15.1)
    assert results[2][1] == 15.0  # the silent party hears nothing either (and awaits no echo)
    assert wall < 5.0  # and none of it was real waiting


def test_silent_minority_is_tolerated_by_shamir_opening_only_after_sharing() -> None:
    # silent after sharing: the others have its shares and open with t + 1 of themselves (4 got the
    # shares already in flight, but no opening share: QuorumLost)...
    late = sim([{"party": 4, "silent": "after:share"}], timeout_s=1.0)
    assert outputs(late) == {p: TOTAL for p in (1, 2, 3, 5)} and errors(late) == {4: "QuorumLost"}
    # waited the timeout in the opening (3 takes 4's opening share), pulled 5's instead (a round
    # trip), then twice the timeout for 4's word in the survivor agreement, then its echo round
    assert max(late.outcomes[p].protocol_s for p in (1, 2, 3, 5)) == pytest.approx(3.04)
    # ...but an input party silent before sharing stalls everyone: its input is required
    early = sim([{"party": 2, "silent": "at_ms:5"}], timeout_s=1.0)
    assert set(errors(early).values()) == {"PartyDropped"} and not outputs(early)


def test_slow_party_slows_the_run_and_past_the_timeout_drops() -> None:
    slow = sim([{"party": 3, "slow": 4.0, "delay_ms": 1}])
    assert slow.ok and outputs(slow) == {p: TOTAL for p in range(1, 6)}
    assert slow.elapsed_s == pytest.approx(6 * 0.041)  # every round waits for party 3's links
    too_slow = sim([{"party": 3, "slow": 40.0}], sharing="additive", timeout_s=0.3)
    assert set(errors(too_slow).values()) == {"PartyDropped"}


def test_partition_that_heals_within_the_timeout_only_delays() -> None:
    r = sim([{"party": 4, "partition": "at_ms:5", "heal_at_ms": 700}], timeout_s=1.0)
    assert r.ok and outputs(r) == {p: TOTAL for p in range(1, 6)}
    assert r.elapsed_s == pytest.approx(0.71 + 0.04)  # shares held until the heal, then open, end, echo, bye


def test_partition_longer_than_the_timeout_drops_the_cut_off_party() -> None:
    r = sim([{"party": 4, "partition": "at_ms:5", "heal_at_ms": 5000}], timeout_s=1.0)
    assert set(errors(r).values()) == {"PartyDropped"} and not outputs(r)


def test_partition_from_some_parties_only() -> None:
    # 5 is cut off from 1 only, for good: 1 lacks 5's share of nothing (5 has no input) but
    # misses 5's opening share, which Shamir tolerates; 5 misses 1's share and fails. The survivors
    # agree: 5's abort reaches 2, 3, 4, and 1 hears it relayed by them, so nobody keeps an output
    r = sim([{"party": 5, "partition": "at_ms:5", "from": [1]}], timeout_s=1.0)
    assert not outputs(r)
    assert errors(r) == {p: "PartyDropped" for p in range(1, 6)}


@pytest.mark.parametrize("fault", [
    {"party": 1, "silent": "sometimes"},
    {"party": 1, "slow": 0},
    {"party": 1, "partition": "after:share"},
    {"party": 1, "partition": "at_ms:10", "heal_at_ms": 5},
    {"party": 1, "restart": "at_ms:1", "down": 3},
])
def test_bad_faults_are_config_errors(fault: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        sim([fault])


def test_a_crash_is_seen_only_by_the_declared_neighbours() -> None:
    """With a declared topology (a star: the runner fills it from the protocol's), a crashed leaf's
    connection drop reaches the centre only; a party not listed is connected to everyone."""
    import asyncio

    from mpc.transport.base import PEER_DOWN
    from netsim import SimNetwork, run as run_net

    async def main() -> dict[int, list[tuple[int, Any]]]:
        net = SimNetwork(range(5), {"latency_ms": 1}, seed=1)
        net.topology = {0: (1, 2, 3), 1: (0,), 2: (0,), 3: (0,)}  # party 4 undeclared
        got: dict[int, list[tuple[int, Any]]] = {p: [] for p in range(5)}
        for p in range(5):
            t = net.transport(p)
            await t.start(1.0)
            t.set_sink(lambda src, item, p=p: got[p].append((src, item)))
        net.crash(1)  # a leaf: only the centre hears
        net.crash(4)  # undeclared: everyone still up hears
        await asyncio.sleep(0.01)
        net.close()
        return got

    got = run_net(main())
    assert got[0] == [(1, PEER_DOWN), (4, PEER_DOWN)]
    assert got[2] == got[3] == [(4, PEER_DOWN)]
