"""Codec: encoding and decoding whole protocol messages carrying uint64 arrays, in MB/s of array
payload, against the floor of copying the array's bytes (``tobytes`` / ``frombuffer``)."""

from __future__ import annotations

import struct

import numpy as np

from .. import codec
from ..message import Message
from ..rng import Csprng
from . import BenchConfig, Row, fast_samples

SUITE = "codec"
SESSION = bytes(16)
U64_CODE = next(code for code, dt in codec.DTYPES.items() if dt == np.dtype("<u8"))


def framed_by_hand(arr: np.ndarray) -> bytes:
    """The codec's wire bytes for one large array (msgpack ext32), built with one copy.

    Not used by the runtime: it shows what ``codec.encode`` could cost if it framed arrays
    itself instead of copying them into an ``ExtType`` and then into msgpack's buffer.
    """
    header = struct.pack(f"<BB{arr.ndim}I", U64_CODE, arr.ndim, *arr.shape)
    body = memoryview(np.ascontiguousarray(arr)).cast("B")
    return b"".join((struct.pack(">BIb", 0xC9, len(header) + body.nbytes, codec.EXT_NDARRAY), header, body))


def run(cfg: BenchConfig) -> list[Row]:
    rows: list[Row] = []
    rng = Csprng(bytes(32))
    repeat = max(cfg.repeats(), 3)
    for size in cfg.sizes_or((10**3, 10**6), (10**5,)):
        arr = rng.uint64(size)
        mb = arr.nbytes / 1e6
        msg = Message(session=SESSION, instance="bench#1", tag="mul0/open", sender=1, payload=arr)
        wire = msg.to_bytes()
        raw = arr.tobytes()
        out_times = fast_samples(lambda: arr.tobytes(), repeat)
        in_times = fast_samples(lambda: np.frombuffer(raw, dtype=np.uint64).copy(), repeat)
        copy_out, copy_in = min(out_times), min(in_times)  # ratios of minima: noise only adds time
        enc = Row(suite=SUITE, name="encode message(uint64[])", params={"size": size})
        enc.set_times(fast_samples(msg.to_bytes, repeat), mb, "MB/s")
        enc.ratios["slowdown_vs_copy"] = enc.min_s / copy_out
        enc.extra["overhead_bytes"] = len(wire) - arr.nbytes
        dec = Row(suite=SUITE, name="decode message(uint64[])", params={"size": size})
        dec.set_times(fast_samples(lambda: Message.from_bytes(wire), repeat), mb, "MB/s")
        # decoding is zero-copy (a view on the message bytes); compare with one copy anyway
        dec.ratios["slowdown_vs_copy"] = dec.min_s / copy_in
        rows += [enc, dec]
        if arr.nbytes > 0xFFFF and framed_by_hand(arr) == codec.encode(arr):  # ext32: same wire bytes
            hand = Row(suite=SUITE, name="encode array, framed by hand", params={"size": size})
            hand.set_times(fast_samples(lambda: framed_by_hand(arr), repeat), mb, "MB/s")
            hand.ratios["slowdown_vs_copy"] = hand.min_s / copy_out
            hand.extra["codec_encode_array_min_s"] = min(fast_samples(lambda: codec.encode(arr), repeat))
            rows.append(hand)
        for name, times in (("copy tobytes (floor)", out_times), ("copy frombuffer (floor)", in_times)):
            rows.append(Row(suite=SUITE, name=name, params={"size": size}).set_times(times, mb, "MB/s"))
    return rows
