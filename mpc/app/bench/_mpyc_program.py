"""One MPyC party of a comparison run (a script: ``python _mpyc_program.py -M3 -I1 -B port TASK N``).

Tasks, equivalent to our scenarios: ``startup`` (connect, shut down), ``sum N`` (every party
inputs an N-vector; the sum is opened), ``mul N`` (parties 0 and 1 input N-vectors; their
elementwise product is opened), ``chain K`` (K dependent multiplications of secret scalars), ``lt N`` (parties 0 and 1 input
N-vectors of 31-bit values; [x < y] is opened) and ``argmax N`` (party 0's vector; ``np_argmax``).
Values are MPyC's secure integer arrays (``SecInt(32)``): on this machine they are faster than its
secure field arrays over GF(2^61 − 1) (our Shamir field), so the comparison favours MPyC. Every party
checks the opened result against the plaintext (inputs come from seeded public generators) and
prints one JSON line: ``{"pid", "ready", "protocol_s", "ok"}``; ``ready`` is wall-clock time.
"""

import sys

sys.path.pop(0)  # this folder's suite modules must not shadow anything MPyC imports

import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from mpyc.runtime import mpc  # noqa: E402

BITS = 32


def _vector(party: int, n: int) -> np.ndarray:
    return np.random.default_rng([7, party]).integers(0, 1000, n, dtype=np.int64)


async def main(task: str, n: int) -> dict:
    await mpc.start()
    ready = time.time()
    secint = mpc.SecInt(BITS)
    m, pid = len(mpc.parties), mpc.pid
    ok = True
    extra = {}
    t = time.perf_counter()
    if task == "sum":
        mine = secint.array(_vector(pid, n))
        t = time.perf_counter()
        shares = mpc.input(mine, senders=list(range(m)))
        total = shares[0]
        for x in shares[1:]:
            total = total + x
        got = await mpc.output(total)
        want = sum(_vector(i, n) for i in range(m))
        ok = bool(np.array_equal(np.asarray(got, dtype=np.int64), want))
    elif task == "mul":
        mine = secint.array(_vector(pid, n) if pid < 2 else np.zeros(n, dtype=np.int64))
        t = time.perf_counter()
        x, y = mpc.input(mine, senders=[0, 1])
        got = await mpc.output(x * y)
        ok = bool(np.array_equal(np.asarray(got, dtype=np.int64), _vector(0, n) * _vector(1, n)))
    elif task == "chain":
        base = [3, 5][pid] if pid < 2 else 0
        t = time.perf_counter()
        x, y = mpc.input(secint(base), senders=[0, 1])
        z = x
        for _ in range(n):
            z = z * y
        got = await mpc.output(z)
        p = secint.field.order
        want = 3 * pow(5, n, p) % p
        ok = int(got) == (want - p if want > p // 2 else want)  # MPyC opens integers signed
    elif task in ("lt", "argmax"):  # the compare suite: 31-bit values, as in its scenarios
        xs, ys = (np.random.default_rng([7, p]).integers(-(1 << 30), 1 << 30, n) for p in (1, 2))
        mine = secint.array(xs if pid == 0 else ys if pid == 1 and task == "lt" else np.zeros(n, dtype=np.int64))
        sent = _count_messages()
        t = time.perf_counter()
        if task == "lt":
            x, y = mpc.input(mine, senders=[0, 1])
            got = await mpc.output(x < y)
            ok = bool(np.array_equal(np.asarray(got, dtype=np.int64), (xs < ys).astype(np.int64)))
        else:
            x = mpc.input(mine, senders=0)
            got = await mpc.output(mpc.np_argmax(x))
            ok = int(got) == int(np.argmax(xs))
        extra = {"msgs_to_next_peer": sent[(pid + 1) % m], "bytes_sent": sum(
            peer.protocol.nbytes_sent for peer in mpc.parties if peer.pid != pid)}
    protocol_s = time.perf_counter() - t
    await mpc.shutdown()
    return {"pid": pid, "ready": ready, "protocol_s": protocol_s, "ok": ok, **extra}


def _count_messages() -> dict:
    """Messages this party sends to each peer from now on (MPyC labels one per program step)."""
    sent = dict.fromkeys(range(len(mpc.parties)), 0)
    original = mpc._send_message

    def counting(peer_pid, data):  # noqa: ANN001, ANN202
        sent[peer_pid] += 1
        return original(peer_pid, data)

    mpc._send_message = counting
    return sent


if __name__ == "__main__":
    task, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(json.dumps(mpc.run(main(task, n))), flush=True)
