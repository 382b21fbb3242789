"""The server (aggregator) of SecAgg / SecAgg+ as a sans-IO state machine.

``receive(kind, batch)`` takes what the clients sent in one round (``{client: payload}``, after the
driver's gather) and returns the replies ``{client: payload}``. It routes the clients' encrypted
shares (clients talk only to the server, as in the paper), tracks who survived each stage
(U0 ⊇ U1 ⊇ … ⊇ U5), checks the threshold at every stage and at every secret it must rebuild, and
finally removes the masks.

A client whose payload is malformed is treated as dropped at that stage (recorded in
``rejected``), so one bad client cannot stop the round; a reconstructed secret that does not
match its public key (s_sk) or commitment (b) aborts the round with a ProtocolError, because
some share holder lied and the sum would be garbage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from mpc.errors import ProtocolError, QuorumLost
from mpc.field import U64

from . import commit, crypto, wire
from . import messages as m
from .client import advert_signed, load_identities, self_mask_commitment
from .masks import decode_sum, unmask_sum
from .params import Params, neighbourhoods
from .phases import PREVIOUS, REPLY, SERVER_TRANSITIONS, Kind, ServerPhase, transition

M = TypeVar("M", bound=m.Message)


@dataclass(frozen=True, slots=True)
class Step:
    """What the server sends after one stage: ``replies`` on the tag ``tag`` (one object shared by
    several clients is one broadcast); ``error`` set means the round ended and ``replies`` are the
    aborts to every client still waiting."""

    tag: Kind
    replies: Mapping[int, m.Message]
    error: QuorumLost | ProtocolError | None = None


def abort_message(exc: QuorumLost | ProtocolError) -> m.Abort:
    if isinstance(exc, QuorumLost):
        return m.Abort(error="QuorumLost", reason=str(exc)[:500], missing=tuple(exc.missing), needed=exc.needed,
                       have=exc.have)
    return m.Abort(error=type(exc).__name__, reason=str(exc)[:500])


class SecAggServer:
    """``identities`` (party id → verification key), when the server has them, let it drop a
    client whose advertisement is not signed by its identity early; the clients check anyway."""

    def __init__(self, params: Params, *, identities: Mapping[int, object] | None = None) -> None:
        self.params = params
        self._known = load_identities(identities)
        self.phase = ServerPhase.JOINING
        self.rounds: dict[Kind, tuple[int, ...]] = {}  # who answered each kind (U0 … U5)
        self.rejected: dict[int, str] = {}
        self._told: set[int] = set()  # rejected clients already sent an abort
        self.keys: dict[int, m.Advertise] = {}
        self.sid = b""
        self.dim = 0
        self.graph: dict[int, frozenset[int]] = neighbourhoods(params)  # fixed by the public job
        self._holders: dict[int, frozenset[int]] = {}
        self._cts: dict[int, dict[int, bytes]] = {}  # sender → receiver → ciphertext
        self._commit: dict[int, bytes] = {}
        self._masked: dict[int, U64] = {}
        self._sigs: dict[int, bytes] = {}
        self._u3_bits = b""
        self.output: NDArray[Any] | None = None

    # -- the sans-IO step both drivers use -------------------------------------------------
    def step(self, kind: Kind, batch: Mapping[int, Any]) -> Step:
        """Consume one stage's gathered wire messages; the replies (or the aborts if the round
        ended here), and an abort for each client rejected at this stage."""
        try:
            replies = self.receive(kind, batch)
        except (QuorumLost, ProtocolError) as exc:
            return self.fail(kind, exc)
        out: dict[int, m.Message] = dict(replies)
        for u, why in self.newly_rejected().items():  # a misbehaving client is told, not left waiting
            out[u] = abort_message(ProtocolError(why, peer=u))
        return Step(REPLY[kind], out)

    def fail(self, kind: Kind, exc: QuorumLost | ProtocolError) -> Step:
        """The round ends at ``kind``: every client still waiting learns why, on the tag it waits on."""
        self.phase = ServerPhase.FAILED
        abort = abort_message(exc)
        return Step(REPLY[kind], {u: abort for u in self.expected(kind)}, exc)

    # -- bookkeeping ----------------------------------------------------------------------
    def expected(self, kind: Kind) -> tuple[int, ...]:
        """The clients whose ``kind`` message the server waits for (the previous stage's survivors)."""
        prev = PREVIOUS[kind]
        return self.params.clients if prev is None else self.rounds.get(prev, ())

    def used(self) -> tuple[int, ...]:
        """The clients whose masked input is in the sum (U3)."""
        return self.rounds.get(Kind.MASKED_INPUT, ())

    def holders(self, u: int) -> frozenset[int]:
        """u's share holders: its neighbours that advertised keys, and itself (fixed once the key
        list is out, so then remembered: every later stage asks for it per client)."""
        got = self._holders.get(u)
        if got is None:
            got = (self.graph[u] & self.keys.keys()) | {u}
            if self.sid:
                self._holders[u] = got
        return got

    def receive(self, kind: Kind | str, batch: Mapping[int, Any]) -> dict[int, m.Message]:
        nxt = transition(SERVER_TRANSITIONS, self.phase, kind)  # UnexpectedMessage if not allowed
        k = Kind(kind)
        handler: Callable[[dict[int, Any]], dict[int, m.Message]] = getattr(self, f"_on_{k.value}")
        try:
            valid = self._accept(k, batch)
            if len(valid) < self.params.threshold:
                self._close_stage(k, set(valid))  # raises QuorumLost before any work
            out = handler(valid)
        except BaseException:
            self.phase = ServerPhase.FAILED
            raise
        self.phase = nxt
        return out

    def _accept(self, kind: Kind, batch: Mapping[int, Any]) -> dict[int, m.Message]:
        """The well-formed messages of ``kind`` from expected clients; the others are rejected
        (that client is treated as dropped at this stage)."""
        allowed = set(self.expected(kind))
        valid: dict[int, m.Message] = {}
        for u in sorted(batch):
            try:
                if u not in allowed:
                    raise ProtocolError(f"not expected to send {kind.value!r}", peer=u)
                msg = m.decode(batch[u], u)
                if msg.KIND is not kind:
                    raise ProtocolError(f"sent {msg.KIND.value!r} on the {kind.value!r} round", peer=u)
                valid[u] = msg
            except ProtocolError as exc:
                self.rejected[u] = str(exc)
        return valid

    def _close_stage(self, kind: Kind, accepted: set[int]) -> tuple[int, ...]:
        """Record who survived this stage; fewer than the threshold ends the round."""
        survivors = tuple(sorted(accepted))
        self.rounds[kind] = survivors
        t = self.params.threshold
        if len(survivors) < t:
            raise QuorumLost(set(self.expected(kind)) - accepted, needed=t, have=len(survivors))
        return survivors

    def _validated(self, batch: dict[int, M], check: Callable[[int, M], None]) -> set[int]:
        ok: set[int] = set()
        for u, p in batch.items():
            try:
                check(u, p)
                ok.add(u)
            except ProtocolError as exc:
                self.rejected[u] = str(exc)
        return ok

    # -- stages -----------------------------------------------------------------------------
    def _on_join(self, batch: dict[int, m.Join]) -> dict[int, m.Message]:
        self._close_stage(Kind.JOIN, set(batch))
        return {}

    def _on_advertise(self, batch: dict[int, m.Advertise]) -> dict[int, m.Message]:
        if batch:  # clients disagreeing with the most common length are excluded, not trusted
            self.dim = Counter(p.dim for p in batch.values()).most_common(1)[0][0]
        seen: set[bytes] = set()
        for u in sorted(batch):
            p = batch[u]
            if p.dim != self.dim or {p.c_pk, p.s_pk} & seen or p.c_pk == p.s_pk:
                self.rejected[u] = "wrong vector length or a repeated public key"
            elif not advert_signed(self._known, self.params.round_id, u, p.dim, (p.c_pk, p.s_pk, p.vk, p.sig)):
                # the clients check too (the same verdicts: a server that skips this is caught there)
                self.rejected[u] = "advertisement not signed by the client's identity"
            else:
                seen |= {p.c_pk, p.s_pk}
                self.keys[u] = p
        u1 = self._close_stage(Kind.ADVERTISE, set(self.keys))
        params, dim = self.params, self.dim
        leaves = [commit.leaf(u, dim, (a.c_pk, a.s_pk, a.vk, a.sig) if (a := self.keys.get(u)) else None)
                  for u in params.clients]
        levels = commit.build(leaves)
        root = commit.root(levels)
        self.sid = crypto.session_id(params.round_id, root, dim)
        depth = commit.depth_for(len(params.clients))
        # SecAgg+: every slot's proof once (n · depth hashes), each client's rows gathered in one go
        every = np.zeros((0, depth, commit.HASH), dtype=np.uint8) if params.complete else commit.proofs(
            levels, range(len(params.clients)))

        def keys_for(listed: list[int], absent: list[int]) -> m.Keys:
            ads = [self.keys[u] for u in listed]
            proofs = every if params.complete else every[[params.slot_of[u] for u in (*listed, *absent)]]
            return m.Keys(ids=tuple(listed), c_pk=tuple(a.c_pk for a in ads), s_pk=tuple(a.s_pk for a in ads),
                          vk=tuple(a.vk for a in ads), sig=tuple(a.sig for a in ads), absent=tuple(absent),
                          root=root, proofs=proofs, dim=dim)

        if params.complete:  # everyone gets every advertisement (one broadcast)
            msg = keys_for(list(u1), sorted(set(params.clients) - set(u1)))
            return {u: msg for u in u1}
        # SecAgg+: each client gets its neighbourhood's leaves with inclusion proofs, O(k log n)
        # (a frozenset minus a dict's keys view copies all n keys: test membership instead)
        return {v: keys_for(sorted(self.holders(v)), sorted(u for u in self.graph[v] if u not in self.keys))
                for v in u1}

    def _on_share_keys(self, batch: dict[int, m.ShareKeys]) -> dict[int, m.Message]:
        def check(u: int, p: m.ShareKeys) -> None:
            to = wire.within(p.ids, self.holders(u) - {u}, "share recipients", u)
            if set(to) != self.holders(u) - {u}:
                raise ProtocolError("must send shares to every neighbour", peer=u)
            self._cts[u] = dict(zip(to, p.cts, strict=True))
            self._commit[u] = p.commit

        u2 = set(self._close_stage(Kind.SHARE_KEYS, self._validated(batch, check)))
        for v in sorted(u2):  # SecAgg+: every client needs enough holders of its own secrets
            have = self.holders(v) & u2
            if len(have) < self.params.threshold:
                raise QuorumLost(self.holders(v) - u2, needed=self.params.threshold, have=len(have))
        out: dict[int, m.Message] = {}
        for v in sorted(u2):
            senders = tuple(sorted((self.holders(v) - {v}) & u2))
            out[v] = m.Shares(ids=senders, cts=tuple(self._cts[u][v] for u in senders))
        return out

    def _on_masked_input(self, batch: dict[int, m.MaskedInput]) -> dict[int, m.Message]:
        def check(u: int, p: m.MaskedInput) -> None:
            if p.y.shape != (self.dim,):
                raise ProtocolError(f"masked input must have length {self.dim}", peer=u)
            self._masked[u] = p.y

        u3 = self._close_stage(Kind.MASKED_INPUT, self._validated(batch, check))
        self._u3_bits = commit.bitmap(u3, self.params.slot_of, len(self.params.clients))
        msg = m.Survivors(bits=self._u3_bits)
        return {u: msg for u in u3}

    def _on_consistency(self, batch: dict[int, m.Consistency]) -> dict[int, m.Message]:
        message = crypto.consistency_message(self.sid, self._u3_bits)

        def check(u: int, p: m.Consistency) -> None:
            if not self._signature_ok(u, p.sig, message):
                raise ProtocolError("consistency signature does not verify", peer=u)
            self._sigs[u] = p.sig

        u4 = set(self._close_stage(Kind.CONSISTENCY, self._validated(batch, check)))
        out: dict[int, m.Message] = {}
        for u in sorted(u4):
            signers = tuple(sorted(self.holders(u) & u4))
            out[u] = m.UnmaskRequest(ids=signers, sigs=tuple(self._sigs[v] for v in signers))
        return out

    def _signature_ok(self, u: int, sig: bytes, message: bytes) -> bool:
        return crypto.verify(self.keys[u].vk, sig, message)

    def _on_unmask(self, batch: dict[int, m.Unmask]) -> dict[int, m.Message]:
        u3 = set(self.used())
        dropped = set(self.rounds[Kind.SHARE_KEYS]) - u3
        b_shares: dict[int, dict[int, U64]] = {v: {} for v in u3}  # owner → holder → share
        sk_shares: dict[int, dict[int, U64]] = {v: {} for v in dropped}

        def check(u: int, p: m.Unmask) -> None:
            b_ids = wire.within(p.b_ids, u3 & self.holders(u), "b_ids", u)
            sk_ids = wire.within(p.sk_ids, dropped & self.holders(u), "sk_ids", u)
            for k, v in enumerate(b_ids):
                b_shares[v][u] = p.b[k]
            for k, v in enumerate(sk_ids):
                sk_shares[v][u] = p.sk[k]

        u5 = set(self._close_stage(Kind.UNMASK, self._validated(batch, check)))
        self_seeds = self._rebuild({v: {h: s for h, s in b_shares[v].items() if h in u5} for v in u3})
        for v, seed in self_seeds.items():
            if self_mask_commitment(self.sid, seed) != self._commit[v]:
                raise ProtocolError(f"rebuilt self-mask seed of party {v} does not match its commitment")
        needed = {v for v in dropped if self.holders(v) & u3}  # whose pairwise masks remain in the sum
        mask_keys = self._rebuild({v: {h: s for h, s in sk_shares[v].items() if h in u5} for v in needed})
        pairs = []
        for v, sk in mask_keys.items():
            key = crypto.x25519_private(sk)
            if crypto.x25519_public(key) != self.keys[v].s_pk:
                raise ProtocolError(f"rebuilt mask key of party {v} does not match its public key")
            pairs += [(u, v, crypto.agree(key, self.keys[u].s_pk, self.sid, crypto.INFO_MASK))
                      for u in sorted((self.holders(v) - {v}) & u3)]
        total = unmask_sum((self._masked[u] for u in sorted(u3)), (self_seeds[v] for v in sorted(u3)), pairs, self.dim)
        self.output = decode_sum(total, self.params.fractional_bits)
        msg = m.Result(used=self._u3_bits, output=self.output if self.params.result_to_clients else None)
        return {u: msg for u in sorted(u5)}

    def _rebuild(self, shares: dict[int, dict[int, U64]]) -> dict[int, bytes]:
        """Rebuild each owner's 32-byte secret from ``threshold`` shares. Owners whose holders
        share a point set (all of them, in SecAgg) are interpolated together; the others (SecAgg+:
        each owner has its own holders) in one vectorised Lagrange over all of them."""
        t = self.params.threshold
        groups: dict[tuple[int, ...], list[int]] = {}
        for v in sorted(shares):
            pts = tuple(sorted(shares[v]))[:t]
            if len(pts) < t:
                missing = self.holders(v) - set(shares[v])
                raise QuorumLost(missing, needed=t, have=len(pts))
            groups.setdefault(pts, []).append(v)
        rebuilt: list[tuple[int, U64]] = []
        alone = [(pts, owners[0]) for pts, owners in groups.items() if len(owners) == 1]
        if alone:
            points = np.array([pts for pts, _ in alone], dtype=np.int64)
            stacked = np.stack([np.stack([shares[v][h] for h in pts]) for pts, v in alone])  # (owners, t, LIMBS)
            rebuilt += zip((v for _, v in alone), crypto.reconstruct_each(points, stacked), strict=True)
        for pts, owners in groups.items():
            if len(owners) > 1:
                stacked = np.stack([np.stack([shares[v][h] for v in owners]) for h in pts])  # (t, owners, LIMBS)
                rebuilt += zip(owners, crypto.reconstruct_many(pts, stacked), strict=True)
        out: dict[int, bytes] = {}
        for v, limbs in rebuilt:
            try:
                out[v] = crypto.limbs_to_secret(limbs)
            except ValueError:
                raise ProtocolError(f"shares of party {v}'s secret are inconsistent") from None
        return out

    def newly_rejected(self) -> dict[int, str]:
        """Clients excluded since the last call: they are still waiting and must be told."""
        fresh = {u: r for u, r in self.rejected.items() if u not in self._told}
        self._told |= set(fresh)
        return fresh

    def meta(self) -> dict[str, Any]:
        return {
            "role": "server",
            "used": list(self.used()),
            "stages": {k.value: len(v) for k, v in self.rounds.items()},
            "rejected": {str(u): r for u, r in sorted(self.rejected.items())},
        }


__all__ = ["SecAggServer", "Step", "abort_message"]
