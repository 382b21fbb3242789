"""netsim: a deterministic network simulator in virtual time, for many parties and their faults.

The runner uses two entry points, :func:`build_network` and :func:`run`; everything else is
netsim's own business: :mod:`netsim.clock` (the virtual-time event loop), :mod:`netsim.links`
(latency, jitter, bandwidth, loss), :mod:`netsim.faults`, :mod:`netsim.trace` and
:mod:`netsim.summary` (JSONL traces and their summary).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .clock import Deadlock, VirtualTimeLoop, run
from .faults import FaultPlan
from .trace import Tracer
from .transport import SimNetwork, SimTransport


def build_network(parties: Iterable[int], network: Mapping[str, Any], *, seed: int = 0,
                  faults: Sequence[Any] = (), trace: str | None = None) -> SimNetwork:
    """A network for a scenario's ``[network]`` table and ``[[faults]]`` (see :mod:`netsim.links`,
    :mod:`netsim.faults`); ``trace`` names a JSONL file receiving one line per message."""
    net = SimNetwork(parties, network, seed=seed)
    net.plan = FaultPlan(net, faults)
    if trace is not None:
        net.tracer = Tracer(trace)
        net.observers.append(net.tracer)
    return net


__all__ = ["Deadlock", "FaultPlan", "SimNetwork", "SimTransport", "Tracer", "VirtualTimeLoop", "build_network", "run"]
