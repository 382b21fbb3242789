"""The client of SecAgg (Bonawitz et al., CCS 2017) / SecAgg+ (Bell et al., CCS 2020) as a
sans-IO state machine: ``start()`` gives the first messages, ``receive(payload)`` consumes one
server message and returns the reply (or ``None``). No Context, no network: the async driver in
:mod:`protocols.secagg.protocol` moves the messages.

Defences (each tested):
* the key list must contain this client's own keys unchanged, at least ``threshold`` share holders
  and no repeated key; with ``known_identities`` (a PKI) every peer's signing key is checked;
* every later message is bound to the session id (a hash of the round's keys): ciphertexts and
  signatures from another round fail;
* the consistency check: every signature the server relays must verify over the same U3 this
  client signed, or it aborts before revealing anything;
* a peer is never both "dropped" (reveal its mask-key share) and "alive" (reveal its self-mask
  share): the request is checked, and a per-peer ledger refuses a second kind of reveal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from numpy.typing import NDArray

from mpc.errors import MpcError, ProtocolError, QuorumLost
from mpc.field import U64
from mpc.rng import Csprng

from . import crypto, wire
from . import messages as m
from .masks import mask_input
from .params import Params, neighbourhoods
from .phases import CLIENT_TRANSITIONS, ClientPhase, transition


class InconsistentView(ProtocolError):
    """The server showed clients different views of who survived (consistency check failed)."""


def self_mask_commitment(sid: bytes, seed: bytes) -> bytes:
    """Binds b_u before the server learns any share of it, so a wrong reconstruction is caught."""
    return hashlib.sha256(b"secagg/self-mask-commitment" + sid + seed).digest()


class SecAggClient:
    def __init__(
        self,
        me: int,
        params: Params,
        x: U64,
        rng: Csprng,
        *,
        identity: Ed25519PrivateKey | None = None,
        known_identities: Mapping[int, bytes] | None = None,
    ) -> None:
        if me not in params.clients:
            raise ValueError(f"party {me} is not a client of this round")
        self.me = me
        self.params = params
        self.x = x
        self.rng = rng
        self.phase = ClientPhase.INIT
        self._sign_key = identity if identity is not None else crypto.signing_key(rng)
        self._known = dict(known_identities) if known_identities is not None else None
        self._c_sk, self.c_pk = crypto.x25519_keypair(rng)
        self._s_sk, self.s_pk = crypto.x25519_keypair(rng)
        self._c_key, self._s_key = crypto.x25519_private(self._c_sk), crypto.x25519_private(self._s_sk)
        self.sig_pk = crypto.verifying_bytes(self._sign_key)
        self.keys: dict[int, tuple[bytes, bytes, bytes]] = {}
        self.sid = b""
        self.neighbours: frozenset[int] = frozenset()
        self._b = b""
        self._held: dict[int, tuple[U64, U64]] = {}  # peer → (share of its s_sk, share of its b)
        self.u2: frozenset[int] = frozenset()  # share holders that sent me shares (and me)
        self.u3: tuple[int, ...] = ()
        self.revealed: dict[int, str] = {}  # peer → "b" | "sk": the ledger of what left this client
        self.output: NDArray[Any] | None = None
        self.used: tuple[int, ...] = ()

    # -- driving ------------------------------------------------------------------------
    def start(self) -> list[m.Message]:
        if self.phase is not ClientPhase.INIT:
            raise ProtocolError("client already started")
        self.phase = ClientPhase.ADVERTISED
        return [m.Join(), m.Advertise(c_pk=self.c_pk, s_pk=self.s_pk, sig_pk=self.sig_pk, dim=int(self.x.size))]

    def receive(self, payload: Any) -> m.Message | None:
        """Consume one server message (its wire map); an error finishes this client (phase FAILED)."""
        server = self.params.server
        kind = payload.get("kind") if isinstance(payload, dict) else None
        nxt = transition(CLIENT_TRANSITIONS, self.phase, kind, server)  # UnexpectedMessage: nothing happens
        try:
            msg = m.decode(payload, server)
            reply: m.Message | None = getattr(self, f"_on_{msg.KIND.value}")(msg)
        except MpcError:
            self.phase = ClientPhase.FAILED
            raise
        self.phase = nxt
        return reply

    def _holders(self) -> frozenset[int]:
        return self.neighbours | {self.me}

    # -- round 1 → 2: keys → encrypted shares ----------------------------------------------
    def _on_keys(self, p: m.Keys) -> m.ShareKeys:
        s = self.params.server
        who = wire.within(p.ids, self.params.clients, "key list ids", s)
        n, dim = len(who), p.dim
        keys = {u: (c, k, g) for u, c, k, g in zip(who, p.c_pk, p.s_pk, p.sig_pk, strict=True)}
        if keys.get(self.me) != (self.c_pk, self.s_pk, self.sig_pk):
            raise ProtocolError("the key list does not hold this client's own keys", peer=s)
        if dim != self.x.size:
            raise ProtocolError(f"round dimension {dim} differs from this client's {self.x.size}", peer=s)
        if len({k for triple in keys.values() for k in triple}) != 3 * n:
            raise ProtocolError("the key list repeats a public key", peer=s)
        if self._known is not None:
            forged = [u for u in who if self._known.get(u) != keys[u][2]]
            if forged:
                raise ProtocolError(f"signing keys of {forged[:5]} do not match their identities", peer=s)
        self.keys = keys
        self.sid = crypto.session_id(keys, dim)
        self.neighbours = neighbourhoods(self.params, tuple(sorted(who)), self.sid, only=self.me)[self.me]
        holders = sorted(self._holders())
        _require(len(holders), self.params.threshold, set(self.params.clients) - set(who), "advertise")
        self._b = self.rng.random_bytes(crypto.KEY_BYTES)
        t = self.params.threshold
        sk_shares = crypto.share_limbs(crypto.secret_to_limbs(self._s_sk), holders, t, self.rng)
        b_shares = crypto.share_limbs(crypto.secret_to_limbs(self._b), holders, t, self.rng)
        peers, cts = [], []
        for k, v in enumerate(holders):
            if v == self.me:
                self._held[v] = (sk_shares[k], b_shares[k])
                continue
            key = crypto.agree(self._c_key, keys[v][0], self.sid, crypto.INFO_ENC)
            peers.append(v)
            cts.append(crypto.encrypt_shares(key, self.sid, self.me, v, sk_shares[k], b_shares[k]))
        return m.ShareKeys(ids=tuple(peers), cts=tuple(cts), commit=self_mask_commitment(self.sid, self._b))

    # -- round 2 → 3: ciphertexts for me → masked input -----------------------------------
    def _on_shares(self, p: m.Shares) -> m.MaskedInput:
        s = self.params.server
        senders, cts = wire.within(p.ids, self.neighbours, "share senders", s), p.cts
        _require(len(senders) + 1, self.params.threshold, self.neighbours - set(senders), "share_keys")
        for u, ct in zip(senders, cts, strict=True):
            key = crypto.agree(self._c_key, self.keys[u][0], self.sid, crypto.INFO_ENC)
            self._held[u] = crypto.decrypt_shares(key, self.sid, u, self.me, ct)
        self.u2 = frozenset((*senders, self.me))
        seeds = {v: crypto.agree(self._s_key, self.keys[v][1], self.sid, crypto.INFO_MASK) for v in senders}
        y = mask_input(self.x, self._b, seeds, self.me)
        return m.MaskedInput(y=y)

    # -- round 3 → 4: survivor list → signature over it ----------------------------------
    def _on_survivors(self, p: m.Survivors) -> m.Consistency:
        s = self.params.server
        u3 = tuple(sorted(wire.within(p.ids, self.keys, "survivors", s)))
        if self.me not in u3:
            raise ProtocolError("the survivor list omits this client, whose masked input was sent", peer=s)
        mine = set(u3) & self._holders()
        if not mine <= self.u2:
            raise ProtocolError(f"survivors {sorted(mine - self.u2)[:5]} never shared keys with me", peer=s)
        _require(len(mine), self.params.threshold, self.u2 - mine, "masked_input")
        self.u3 = u3
        sig = self._sign_key.sign(crypto.consistency_message(self.sid, u3))
        return m.Consistency(sig=sig)

    # -- round 4 → 5: signatures and dropouts → shares to reveal --------------------------
    def _on_unmask_request(self, p: m.UnmaskRequest) -> m.Unmask:
        s = self.params.server
        signers = wire.within(p.ids, self.keys, "signers", s)
        outside = sorted(set(signers) - (set(self.u3) & self._holders()))
        if outside:
            raise InconsistentView(f"signers {outside[:5]} are not in the survivor set I signed", peer=s)
        sigs = p.sigs
        dropped = wire.within(p.dropped, self.params.clients, "dropped", s)
        both = sorted(set(dropped) & set(self.u3))
        if both:
            raise ProtocolError(f"server claims {both[:5]} both dropped and alive; revealing nothing", peer=s)
        if not set(dropped) <= self.u2 - {self.me}:
            raise ProtocolError("dropped clients must be share holders that sent me shares", peer=s)
        message = crypto.consistency_message(self.sid, self.u3)
        bad = [u for u, g in zip(signers, sigs, strict=True) if not crypto.verify(self.keys[u][2], g, message)]
        if bad:
            raise InconsistentView(f"signatures of {bad[:5]} do not cover the survivor set I signed", peer=s)
        _require(len(signers), self.params.threshold, (set(self.u3) & self._holders()) - set(signers),
                 "consistency")
        alive = sorted(set(self.u3) & set(self._held))
        gone = sorted(dropped)
        for v in alive:
            self._reveal(v, "b")
        for v in gone:
            self._reveal(v, "sk")
        b = np.array([self._held[v][1] for v in alive], dtype=np.uint64).reshape(len(alive), crypto.LIMBS)
        sk = np.array([self._held[v][0] for v in gone], dtype=np.uint64).reshape(len(gone), crypto.LIMBS)
        return m.Unmask(b_ids=tuple(alive), b=b, sk_ids=tuple(gone), sk=sk)

    def _reveal(self, peer: int, what: str) -> None:
        """The ledger: once one secret of ``peer`` left this client, the other never will."""
        if self.revealed.setdefault(peer, what) != what:
            raise ProtocolError(f"refusing to reveal both secrets of party {peer}", peer=self.params.server)

    # -- the end --------------------------------------------------------------------------
    def _on_result(self, p: m.Result) -> None:
        self.used = wire.within(p.used, self.u3, "used", self.params.server)
        self.output = p.output
        return None

    def _on_abort(self, p: m.Abort) -> None:
        """The server ended the round; QuorumLost when too few clients remained."""
        if p.error != "QuorumLost":
            raise ProtocolError(f"server aborted the round: {p.reason[:200]}", peer=self.params.server)
        raise QuorumLost(p.missing, needed=p.needed, have=p.have)


def _require(have: int, needed: int, missing: Any, stage: str) -> None:
    """Dropouts are state: fewer than ``needed`` participants at a stage ends the round."""
    if have < needed:
        raise QuorumLost(sorted(missing), needed=needed, have=have)


__all__ = ["InconsistentView", "SecAggClient", "self_mask_commitment"]
