"""Long-term identities of secure aggregation and what they sign.

A client signs its round's two fresh X25519 keys (:func:`advertisement_message`) and, in the
consistency check, the survivor set bound to the round's session id (:func:`consistency_message`,
:func:`session_id`) with an Ed25519 or ECDSA P-256 key. Verification keys travel as DER
SubjectPublicKeyInfo bytes; parsing and verdicts are memoised on exact bytes (a verdict is a
function of the key, signature and message bytes alone).
"""

from __future__ import annotations

import functools
import hashlib
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key

from mpc.errors import ConfigError
from mpc.rng import Csprng

SEED_BYTES = 32  # an Ed25519 private key is a 32-byte seed
SigningKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
VerifyingKey = Ed25519PublicKey | ec.EllipticCurvePublicKey
MAX_KEY_BYTES = 128  # DER SubjectPublicKeyInfo: 44 bytes (Ed25519), 91 (P-256)
MAX_SIG_BYTES = 80  # 64 (Ed25519), at most 72 (DER ECDSA P-256)


def signing_key(rng: Csprng) -> Ed25519PrivateKey:
    """An ephemeral Ed25519 key (used when no long-term identities are configured)."""
    return Ed25519PrivateKey.from_private_bytes(rng.random_bytes(SEED_BYTES))


def check_signing_key(key: object) -> SigningKey:
    if isinstance(key, Ed25519PrivateKey) or (
        isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    ):
        return key
    raise ConfigError("a SecAgg signing key is an Ed25519 or ECDSA P-256 private key")


def verifying_key(key: object) -> VerifyingKey:
    """A verification key from a key object, DER SubjectPublicKeyInfo bytes or raw Ed25519 bytes."""
    if isinstance(key, bytes):
        return _parsed_key(key)
    return _checked_key(key)


@functools.lru_cache(maxsize=1 << 15)
def _parsed_key(key: bytes) -> VerifyingKey:
    """Parsed once per process per encoding (a function of the bytes: every simulated client that
    checks the same neighbour shares the result). Errors are not cached."""
    if len(key) == 32:
        return Ed25519PublicKey.from_public_bytes(key)
    try:
        loaded: object = load_der_public_key(key)
    except ValueError:
        raise ConfigError("not a DER-encoded public key") from None
    return _checked_key(loaded)


def _checked_key(key: object) -> VerifyingKey:
    if isinstance(key, Ed25519PublicKey) or (
        isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    ):
        return key
    raise ConfigError("a SecAgg identity is an Ed25519 or ECDSA P-256 public key")


def key_bytes(key: SigningKey | VerifyingKey) -> bytes:
    """The DER SubjectPublicKeyInfo of a key (of its public half for a private key)."""
    pub = key.public_key() if isinstance(key, (Ed25519PrivateKey, ec.EllipticCurvePrivateKey)) else key
    return pub.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def verifying_bytes(sk: SigningKey) -> bytes:
    return key_bytes(sk)


def sign(key: SigningKey, message: bytes) -> bytes:
    if isinstance(key, Ed25519PrivateKey):
        return key.sign(message)
    return key.sign(message, ec.ECDSA(hashes.SHA256()))


def verify(pk: VerifyingKey | bytes, signature: bytes, message: bytes, *, memo: bool = True) -> bool:
    """Whether ``signature`` is ``pk``'s over ``message``. Give ``pk`` as its DER bytes where
    possible: the verdict is then memoised on the exact (key, signature, message) bytes."""
    if not isinstance(pk, bytes):
        return _verify(pk, signature, message)
    return (_verify_bytes if memo else _verify_bytes.__wrapped__)(pk, signature, message)


@functools.lru_cache(maxsize=1 << 15)
def _verify_bytes(pk: bytes, signature: bytes, message: bytes) -> bool:
    """A verdict is a function of these three byte strings alone (Ed25519 and ECDSA verification
    are deterministic), so a memo keyed on them answers exactly as a fresh check would: every
    client still rejects what it would reject alone. It pays when one process checks the same
    signature many times — in a simulation, a SecAgg+ advertisement is checked by each of the
    signer's k neighbours and a consistency signature by up to t holders and the server; a real
    client (one per process) checks each signature once and gains nothing. Sized for a stage of
    ~10^4 clients in one process (a few MB); beyond that hits are lost, never correctness."""
    try:
        key = verifying_key(pk)
    except ConfigError:
        return False
    return _verify(key, signature, message)


def _verify(key: VerifyingKey, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(key, Ed25519PublicKey):
            key.verify(signature, message)
        else:
            key.verify(signature, message, _ECDSA_SHA256)
    except (InvalidSignature, ValueError):
        return False
    return True


_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def advertisement_message(round_id: bytes, party: int, dim: int, c_pk: bytes, s_pk: bytes) -> bytes:
    """What a client signs with its long-term key: its two fresh X25519 keys for this round."""
    return b"secagg/advertise/v2" + round_id + struct.pack(">IQ", party, dim) + c_pk + s_pk


# -- the round's identity -----------------------------------------------------------------
def session_id(round_id: bytes, root: bytes, dim: int) -> bytes:
    """SHA-256 over the round id, the dimension and the Merkle root of the round's advertisements
    (:mod:`protocols.secagg.commit`). Fresh keys every round make it unique per round; every later
    message is bound to it.
    """
    return hashlib.sha256(b"secagg/session/v3" + round_id + struct.pack(">Q", dim) + root).digest()


def consistency_message(sid: bytes, survivors: bytes) -> bytes:
    """What each client signs in the consistency check: the survivor set U3 (a bitmap over the
    registered clients) of this round."""
    return b"secagg/consistency/v2" + sid + hashlib.sha256(survivors).digest()



__all__ = [
    "MAX_KEY_BYTES",
    "MAX_SIG_BYTES",
    "SigningKey",
    "VerifyingKey",
    "advertisement_message",
    "check_signing_key",
    "consistency_message",
    "key_bytes",
    "session_id",
    "sign",
    "signing_key",
    "verify",
    "verifying_bytes",
    "verifying_key",
]
