"""netsim: a deterministic network simulator in virtual time, for many parties and their faults.

The runner uses two entry points, :func:`build_network` and :func:`run`; everything else is
netsim's own business: :mod:`netsim.clock` (the virtual-time event loop), :mod:`netsim.links`
(latency, jitter, bandwidth, loss), :mod:`netsim.faults` (typed faults, parsed once),
:mod:`netsim.objects` (the object wire mode), :mod:`netsim.trace` and :mod:`netsim.summary`
(JSONL traces and their summary); :mod:`netsim.transport` (the shared network, built from
:mod:`netsim.arrivals` and :mod:`netsim.delivery`, and its per-party :mod:`netsim.endpoint`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpc.lazy import lazy_exports

if TYPE_CHECKING:  # imported on first use: a real run's scenario needs only the fault types
    from .clock import Deadlock, VirtualTimeLoop, run
    from .faults import AfterRound, AtTime, Crash, Fault, FaultPlan, Partition, Restart, Silent, Slow, Trigger
    from .faults import parse_fault, parse_faults, parse_trigger
    from .trace import Tracer
    from .transport import WIRES, SimNetwork, SimTransport

__getattr__ = lazy_exports(__name__, {
    "clock": ("Deadlock", "VirtualTimeLoop", "run"),
    "faults": ("AfterRound", "AtTime", "Crash", "Fault", "FaultPlan", "Partition", "Restart", "Silent", "Slow",
               "Trigger", "parse_fault", "parse_faults", "parse_trigger"),
    "trace": ("Tracer",),
    "transport": ("WIRES", "SimNetwork", "SimTransport"),
})


def build_network(parties: Iterable[int], network: Mapping[str, Any], *, seed: int = 0,
                  faults: Sequence[Fault] = (), trace: str | None = None, wire: str | None = None) -> SimNetwork:
    """A network for a scenario's ``[network]`` table and parsed ``[[faults]]`` (see
    :mod:`netsim.links`, :mod:`netsim.faults`); ``trace`` names a JSONL file receiving one line
    per message; ``wire`` (``objects`` | ``bytes``) overrides ``network.wire``."""
    from .faults import FaultPlan
    from .trace import Tracer
    from .transport import SimNetwork

    net = SimNetwork(parties, network, seed=seed, wire=wire)
    net.plan = FaultPlan(net, faults)
    if trace is not None:
        net.tracer = Tracer(trace)
        net.monitors.append(net.tracer)
    return net


__all__ = [
    "WIRES", "AfterRound", "AtTime", "Crash", "Deadlock", "Fault", "FaultPlan", "Partition", "Restart",
    "Silent", "SimNetwork", "SimTransport", "Slow", "Tracer", "Trigger", "VirtualTimeLoop", "build_network",
    "parse_fault", "parse_faults", "parse_trigger", "run",
]
