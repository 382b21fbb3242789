"""Reading a message's routing header (instance, round tag) without decoding its payload.

The simulator never interprets payloads; traces and tag-triggered faults need only the header,
which :class:`mpc.message.Message` encodes first: ``[version, session, instance, tag, sender, ...]``.
"""

from __future__ import annotations

import io

import msgpack

MAX_HEADER_READ = 1024  # the header is small; never buffer a large payload to read it


def message_header(data: bytes) -> tuple[str, str] | None:
    """``(instance, tag)`` of an encoded message, or ``None`` if it does not look like one."""
    try:
        unpacker = msgpack.Unpacker(io.BytesIO(data), read_size=MAX_HEADER_READ, raw=False,
                                    max_buffer_size=max(MAX_HEADER_READ, 1 << 16))
        if unpacker.read_array_header() < 4:
            return None
        unpacker.skip()  # version
        unpacker.skip()  # session
        instance, tag = unpacker.unpack(), unpacker.unpack()
    except Exception:  # any malformed input simply has no header
        return None
    if not isinstance(instance, str) or not isinstance(tag, str):
        return None
    return instance, tag


def message_tag(data: bytes) -> str | None:
    header = message_header(data)
    return None if header is None else header[1]


__all__ = ["message_header", "message_tag"]
