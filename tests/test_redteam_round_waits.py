"""Red team of the per-round hot path (issue 14's speed-ups), from the attacker's side: waits,
cancellation, floods and send buffers (helpers and the attacker's role: ``round_attack.py``).

* a silent attacker: every round wait ends at its own deadline under the shared ``recv_many``
  timer, also when many waits overlap, end early or are cancelled, and the timer does not spin
  on uvloop's coarse clock;
* a computation cancelled mid-round leaves no collector or deadline behind; the attacker's late
  messages for it are rejected; a flood of early messages stays within the sender's quota;
* a broadcast over a ``try_send`` transport to a peer whose send buffer is full, or whose send
  fails, still reaches the others (the failed peer counts as dropped); over real sockets, a peer
  that stops reading is dropped by the send timeout.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import numpy as np
import pytest

from mpc import Node
from mpc.codec import Limits
from mpc.errors import MpcError, PartyDropped, ProtocolError
from mpc.mailbox import Mailbox
from mpc.message import Message
from mpc.rng import Csprng
from protocols.common import Scheme, open_values
from round_attack import EVIL, HONEST, IDS, _additive, _frame, _raw, _reasons, _run, _try_network, _waits

pytestmark = pytest.mark.timeout(60)


# -- a silent attacker: every wait ends at its own deadline under the shared timer ---------------
async def test_a_silent_attacker_costs_each_overlapping_round_exactly_its_own_deadline() -> None:
    """Five computations at once, started 0.3 s apart, each with a round whose timeout differs;
    the attacker never answers any. Each honest wait ends at its own start + timeout (virtual
    time), whatever the others' deadlines and the timer's stale arming."""
    timeouts = {f"c{k}": t for k, t in enumerate([3.0, 0.5, 2.0, 0.25, 1.0])}
    starts = {name: 0.3 * k for k, name in enumerate(timeouts)}

    async def proto(ctx: Any, name: str) -> Any:
        await asyncio.sleep(starts[name])
        if ctx.party_id == EVIL:
            return None
        t0 = ctx.now()
        got = await ctx._node.recv_many(ctx.instance, "r", (EVIL,), timeouts[name])
        assert isinstance(got[EVIL], PartyDropped)
        return round(ctx.now() - t0, 9)

    async def body(node: Node) -> Any:
        outs = await asyncio.gather(*(node.run(proto, name, name=name) for name in timeouts))
        box = node.mailbox
        return dict(zip(timeouts, outs, strict=True)), dict(box._collect), dict(_waits(box))

    res = await _run(IDS, body, timeout=5.0)
    for p in HONEST:
        waited, collect, waits = res[p]
        assert waited == timeouts, (p, waited)
        assert not collect and not waits


def test_random_overlapping_waits_each_end_by_their_own_deadline() -> None:
    """A seeded storm of recv_many waits on one mailbox (virtual time): random timeouts, random
    arrivals (some never), some waits cancelled. Every wait that is not cancelled ends exactly at
    the earlier of its deadline and its last sender's arrival; nothing is left behind."""
    from netsim.clock import run

    rnd = random.Random(14)

    async def main() -> list[tuple[float, float]]:
        loop = asyncio.get_running_loop()
        box = Mailbox(b"s", (1, 2, 3, 4))
        checks: list[tuple[float, float]] = []

        async def wait(k: int, start: float) -> None:
            await asyncio.sleep(start)
            timeout = rnd.choice([0.01, 0.1, 0.3, 1.0, 2.5, 7.0])
            senders = tuple(rnd.sample((2, 3, 4), rnd.randint(1, 3)))
            arrive = {s: rnd.choice([None, 0.05, 0.2, 0.9, 3.0]) for s in senders}
            for s, dt in arrive.items():
                if dt is not None:
                    loop.call_later(dt, box.deliver, Message(session=b"s", instance="i", tag=f"t{k}", sender=s,
                                                             payload=k))
            t0 = loop.time()
            task = asyncio.ensure_future(box.recv_many("i", f"t{k}", senders, timeout))
            if rnd.random() < 0.25:
                loop.call_later(rnd.choice([0.0, 0.02, 0.5]), task.cancel)
            try:
                got = await task
            except asyncio.CancelledError:
                return
            times = [dt for dt in arrive.values() if dt is not None]
            want = timeout if len(times) < len(arrive) or max(times) > timeout else max(times)
            checks.append((round(loop.time() - t0, 9), round(want, 9)))
            for s, dt in arrive.items():
                assert (dt is not None and dt <= timeout) == (got[s] == k)

        await asyncio.gather(*(wait(k, rnd.random() * 5) for k in range(300)))
        await asyncio.sleep(10)  # late arrivals land (buffered) and every stale timer fires
        assert not box._collect and not _waits(box)
        return checks

    checks = run(main())
    assert len(checks) > 150
    assert all(got == want for got, want in checks), [c for c in checks if c[0] != c[1]][:5]


