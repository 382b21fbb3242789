"""CPU per round of the dependent-multiplication chain with every party in ONE process and event
loop (uvloop), over real loopback sockets: the Python cost of a round, without the scheduler's
noise of a loaded machine (the process's CPU time, not the wall clock, is what it reports).

    PYTHONPATH=$PWD python docs/bench-results/latency_inproc.py tcp|nng PARTIES K [--reps N] [--triples dealer|dn07]

Prints, per repeat, the CPU seconds of a chain of K minus a chain of 0, divided by K (all parties
together), then the median and minimum. Used for the A/B figures of docs/benchmarks.md (run
alternately on two checkouts; the minimum is the least disturbed by other processes).
"""

import asyncio
import random
import sys
import time

import uvloop

from mpc.app.bench._mulbench import scenario
from mpc.app.runner import descriptor_of, job_of, node_ids, run_party
from mpc.app.scenario import parse
from mpc.transport.tcp import new_transport

args = sys.argv[1:]
kind = args[0] if args else "tcp"
n = int(args[1]) if len(args) > 1 else 3
k = int(args[2]) if len(args) > 2 else 1000
reps = int(args[args.index("--reps") + 1]) if "--reps" in args else 3
triples = args[args.index("--triples") + 1] if "--triples" in args else "dealer"


async def once(k: int) -> None:
    scn = parse(scenario("mulchain", n, 1, triples, -1, 2, options={"k": k}))
    ids = node_ids(scn)
    base = random.randrange(20000, 30000, 100)
    peers = {p: f"tcp://127.0.0.1:{base + 10 * i}" for i, p in enumerate(ids)}
    job, desc = job_of(scn), descriptor_of(scn)
    outs = await asyncio.gather(*(run_party(scn, p, new_transport(kind, p, peers), session=b"s" * 16,
                                            on_crash=lambda: None, parties=ids, job=job, descriptor=desc)
                                  for p in ids))
    assert all(o.status == "ok" for o in outs), outs


def main() -> None:
    res = []
    for _ in range(reps):
        t0 = time.process_time()
        uvloop.run(once(k))
        t1 = time.process_time()
        uvloop.run(once(0))
        t2 = time.process_time()
        res.append(((t1 - t0) - (t2 - t1)) / k * 1e6)
        print(f"cpu per round (all parties) {res[-1]:.1f} us", flush=True)
    print(f"{kind} n={n} {triples}: median {sorted(res)[len(res) // 2]:.1f} min {min(res):.1f} us/round")


if __name__ == "__main__":
    main()
