"""Secure aggregation: SecAgg (Bonawitz et al., CCS 2017) and SecAgg+ (Bell et al., CCS 2020), the
active-adversary variant (signed key advertisements, consistency check, a split-view-proof threshold).

Modules: :mod:`phases` (the one table of stages; transitions, replies and round lists derived),
:mod:`messages` (one checked frozen dataclass per message kind), :mod:`params` (public parameters,
the threshold rule, SecAgg+ degree/threshold from γ and σ), :mod:`crypto` (pairwise key
agreement, share encryption; re-exports the rest of SecAgg's cryptography), :mod:`signatures`
(long-term identities, signed statements, the session id), :mod:`keyshares` (sharing of 32-byte
keys), :mod:`graph` (the SecAgg+ graph), :mod:`commit` (Merkle commitment to the round's
advertisements, survivor bitmaps), :mod:`masks` (encoding with headroom, masks, unmasking),
:mod:`client` and :mod:`server` (sans-IO state machines; ``SecAggServer.step`` is the one server
step both drivers use), :mod:`protocol` (async drivers over a Context), :mod:`inprocess` (the
machines wired directly, for tests and benchmarks), :mod:`specs` (the ``secagg`` scenario protocol).
"""

from typing import TYPE_CHECKING

from mpc.lazy import lazy_exports

if TYPE_CHECKING:  # imported on first use (``__getattr__``): a party imports only what its job runs
    from .client import InconsistentView, SecAggClient
    from .params import Params
    from .phases import ClientPhase, Kind, ServerPhase
    from .protocol import run_client, run_server
    from .server import SecAggServer, Step
    from .signatures import SigningKey, VerifyingKey

__getattr__ = lazy_exports(__name__, {
    "client": ("InconsistentView", "SecAggClient"),
    "params": ("Params",),
    "phases": ("ClientPhase", "Kind", "ServerPhase"),
    "protocol": ("run_client", "run_server"),
    "server": ("SecAggServer", "Step"),
    "signatures": ("SigningKey", "VerifyingKey"),
})

__all__ = [
    "ClientPhase",
    "InconsistentView",
    "Kind",
    "Params",
    "SecAggClient",
    "SecAggServer",
    "ServerPhase",
    "SigningKey",
    "Step",
    "VerifyingKey",
    "run_client",
    "run_server",
]