# -- cancellation mid-round, late messages, early floods ----------------------------------------
async def test_a_computation_cancelled_mid_round_leaves_nothing_and_rejects_the_late_messages() -> None:
    """The honest parties give up on computation "slow" after 0.5 s (the attacker holds its share
    back) while computation "other" runs alongside. After: no collector, no deadline, no slot of
    "slow"; the attacker's share and a copy of it arriving at 1 s are rejected as messages for a
    finished computation; "other" opens the right value."""
    scheme, shares, secret = _additive([9, 8, 7])

    async def slow(ctx: Any) -> Any:
        if ctx.party_id == EVIL:
            await asyncio.sleep(1.0)
            frame = _frame(ctx.instance, "r1/open", EVIL, shares[EVIL])
            await _raw(ctx, HONEST, frame)
            await _raw(ctx, HONEST, frame)
            return None
        return await open_values(ctx, scheme, shares[ctx.party_id], "r1/open")

    async def other(ctx: Any) -> Any:
        await asyncio.sleep(0.7)
        return (await open_values(ctx, scheme, shares[ctx.party_id], "r1/open")).tolist()

    async def body(node: Node) -> Any:
        if node.party_id == EVIL:
            return await asyncio.gather(node.run(slow, name="slow"), node.run(other, name="other"),
                                        return_exceptions=True)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(node.run(slow, name="slow"), 0.5)
        box = node.mailbox
        left = (dict(box._collect), dict(_waits(box)), [k for k in box._slots if k[0] == "slow"])
        out = await node.run(other, name="other")
        await asyncio.sleep(1.0)
        return out, left, _reasons(node), [k for k in box._slots if k[0] == "slow"]

    res = await _run(IDS, body)
    for p in HONEST:
        out, left, reasons, after = res[p]
        assert out == secret
        assert left == ({}, {}, []) and after == []
        # its share, the copy, and its view of the outcome of "slow": all for a finished computation
        assert len(reasons) == 3 and all("finished instance 'slow'" in r for r in reasons), reasons


async def test_after_a_cancelled_round_copies_are_buffered_once_within_quota_and_finish_drops_them() -> None:
    """Mailbox level: a recv_many from 2 and 3 is cancelled after 2's message reached it (that
    message is dropped with the wait, not marked received). Copies of it keep coming: the first is
    buffered as early, the others are duplicates; 3's late message is buffered; nothing exceeds the
    quota; no collector or deadline is left. After ``finish`` everything is dropped and every later
    message for the round is rejected."""
    box = Mailbox(b"s", IDS, Limits(max_buffered_per_sender=8))

    def msg(sender: int, tag: str = "r1/open") -> Message:
        return Message(session=b"s", instance="c", tag=tag, sender=sender, payload=np.ones(2, np.uint64))

    task = asyncio.ensure_future(box.recv_many("c", "r1/open", (2, 3), 5.0))
    await asyncio.sleep(0)
    box.deliver(msg(2), 100)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not box._collect and not _waits(box) and not box._slots
    box.deliver(msg(2), 100)  # buffered (the cancelled wait took nothing)
    for _ in range(1000):
        with pytest.raises(ProtocolError, match="duplicate"):
            box.deliver(msg(2), 100)
    for k in range(100):  # made-up tags: only the sender's own oldest are evicted
        box.deliver(msg(2, f"x{k}"), 100)
    box.deliver(msg(3), 100)
    assert len(box._early[2]) <= 8 and box._early_bytes[2] <= 8 * 100 and len(box._early[3]) == 1
    box.finish("c")
    assert not box._slots and box._early_bytes == {2: 0, 3: 0}
    for s in (2, 3):
        with pytest.raises(ProtocolError, match="finished instance"):
            box.deliver(msg(s), 100)


