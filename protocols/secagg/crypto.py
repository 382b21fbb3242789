"""Pairwise keys of secure aggregation: key agreement and share encryption (functions of bytes
and arrays, no Context, no I/O, tested alone).

* Key agreement: X25519; the shared secret goes through HKDF-SHA256 with the round's session id
  as salt, so a key is bound to one round and one purpose (``info``).
* Share encryption: AES-256-GCM; the nonce encodes (sender, receiver) — the pairwise key is the
  same in both directions, so the direction must make the nonce unique — and the session id is
  the associated data, so a ciphertext replayed from another round fails authentication.

The rest of SecAgg's cryptography has its own modules, re-exported here so that
``crypto.<name>`` keeps working: :mod:`.signatures` (long-term identities, the signed statements,
the session id), :mod:`.keyshares` (Shamir sharing of 32-byte secrets over GF(2^61 − 1)) and
:mod:`.graph` (the SecAgg+ Harary graph).
"""

from __future__ import annotations

import functools
import hmac
import struct

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from mpc.errors import ProtocolError
from mpc.field import GF61, U64
from mpc.rng import Csprng

from .graph import INFO_GRAPH, Ring, harary_neighbours, harary_ring
from .keyshares import (
    KEY_BYTES,
    LIMB_BYTES,
    LIMBS,
    limbs_to_secret,
    reconstruct_each,
    reconstruct_many,
    reconstruct_secret,
    secret_to_limbs,
    share_secrets,
)
from .signatures import (
    MAX_KEY_BYTES,
    MAX_SIG_BYTES,
    SigningKey,
    VerifyingKey,
    advertisement_message,
    check_signing_key,
    consistency_message,
    key_bytes,
    session_id,
    sign,
    signing_key,
    verify,
    verifying_bytes,
    verifying_key,
)

SHARE_PLAINTEXT = 8 + 2 * LIMBS * 8  # sender, receiver, then the two shares' limbs
INFO_ENC = b"secagg/share-encryption"
INFO_MASK = b"secagg/pairwise-mask"


# -- keys -------------------------------------------------------------------------------
def x25519_keypair(rng: Csprng) -> tuple[bytes, bytes]:
    """(private, public) raw 32-byte X25519 keys from the protocol's CSPRNG."""
    _, sk, pk = x25519_generate(rng)
    return sk, pk


