"""Party identities for mutual TLS: a CA and one certificate per party (ECDSA P-256).

Each party's certificate names it (``party-<id>`` as CN and DNS SAN). A dialing party checks that
the listener presents ``party-<peer>``; the listener checks that the dialer holds a certificate
from the same CA (nng exposes no hook to check the dialer's name, so the sender id inside each
message is additionally bound to the connection it arrived on — see ``Node._pump``).
Private keys are written with mode 0600 and never logged.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .errors import ConfigError
from .transport.nng import TlsCreds


def party_name(pid: int) -> str:
    return f"party-{pid}"


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
          *, ca: bool, days: int) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def generate(out: str | Path, parties: list[int], *, days: int = 365) -> dict[int, TlsCreds]:
    """Write ``ca.pem`` and ``party-<id>.pem`` (certificate + key) for each party into ``out``."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _cert("mpc-ca", ca_key, "mpc-ca", ca_key, ca=True, days=days)
    (d / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    creds = {}
    for pid in parties:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(party_name(pid), key, "mpc-ca", ca_key, ca=False, days=days)
        path = d / f"{party_name(pid)}.pem"
        _write_secret(path, cert.public_bytes(serialization.Encoding.PEM) + _pem_key(key))
        creds[pid] = TlsCreds(cert_key_file=str(path), ca_file=str(d / "ca.pem"))
    return creds


def load_creds(directory: str | Path, pid: int) -> TlsCreds:
    d = Path(directory)
    path, ca = d / f"{party_name(pid)}.pem", d / "ca.pem"
    if not path.exists() or not ca.exists():
        raise ConfigError(f"no TLS identity for party {pid} in {d} (run `mpc keygen`)")
    return TlsCreds(cert_key_file=str(path), ca_file=str(ca))


__all__ = ["generate", "load_creds", "party_name"]
