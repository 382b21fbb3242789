"""A message: ``(session, instance, round tag, sender, payload)``, and its wire form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import codec
from .errors import CodecError

WIRE_VERSION = 1
CONTROL = ""  # the instance name reserved for the node's own messages (hello, bye)
MAX_NAME = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    session: bytes
    instance: str
    tag: str
    sender: int
    payload: Any = None

    def to_bytes(self) -> bytes:
        return codec.encode([WIRE_VERSION, self.session, self.instance, self.tag, self.sender, self.payload])

    @classmethod
    def from_bytes(cls, data: bytes, limits: codec.Limits = codec.DEFAULT_LIMITS) -> Message:
        obj = codec.decode(data, limits)
        if not isinstance(obj, list) or len(obj) != 6:
            raise CodecError("a message is a 6-element array")
        version, session, instance, tag, sender, payload = obj
        if version != WIRE_VERSION:
            raise CodecError(f"unsupported wire version {version!r}")
        if not isinstance(session, bytes) or len(session) > 64:
            raise CodecError("session must be at most 64 bytes")
        if not isinstance(instance, str) or not isinstance(tag, str):
            raise CodecError("instance and tag must be strings")
        if len(instance) > MAX_NAME or len(tag) > MAX_NAME:
            raise CodecError("instance or tag name too long")
        if not isinstance(sender, int) or isinstance(sender, bool) or not 0 <= sender < 1 << 20:
            raise CodecError("sender must be a small non-negative integer")
        return cls(session=session, instance=instance, tag=tag, sender=sender, payload=payload)


__all__ = ["CONTROL", "Message"]
