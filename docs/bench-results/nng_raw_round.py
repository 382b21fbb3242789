"""Raw all-to-all rounds between N processes over pynng Pair0 sockets, no MPC code (issue 14).

    python docs/bench-results/nng_raw_round.py VARIANT N K

VARIANT: ``pynng`` (pynng's send/recv, draining until TryAgain), ``direct`` (nng's C API through
pynng.lib, draining), ``direct1`` (C API, one message per readable event), ``tcp`` (uvloop TCP).
Environment: ``NNG_PARAMS=task,poller,expire`` (nng_init_set_parameter thread counts, 0 = nng's
default), ``SENDBUF=n`` / ``RECVBUF=n`` (Pair0 buffers), ``IPC=1`` (ipc:// instead of tcp://),
``BASE=port``. Prints per-round wall time (party 1), CPU time and context switches per round
(all processes, getrusage), and how many non-blocking sends came back EAGAIN.
"""
import asyncio
import os
import resource
import socket
import subprocess
import sys
import time

import uvloop

variant, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
BASE = int(os.environ.get("BASE", "31000"))


def addr(a: int, b: int) -> str:
    lo, hi = min(a, b), max(a, b)
    if os.environ.get("IPC"):
        return f"ipc:///tmp/nng/sock-{BASE}-{lo}-{hi}"
    return f"tcp://127.0.0.1:{BASE + lo * 10 + hi}"


def report(me: int, t0: float, ru0: resource.struct_rusage, rounds: int, eagain: int) -> None:
    t1 = time.perf_counter()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    sw = (ru1.ru_nvcsw + ru1.ru_nivcsw) - (ru0.ru_nvcsw + ru0.ru_nivcsw)
    print(f"{me} {(t1 - t0) / rounds * 1e6:.1f} {cpu / rounds * 1e6:.1f} {sw / rounds:.2f} {eagain}", flush=True)


def setup_nng():
    import pynng
    p = os.environ.get("NNG_PARAMS")
    if p:
        t, pl, e = (int(x) for x in p.split(","))
        lib = pynng.lib
        if t:
            lib.nng_init_set_parameter(lib.NNG_INIT_NUM_TASK_THREADS, t)
            lib.nng_init_set_parameter(lib.NNG_INIT_MAX_TASK_THREADS, t)
        if pl:
            lib.nng_init_set_parameter(lib.NNG_INIT_NUM_POLLER_THREADS, pl)
            lib.nng_init_set_parameter(lib.NNG_INIT_MAX_POLLER_THREADS, pl)
        if e:
            lib.nng_init_set_parameter(lib.NNG_INIT_NUM_EXPIRE_THREADS, e)
            lib.nng_init_set_parameter(lib.NNG_INIT_MAX_EXPIRE_THREADS, e)
    return pynng


async def party_nng(me: int) -> None:
    pynng = setup_nng()
    lib, ffi = pynng.lib, pynng.ffi
    socks = {}
    for q in range(1, n + 1):
        if q == me:
            continue
        s = pynng.Pair0(recv_max_size=1 << 20)
        rb = os.environ.get("RECVBUF")
        if rb:
            s.recv_buffer_size = int(rb)
        if os.environ.get("SENDBUF"):
            s.send_buffer_size = int(os.environ["SENDBUF"])
        if q > me:
            s.listen(addr(me, q))
        else:
            s.dial(addr(me, q), block=False)
        socks[q] = s
    loop = asyncio.get_running_loop()
    got = {q: 0 for q in socks}
    need = [1]
    ev = asyncio.Event()
    msgp = ffi.new("nng_msg **")
    eagain = [0]
    sb = os.environ.get("SENDBUF")
    NB = lib.NNG_FLAG_NONBLOCK

    def done_check():
        if all(v >= need[0] for v in got.values()):
            ev.set()

    if variant == "pynng":
        def readable(q, s):
            for _ in range(64):
                try:
                    s.recv(block=False)
                except pynng.TryAgain:
                    break
                got[q] += 1
            done_check()

        def send(s, data):
            try:
                s.send(data, block=False)
            except pynng.TryAgain:
                eagain[0] += 1
                s.send(data)
    else:
        def readable(q, sid):
            while True:
                rv = lib.nng_recvmsg(sid, msgp, NB)
                if rv:
                    break
                m = msgp[0]
                data = ffi.buffer(lib.nng_msg_body(m), lib.nng_msg_len(m))[:]
                lib.nng_msg_free(m)
                got[q] += 1
                if variant == "direct1":
                    break
            done_check()

        def send(sid, data):
            rv = lib.nng_send(sid, ffi.from_buffer(data), len(data), NB)
            if rv:
                eagain[0] += 1
                rv = lib.nng_send(sid, ffi.from_buffer(data), len(data), 0)
                assert rv == 0, rv

    handles = {}
    for q, s in socks.items():
        h = s if variant == "pynng" else s.socket
        handles[q] = h
        loop.add_reader(s.recv_fd, readable, q, h)
    # connect: send hello until each peer answered
    await asyncio.sleep(0.5)
    payload = b"x" * 60
    for q, h in handles.items():
        send(h, payload)
    await ev.wait()
    eagain[0] = 0
    rounds = k
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for r in range(rounds):
        need[0] = r + 2
        ev.clear()
        for q, h in handles.items():
            send(h, payload)
        if not all(v >= need[0] for v in got.values()):
            await ev.wait()
    report(me, t0, ru0, rounds, eagain[0])
    await asyncio.sleep(0.3)
    for s in socks.values():
        s.close()


