"""All-to-all rounds over the project's own transports, no MPC code (issue 14): N processes, each
round every party sends 64 bytes to every other (``try_send``, ``send`` when busy) and waits for one
from each, through the transport's direct delivery.

    PYTHONPATH=$PWD python docs/bench-results/transport_round.py nng|tcp N K

Prints per-round wall time (party 1), CPU time and context switches per round (all processes,
getrusage, after 50 warm-up rounds) and how many sends came back busy. Run it from two checkouts
alternately for an A/B of a transport change (``BASE=port`` keeps concurrent runs apart)."""
import asyncio
import os
import resource
import subprocess
import sys
import time

import uvloop

kind, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
BASE = int(os.environ.get("BASE", "42000"))


async def party(me: int) -> None:
    from mpc.transport.tcp import new_transport
    peers = {p: f"tcp://127.0.0.1:{BASE + 20 * p}" for p in range(1, n + 1)}
    t = new_transport(kind, me, peers)
    await t.start(20)
    got = {q: 0 for q in t.peers}
    need = [0]
    ev = asyncio.Event()

    def sink(peer, data):
        got[peer] += 1
        if all(v >= need[0] for v in got.values()):
            ev.set()

    t.set_sink(sink)
    payload = b"x" * 64
    busy = 0

    async def rnd(r: int) -> None:
        nonlocal busy
        need[0] = r
        ev.clear()
        for q in t.peers:
            if not t.try_send(q, payload):
                busy += 1
                await t.send(q, payload)
        if not all(v >= r for v in got.values()):
            await ev.wait()

    for r in range(1, 51):  # warm-up, and everyone connected
        await rnd(r)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for r in range(51, 51 + k):
        await rnd(r)
    t1 = time.perf_counter()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    sw = (ru1.ru_nvcsw + ru1.ru_nivcsw) - (ru0.ru_nvcsw + ru0.ru_nivcsw)
    print(f"{me} {(t1 - t0) / k * 1e6:.1f} {cpu / k * 1e6:.1f} {sw / k:.2f} {busy}", flush=True)
    await asyncio.sleep(0.5)  # every peer finished its last round
    await t.close()


if __name__ == "__main__":
    if len(sys.argv) > 4:
        uvloop.run(party(int(sys.argv[4])))
    else:
        procs = [subprocess.Popen([sys.executable, __file__, kind, str(n), str(k), str(me)],
                                  stdout=subprocess.PIPE, text=True) for me in range(1, n + 1)]
        outs = [p.communicate(timeout=120)[0].split() for p in procs]
        print(f"{kind} wall {float(outs[0][1]):6.1f} us/round cpu {sum(float(o[2]) for o in outs):6.1f} "
              f"us/round sw {sum(float(o[3]) for o in outs):5.1f}/round busy {sum(int(o[4]) for o in outs)}")
