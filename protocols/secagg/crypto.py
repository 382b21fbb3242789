"""Pure cryptography of secure aggregation: key agreement, share encryption, secret sharing of keys.

Everything here is a function of bytes and arrays (no Context, no I/O), tested alone.

* Key agreement: X25519; the shared secret goes through HKDF-SHA256 with the round's session id
  as salt, so a key is bound to one round and one purpose (``info``).
* Share encryption: AES-256-GCM; the nonce encodes (sender, receiver) — the pairwise key is the
  same in both directions, so the direction must make the nonce unique — and the session id is
  the associated data, so a ciphertext replayed from another round fails authentication.
* Secret sharing of 32-byte secrets (the self-mask seed b_u and the mask key s_u^SK) over
  GF(2^61 − 1): a secret is cut into 5 limbs of at most 56 bits (each < p), and every limb is
  Shamir-shared with the same evaluation points by :func:`mpc.sharing.shamir_share`; reconstruction
  is :func:`mpc.sharing.shamir_reconstruct`.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import struct
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_public_key,
)

from mpc.errors import ConfigError, ProtocolError
from mpc.field import GF61, U64
from mpc.rng import Csprng
from mpc.sharing import SharingError, shamir_reconstruct, shamir_share

KEY_BYTES = 32
LIMB_BYTES = 7  # 56-bit limbs stay below p = 2^61 − 1
LIMBS = -(-KEY_BYTES // LIMB_BYTES)  # 5 field elements per 32-byte secret
SHARE_PLAINTEXT = 8 + 2 * LIMBS * 8  # sender, receiver, then the two shares' limbs
INFO_ENC = b"secagg/share-encryption"
INFO_MASK = b"secagg/pairwise-mask"
INFO_GRAPH = b"secagg+/graph"


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


SigningKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey
VerifyingKey = Ed25519PublicKey | ec.EllipticCurvePublicKey
MAX_KEY_BYTES = 128  # DER SubjectPublicKeyInfo: 44 bytes (Ed25519), 91 (P-256)
MAX_SIG_BYTES = 80  # 64 (Ed25519), at most 72 (DER ECDSA P-256)


def signing_key(rng: Csprng) -> Ed25519PrivateKey:
    """An ephemeral Ed25519 key (used when no long-term identities are configured)."""
    return Ed25519PrivateKey.from_private_bytes(rng.random_bytes(KEY_BYTES))


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


# -- secret sharing of 32-byte secrets ----------------------------------------------------
def secret_to_limbs(secret: bytes) -> U64:
    if len(secret) != KEY_BYTES:
        raise ValueError("secrets are 32 bytes")
    padded = secret + bytes(LIMBS * LIMB_BYTES - KEY_BYTES)
    return np.array([int.from_bytes(padded[i * LIMB_BYTES:(i + 1) * LIMB_BYTES], "little") for i in range(LIMBS)],
                    dtype=np.uint64)


def limbs_to_secret(limbs: U64) -> bytes:
    raw = b"".join(int(v).to_bytes(LIMB_BYTES, "little") if int(v) < 1 << (8 * LIMB_BYTES) else b"\xff" * 8
                   for v in limbs)
    if len(raw) != LIMBS * LIMB_BYTES or any(raw[KEY_BYTES:]):
        raise SharingError("reconstructed limbs do not encode a 32-byte secret")
    return raw[:KEY_BYTES]


def share_secrets(secrets: Sequence[bytes], points: Sequence[int], needed: int, rng: Csprng) -> U64:
    """Shamir shares of 32-byte secrets' limbs at ``points`` (:func:`mpc.sharing.shamir_share`,
    degree ``needed − 1``, all secrets in one call); shape (len(points), len(secrets), LIMBS).
    Degree 0 is refused: its "shares" are the secret itself."""
    if not 2 <= needed <= len(points):
        raise SharingError(f"need 2 <= needed={needed} <= {len(points)} points (degree 0 is no sharing)")
    return shamir_share(np.stack([secret_to_limbs(s) for s in secrets]), points, needed - 1, rng)


def reconstruct_secret(points: Sequence[int], shares: U64) -> bytes:
    """The 32-byte secret from ``needed`` shares (stacked on axis 0) at ``points``."""
    return limbs_to_secret(shamir_reconstruct(points, shares))


def reconstruct_many(points: Sequence[int], shares: U64) -> U64:
    """Limbs of many secrets shared at the same points: ``shares`` is (points, secrets, LIMBS)."""
    return shamir_reconstruct(points, shares)


def reconstruct_each(points: NDArray[np.int64], shares: U64) -> U64:
    """Limbs of many secrets, each shared at its own points (SecAgg+: every owner has its own
    holders): ``points`` (owners, t), ``shares`` (owners, t, LIMBS) → (owners, LIMBS).

    Lagrange at 0 for all owners at once: λ_i = Π_j x_j / (x_i · Π_{j≠i} (x_j − x_i)), the
    products as t vector steps, the t·owners inverses in Python ints (extended Euclid), then one
    vector multiply-and-sum. Points must be distinct party ids in 1..2^32 − 1 per owner."""
    m, t = points.shape
    if shares.shape != (m, t, LIMBS):
        raise SharingError(f"shares of shape {shares.shape} for points of shape {points.shape}")
    x = points.astype(np.int64)
    if m == 0 or t == 0:
        return np.zeros((m, LIMBS), dtype=np.uint64)
    ordered = np.sort(x, axis=1)
    if ordered[:, 0].min() <= 0 or ordered[:, -1].max() >= 1 << 32 or (ordered[:, 1:] == ordered[:, :-1]).any():
        raise SharingError("evaluation points are distinct party ids in 1..2^32 − 1")
    p = GF61.modulus
    xu = x.astype(np.uint64)
    den = xu.copy()  # x_i · Π_{j≠i} (x_j − x_i), all exact below 2^32 before reduction
    num = xu[:, 0].copy()  # Π_j x_j
    for j in range(t):
        step = ((x[:, j:j + 1] - x) % p).astype(np.uint64)
        step[:, j] = 1
        GF61.mul(den, step, out=den)
        if j:
            GF61.mul(num, xu[:, j].copy(), out=num)
    inverses = np.array([pow(d, -1, p) for d in den.ravel().tolist()], dtype=np.uint64).reshape(m, t)
    lam = GF61.mul(inverses, np.repeat(num[:, None], t, axis=1))
    terms = GF61.mul(np.ascontiguousarray(shares, dtype=np.uint64), np.repeat(lam[:, :, None], LIMBS, axis=2))
    return GF61.sum(terms, axis=1)


# -- SecAgg+ graph ------------------------------------------------------------------------
Ring = tuple[NDArray[np.int64], dict[int, int]]
"""The seeded circular order of the clients and each client's place in it."""


