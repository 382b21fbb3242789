"""A peer-to-peer secure multi-party computation runtime. Importing it does no work."""

from .context import Context
from .errors import (
    CodecError,
    ConfigError,
    Crashed,
    MpcError,
    PartyDropped,
    ProtocolError,
    QuorumLost,
    TransportError,
    UnexpectedMessage,
)
from .field import GF61, Z64
from .message import Message
from .node import Node, NodeConfig
from .rng import Csprng

__all__ = [
    "GF61",
    "CodecError",
    "ConfigError",
    "Context",
    "Crashed",
    "Csprng",
    "Message",
    "MpcError",
    "Node",
    "NodeConfig",
    "PartyDropped",
    "ProtocolError",
    "QuorumLost",
    "TransportError",
    "UnexpectedMessage",
    "Z64",
]
