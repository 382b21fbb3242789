"""Reading a message's routing header (instance, round tag) without decoding its payload.

The simulator never interprets payloads; traces and tag-triggered faults need only the header,
whose format :mod:`mpc.message` owns.
"""

from __future__ import annotations

from mpc.message import peek_route


def message_header(data: bytes) -> tuple[str, str] | None:
    """``(instance, tag)`` of an encoded message, or ``None`` if it does not look like one."""
    return peek_route(data)


def message_tag(data: bytes) -> str | None:
    header = peek_route(data)
    return None if header is None else header[1]


__all__ = ["message_header", "message_tag"]