def harary_ring(ids: Sequence[int], seed: bytes) -> Ring:
    """A uniform random permutation of the clients, sorting by 64-bit keystream values (ties:
    probability ~n²/2^65); computed once per round (:func:`protocols.secagg.params.neighbourhoods`)."""
    order = np.sort(np.asarray(ids, dtype=np.int64))[
        np.argsort(Csprng(hashlib.sha256(INFO_GRAPH + seed).digest()).uint64(len(ids)), kind="stable")]
    return order, {int(u): i for i, u in enumerate(order.tolist())}


def harary_neighbours(
    clients: Sequence[int], degree: int, seed: bytes, only: int | None = None, ring: Ring | None = None
) -> dict[int, frozenset[int]]:
    """Bell et al.'s graph: the Harary graph H(k, n) on a seeded random permutation of the clients.

    Each client is joined to the k/2 nearest on either side of a random circular order; ``degree``
    is rounded up to even and capped at n − 1 (then every pair is joined, i.e. plain SecAgg).
    The seed is public (fixed by the job before any client advertises), so every party computes
    the same graph and dropping clients does not change it.
    With ``only`` the result holds just that client's neighbourhood (what a client needs);
    ``ring`` is :func:`harary_ring` of the same clients and seed, if the caller kept it.
    """
    n = len(clients)
    if degree >= n - 1:
        everyone = frozenset(clients)
        return {u: everyone - {u} for u in (clients if only is None else (only,))}
    half = (degree + 1) // 2
    order, position = ring if ring is not None else harary_ring(clients, seed)
    offsets = np.concatenate([np.arange(1, half + 1), -np.arange(1, half + 1)])
    if only is not None:
        return {only: frozenset(order[(position[only] + offsets) % n].tolist())}
    table = order[(np.arange(n)[:, None] + offsets[None, :]) % n]  # row i: neighbours of order[i]
    return {int(u): frozenset(row.tolist()) for u, row in zip(order, table, strict=True)}


__all__ = [
    "LIMBS",
    "PairwiseKeys",
    "SigningKey",
    "VerifyingKey",
    "advertisement_message",
    "check_signing_key",
    "key_bytes",
    "sign",
    "verifying_key",
    "agree",
    "consistency_message",
    "decrypt_shares",
    "encrypt_shares",
    "Ring",
    "harary_neighbours",
    "harary_ring",
    "hkdf_sha256",
    "limbs_to_secret",
    "reconstruct_each",
    "reconstruct_many",
    "reconstruct_secret",
    "secret_to_limbs",
    "session_id",
    "share_secrets",
    "signing_key",
    "verify",
    "verifying_bytes",
    "x25519_generate",
    "x25519_keypair",
    "x25519_private",
    "x25519_public",
]
