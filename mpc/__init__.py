"""A peer-to-peer secure multi-party computation runtime. Importing it does no work."""

from .context import Context
from .errors import (
    CodecError,
    ComputationAborted,
    ConfigError,
    Crashed,
    Equivocation,
    Excluded,
    InputRangeError,
    JobMismatch,
    MpcError,
    NameInUse,
    PartyDropped,
    ProtocolError,
    QuorumLost,
    TransportError,
    UnexpectedMessage,
)
from .field import GF61, Z64
from .job import JobDescriptor
from .message import Message
from .node import Node, NodeConfig
from .rng import Csprng

__all__ = [
    "GF61",
    "CodecError",
    "ComputationAborted",
    "ConfigError",
    "Context",
    "Crashed",
    "Csprng",
    "Equivocation",
    "Excluded",
    "InputRangeError",
    "JobDescriptor",
    "JobMismatch",
    "Message",
    "MpcError",
    "NameInUse",
    "Node",
    "NodeConfig",
    "PartyDropped",
    "ProtocolError",
    "QuorumLost",
    "TransportError",
    "UnexpectedMessage",
    "Z64",
]
