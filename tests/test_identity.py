"""Identities: a CA that can issue more parties later, TLS and signing keys, chain checks."""

from __future__ import annotations

import shutil

import pytest
from cryptography import x509

from mpc.errors import ConfigError
from mpc.identity import generate, load_ca, load_identity, signing_keys, verify_certificate
from protocols.secagg.crypto import verify

pytestmark = pytest.mark.timeout(30)


def test_the_ca_issues_more_parties_later_and_leaves_the_others_alone(tmp_path):
    generate(tmp_path, [1, 2, 3])
    ca_before, p1_before = (tmp_path / "ca.pem").read_bytes(), (tmp_path / "party-1.pem").read_bytes()
    creds = generate(tmp_path, [4])
    assert (tmp_path / "ca.pem").read_bytes() == ca_before
    assert (tmp_path / "party-1.pem").read_bytes() == p1_before
    for name in ("ca-key.pem", "party-4.pem", "party-4.sig.pem"):
        assert oct((tmp_path / name).stat().st_mode & 0o777) == "0o600"
    tls4 = x509.load_pem_x509_certificate((tmp_path / "party-4.pem").read_bytes())
    verify_certificate(tls4, load_ca(tmp_path), 4)  # same CA as parties 1..3
    assert creds[4].ca_file == str(tmp_path / "ca.pem")


def test_signatures_verify_under_the_certified_keys_with_secaggs_verifier(tmp_path):
    generate(tmp_path, [1, 2, 3])
    me = load_identity(tmp_path, 2)
    keys = signing_keys(tmp_path, [1, 2, 3])
    assert keys[2] == me.verifying_key and len(set(keys.values())) == 3
    sig = me.sign(b"round 3 survivors: 1,2,3")
    assert verify(keys[2], sig, b"round 3 survivors: 1,2,3")
    assert not verify(keys[2], sig, b"round 3 survivors: 1,2")
    assert not verify(keys[1], sig, b"round 3 survivors: 1,2,3")
    assert "signing_key" not in repr(me)


def test_a_swapped_or_foreign_signing_certificate_is_refused(tmp_path):
    generate(tmp_path / "a", [1, 2, 3])
    generate(tmp_path / "b", [2])
    # the attacker puts party 3's certified key where party 2's belongs
    shutil.copy(tmp_path / "a" / "party-3.sig.crt", tmp_path / "a" / "party-2.sig.crt")
    with pytest.raises(ConfigError, match="names"):
        signing_keys(tmp_path / "a", [2])
    # a key certified by another CA
    shutil.copy(tmp_path / "b" / "party-2.sig.crt", tmp_path / "a" / "party-2.sig.crt")
    with pytest.raises(ConfigError, match="not issued by this CA"):
        signing_keys(tmp_path / "a", [2])
    with pytest.raises(ConfigError, match="does not match|not issued"):
        load_identity(tmp_path / "a", 2)


def test_a_ca_without_its_key_cannot_issue(tmp_path):
    generate(tmp_path, [1])
    (tmp_path / "ca-key.pem").unlink()
    with pytest.raises(ConfigError, match="ca-key.pem"):
        generate(tmp_path, [2])
