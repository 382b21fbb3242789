"""The machine's floor for a dependent round: N OS processes, each on uvloop with plain TCP
(no runtime code), every round each sends a 76-byte frame to every other and waits for one from
each. Prints the slowest party's wall time per round and the CPU (user, sys) of all processes per
round (start-up included, negligible at K rounds).

    python docs/bench-results/raw_tcp_round.py N K        # e.g. 3 20000, 5 10000
"""
import asyncio, socket, struct, time, uvloop, sys, os, resource, multiprocessing as mp
H = struct.Struct("<I")
def party(i, N, K, base, q):
    async def main():
        loop = asyncio.get_running_loop()
        inbox = {}; st = {"fut": None}
        class P(asyncio.BufferedProtocol):
            def __init__(s, peer): s.peer = peer; s.buf = bytearray(65536); s.view = memoryview(s.buf); s.end = 0
            def connection_made(s, t): s.t = t; t.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            def get_buffer(s, h): return s.view[s.end:]
            def buffer_updated(s, n):
                s.end += n; p = 0
                while s.end - p >= 4:
                    (m,) = H.unpack_from(s.buf, p)
                    if s.end - p - 4 < m: break
                    inbox[s.peer] = inbox.get(s.peer, 0) + 1; p += 4 + m
                    f = st["fut"]
                    if f is not None and not f.done() and all(inbox.get(j, 0) > 0 for j in range(N) if j != i): f.set_result(None)
                s.buf[:s.end-p] = s.view[p:s.end]; s.end -= p
        conns = {}
        # each party listens on base + i; a higher id dials a lower one and names itself in one byte
        lsock = socket.socket(); lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); lsock.bind(("127.0.0.1", base + i)); lsock.listen(16)
        lsock.setblocking(False)
        q.put(("ready", i))
        for j in range(i):  # dial lower ids
            for _ in range(100):
                try:
                    s = socket.create_connection(("127.0.0.1", base + j)); break
                except OSError: await asyncio.sleep(0.02)
            s.sendall(bytes([i]))
            _, p = await loop.connect_accepted_socket(lambda j=j: P(j), s); conns[j] = p
        for _ in range(N - 1 - i):
            s, _ = await loop.sock_accept(lsock)
            s.setblocking(True); j = s.recv(1)[0]; s.setblocking(False)
            _, p = await loop.connect_accepted_socket(lambda j=j: P(j), s); conns[j] = p
        await asyncio.sleep(0.3)
        msg = H.pack(72) + b"x" * 72
        t0 = time.perf_counter()
        for r in range(K):
            for p in conns.values(): p.t.write(msg)
            if not all(inbox.get(j, 0) > 0 for j in conns):
                st["fut"] = loop.create_future(); await st["fut"]
            for j in conns: inbox[j] -= 1
        q.put(("done", i, (time.perf_counter() - t0) / K))
        await asyncio.sleep(0.3)
    uvloop.run(main())
if __name__ == "__main__":
    N = int(sys.argv[1]); K = int(sys.argv[2]); base = 23000 + (os.getpid() % 50) * 20
    q = mp.Queue()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    ps = [mp.Process(target=party, args=(i, N, K, base, q)) for i in range(N)]
    for p in ps: p.start()
    for p in ps: p.join()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = [q.get() for _ in range(2 * N)]
    walls = [r[2] for r in res if r[0] == "done"]
    print(f"n={N} raw all-to-all round wall {max(walls)*1e6:.0f} us; cpu/round user {(r1.ru_utime-r0.ru_utime)/K*1e6:.0f} sys {(r1.ru_stime-r0.ru_stime)/K*1e6:.0f} us (incl. startup)")
