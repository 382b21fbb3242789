"""TLS material and the party names certificates carry (shared by the transport and identities)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsCreds:
    """PEM material for mutual TLS (``tls+tcp://`` addresses)."""

    cert_key_file: str  # this party's certificate followed by its private key
    ca_file: str  # the CA that signed every party's certificate


def party_name(pid: int) -> str:
    """The name a party's certificate carries (CN and DNS SAN)."""
    return f"party-{pid}"


__all__ = ["TlsCreds", "party_name"]
