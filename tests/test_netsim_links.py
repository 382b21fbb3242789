"""Link models: latency, bandwidth queues, jitter, loss, reordering, overrides, presets."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from mpc.errors import ConfigError
from netsim import SimNetwork, run
from netsim.links import PRESETS, LinkTable

pytestmark = pytest.mark.timeout(30)
MB10 = 10_000_000


def deliveries(network: Mapping[str, Any], sends: list[tuple[int, int, bytes]], parties: int = 3,
               seed: int = 0) -> list[tuple[float, int, int, bytes]]:
    """Send everything at virtual time 0; return (arrival, src, dst, data) in arrival order."""

    async def main() -> list[tuple[float, int, int, bytes]]:
        net = SimNetwork(range(1, parties + 1), network, seed=seed)
        loop = asyncio.get_running_loop()
        got: list[tuple[float, int, int, bytes]] = []
        expected = len(sends)

        async def reader(p: int) -> None:
            t = net.transport(p)
            while True:
                src, data = await t.recv()
                got.append((loop.time(), src, p, data))

        readers = [asyncio.create_task(reader(p)) for p in range(1, parties + 1)]
        for src, dst, data in sends:
            await net.transport(src).send(dst, data)
        for _ in range(10_000):
            if len(got) >= expected - net.dropped:
                break
            await asyncio.sleep(0.05)
        for r in readers:
            r.cancel()
        return got

    return run(main())


def test_latency_is_one_way_and_exact() -> None:
    got = deliveries({"latency_ms": 100}, [(1, 2, b"x"), (2, 1, b"y")])
    assert [(t, s, d) for t, s, d, _ in got] == [(0.1, 1, 2), (0.1, 2, 1)]


def test_ten_megabytes_over_100_mbit_takes_800_ms_and_queues_fifo() -> None:
    got = deliveries({"bandwidth_mbps": 100, "latency_ms": 5}, [(1, 2, bytes(MB10)), (1, 2, bytes(MB10)), (1, 3, b"z")])
    times = {(s, d, len(data)): t for t, s, d, data in got}
    big = [t for t, s, d, data in got if len(data) == MB10]
    assert big[0] == pytest.approx(0.805)  # 8e7 bits / 1e8 bit/s + 5 ms
    assert big[1] == pytest.approx(1.605)  # the second waited behind the first
    assert times[(1, 3, 1)] == pytest.approx(0.005 + 8 / 1e8)  # another link has its own queue


def test_shared_uplink_serializes_all_links_of_a_party() -> None:
    got = deliveries({"uplink_mbps": 100}, [(1, 2, bytes(MB10)), (1, 3, bytes(MB10))])
    assert [round(t, 6) for t, *_ in got] == [0.8, 1.6]


def test_asymmetric_link_and_party_override() -> None:
    net = {"latency_ms": 10, "party": {"3": {"preset": "mobile", "jitter_ms": 0}},
           "links": [{"from": 1, "to": 2, "latency_ms": 80}]}
    got = deliveries(net, [(1, 2, b"a"), (2, 1, b"b"), (1, 3, b"c")])
    times = {(s, d): t for t, s, d, _ in got}
    assert times[(1, 2)] == pytest.approx(0.080)
    assert times[(2, 1)] == pytest.approx(0.010)
    mobile = PRESETS["mobile"]
    assert times[(1, 3)] == pytest.approx(mobile["latency_ms"] / 1000 + 8 / (mobile["bandwidth_mbps"] * 1e6))


def test_jitter_keeps_links_fifo_unless_reordering_is_allowed() -> None:
    sends = [(1, 2, k.to_bytes(2, "big")) for k in range(200)]
    fifo = deliveries({"latency_ms": 10, "jitter_ms": 5}, sends)
    assert [d for *_, d in fifo] == [d for *_, d in sends]
    times = [t for t, *_ in fifo]
    assert len(set(times)) > 1 and times == sorted(times)  # jitter varied the times; order held
    shuffled = deliveries({"latency_ms": 10, "jitter_ms": 5, "reorder": 1.0}, sends)
    assert sorted(d for *_, d in shuffled) == [d for *_, d in sends]
    assert [d for *_, d in shuffled] != [d for *_, d in sends]


def test_loss_retransmits_by_default_and_drops_on_request() -> None:
    sends = [(1, 2, k.to_bytes(2, "big")) for k in range(300)]
    resent = deliveries({"latency_ms": 10, "loss": 0.2, "rto_ms": 200}, sends, seed=1)
    assert [d for *_, d in resent] == [d for *_, d in sends]  # TCP-like: all arrive, in order
    late = [t for t, *_ in resent if t > 0.0101]
    assert late and all(t >= 0.21 for t in late)  # a loss costs at least one RTO (head-of-line too)
    dropped = deliveries({"latency_ms": 10, "loss": 0.2, "loss_mode": "drop"}, sends, seed=1)
    assert 30 < len(dropped) < 270 and len(dropped) < len(sends)


@pytest.mark.parametrize("table", [
    {"latency": 5},
    {"latency_ms": -1},
    {"preset": "satellite"},
    {"jitter": "cauchy"},
    {"loss": 1.5},
    {"party": {"9": {"latency_ms": 1}}},
    {"links": [{"from": 1, "to": 1}]},
    {"links": [{"from": 1, "to": 2, "colour": "red"}]},
])
def test_bad_network_tables_are_config_errors(table: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        LinkTable(table, (1, 2, 3))


def test_presets_apply_and_explicit_keys_win() -> None:
    link = LinkTable({"preset": "wan", "latency_ms": 7}, (1, 2)).link(1, 2)
    assert link.latency == 0.007
    assert link.bandwidth == PRESETS["wan"]["bandwidth_mbps"] * 1e6 / 8


def test_min_latency_covers_party_presets_and_link_entries() -> None:
    parties = (1, 2, 3)
    assert LinkTable({"preset": "wan"}, parties).min_latency == 0.040
    table = {"latency_ms": 30, "party": {"2": {"preset": "lan"}},
             "links": [{"from": 1, "to": 3, "latency_ms": 7}]}
    links = LinkTable(table, parties)
    assert links.min_latency == pytest.approx(0.0001)
    assert links.min_latency <= min(links.link(a, b).latency for a in parties for b in parties if a != b)
    assert LinkTable({"latency_ms": 30, "links": [{"from": 1, "to": 3, "latency_ms": 7}]}, parties).min_latency == 0.007