async def test_an_early_flood_stays_within_quota_and_the_round_is_right() -> None:
    """Before the honest parties wait, the attacker sends 3000 one-array frames of made-up future
    tags of the running computation, 20 copies of its real round message, then nothing else.
    The made-up tags only evict the attacker's own oldest (quota 256), the 19 extra copies are
    rejected duplicates, the sum is right, and what stays buffered is within the quota."""
    scheme, shares, secret = _additive([1, 2, 3, 4])
    limits = Limits(max_buffered_per_sender=256)

    async def proto(ctx: Any) -> Any:
        if ctx.party_id == EVIL:
            junk = np.zeros(4, np.uint64)
            for k in range(3000):
                await _raw(ctx, HONEST, _frame(ctx.instance, f"r{k + 9}/open", EVIL, junk))
            real = _frame(ctx.instance, "r1/open", EVIL, shares[EVIL])
            for _ in range(20):
                await _raw(ctx, HONEST, real)
            await asyncio.sleep(2.0)
            return None
        await asyncio.sleep(1.0)
        got = await open_values(ctx, scheme, shares[ctx.party_id], "r1/open")
        box = ctx._node.mailbox
        return got.tolist(), len(box._early.get(EVIL, {})), box.evicted.get(EVIL, 0), set(box._consumed["c"]["r1/open"])

    async def body(node: Node) -> Any:
        return await node.run(proto, name="c"), _reasons(node), node.mailbox._consumed.get("c")

    res = await _run(IDS, body, limits=limits)
    for p in HONEST:
        (opened, early, evicted, consumed), reasons, after = res[p]
        assert opened == secret
        assert early <= 256 and evicted == 3000 + 1 - 256  # the real one was buffered, then taken
        assert consumed == {EVIL, 3 if p == 1 else 1}  # this party's own share is not received
        assert len(reasons) == 19 and all("duplicate message" in r for r in reasons)
        assert after is None  # finished: the bookkeeping went with it


# -- broadcast over a try_send transport: a full buffer, a failing peer --------------------------
@pytest.mark.parametrize("kind", ["shamir", "additive"])
async def test_a_broadcast_to_a_peer_with_a_full_buffer_waits_for_it_and_reaches_everyone(kind: str) -> None:
    scheme = Scheme.make(kind, IDS)
    secret = [4, 5, 6]
    shares = scheme.share(np.array(secret, np.uint64), Csprng(b"v" * 32))
    net = _try_network(full={1: {EVIL}, 3: {EVIL, 1}}, broken={})
    seen: dict[int, list[str]] = {p: [] for p in IDS}

    async def proto(ctx: Any) -> Any:
        out = []
        for r in range(3):  # dependent rounds: each send_many waits for the slow buffer
            out.append((await open_values(ctx, scheme, shares[IDS.index(ctx.party_id)], f"r{r}/open")).tolist())
        return out

    async def body(node: Node) -> Any:
        node._send_observers.append(seen[node.party_id].append)
        return await node.run(proto)

    res = await _run(IDS, body, network=net)
    assert all(res[p] == [secret] * 3 for p in IDS), res
    sender: Any = net._transports[1]
    assert sender.tried.count(EVIL) >= 3  # the fast path tried, then the awaited send
    for p in IDS:
        assert [t for t in seen[p] if t.endswith("/open")] == [f"r{r}/open" for r in range(3)]  # once each


