"""Secure aggregation: SecAgg (Bonawitz et al., CCS 2017) and SecAgg+ (Bell et al., CCS 2020).

Modules: :mod:`crypto` (keys, share encryption, secret sharing of keys, the SecAgg+ graph),
:mod:`masks` (encoding with headroom, mask expansion, unmasking), :mod:`phases` (the protocol
table and public parameters), :mod:`client` and :mod:`server` (sans-IO state machines),
:mod:`protocol` (async drivers over a Context), :mod:`specs` (the ``secagg`` scenario protocol).
"""

from .client import InconsistentView, SecAggClient
from .params import Params
from .phases import ClientPhase, Kind, ServerPhase
from .protocol import run_client, run_server
from .server import SecAggServer

__all__ = [
    "ClientPhase",
    "InconsistentView",
    "Kind",
    "Params",
    "SecAggClient",
    "SecAggServer",
    "ServerPhase",
    "run_client",
    "run_server",
]
