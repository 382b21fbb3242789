"""msgpack codec with numpy arrays as an ext type; strict, bounded decoding.

Wire form: a little-endian uint32 length, a msgpack *envelope*, then the raw bodies of the arrays
it contains, in order. In the envelope an array is ext type 1 holding only its header: dtype code
(1 byte), ndim (1 byte), ndim little-endian uint32 dimensions. Keeping bodies out of msgpack means
encoding copies each array once and decoding copies nothing (arrays are read-only views).
Only the dtypes in :data:`DTYPES` travel. Anything else — unknown ext codes, wrong lengths,
oversized containers, trailing bytes — raises :class:`~mpc.errors.CodecError` (a
:class:`~mpc.errors.ProtocolError`). Nothing is unpickled.

Memory is bounded by *decoded* size, not wire size: the envelope is capped
(:attr:`Limits.max_envelope_bytes`), and :func:`decode_charged` returns with the object a charge
that bounds the memory it holds — the message bytes (array bodies are views on them) plus
:data:`DECODED_PER_ENVELOPE_BYTE` per envelope byte. msgpack's densest objects (an empty map is one
byte and ~72 bytes of Python objects; an empty list ~64; a small negative int ~40; measured with
tracemalloc in ``tests/test_codec_bounds.py``) stay under that factor, so decoding one message never
holds more than ``len(data) + 80 * max_envelope_bytes`` even while it runs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

from .errors import CodecError

EXT_NDARRAY = 1
DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<u1"),
    2: np.dtype("<u4"),
    3: np.dtype("<u8"),
    4: np.dtype("<i8"),
    5: np.dtype("<f8"),
    6: np.dtype("<i4"),
}
_CODES = {dt: code for code, dt in DTYPES.items()}
MAX_NDIM = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds applied while decoding peer bytes."""

    max_message_bytes: int = 1 << 30
    # the msgpack part (array bodies travel outside it): 256 KiB holds secure aggregation's key lists
    # for ~2500 clients; decoding one costs at most 20 MiB of objects and ~0.1 s of CPU
    max_envelope_bytes: int = 256 << 10
    max_container_len: int = 1 << 20
    max_str_len: int = 1 << 16
    # what one sender may leave buffered in the mailbox before its receiver asks (decoded charge)
    max_buffered_per_sender: int = 4096
    max_buffered_bytes_per_sender: int = 256 << 20
    # a sender whose messages keep being rejected is cut off: more than `burst` rejections, with
    # `rate` per second forgiven (None: never cut off)
    reject_burst: int | None = 1000
    reject_rate: float = 100.0


DEFAULT_LIMITS = Limits()
DECODED_PER_ENVELOPE_BYTE = 80
DECODE_OVERHEAD = 1024


_LEN = struct.Struct("<I")


def _array_header(obj: np.ndarray) -> tuple[bytes, np.ndarray]:
    dt = obj.dtype.newbyteorder("<") if obj.dtype.byteorder == ">" else obj.dtype
    code = _CODES.get(np.dtype(dt))
    if code is None or obj.ndim > MAX_NDIM:
        raise CodecError(f"cannot encode array of dtype {obj.dtype} and ndim {obj.ndim}")
    return struct.pack(f"<BB{obj.ndim}I", code, obj.ndim, *obj.shape), np.ascontiguousarray(obj, dtype=dt)


def encode(obj: Any) -> bytes:
    bodies: list[memoryview] = []

    def default(o: Any) -> Any:
        if isinstance(o, np.ndarray):
            header, arr = _array_header(o)
            if arr.size:  # an empty array has no body (and memoryview cannot cast it)
                bodies.append(arr.data.cast("B"))
            return msgpack.ExtType(EXT_NDARRAY, header)
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return float(o)
        if isinstance(o, tuple):
            return list(o)
        raise CodecError(f"cannot encode {type(o).__name__}")

    try:
        env = msgpack.packb(obj, default=default, use_bin_type=True, strict_types=False)
    except CodecError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"cannot encode: {exc}") from exc
    return b"".join([_LEN.pack(len(env)), env, *bodies])


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    return decode_charged(data, limits)[0]


def decode_charged(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[Any, int]:
    """The decoded object and a bound on the memory it holds (what a buffer should charge)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError("expected bytes")
    size = len(data)
    if size > limits.max_message_bytes:
        raise CodecError(f"message of {size} bytes exceeds the limit of {limits.max_message_bytes}")
    if size < 4:
        raise CodecError("truncated message")
    (env_len,) = _LEN.unpack_from(data, 0)
    if 4 + env_len > size:
        raise CodecError("envelope longer than the message")
    if env_len > limits.max_envelope_bytes:
        raise CodecError(f"envelope of {env_len} bytes exceeds the limit of {limits.max_envelope_bytes}")
    offset = 4 + env_len

    def ext_hook(code: int, header: bytes) -> np.ndarray:
        nonlocal offset
        if code != EXT_NDARRAY:
            raise CodecError(f"unknown ext type {code}")
        if len(header) < 2:
            raise CodecError("truncated array header")
        dcode, ndim = header[0], header[1]
        dt = DTYPES.get(dcode)
        if dt is None or ndim > MAX_NDIM:
            raise CodecError(f"unknown array dtype code {dcode} or ndim {ndim}")
        if len(header) != 2 + 4 * ndim:
            raise CodecError("array header does not match its ndim")
        shape = struct.unpack_from(f"<{ndim}I", header, 2)
        count = 1
        for d in shape:
            count *= d
        nbytes = count * dt.itemsize
        if offset + nbytes > size:
            raise CodecError(f"array of shape {shape} runs past the end of the message")
        arr = np.frombuffer(data, dtype=dt, count=count, offset=offset).reshape(shape)
        offset += nbytes
        return arr

    try:
        obj = msgpack.unpackb(
            memoryview(data)[4 : 4 + env_len],
            ext_hook=ext_hook,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=limits.max_str_len,
            max_bin_len=limits.max_envelope_bytes,
            max_array_len=limits.max_container_len,
            max_map_len=limits.max_container_len,
            max_ext_len=2 + 4 * MAX_NDIM,
        )
    except CodecError:
        raise
    except Exception as exc:  # msgpack raises many types for hostile bytes; all mean "malformed"
        raise CodecError(f"malformed message: {type(exc).__name__}: {exc}") from exc
    if offset != size:
        raise CodecError(f"{size - offset} trailing bytes after the message")
    return obj, size + DECODED_PER_ENVELOPE_BYTE * env_len + DECODE_OVERHEAD


__all__ = ["DECODED_PER_ENVELOPE_BYTE", "DEFAULT_LIMITS", "DTYPES", "Limits", "decode", "decode_charged", "encode"]
