"""The client of SecAgg (Bonawitz et al., CCS 2017) / SecAgg+ (Bell et al., CCS 2020) as a
sans-IO state machine: ``start()`` gives the first messages, ``receive(payload)`` consumes one
server message and returns the reply (or ``None``). No Context, no network: the async driver in
:mod:`protocols.secagg.protocol` moves the messages.

Defences (each tested, the attacks from the server's side in ``tests/test_secagg_attacks.py``):
* signed advertisements (Bonawitz's active variant): a client signs its fresh ``c_pk``/``s_pk``
  with its long-term signing key, bound to the round (``Params.round_id``); before sharing
  anything it verifies every neighbour's advertisement against ``identities`` (party id →
  verification key). A server that substitutes keys is caught here, before anything derived
  from this client's secrets leaves it;
* the key list must hold this client's own advertisement unchanged, at least ``threshold``
  share holders and no repeated key;
* every later message is bound to the session id (a hash of the round's advertisements):
  ciphertexts and signatures from another round fail;
* the consistency check: ``threshold`` signatures of this client's holders must verify over the
  same U3 this client signed, or it aborts before revealing anything;
* a peer is never both "dropped" (reveal its mask-key share) and "alive" (reveal its self-mask
  share): this client decides which from the U3 it signed, and a per-peer ledger refuses a
  second kind of reveal. With 2t > holders + colluders (enforced by :class:`Params`) a server
  that splits its dropout story never gets both secrets of a client.

Without ``identities`` each client signs with a fresh key that only the server vouches for.
Then NOTHING stops a malicious server: it can advertise keys of its own for every other client
(it becomes all of the victim's share holders and unmasks the victim's input) and forge the
consistency signatures. What remains defended: a semi-honest (curious) server, malicious
clients (bad shares are caught by the commitment and public-key checks), replays from other
rounds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mpc.errors import ConfigError, MpcError, ProtocolError, QuorumLost
from mpc.field import U64
from mpc.rng import Csprng

from . import commit, crypto, wire
from . import messages as m
from .masks import mask_input
from .params import Params, neighbourhoods
from .phases import CLIENT_TRANSITIONS, ClientPhase, transition


class InconsistentView(ProtocolError):
    """The server showed clients different views of who survived (consistency check failed)."""


def self_mask_commitment(sid: bytes, seed: bytes) -> bytes:
    """Binds b_u before the server learns any share of it, so a wrong reconstruction is caught."""
    return hashlib.sha256(b"secagg/self-mask-commitment" + sid + seed).digest()


class Identities(Mapping[int, object]):
    """party id → verification key (key objects, DER or raw Ed25519 bytes accepted), converted
    when first asked for: a SecAgg+ client looks up only its neighbours (O(k), not O(n)). One
    table may serve every client in a process (a simulation's PKI): each key is converted once."""

    def __init__(self, keys: Mapping[int, object]) -> None:
        self._raw = keys
        self._loaded: dict[int, tuple[crypto.VerifyingKey, bytes]] = {}

    def __getitem__(self, party: int) -> object:
        return self._raw[party]

    def __iter__(self) -> Iterator[int]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def verifying(self, party: int) -> tuple[crypto.VerifyingKey, bytes] | None:
        """The key and its DER encoding, or None for an unknown party."""
        got = self._loaded.get(party)
        if got is None and party in self._raw:
            key = crypto.verifying_key(self._raw[party])
            got = self._loaded[party] = (key, crypto.key_bytes(key))
        return got


def load_identities(identities: Mapping[int, object] | None) -> Identities | None:
    if identities is None or isinstance(identities, Identities):
        return identities
    return Identities(identities)


Row = tuple[bytes, bytes, bytes, bytes]
"""One advertisement as listed in a key list: (c_pk, s_pk, vk, sig)."""


def advert_signed(known: Identities | None, round_id: bytes, u: int, dim: int, row: Row, *, memo: bool = True) -> bool:
    """The advertisement ``row`` is signed by party u's long-term key. Without identities there is
    nothing to check it against (the server could sign a substitute with a key of its own), so it
    is not checked: that would cost k signature checks per client and defend nothing."""
    if known is None:
        return True
    identity = known.verifying(u)
    c_pk, s_pk, vk, sig = row
    if identity is None or identity[1] != vk:
        return False
    return crypto.verify(vk, sig, crypto.advertisement_message(round_id, u, dim, c_pk, s_pk), memo=memo)


class SecAggClient:
    def __init__(
        self,
        me: int,
        params: Params,
        x: U64,
        rng: Csprng,
        *,
        signing_key: crypto.SigningKey | None = None,
        identities: Mapping[int, object] | None = None,
    ) -> None:
        if me not in params.clients:
            raise ConfigError(f"party {me} is not a client of this round")
        self.me = me
        self.params = params
        self.x = x
        self.rng = rng
        self.phase = ClientPhase.INIT
        self._known = load_identities(identities)
        if self._known is not None and signing_key is None:
            raise ConfigError("identities are configured but this client has no signing key")
        self._sign_key = crypto.check_signing_key(signing_key) if signing_key is not None else crypto.signing_key(rng)
        self.vk = crypto.verifying_bytes(self._sign_key)
        if self._known is not None:
            mine = self._known.verifying(me)
            if mine is None or mine[1] != self.vk:
                raise ConfigError(f"the identity of party {me} does not match its signing key")
        self._c_key, _, self.c_pk = crypto.x25519_generate(rng)
        self._s_key, self._s_sk, self.s_pk = crypto.x25519_generate(rng)
        self.dim = int(x.size)
        sig = crypto.sign(self._sign_key, crypto.advertisement_message(params.round_id, me, self.dim, self.c_pk,
                                                                       self.s_pk))
        self.advert = m.Advertise(c_pk=self.c_pk, s_pk=self.s_pk, vk=self.vk, sig=sig, dim=self.dim)
        self.neighbours: frozenset[int] = neighbourhoods(params, only=me)[me]  # fixed by the public job
        self.keys: dict[int, tuple[bytes, bytes, bytes]] = {}  # holder → (c_pk, s_pk, vk), verified
        self.root = b""
        self.sid = b""
        self._enc: dict[int, bytes] = {}  # holder → share-encryption key (32 bytes: an AEAD object is ~2.4 kB)
        self._b = b""
        self._held: dict[int, tuple[U64, U64]] = {}  # peer → (share of its s_sk, share of its b)
        self.u2: frozenset[int] = frozenset()  # share holders that sent me shares (and me)
        self.u3 = b""  # the survivor bitmap this client signed
        self._alive: frozenset[int] = frozenset()  # my holders in it
        self.revealed: dict[int, str] = {}  # peer → "b" | "sk": the ledger of what left this client
        self.output: NDArray[Any] | None = None

    # -- driving ------------------------------------------------------------------------
    def start(self) -> list[m.Message]:
        if self.phase is not ClientPhase.INIT:
            raise ProtocolError("client already started")
        self.phase = ClientPhase.ADVERTISED
        return [m.Join(), self.advert]

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
            self.close()
            raise
        self.phase = nxt
        if nxt is ClientPhase.DONE:
            self.close()
        return reply

    def close(self) -> None:
        """The round is over for this client (also when it is cancelled): drop the pairwise keys it
        filed for its peers in the process-local memo (:class:`crypto.PairwiseKeys`)."""
        if self.sid:
            self.params.pairwise.forget(self.c_pk, self.sid, crypto.INFO_ENC)
            self.params.pairwise.forget(self.s_pk, self.sid, crypto.INFO_MASK)

    def _holders(self) -> frozenset[int]:
        return frozenset(self.keys)

    # -- round 1 → 2: keys → encrypted shares ----------------------------------------------
    def _on_keys(self, p: m.Keys) -> m.ShareKeys:
        s, params = self.params.server, self.params
        memo = not params.isolated
        who = wire.within(p.ids, self.neighbours | {self.me}, "key list ids", s)
        absent = wire.within(p.absent, self.neighbours, "absent neighbours", s)
        if len(who) + len(absent) != len(self.neighbours) + 1 or set(who) & set(absent):
            raise ProtocolError("the key list must account for every neighbour exactly once", peer=s)
        rows: dict[int, Row] = dict(zip(who, zip(p.c_pk, p.s_pk, p.vk, p.sig, strict=True), strict=True))
        a = self.advert
        if rows.get(self.me) != (a.c_pk, a.s_pk, a.vk, a.sig) or p.dim != self.dim:
            raise ProtocolError("the key list does not hold this client's own advertisement", peer=s)
        if len({k for r in rows.values() for k in r[:2]}) != 2 * len(rows):
            raise ProtocolError("the key list repeats a public key", peer=s)
        forged = [u for u, r in sorted(rows.items())
                  if u != self.me and not advert_signed(self._known, params.round_id, u, p.dim, r, memo=memo)]
        if forged:  # before anything derived from this client's secrets leaves it
            raise ProtocolError(f"advertisements of {forged[:5]} are not signed by their identities", peer=s)
        leaves = {u: commit.leaf(u, p.dim, r) for u, r in rows.items()}
        leaves.update((u, commit.leaf(u, p.dim, None)) for u in absent)
        if params.complete:  # every leaf is here: rebuild the root
            ok = commit.root(commit.build([leaves[u] for u in params.clients])) == p.root
        else:  # the neighbourhood's leaves, each with its inclusion proof
            listed = (*who, *absent)
            depth = commit.depth_for(len(params.clients))
            ok = p.proofs.shape == (len(listed), depth, commit.HASH) and all(
                commit.verify(leaves[u], params.slot_of[u], p.proofs[j], p.root, memo=memo)
                for j, u in enumerate(listed))
        if not ok:
            raise ProtocolError("the key list does not match its commitment", peer=s)
        holders = sorted(rows)
        _require(len(holders), params.threshold, set(absent), "advertise")
        self.keys = {u: rows[u][:3] for u in holders}
        self.root = p.root
        self.sid = crypto.session_id(params.round_id, p.root, p.dim)
        self._b = self.rng.random_bytes(crypto.KEY_BYTES)
        t = self.params.threshold
        shares = crypto.share_secrets((self._s_sk, self._b), holders, t, self.rng)  # (holders, 2, LIMBS)
        sk_shares, b_shares = shares[:, 0], shares[:, 1]
        peers, cts = [], []
        for k, v in enumerate(holders):
            if v == self.me:
                self._held[v] = (sk_shares[k], b_shares[k])
                continue
            self._enc[v] = key = self.params.pairwise.agree(self._c_key, self.c_pk, self.keys[v][0], self.sid,
                                                            crypto.INFO_ENC)
            peers.append(v)
            cts.append(crypto.encrypt_shares(key, self.sid, self.me, v, sk_shares[k], b_shares[k]))
        return m.ShareKeys(ids=tuple(peers), cts=tuple(cts), commit=self_mask_commitment(self.sid, self._b))

    # -- round 2 → 3: ciphertexts for me → masked input -----------------------------------
    def _on_shares(self, p: m.Shares) -> m.MaskedInput:
        s = self.params.server
        senders = wire.within(p.ids, self._holders() - {self.me}, "share senders", s)
        _require(len(senders) + 1, self.params.threshold, self._holders() - set(senders) - {self.me}, "share_keys")
        for u, ct in zip(senders, p.cts, strict=True):
            self._held[u] = crypto.decrypt_shares(self._enc[u], self.sid, u, self.me, ct)
        self.u2 = frozenset((*senders, self.me))
        agree = self.params.pairwise.agree
        seeds = {v: agree(self._s_key, self.s_pk, self.keys[v][1], self.sid, crypto.INFO_MASK) for v in senders}
        return m.MaskedInput(y=mask_input(self.x, self._b, seeds, self.me))

    # -- round 3 → 4: survivor list → signature over it ----------------------------------
    def _on_survivors(self, p: m.Survivors) -> m.Consistency:
        s, params = self.params.server, self.params
        if len(p.bits) != commit.bitmap_size(len(params.clients)):
            raise ProtocolError("the survivor bitmap has the wrong length", peer=s)
        if not commit.in_bitmap(p.bits, params.slot_of[self.me]):
            raise ProtocolError("the survivor list omits this client, whose masked input was sent", peer=s)
        mine = {u for u in self._holders() if commit.in_bitmap(p.bits, params.slot_of[u])}
        if not mine <= self.u2:
            raise ProtocolError(f"survivors {sorted(mine - self.u2)[:5]} never shared keys with me", peer=s)
        _require(len(mine), params.threshold, self.u2 - mine, "masked_input")
        self.u3, self._alive = p.bits, frozenset(mine)
        return m.Consistency(sig=crypto.sign(self._sign_key, crypto.consistency_message(self.sid, p.bits)))

    # -- round 4 → 5: signatures → shares to reveal -----------------------------------------
    def _on_unmask_request(self, p: m.UnmaskRequest) -> m.Unmask:
        s = self.params.server
        mine = self._alive  # my holders in the U3 I signed
        outside = sorted(set(p.ids) - mine)
        if outside:
            raise InconsistentView(f"signers {outside[:5]} are not in the survivor set I signed", peer=s)
        signers = p.ids
        _require(len(signers), self.params.threshold, mine - set(signers), "consistency")
        message = crypto.consistency_message(self.sid, self.u3)
        # t valid signatures over the U3 this client signed are the check; more add nothing
        checked = list(zip(signers, p.sigs, strict=True))[: self.params.threshold]
        bad = [u for u, g in checked if not crypto.verify(self.keys[u][2], g, message, memo=not self.params.isolated)]
        if bad:
            raise InconsistentView(f"signatures of {bad[:5]} do not cover the survivor set I signed", peer=s)
        alive = sorted(mine & set(self._held))
        gone = sorted(self.u2 - mine)  # shared keys with me, masked input not used
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
        if p.used != self.u3:
            raise ProtocolError("the result is not over the survivor set this client signed", peer=self.params.server)
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


__all__ = ["Identities", "InconsistentView", "Row", "SecAggClient", "advert_signed", "load_identities",
           "self_mask_commitment"]
