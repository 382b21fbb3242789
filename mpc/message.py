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
        return cls.from_bytes_charged(data, limits)[0]

    @classmethod
    def from_bytes_charged(cls, data: bytes, limits: codec.Limits = codec.DEFAULT_LIMITS) -> tuple[Message, int]:
        """The message and a bound on the memory it holds (see :func:`mpc.codec.decode_charged`)."""
        obj, charge = codec.decode_charged(data, limits)
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
        return _build(cls, session, instance, tag, sender, payload), charge


_SET_SESSION, _SET_INSTANCE, _SET_TAG, _SET_SENDER, _SET_PAYLOAD = (
    Message.__dict__[f].__set__ for f in ("session", "instance", "tag", "sender", "payload")
)


def _build(cls: type[Message], session: bytes, instance: str, tag: str, sender: int, payload: Any) -> Message:
    """A validated message without the frozen dataclass ``__init__`` (an ``object.__setattr__``
    per field, ~3x slower; every received message comes through here). Same fields, same
    immutability: the slot descriptors are written directly, once."""
    msg = object.__new__(cls)
    _SET_SESSION(msg, session)
    _SET_INSTANCE(msg, instance)
    _SET_TAG(msg, tag)
    _SET_SENDER(msg, sender)
    _SET_PAYLOAD(msg, payload)
    return msg


def peek_route(data: bytes, max_read: int = 1024) -> tuple[str, str] | None:
    """``(instance, tag)`` of encoded message bytes without decoding the payload (for traces and
    simulated faults); ``None`` for anything that does not look like a message."""
    import io

    import msgpack

    try:
        unpacker = msgpack.Unpacker(io.BytesIO(memoryview(data)[4:]), read_size=max_read, raw=False,
                                    max_buffer_size=max(max_read, 1 << 16))
        if unpacker.read_array_header() < 4:
            return None
        unpacker.skip()  # version
        unpacker.skip()  # session
        instance, tag = unpacker.unpack(), unpacker.unpack()
    except Exception:  # noqa: BLE001 - malformed input simply has no route
        return None
    if not isinstance(instance, str) or not isinstance(tag, str):
        return None
    return instance, tag


__all__ = ["CONTROL", "Message", "peek_route"]
