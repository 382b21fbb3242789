"""Memoised checks answer exactly as fresh ones.

A process that runs many SecAgg clients (a simulation) checks the same signature, inclusion proof
and key many times, so verdicts are memoised on the exact bytes checked. These tests show, from the
attacker's side, that a server cannot profit from it: an advertisement accepted by some clients
does not make a swapped one pass at another client sharing the same memo and identity table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mpc.errors import ProtocolError
from mpc.rng import Csprng
from protocols.secagg import Kind, Params, commit, crypto
from protocols.secagg.client import Identities, load_identities
from protocols.secagg.inprocess import run_round

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("salt", [b"", bytes(32), b"s" * 32, b"a longer salt than one SHA-256 block" * 3])
def test_hkdf_is_rfc5869_hkdf_sha256(salt: bytes) -> None:
    ikm = Csprng().random_bytes(32)
    for info in (crypto.INFO_ENC, crypto.INFO_MASK, b""):
        want = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)
        assert crypto.hkdf_sha256(ikm, salt, info) == want


@pytest.mark.parametrize("make", [Ed25519PrivateKey.generate, lambda: ec.generate_private_key(ec.SECP256R1())])
def test_a_memoised_signature_verdict_is_the_fresh_verdict(make: Any) -> None:
    key, other = make(), make()
    der, other_der = crypto.key_bytes(key), crypto.key_bytes(other)
    message = b"secagg/advertise/v2" + Csprng().random_bytes(64)
    sig = crypto.sign(key, message)
    for _ in range(2):  # the second pass answers from the memo
        assert crypto.verify(der, sig, message)
        assert crypto.verify(key.public_key(), sig, message)
        assert not crypto.verify(other_der, sig, message)  # someone else's key
        assert not crypto.verify(der, sig, message + b"x")  # another message
        assert not crypto.verify(der, sig[:-1] + bytes([sig[-1] ^ 1]), message)  # a forged signature
        assert not crypto.verify(b"not a key", sig, message)


def test_a_memoised_inclusion_proof_is_the_fresh_check() -> None:
    leaves = [commit.leaf(u, 10, (bytes([u]) * 32, bytes([u + 1]) * 32, b"vk", b"sig")) for u in range(13)]
    levels = commit.build(leaves)
    root = commit.root(levels)
    paths = commit.proofs(levels, range(13))
    for _ in range(2):
        assert all(commit.verify(leaves[s], s, paths[s], root) for s in range(13))
        forged = paths[5].copy()
        forged[2, 0] ^= 1
        assert not commit.verify(leaves[5], 5, forged, root)
        assert not commit.verify(leaves[5], 6, paths[5], root)  # the right proof at another slot
        assert not commit.verify(leaves[6], 5, paths[5], root)  # another leaf with this proof
        assert not commit.verify(leaves[5], 5, paths[5], bytes(32))


@pytest.mark.parametrize("variant", ["secagg", "secagg+"])
def test_keys_swapped_after_other_clients_accepted_the_genuine_ones_are_still_caught(variant: str) -> None:
    """Clients 1..7 check their neighbours' genuine advertisements (filling the shared memo and the
    shared identity table); then the server shows the last client its neighbours' signatures over
    keys of its own. The last client refuses before sharing anything, the others go on."""
    clients = tuple(range(1, 9))
    victim = clients[-1]
    params = Params.make(clients, {"variant": variant, "degree": 4})
    keys = {u: Ed25519PrivateKey.generate() for u in clients}
    pki = Identities({u: k.public_key() for u, k in keys.items()})
    assert load_identities(pki) is pki  # one table for every client in the process
    rng = Csprng()

    def tamper(kind: Kind, u: int, payload: dict[str, Any]) -> dict[str, Any]:
        if kind is not Kind.KEYS or u != victim:
            return payload
        swap = [v != victim for v in payload["ids"]]  # fresh keys, the peers' genuine signatures kept
        return {**payload, **{field: [crypto.x25519_keypair(rng)[1] if s else pk
                                      for pk, s in zip(payload[field], swap, strict=True)]
                              for field in ("c_pk", "s_pk")}}

    inputs = {u: np.arange(4) * u for u in clients}
    trace = run_round(params, inputs, tamper=tamper, signing_keys=keys, identities=pki)
    err = trace.client_errors.get(victim)
    assert isinstance(err, ProtocolError) and "not signed by their identities" in str(err)
    assert [m["kind"] for m in trace.sent[victim]] == ["join", "advertise"]
    assert all("share_keys" in [m["kind"] for m in trace.sent[u]] for u in clients if u != victim)


def test_pairwise_keys_hit_only_for_the_genuine_pair_and_hold_nothing_after_the_round() -> None:
    rng = Csprng()
    (a_sk, a_pk), (b_sk, b_pk), (_, m_pk) = (crypto.x25519_keypair(rng) for _ in range(3))
    a, b = crypto.x25519_private(a_sk), crypto.x25519_private(b_sk)
    sid = rng.random_bytes(32)
    memo = crypto.PairwiseKeys()
    k_ab = memo.agree(a, a_pk, b_pk, sid, crypto.INFO_ENC)
    assert k_ab == crypto.agree(a, b_pk, sid, crypto.INFO_ENC) and len(memo) == 1
    # b was shown a server key m_pk for a: no hit, its own derivation
    assert memo.agree(b, b_pk, m_pk, sid, crypto.INFO_ENC) == crypto.agree(b, m_pk, sid, crypto.INFO_ENC)
    # another purpose or round: no hit
    assert memo.agree(b, b_pk, a_pk, sid, crypto.INFO_MASK) == crypto.agree(b, a_pk, sid, crypto.INFO_MASK)
    assert memo.agree(b, b_pk, a_pk, bytes(32), crypto.INFO_ENC) == crypto.agree(b, a_pk, bytes(32), crypto.INFO_ENC)
    n = len(memo)
    assert memo.agree(b, b_pk, a_pk, sid, crypto.INFO_ENC) == k_ab and len(memo) == n - 1  # taken, not kept
    for own in (a_pk, b_pk):
        for info in (crypto.INFO_ENC, crypto.INFO_MASK):
            for s in (sid, bytes(32)):
                memo.forget(own, s, info)
    assert len(memo) == 0


@pytest.mark.parametrize("variant", ["secagg", "secagg+"])
def test_a_round_leaves_no_pairwise_key_behind(variant: str) -> None:
    clients = tuple(range(1, 12))
    params = Params.make(clients, {"variant": variant, "degree": 4})
    inputs = {u: np.arange(6) * u - 20 for u in clients}
    trace = run_round(params, inputs)
    assert np.array_equal(trace.output, sum(inputs.values()))
    assert len(params.pairwise) == 0


@pytest.mark.parametrize("isolated", [False, True])
def test_key_agreements_per_round(isolated: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """In one process the two clients of a pair derive each key once; ``isolated=True`` (what
    ``mpc bench secagg`` uses to report one client's cost) makes every client derive its own."""
    clients = tuple(range(1, 8))
    params = Params.make(clients, {"variant": "secagg+", "degree": 4}, isolated=isolated)
    calls: list[int] = []
    real = crypto.agree

    def counted(*args: Any) -> bytes:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(crypto, "agree", counted)
    inputs = {u: np.arange(5) + u for u in clients}
    trace = run_round(params, inputs)
    assert np.array_equal(trace.output, sum(inputs.values()))
    directed = sum(len(trace.clients[u].keys) - 1 for u in clients)
    assert len(calls) == (2 * directed if isolated else directed)  # encryption key + mask seed per pair
    assert len(params.pairwise) == 0
