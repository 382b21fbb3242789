"""Why a connection did not come up: one line per missing peer, said at the connect deadline.

A listener can only report what reached it (refused identities, second connections); a dialer
probes the address once with a fresh socket and the same TLS settings, so nng tells it whether the
address refused, the TLS handshake failed on its side, or the listener took and dropped the link.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

import pynng

from .tls import TlsCreds, party_name

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

    __slots__ = ("peer", "listening", "address", "pipe", "ever_connected", "drops_before_start", "notes")

    def __init__(self, peer: int, listening: bool, address: str) -> None:
        self.peer = peer
        self.listening = listening
        self.address = address
        self.pipe: int | None = None  # id of the accepted pipe
        self.ever_connected = False
        self.drops_before_start = 0
        self.notes: deque[str] = deque(maxlen=MAX_NOTES)

    def note(self, text: str) -> None:
        if not self.notes or self.notes[-1] != text:
            self.notes.append(text)


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
    if isinstance(exc, (pynng.ConnectionReset, pynng.ConnectionAborted, pynng.Closed)):
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
    if result is None:
        return (f"reachable{' and its certificate names ' + party_name(peer) if tls else ''}, but it did not keep "
                f"our connection (it refused our identity, or another process is connected as party {me})")
    return result.format(peer=peer, name=party_name(peer))


async def connect_failure(me: int, links: list[LinkState], tls: TlsCreds | None, timeout: float) -> str:
    """The one-line message of the :class:`TransportError` raised at the connect deadline."""
    parts = []
    for link in links:
        peer = link.peer
        if link.listening:
            what = f"party {peer}: listening on {link.address}, no connection from it arrived"
            if tls is not None and not link.notes:
                what += " (if it dialed, its TLS handshake failed: another CA, or plain TCP)"
        else:
            reason = await probe(link.address, tls, peer, me)
            what = f"party {peer}: dialing {link.address}: {reason}"
        if link.notes:
            what += "; " + "; ".join(link.notes)
        parts.append(what)
    return f"party {me}: not connected within {timeout:g}s: " + " | ".join(parts)


__all__ = ["LinkState", "connect_failure", "probe"]
