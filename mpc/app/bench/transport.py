"""Raw pynng on loopback, the physical limit of this machine for our transport: round-trip latency
and one-way throughput between TWO OS processes, plus the same inside one process (sync and with
pynng's asyncio API, which our transport uses); the round trip over a plain TCP socket (the OS
floor) and over our asyncio TCP transport (``--transport tcp``) between two processes."""

from __future__ import annotations

import asyncio
import time

import pynng

from mpc.app.bench._common import BenchConfig, Row, stats
from mpc.app.bench._rawpeer import RawPeer, tcp_round_trip, transport_round_trip

SUITE = "transport"
SMALL = 64  # bytes: a small control message
RTT_ITERS = 2000


def _pair() -> tuple[pynng.Pair0, pynng.Pair0]:
    a = pynng.Pair0(recv_max_size=0, recv_timeout=30_000, send_timeout=30_000)
    port = int(str(a.listen("tcp://127.0.0.1:0").local_address).rsplit(":", 1)[1])
    b = pynng.Pair0(recv_max_size=0, recv_timeout=30_000, send_timeout=30_000)
    b.dial(f"tcp://127.0.0.1:{port}", block=True)
    return a, b


def _inproc_sync_rtt(a: pynng.Pair0, b: pynng.Pair0, nbytes: int, iters: int) -> float:
    msg = bytes(nbytes)
    t = time.perf_counter()
    for _ in range(iters):
        a.send(msg)
        b.send(b.recv())
        a.recv()
    return (time.perf_counter() - t) / iters


async def _inproc_async(a: pynng.Pair0, b: pynng.Pair0, nbytes: int, iters: int, repeat: int) -> list[float]:
    msg = bytes(nbytes)

    async def echo() -> None:
        for _ in range(iters * repeat):
            await b.asend(await b.arecv())

    task = asyncio.create_task(echo())
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(iters):
            await a.asend(msg)
            await a.arecv()
        out.append((time.perf_counter() - t) / iters)
    await task
    return out


def run(cfg: BenchConfig) -> list[Row]:
    rows: list[Row] = []
    repeat = max(cfg.repeats(), 3)
    iters = RTT_ITERS // 10 if cfg.quick else RTT_ITERS
    sizes = cfg.sizes_or((10**3, 10**6), (10**4,))
    with RawPeer() as peer:
        row = Row(suite=SUITE, name="rtt 2-proc sync", params={"bytes": SMALL})
        rows.append(row.set_times([peer.round_trip(SMALL, iters) for _ in range(repeat)], 1, "rt/s"))
        for size in sizes:
            nbytes = 8 * size
            rt = [peer.round_trip(nbytes, max(3, iters * 64 // max(64, nbytes))) for _ in range(repeat)]
            row = Row(suite=SUITE, name="rtt 2-proc sync", params={"size": size, "bytes": nbytes})
            rows.append(row.set_times(rt, 2 * nbytes / 1e6, "MB/s"))
            total = (16 << 20) if cfg.quick else (128 << 20)
            count = max(4, total // nbytes)
            row = Row(suite=SUITE, name="stream 2-proc sync", params={"size": size, "bytes": nbytes})
            rows.append(row.set_times([peer.stream(nbytes, count) / count for _ in range(repeat)], nbytes / 1e6, "MB/s"))
    row = Row(suite=SUITE, name="rtt 2-proc plain TCP (OS floor)", params={"bytes": SMALL})
    rows.append(row.set_times(tcp_round_trip(SMALL, iters, repeat), 1, "rt/s"))
    row = Row(suite=SUITE, name="rtt 2-proc TcpTransport (uvloop)", params={"bytes": SMALL})
    rows.append(row.set_times(transport_round_trip(SMALL, iters, repeat), 1, "rt/s"))
    a, b = _pair()
    try:
        row = Row(suite=SUITE, name="rtt 1-proc sync", params={"bytes": SMALL})
        rows.append(row.set_times([_inproc_sync_rtt(a, b, SMALL, iters) for _ in range(repeat)], 1, "rt/s"))
        times = asyncio.run(_inproc_async(a, b, SMALL, iters // 4, repeat))
        rows.append(Row(suite=SUITE, name="rtt 1-proc asyncio", params={"bytes": SMALL}).set_times(times, 1, "rt/s"))
    finally:
        a.close()
        b.close()
    base = next(r for r in rows if r.name == "rtt 2-proc sync" and "size" not in r.params).median_s
    for r in rows:
        if "rtt" in r.name and "size" not in r.params:
            r.ratios["vs_2proc_sync_rtt"] = r.median_s / base
    return rows
