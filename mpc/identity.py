"""Party identities: one CA, and per party a TLS identity and a signing identity.

``generate(out, parties)`` writes, into ``out``:

* ``ca.pem`` (public) and ``ca-key.pem`` (mode 0600: whoever holds it can mint parties; keep it
  offline once the parties are issued). An existing CA is reused, so parties can be added later:
  ``generate(out, [4])`` issues party 4 under the same CA and leaves parties 1..3 untouched;
* ``party-<id>.pem`` (0600): the TLS certificate (ECDSA P-256, CN and DNS SAN ``party-<id>``)
  followed by its private key, the file nng reads. Both ends of a pair check the other's name
  (see :mod:`mpc.transport.nng`);
* ``party-<id>.sig.pem`` (0600): an Ed25519 signing key, e.g. for secure aggregation's signed key
  advertisements, and ``party-<id>.sig.crt`` (public): its certificate, CN ``party-<id>``,
  issued by the same CA. A deployment hands every party its own ``.pem`` files, ``ca.pem`` and all
  ``.sig.crt`` files.

:func:`load_identity` gives a party its own keys; :func:`signing_keys` gives the peers' public
signing keys, each from a certificate verified against the CA and checked to name that party.
Private keys are never logged.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

from .errors import ConfigError
from .transport.tls import TlsCreds, party_name

CA_NAME = "mpc-ca"
CA_CERT, CA_KEY = "ca.pem", "ca-key.pem"
_Signer = ec.EllipticCurvePrivateKey


def _files(d: Path, pid: int) -> tuple[Path, Path, Path]:
    name = party_name(pid)
    return d / f"{name}.pem", d / f"{name}.sig.pem", d / f"{name}.sig.crt"


def _pem_key(key: ec.EllipticCurvePrivateKey | Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _cert(subject: str, public_key: ec.EllipticCurvePublicKey | Ed25519PublicKey, issuer_key: _Signer,
          *, ca: bool, days: int, signing: bool = False) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    if signing:  # a signing identity is not a TLS identity: it may only sign
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
        ), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _load_or_make_ca(d: Path, days: int) -> _Signer:
    cert_path, key_path = d / CA_CERT, d / CA_KEY
    if cert_path.exists():
        if not key_path.exists():
            raise ConfigError(f"{d}: {CA_CERT} exists but {CA_KEY} does not: cannot issue more parties under it")
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{key_path}: not an ECDSA CA key")
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    _write_secret(key_path, _pem_key(key))
    cert_path.write_bytes(_pem_cert(_cert(CA_NAME, key.public_key(), key, ca=True, days=days)))
    return key


def generate(out: str | Path, parties: Iterable[int], *, days: int = 365) -> dict[int, TlsCreds]:
    """Issue identities for ``parties`` (those that have none yet) under the CA in ``out``
    (created if absent); returns every listed party's TLS credentials."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    ca_key = _load_or_make_ca(d, days)
    creds = {}
    for pid in parties:
        tls_path, sig_path, sig_crt = _files(d, pid)
        if not tls_path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            cert = _cert(party_name(pid), key.public_key(), ca_key, ca=False, days=days)
            _write_secret(tls_path, _pem_cert(cert) + _pem_key(key))
        if not sig_path.exists() or not sig_crt.exists():
            skey = Ed25519PrivateKey.generate()
            _write_secret(sig_path, _pem_key(skey))
            sig_crt.write_bytes(_pem_cert(_cert(party_name(pid), skey.public_key(), ca_key, ca=False, days=days,
                                                signing=True)))
        creds[pid] = TlsCreds(cert_key_file=str(tls_path), ca_file=str(d / CA_CERT))
    return creds


def load_creds(directory: str | Path, pid: int) -> TlsCreds:
    d = Path(directory)
    path, ca = d / f"{party_name(pid)}.pem", d / CA_CERT
    if not path.exists() or not ca.exists():
        raise ConfigError(f"no TLS identity for party {pid} in {d} (run `mpc keygen`)")
    return TlsCreds(cert_key_file=str(path), ca_file=str(ca))


def load_ca(directory: str | Path) -> x509.Certificate:
    path = Path(directory) / CA_CERT
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(f"no CA certificate {path} (run `mpc keygen`)") from None
    except ValueError:
        raise ConfigError(f"{path}: not a PEM certificate") from None


def verify_certificate(cert: x509.Certificate, ca: x509.Certificate, pid: int) -> None:
    """Check that ``cert`` was issued by ``ca``, is valid now and names party ``pid``; raises
    :class:`ConfigError` saying which check failed."""
    who = party_name(pid)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise ConfigError(f"the certificate for {who} is not issued by this CA") from None
    now = dt.datetime.now(dt.timezone.utc)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise ConfigError(f"the certificate for {who} is not valid now (expired or not yet valid)")
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [who]:
        raise ConfigError(f"the certificate for {who} names {names}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """A party's own keys. ``repr`` never shows the private key."""

    party_id: int
    tls: TlsCreds
    signing_key: Ed25519PrivateKey = field(repr=False)

    def sign(self, message: bytes) -> bytes:
        """An Ed25519 signature (64 bytes) over ``message``."""
        return self.signing_key.sign(message)

    @property
    def verifying_key(self) -> bytes:
        """The raw 32-byte public signing key (what :func:`signing_keys` gives the peers)."""
        return self.signing_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_identity(directory: str | Path, pid: int) -> Identity:
    """This party's TLS credentials and signing key, its certificate checked against the CA."""
    d = Path(directory)
    tls = load_creds(d, pid)
    _, sig_path, sig_crt = _files(d, pid)
    try:
        key = serialization.load_pem_private_key(sig_path.read_bytes(), password=None)
    except FileNotFoundError:
        raise ConfigError(f"no signing key for party {pid} in {d} (run `mpc keygen`)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{sig_path}: not an Ed25519 key")
    ident = Identity(party_id=pid, tls=tls, signing_key=key)
    if signing_keys(d, [pid])[pid] != ident.verifying_key:
        raise ConfigError(f"{sig_path} does not match the certified key in {sig_crt}")
    return ident


def signing_keys(directory: str | Path, pids: Iterable[int]) -> dict[int, bytes]:
    """``{pid: raw Ed25519 public key}`` from ``party-<pid>.sig.crt``, each verified against the CA
    in ``directory`` and checked to name that party."""
    d = Path(directory)
    ca = load_ca(d)
    out = {}
    for pid in pids:
        path = _files(d, pid)[2]
        try:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
        except FileNotFoundError:
            raise ConfigError(f"no signing certificate for party {pid} ({path})") from None
        except ValueError:
            raise ConfigError(f"{path}: not a PEM certificate") from None
        verify_certificate(cert, ca, pid)
        pk = cert.public_key()
        if not isinstance(pk, Ed25519PublicKey):
            raise ConfigError(f"{path}: not an Ed25519 signing certificate")
        out[pid] = pk.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return out


__all__ = ["Identity", "generate", "load_ca", "load_creds", "load_identity", "party_name", "signing_keys",
           "verify_certificate"]