async def party_tcp(me: int) -> None:
    loop = asyncio.get_running_loop()
    got = {}
    need = [1]
    ev = asyncio.Event()
    writers = {}

    class P(asyncio.Protocol):
        def __init__(self, q=None):
            self.q = q
            self.buf = b""

        def connection_made(self, tr):
            self.tr = tr
            tr.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.q is not None:
                tr.write(me.to_bytes(4, "big"))
                writers[self.q] = tr
                got.setdefault(self.q, 0)

        def data_received(self, data):
            self.buf += data
            if self.q is None:
                if len(self.buf) < 4:
                    return
                self.q = int.from_bytes(self.buf[:4], "big")
                writers[self.q] = self.tr
                got.setdefault(self.q, 0)
                self.buf = self.buf[4:]
            while len(self.buf) >= 4:
                ln = int.from_bytes(self.buf[:4], "big")
                if len(self.buf) < 4 + ln:
                    break
                self.buf = self.buf[4 + ln:]
                got[self.q] += 1
            if len(got) == n - 1 and all(v >= need[0] for v in got.values()):
                ev.set()

    servers = []
    for q in range(me + 1, n + 1):
        host, port = addr(me, q)[6:].rsplit(":", 1)
        servers.append(await loop.create_server(P, host, int(port)))
    await asyncio.sleep(0.3)
    for q in range(1, me):
        host, port = addr(me, q)[6:].rsplit(":", 1)
        await loop.create_connection(lambda q=q: P(q), host, int(port))
    while len(writers) < n - 1:
        await asyncio.sleep(0.01)
    payload = b"x" * 60
    frame = len(payload).to_bytes(4, "big") + payload
    await asyncio.sleep(0.2)
    for tr in writers.values():
        tr.write(frame)
    await ev.wait()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for r in range(k):
        need[0] = r + 2
        ev.clear()
        for tr in writers.values():
            tr.write(frame)
        if not all(v >= need[0] for v in got.values()):
            await ev.wait()
    report(me, t0, ru0, k, 0)
    await asyncio.sleep(0.3)


if __name__ == "__main__":
    if len(sys.argv) > 4:
        me = int(sys.argv[4])
        uvloop.run(party_tcp(me) if variant == "tcp" else party_nng(me))
    else:
        procs = [subprocess.Popen([sys.executable, __file__, variant, str(n), str(k), str(me)],
                                  stdout=subprocess.PIPE, text=True) for me in range(1, n + 1)]
        outs = [p.communicate()[0].split() for p in procs]
        wall = float(outs[0][1])
        cpu = sum(float(o[2]) for o in outs)
        sw = sum(float(o[3]) for o in outs)
        eag = sum(int(o[4]) for o in outs)
        print(f"{variant:8s} {os.environ.get('NNG_PARAMS', '-'):8s} rb={os.environ.get('RECVBUF', '-')} "
              f"ipc={os.environ.get('IPC', '-')} wall {wall:6.1f} us/round cpu {cpu:6.1f} us/round sw {sw:5.1f}/round eagain {eag} sb={os.environ.get('SENDBUF', '-')}")
