"""Transports move opaque bytes between parties. Nothing else in the code base touches sockets."""

from .base import PEER_DOWN, DirectDelivery, ImmediateSend, Sink, Transport, TransportStats, sends_immediately

__all__ = ["PEER_DOWN", "DirectDelivery", "ImmediateSend", "Sink", "Transport", "TransportStats",
           "sends_immediately"]
