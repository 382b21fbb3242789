"""A message: ``(session, instance, round tag, sender, payload)``, and its wire form."""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

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
        fast = _encode_array_message(self)
        if fast is not None:
            return fast
        return codec.encode([WIRE_VERSION, self.session, self.instance, self.tag, self.sender, self.payload])

    @classmethod
    def from_bytes(cls, data: bytes, limits: codec.Limits = codec.DEFAULT_LIMITS) -> Message:
        return cls.from_bytes_charged(data, limits)[0]

    @classmethod
    def from_bytes_charged(cls, data: bytes, limits: codec.Limits = codec.DEFAULT_LIMITS) -> tuple[Message, int]:
        """The message and a bound on the memory it holds (see :func:`mpc.codec.decode_charged`)."""
        fast = _decode_array_message(data, limits)
        return fast if fast is not None else _decode_generic(cls, data, limits)


def _decode_generic(cls: type[Message], data: bytes, limits: codec.Limits) -> tuple[Message, int]:
    """The message decoded by the general codec (any payload), checked field by field."""
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


# -- the round's message, by hand ------------------------------------------------------------
# Nearly every message of a round is (session, instance, tag, sender, one array). Its wire form is
# written and read here with a few slices instead of msgpack with a Python hook per array: the SAME
# bytes as codec.encode gives (msgpack's smallest encodings; tests/test_round_fast_paths.py compares
# both ways), and anything else — another payload, a longer form msgpack would also accept, any
# irregularity — goes through the generic codec, which accepts or rejects it as before.
_ENV_LEN = struct.Struct("<I")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_CODES = {dt: code for code, dt in codec.DTYPES.items()}
_DIMS = [struct.Struct(f"<BB{k}I") for k in range(codec.MAX_NDIM + 1)]
_SHAPES = [struct.Struct(f"<{k}I") for k in range(codec.MAX_NDIM + 1)]


def _pack_str(s: str) -> bytes:
    b = s.encode()
    n = len(b)
    if n < 32:
        return bytes((0xA0 | n,)) + b
    if n < 256:
        return bytes((0xD9, n)) + b
    return b"\xda" + _U16.pack(n) + b  # names are at most MAX_NAME characters (< 2^16 bytes)


def _pack_uint(v: int) -> bytes:
    if v < 0x80:
        return bytes((v,))
    if v < 0x100:
        return bytes((0xCC, v))
    if v < 0x10000:
        return b"\xcd" + _U16.pack(v)
    return b"\xce" + _U32.pack(v)


@functools.lru_cache(maxsize=256)
def _head(session: bytes, instance: str) -> bytes:
    """The envelope up to the tag: the same for every message of one computation."""
    return b"".join((b"\x96\x01\xc4", bytes((len(session),)), session, _pack_str(instance)))


def _encode_array_message(msg: Message) -> bytes | None:
    arr = msg.payload
    if type(arr) is not np.ndarray or not arr.ndim or not arr.size or not arr.flags.c_contiguous:
        return None
    code = _CODES.get(arr.dtype)
    session, sender = msg.session, msg.sender
    if (code is None or arr.ndim > codec.MAX_NDIM or type(session) is not bytes or len(session) > 255
            or type(sender) is not int or not 0 <= sender < 1 << 32 or type(msg.instance) is not str
            or type(msg.tag) is not str or len(msg.instance) > MAX_NAME or len(msg.tag) > MAX_NAME):
        return None
    env = b"".join((_head(session, msg.instance), _pack_str(msg.tag), _pack_uint(sender), _array_ext(code, arr.shape)))
    # a small body is copied (one C call); a large one is written from the array's memory
    body = arr.tobytes() if arr.nbytes <= 4096 else arr.data.cast("B")
    return b"".join((_ENV_LEN.pack(len(env)), env, body))


@functools.lru_cache(maxsize=256)
def _array_ext(code: int, shape: tuple[int, ...]) -> bytes:
    """The ndarray ext header (ext 8: 2 + 4·ndim bytes, 6..34) for a dtype code and shape."""
    header = _DIMS[len(shape)].pack(code, len(shape), *shape)
    return bytes((0xC7, len(header), codec.EXT_NDARRAY)) + header


