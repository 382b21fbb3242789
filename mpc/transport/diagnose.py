"""Why a connection did not come up: one line per missing peer, said at the connect deadline.

A listener can only report what reached it (refused identities, second connections); a dialer
probes the address once with a fresh socket and the same TLS settings, so nng tells it whether the
address refused, the TLS handshake failed on its side, or the listener took and dropped the link.
When a handshake failed (or a plain dial was dropped), one more look with Python's ``ssl`` says
why: the listener does not speak TLS, or does, or presents a certificate from another CA or for
another party, or refused ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import TYPE_CHECKING

import pynng

from .tls import TlsCreds, party_name

if TYPE_CHECKING:  # cryptography's x509 is imported when a failed TLS connection is explained
    from cryptography import x509

PROBE_S = 3.0
MAX_NOTES = 6

_DIAL_ERRORS: tuple[tuple[type[pynng.NNGException], str], ...] = (
    (pynng.ConnectionRefused, "connection refused (nothing listens there: is party {peer} running, "
                              "with this address?)"),
    (pynng.AuthenticationError, "TLS handshake failed on our side: the listener's certificate is not "
                                "from our CA or does not name {name}"),
    (pynng.CryptoError, "TLS handshake failed (a TLS/plain TCP mismatch, or another CA)"),
    (pynng.Timeout, "no answer (a firewall, or a wrong host?)"),
    (pynng.DestinationUnreachable, "destination unreachable"),
    (pynng.AddressInvalid, "invalid address"),
    (pynng.ProtocolError, "the listener speaks another protocol (a TLS/plain TCP mismatch?)"),
)


class LinkState:
    """What the transport knows about one peer's connection (written from nng's threads: plain
    attribute writes, atomic under the GIL)."""

    __slots__ = ("peer", "listening", "address", "pipe", "admitted", "drops_before_start", "_notes")

    def __init__(self, peer: int, listening: bool, address: str) -> None:
        self.peer = peer
        self.listening = listening
        self.address = address
        self.pipe: int | None = None  # id of the accepted pipe
        self.admitted = False  # the listener kept our pipe (a listener's own pipes: on accept)
        self.drops_before_start = 0
        self._notes: dict[str, str] = {}  # the latest note of each kind, oldest kind first

    def note(self, kind: str, text: str) -> None:
        self._notes.pop(kind, None)
        self._notes[kind] = text
        while len(self._notes) > MAX_NOTES:
            self._notes.pop(next(iter(self._notes)))

    @property
    def notes(self) -> list[str]:
        return list(self._notes.values())


def _cn(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else "no name"


def _tls_look(address: str, tls: TlsCreds | None, peer: int) -> str | None:
    """What a TLS handshake with the listener at ``address`` shows; None when it tells nothing."""
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # we judge the certificate ourselves, to say what is wrong
    try:
        if tls is not None:
            ctx.load_cert_chain(tls.cert_key_file)
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_S) as raw, \
                ctx.wrap_socket(raw, server_hostname=party_name(peer)) as conn:
            der = conn.getpeercert(binary_form=True)
            refused = None
            conn.settimeout(0.5)
            try:
                conn.recv(1)  # a listener that refuses our certificate says so right after the handshake
            except ssl.SSLError as exc:
                refused = str(exc.reason or exc).lower().replace("_", " ")
            except (TimeoutError, OSError):
                pass
    except ssl.SSLError as exc:
        if tls is None:
            return None
        return f"the listener does not complete a TLS handshake ({str(exc.reason or exc).lower()}: plain tcp:// there?)"
    except (OSError, ValueError):
        return None
    if tls is None:
        return "the listener speaks TLS: use tls+tcp:// addresses and TLS identities on this side too"
    if der is None:
        return None
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    with open(tls.ca_file, "rb") as fh:
        ca = x509.load_pem_x509_certificate(fh.read())
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:  # noqa: BLE001 - any failure means "not our CA"
        return (f"the listener's certificate ({_cn(cert.subject)!r}) is not signed by our CA {tls.ca_file} "
                f"(its issuer is named {_cn(cert.issuer)!r}: another keygen run?)")
    if _cn(cert.subject) != party_name(peer):
        return f"the listener presents {_cn(cert.subject)!r}, expected {party_name(peer)!r}"
    if refused is not None:
        return f"the listener refused our certificate ({refused}): it trusts another CA"
    return None


def _probe_blocking(sock: pynng.Pair0, address: str) -> str | None:
    try:
        sock.dial(address, block=True)
    except pynng.NNGException as exc:
        return _explain(exc)
    return None


def _explain(exc: pynng.NNGException) -> str:
    for kind, text in _DIAL_ERRORS:
        if isinstance(exc, kind):
            return text
    if isinstance(exc, (pynng.ConnectionReset, pynng.ConnectionAborted, pynng.Closed)) \
            or getattr(exc, "errno", None) == pynng.lib.NNG_ECONNSHUT:
        return ("the listener closed the connection during set-up (it refused our certificate, "
                "or a TLS/plain TCP mismatch)")
    return f"nng: {exc}"


async def probe(address: str, tls: TlsCreds | None, peer: int, me: int) -> str:
    """Dial ``address`` once, as the transport would, and say what happened."""
    sock = pynng.Pair0()
    try:
        if tls is not None:
            sock.tls_config = pynng.TLSConfig(
                pynng.TLSConfig.MODE_CLIENT, server_name=party_name(peer), ca_files=[tls.ca_file],
                cert_key_file=tls.cert_key_file, auth_mode=pynng.TLSConfig.AUTH_MODE_REQUIRED)
        try:
            result = await asyncio.wait_for(asyncio.to_thread(_probe_blocking, sock, address), PROBE_S)
        except TimeoutError:
            result = f"no answer within {PROBE_S:g}s (a firewall, or a wrong host?)"
        except pynng.NNGException as exc:
            result = _explain(exc)
    finally:
        with contextlib.suppress(Exception):
            sock.close()
    if result is not None and ("TLS" in result or "closed the connection" in result):
        with contextlib.suppress(TimeoutError):
            why = await asyncio.wait_for(asyncio.to_thread(_tls_look, address, tls, peer), 2 * PROBE_S)
            if why is not None:
                result = f"{result.split(' (', 1)[0]}: {why}"
    if result is None:
        return (f"reachable{' and its certificate names ' + party_name(peer) if tls else ''}, but it did not keep "
                f"our connection (it refused our identity, or another process is connected as party {me})")
    return result.format(peer=peer, name=party_name(peer))


async def probe_early(me: int, links: list[LinkState], tls: TlsCreds | None, elapsed: float) -> None:
    """Probe the dialed peers still missing halfway to the deadline, while they are likely still up
    (at the deadline a peer that failed the same way may already have given up and closed)."""
    for link in links:
        if not link.listening and link.pipe is None:
            link.note("probe", f"at {elapsed:.1f}s: {await probe(link.address, tls, link.peer, me)}")


async def connect_failure(me: int, links: list[LinkState], tls: TlsCreds | None, timeout: float) -> str:
    """The one-line message of the :class:`TransportError` raised at the connect deadline."""
    parts = []
    for link in links:
        peer = link.peer
        notes = link.notes
        if link.listening:
            what = f"party {peer}: listening on {link.address}, no connection from it arrived"
            if tls is not None and not notes:
                what += " (if it dialed, its TLS handshake failed: another CA, or plain TCP)"
        else:
            reason = await probe(link.address, tls, peer, me)
            what = f"party {peer}: dialing {link.address}: {reason}"
            notes = [n for n in notes if not n.endswith(f"s: {reason}")]
        if notes:
            what += "; " + "; ".join(notes)
        parts.append(what)
    return f"party {me}: not connected within {timeout:g}s: " + " | ".join(parts)


__all__ = ["LinkState", "connect_failure", "probe", "probe_early"]
