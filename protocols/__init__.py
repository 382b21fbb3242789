"""MPC protocols. Each sees only a :class:`mpc.Context`; none touches sockets, clocks or entropy.

The public API (:mod:`protocols.api`): ``secure_sum``, ``secure_mean``, ``secure_product``,
``secure_dot``, ``secure_matvec``, ``secure_variance``, ``secure_aggregate`` — run each with
``await node.run(f, x, ...)``. The scenario registry (:data:`REGISTRY`) maps names to specs.
"""

from typing import TYPE_CHECKING

from mpc.lazy import lazy_exports

if TYPE_CHECKING:  # imported on first use (``__getattr__``): a party imports only what its job runs
    from .api import (
        secure_aggregate,
        secure_dot,
        secure_matvec,
        secure_mean,
        secure_product,
        secure_sum,
        secure_variance,
    )
    from .common import Scheme, open_shares, share_inputs
    from .registry import REGISTRY, lookup
    from .spec import Job, PartyResult, Spec

__getattr__ = lazy_exports(__name__, {
    "api": ("secure_aggregate", "secure_dot", "secure_matvec", "secure_mean", "secure_product", "secure_sum", "secure_variance"),
    "common": ("Scheme", "open_shares", "share_inputs"),
    "registry": ("REGISTRY", "lookup"),
    "spec": ("Job", "PartyResult", "Spec"),
})

__all__ = [
    "Job",
    "PartyResult",
    "REGISTRY",
    "Scheme",
    "Spec",
    "lookup",
    "open_shares",
    "secure_aggregate",
    "secure_dot",
    "secure_matvec",
    "secure_mean",
    "secure_product",
    "secure_sum",
    "secure_variance",
    "share_inputs",
]
