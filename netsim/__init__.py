"""netsim: an in-memory network for running many parties in one process, under faults."""

from .transport import SimNetwork, SimTransport

__all__ = ["SimNetwork", "SimTransport"]