async def test_a_peer_whose_send_fails_mid_broadcast_counts_as_dropped_and_the_others_still_get_it() -> None:
    """Shamir (t = 1) opens in a ring (Context.open_round): party 1 takes party 2's share, 2
    takes 3's, 3 takes 1's. Party 3's sends to party 2 fail (its link is broken): party 3 marks 2
    down and still opens from party 1's share; party 2 waits out its deadline (2 s) for 3's share,
    then pulls party 1's and opens, not later. Additive (everyone's shares): party 1's broadcast
    to 2 fails, the others' sends still go out, and party 1 raises PartyDropped(2); nothing hangs."""
    shamir = Scheme.make("shamir", IDS)
    sh = shamir.share(np.array([42], np.uint64), Csprng(b"w" * 32))

    inner: dict[int, Any] = {}  # what each party's round gave, before the outcome agreement

    async def proto(ctx: Any) -> Any:
        if ctx.party_id == 3:
            ctx._node.transport.broken = {EVIL}  # from now on (the start-up hello went through)
        t0 = ctx.now()
        got = (await open_values(ctx, shamir, sh[IDS.index(ctx.party_id)], "r1/open")).tolist()
        inner[ctx.party_id] = got, ctx.now() - t0, sorted(ctx._node.down)
        return got

    res = await _run(IDS, lambda node: node.run(proto), network=_try_network(full={}, broken={}))
    for p in IDS:
        assert inner[p][0] == [42], (p, inner[p])
        assert inner[p][1] == (2.0 if p == EVIL else 0.0), (p, inner[p])
    assert inner[3][2] == [EVIL] and inner[1][2] == []
    # afterwards the parties agree that party 2 dropped (party 3 cannot reach it): a typed error
    assert all(isinstance(res[p], PartyDropped) for p in HONEST), res

    additive, shares, secret = _additive([1, 2])

    async def add(ctx: Any) -> Any:
        if ctx.party_id == 1:
            ctx._node.transport.broken = {EVIL}
        return (await open_values(ctx, additive, shares[ctx.party_id], "r1/open")).tolist()

    res = await _run(IDS, lambda node: node.run(add), network=_try_network(full={}, broken={}))
    assert isinstance(res[1], PartyDropped) and res[1].party == EVIL, res[1]


