"""Transports move opaque bytes between parties. Nothing else in the code base touches sockets."""

from .base import PEER_DOWN, Transport, TransportStats

__all__ = ["PEER_DOWN", "Transport", "TransportStats"]
