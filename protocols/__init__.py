"""MPC protocols. Each sees only a :class:`mpc.Context`; none touches sockets, clocks or entropy."""

from .common import Scheme, open_shares, share_inputs
from .registry import REGISTRY, Job, PartyResult, Spec, lookup, register
from .sum import secure_mean, secure_sum

__all__ = [
    "Job",
    "PartyResult",
    "REGISTRY",
    "Scheme",
    "Spec",
    "lookup",
    "open_shares",
    "register",
    "secure_mean",
    "secure_sum",
    "share_inputs",
]