# -- real sockets: a peer that stops reading during broadcasts ----------------------------------
@pytest.mark.slow  # ~8 s real time; the fast variants: the _TryTransport tests above
@pytest.mark.real_time
@pytest.mark.timeout(60)
async def test_a_peer_that_stops_reading_is_dropped_by_the_send_timeout_and_nothing_hangs() -> None:
    """Over pynng (send timeout 0.5 s, round timeout 1 s): party 3 stops reading its connections
    but sends its share of every round. Every honest broadcast of a 1 MiB share first fills nng's send
    buffer and the sockets' buffers to party 3; then the send to it comes back "busy", the
    awaited send times out, party 3 counts as dropped, and the honest parties' round raises
    PartyDropped(3) within the send timeout plus the round's deadline. The rounds before that
    summed right at both honest parties."""
    from mpc.transport.nng import NngTransport

    ts = {p: NngTransport(p, send_timeout=0.5) for p in IDS}
    bound = {p: ts[p].bind([q for q in IDS if q > p]) for p in IDS}
    for p in IDS:
        ts[p].connect({q: bound[q][p] for q in IDS if q < p}, [q for q in IDS if q != p])
    big = 1 << 17  # 1 MiB of uint64
    rounds: dict[int, list[Any]] = {p: [] for p in IDS}

    async def proto(ctx: Any) -> Any:
        me = ctx.party_id
        if me == 3:  # the attacker: no more reading, from now on; it sends every round's share
            t = ctx._node.transport
            for fd in list(t._reader_fds):
                t._loop.remove_reader(fd)
            for r in range(64):
                await ctx._node.send_many(ctx.instance, f"r{r}", dict.fromkeys((1, 2), np.full(big, me + r, dtype=np.uint64)),
                                          same=True)
            await asyncio.sleep(6.0)
            return None
        for r in range(64):
            t0 = ctx.now()
            try:
                got = await ctx.exchange(f"r{r}", np.full(big, me + r, dtype=np.uint64), among=(1, 2, 3))
            except PartyDropped as exc:
                rounds[me].append((r, exc.party, ctx.now() - t0))
                raise
            rounds[me].append((r, sorted((p, int(v[0]), int(v[-1])) for p, v in got.items())))
        return None

    async def party(p: int) -> Any:
        async with Node(p, transport=ts[p], parties=IDS, session=b"stall", timeout=1.0, connect_timeout=10) as node:
            t0 = asyncio.get_running_loop().time()
            try:
                await node.run(proto)
            except MpcError as exc:
                return exc, asyncio.get_running_loop().time() - t0
            return None, asyncio.get_running_loop().time() - t0

    try:
        res = await asyncio.wait_for(asyncio.gather(*(party(p) for p in IDS), return_exceptions=True), 45)
    finally:
        for t in ts.values():
            await t.close()
    for p in (1, 2):
        err, ended = res[IDS.index(p)]  # type: ignore[misc]
        # dropped (by its own send timeout, or by the other honest party's abort: agreed)
        assert isinstance(err, PartyDropped) and err.party == 3, (p, err)
        # the rounds, the send timeout, then the outcome agreement (views 2, echoes 2.5 timeouts at
        # most): all before the attacker's own run ends (6 s); measured 2.6-3.1 s
        assert ended < 5.5, (p, ended)
        ok = [entry for entry in rounds[p] if isinstance(entry[1], list)]
        assert len(ok) >= 1, rounds[p]  # the buffers took a few rounds before they filled
        for r, got in ok:
            assert got == [(q, q + r, q + r) for q in IDS], (p, r, got)
        assert all(entry[1] == 3 for entry in rounds[p] if not isinstance(entry[1], list)), rounds[p]
    assert any(not isinstance(e[1], list) for p in (1, 2) for e in rounds[p])  # a round saw it go


def test_the_shared_deadline_timer_does_not_spin_on_uvloop() -> None:
    """Real time on uvloop (what ``mpc run`` uses): a silent sender's recv_many wait of 0.2505 s
    ends by its deadline, with one or two timer firings. Under uvloop loop.time() moves in whole
    milliseconds and a delay under 0.5 ms is a call_soon: ``Deadlines._fire`` found nothing due
    (now < at), re-armed for the same instant and ran again, every loop iteration, until the
    clock's next millisecond: 100-260 firings (a busy loop of up to 1 ms) per expired wait whose
    deadline is not a whole millisecond (measured before the fix; the per-wait timer before the
    shared one fired once). Now a timer that fired early waits for the clock's next step."""
    uvloop = pytest.importorskip("uvloop")
    from mpc import deadlines as mb

    fired = [0]
    original = mb.Deadlines._fire

    def counting(self: Any) -> None:
        fired[0] += 1
        original(self)

    async def main() -> list[tuple[int, float]]:
        box = Mailbox(b"s", (1, 2))
        out = []
        loop = asyncio.get_running_loop()
        for k in range(3):
            fired[0] = 0
            t0 = loop.time()
            got = await box.recv_many("i", f"t{k}", (2,), 0.2505)
            assert isinstance(got[2], PartyDropped)
            out.append((fired[0], loop.time() - t0))
        return out

    mb.Deadlines._fire = counting  # type: ignore[method-assign]
    try:
        out = uvloop.run(main())
    finally:
        mb.Deadlines._fire = original  # type: ignore[method-assign]
    assert all(0.2505 <= waited < 0.3 for _, waited in out), out  # the defence: each wait ends in time
    assert all(n <= 3 for n, _ in out), out  # the cost: no busy loop