def x25519_generate(rng: Csprng) -> tuple[X25519PrivateKey, bytes, bytes]:
    """A fresh key as an object (to agree with), its raw private bytes and its raw public key;
    the object is built once (building one derives the public key: a scalar multiplication)."""
    raw = rng.random_bytes(KEY_BYTES)
    sk = X25519PrivateKey.from_private_bytes(raw)
    return sk, private_bytes(sk), sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def private_bytes(sk: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return sk.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def x25519_private(sk: bytes) -> X25519PrivateKey:
    """The key object, to agree with many peers without re-parsing the private key each time."""
    return X25519PrivateKey.from_private_bytes(sk)


def x25519_public(sk: X25519PrivateKey | bytes) -> bytes:
    key = X25519PrivateKey.from_private_bytes(sk) if isinstance(sk, bytes) else sk
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def agree(sk: X25519PrivateKey | bytes, peer_pk: bytes, sid: bytes, info: bytes) -> bytes:
    """HKDF(X25519(sk, peer_pk)) bound to the round (salt = sid) and the purpose (info)."""
    if isinstance(sk, bytes):
        sk = X25519PrivateKey.from_private_bytes(sk)
    try:
        shared = sk.exchange(_x25519_peer(peer_pk))
    except ValueError as exc:  # low-order point: the all-zero shared secret is refused
        raise ProtocolError(f"bad public key: {exc}") from None
    return hkdf_sha256(shared, sid, info)


@functools.lru_cache(maxsize=1 << 15)
def _x25519_peer(peer_pk: bytes) -> X25519PublicKey:
    """A peer's key object, parsed once per process: SecAgg+ neighbours of one client (and, in a
    simulation, every client that lists it) agree with the same key. A function of the bytes only."""
    return X25519PublicKey.from_public_bytes(peer_pk)


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    """RFC 5869 HKDF-SHA256 with one 32-byte output block, on the C HMAC (the ``cryptography``
    HKDF object costs more to build than to run; the outputs are identical, tested)."""
    prk = hmac.digest(salt, ikm, "sha256")  # an empty salt is HMAC's all-zero key, as RFC 5869 says
    return hmac.digest(prk, info + b"\x01", "sha256")


class PairwiseKeys:
    """X25519 is symmetric — X25519(a, B) = X25519(b, A) — so of the two clients of a pair that
    live in one process (a simulation), the second can take the key the first derived instead of
    repeating the scalar multiplication: half the key agreements.

    An entry is filed under the deriving client's *own* public key (computed from its secret,
    never taken from a message) and the peer key it was given; a client looks up the entry its
    peer filed under (peer key it was given, its own key). A hit therefore means its peer holds the
    secret of the key this client was given and derived with this client's genuine key: the bytes
    are exactly what this client would compute (a server that shows keys of its own never hits).
    An entry is removed when taken, and a client drops what it filed when it finishes
    (:meth:`forget`), so nothing outlives the round; a real client, alone in its process, never
    hits and keeps only what it holds anyway until then.
    """

    def __init__(self, share: bool = True) -> None:
        self.share = share  # False: every client derives every key itself (benchmarks of one client)
        self._filed: dict[tuple[bytes, bytes, bytes], dict[bytes, bytes]] = {}  # (own pk, sid, info) → peer pk → key

    def agree(self, sk: X25519PrivateKey, own_pk: bytes, peer_pk: bytes, sid: bytes, info: bytes) -> bytes:
        """:func:`agree` (sk, peer_pk, sid, info), where ``own_pk`` is the public key of ``sk``."""
        if not self.share:
            return agree(sk, peer_pk, sid, info)
        theirs = self._filed.get((peer_pk, sid, info))
        key = theirs.pop(own_pk, None) if theirs is not None else None
        if key is None:
            key = agree(sk, peer_pk, sid, info)
            self._filed.setdefault((own_pk, sid, info), {})[peer_pk] = key
        return key

    def forget(self, own_pk: bytes, sid: bytes, info: bytes) -> None:
        self._filed.pop((own_pk, sid, info), None)

    def __len__(self) -> int:
        return sum(len(d) for d in self._filed.values())


# -- share encryption ---------------------------------------------------------------------
_LIMBS2 = struct.Struct(f"<{2 * LIMBS}Q")


def _nonce(sender: int, receiver: int) -> bytes:
    return struct.pack(">II", sender, receiver) + bytes(4)


def encrypt_shares(key: bytes, sid: bytes, sender: int, receiver: int, sk_share: U64, b_share: U64) -> bytes:
    body = (struct.pack(">II", sender, receiver) + sk_share.astype("<u8", copy=False).tobytes()
            + b_share.astype("<u8", copy=False).tobytes())
    return AESGCM(key).encrypt(_nonce(sender, receiver), body, sid)


def decrypt_shares(key: bytes, sid: bytes, sender: int, receiver: int, ct: bytes) -> tuple[U64, U64]:
    """The (s_sk share, b share) that ``sender`` encrypted for ``receiver``; ProtocolError if forged,
    replayed from another round (sid), or addressed to someone else."""
    try:
        body = AESGCM(key).decrypt(_nonce(sender, receiver), ct, sid)
    except InvalidTag:
        raise ProtocolError("share ciphertext fails authentication (forged or from another round)",
                            peer=sender) from None
    if len(body) != SHARE_PLAINTEXT or struct.unpack_from(">II", body) != (sender, receiver):
        raise ProtocolError("share ciphertext names the wrong parties", peer=sender)
    limbs = _LIMBS2.unpack_from(body, 8)  # ten Python ints: cheaper than numpy for ten values
    if max(limbs) >= GF61.modulus:
        raise ProtocolError("share outside the field", peer=sender)
    both = np.array(limbs, dtype=np.uint64)
    return both[:LIMBS], both[LIMBS:]



__all__ = [
    "INFO_ENC",
    "INFO_GRAPH",
    "INFO_MASK",
    "KEY_BYTES",
    "LIMBS",
    "LIMB_BYTES",
    "MAX_KEY_BYTES",
    "MAX_SIG_BYTES",
    "SHARE_PLAINTEXT",
    "PairwiseKeys",
    "Ring",
    "SigningKey",
    "VerifyingKey",
    "advertisement_message",
    "agree",
    "check_signing_key",
    "consistency_message",
    "decrypt_shares",
    "encrypt_shares",
    "harary_neighbours",
    "harary_ring",
    "hkdf_sha256",
    "key_bytes",
    "limbs_to_secret",
    "private_bytes",
    "reconstruct_each",
    "reconstruct_many",
    "reconstruct_secret",
    "secret_to_limbs",
    "session_id",
    "share_secrets",
    "sign",
    "signing_key",
    "verify",
    "verifying_bytes",
    "verifying_key",
    "x25519_generate",
    "x25519_keypair",
    "x25519_private",
    "x25519_public",
]
