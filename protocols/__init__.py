"""MPC protocols. Each sees only a :class:`mpc.Context`; none touches sockets, clocks or entropy."""

from .common import Scheme, open_shares, share_inputs
from .registry import REGISTRY, lookup
from .spec import Job, PartyResult, Spec
from .sum import secure_mean, secure_sum

__all__ = [
    "Job",
    "PartyResult",
    "REGISTRY",
    "Scheme",
    "Spec",
    "lookup",
    "open_shares",
    "secure_mean",
    "secure_sum",
    "share_inputs",
]
