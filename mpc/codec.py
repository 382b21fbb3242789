"""msgpack codec with numpy arrays as an ext type; strict, bounded decoding.

Wire form of an array (ext code 1): dtype code (1 byte), ndim (1 byte), ndim little-endian
uint32 dimensions, then the raw little-endian bytes. Only the dtypes in :data:`DTYPES` travel.
Anything else — unknown ext codes, wrong lengths, oversized containers, trailing bytes — raises
:class:`~mpc.errors.CodecError` (a :class:`~mpc.errors.ProtocolError`). Nothing is unpickled.
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
    max_container_len: int = 1 << 20
    max_str_len: int = 1 << 16


DEFAULT_LIMITS = Limits()


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        dt = obj.dtype.newbyteorder("<") if obj.dtype.byteorder == ">" else obj.dtype
        code = _CODES.get(np.dtype(dt))
        if code is None or obj.ndim > MAX_NDIM:
            raise CodecError(f"cannot encode array of dtype {obj.dtype} and ndim {obj.ndim}")
        header = struct.pack(f"<BB{obj.ndim}I", code, obj.ndim, *obj.shape)
        return msgpack.ExtType(EXT_NDARRAY, header + np.ascontiguousarray(obj, dtype=dt).tobytes())
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise CodecError(f"cannot encode {type(obj).__name__}")


def _ext_hook(code: int, data: bytes) -> np.ndarray:
    if code != EXT_NDARRAY:
        raise CodecError(f"unknown ext type {code}")
    if len(data) < 2:
        raise CodecError("truncated array header")
    dcode, ndim = data[0], data[1]
    dt = DTYPES.get(dcode)
    if dt is None or ndim > MAX_NDIM:
        raise CodecError(f"unknown array dtype code {dcode} or ndim {ndim}")
    head = 2 + 4 * ndim
    if len(data) < head:
        raise CodecError("truncated array shape")
    shape = struct.unpack_from(f"<{ndim}I", data, 2)
    count = 1
    for d in shape:
        count *= d
    if len(data) - head != count * dt.itemsize:
        raise CodecError(f"array body of {len(data) - head} bytes does not match shape {shape} and {dt}")
    return np.frombuffer(data, dtype=dt, count=count, offset=head).reshape(shape)


def encode(obj: Any) -> bytes:
    try:
        return msgpack.packb(obj, default=_default, use_bin_type=True, strict_types=False)
    except CodecError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise CodecError(f"cannot encode: {exc}") from exc


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError("expected bytes")
    if len(data) > limits.max_message_bytes:
        raise CodecError(f"message of {len(data)} bytes exceeds the limit of {limits.max_message_bytes}")
    try:
        return msgpack.unpackb(
            data,
            ext_hook=_ext_hook,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=limits.max_str_len,
            max_bin_len=limits.max_message_bytes,
            max_array_len=limits.max_container_len,
            max_map_len=limits.max_container_len,
            max_ext_len=limits.max_message_bytes,
        )
    except CodecError:
        raise
    except Exception as exc:  # msgpack raises many types for hostile bytes; all mean "malformed"
        raise CodecError(f"malformed message: {type(exc).__name__}: {exc}") from exc


__all__ = ["DEFAULT_LIMITS", "DTYPES", "Limits", "decode", "encode"]