def _read_str(data: Any, p: int, limit: int) -> tuple[str, int]:
    b = data[p]
    if 0xA0 <= b <= 0xBF:
        n, p = b & 0x1F, p + 1
    elif b == 0xD9:
        n, p = data[p + 1], p + 2
    elif b == 0xDA:
        (n,), p = _U16.unpack_from(data, p + 1), p + 3
    else:
        raise ValueError("not a short string")
    if n > limit or p + n > len(data):
        raise ValueError("string too long")
    return str(data[p : p + n], "utf-8"), p + n


Parts = tuple[bytes, str, str, int, Any, int]  # session, instance, tag, sender, payload, charge


def _decode_array_message(data: Any, limits: codec.Limits) -> tuple[Message, int] | None:
    """The message and its charge, or None: not this form (the generic decoder decides)."""
    parts = decode_array_parts(data, limits)
    if parts is None:
        return None
    return _build(Message, *parts[:5]), parts[5]


def decode_array_parts(data: Any, limits: codec.Limits, _dtypes: dict[int, np.dtype] = codec.DTYPES,
                       _ndarray: type = np.ndarray) -> Parts | None:
    """A round's one-array message as its fields and charge, without a :class:`Message` (the
    node's hot path hands them straight to the mailbox), or None: not this form."""
    try:
        size = len(data)
        if size > limits.max_message_bytes or size < 8:
            return None
        (env_len,) = _ENV_LEN.unpack_from(data, 0)
        end = 4 + env_len
        if end > size or env_len > limits.max_envelope_bytes or data[4:7] != b"\x96\x01\xc4":
            return None
        n = data[7]
        if n > 64:
            return None
        p = 8 + n
        session = bytes(data[8:p])
        lim = limits.max_str_len
        b = data[p]
        if 0xA0 <= b <= 0xBF and (b & 0x1F) <= lim:  # a short name (the usual): read inline
            q = p + 1 + (b & 0x1F)
            instance = data[p + 1 : q].decode()  # bytes or bytearray (anything else: the generic path)
            p = q
        else:
            instance, p = _read_str(data, p, lim)
        b = data[p]
        if 0xA0 <= b <= 0xBF and (b & 0x1F) <= lim:
            q = p + 1 + (b & 0x1F)
            tag = data[p + 1 : q].decode()
            p = q
        else:
            tag, p = _read_str(data, p, lim)
        if p >= end:
            return None
        b = data[p]
        if b < 0x80:
            sender, p = b, p + 1
        elif b == 0xCC:
            sender, p = data[p + 1], p + 2
        elif b == 0xCD:
            (sender,), p = _U16.unpack_from(data, p + 1), p + 3
        elif b == 0xCE:
            (sender,), p = _U32.unpack_from(data, p + 1), p + 5
        else:
            return None
        if data[p] != 0xC7 or data[p + 2] != codec.EXT_NDARRAY:  # ext 8
            return None
        hlen, dcode, ndim = data[p + 1], data[p + 3], data[p + 4]
        dt = _dtypes.get(dcode)
        if dt is None or not 0 < ndim <= codec.MAX_NDIM or hlen != 2 + 4 * ndim or p + 3 + hlen != end:
            return None
        shape = _SHAPES[ndim].unpack_from(data, p + 5)
        count = 1
        for d in shape:
            count *= d
        if (end + count * dt.itemsize != size or len(instance) > MAX_NAME or len(tag) > MAX_NAME
                or sender >= 1 << 20):
            return None
        arr = _ndarray(shape, dt, data, end)  # a read-only view when data is bytes, as frombuffer's
    except (IndexError, ValueError, TypeError, AttributeError, struct.error):
        return None  # malformed here (or not bytes): the generic decoder says why
    return (session, instance, tag, sender, arr,
            size + codec.DECODED_PER_ENVELOPE_BYTE * env_len + codec.DECODE_OVERHEAD)  # decode_charged's


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
