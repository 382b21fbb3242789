"""The decoded charge bounds what decoding really allocates, for msgpack's densest shapes."""

from __future__ import annotations

import struct
import tracemalloc

import numpy as np
import pytest

from mpc import codec
from mpc.errors import CodecError

pytestmark = pytest.mark.timeout(60)
N = 50_000
DENSE = {  # one msgpack item per entry, repeated N times inside one array
    "empty lists": b"\x90",
    "empty maps": b"\x80",
    "small negative ints": b"\xec",
    "two-char strings": b"\xa2ab",
    "euro signs": b"\xa3\xe2\x82\xac",
    "float32": b"\xca" + struct.pack(">f", 1.5),
    "one-entry maps": b"\x81\xa1a\xc0",
    "nested lists": b"\x91\x90",
    "one-byte bins": b"\xc4\x01x",
    "empty uint64 arrays": b"\xc7\x06\x01" + bytes([3, 1]) + struct.pack("<I", 0),
}


def _frame(item: bytes, n: int = N) -> bytes:
    env = b"\xdd" + struct.pack(">I", n) + item * n
    return struct.pack("<I", len(env)) + env


@pytest.mark.parametrize("shape", DENSE, ids=list(DENSE))
def test_the_charge_bounds_the_memory_decoding_allocates(shape):
    data = _frame(DENSE[shape])
    limits = codec.Limits(max_envelope_bytes=len(data))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        obj, charge = codec.decode_charged(data, limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(obj) == N
    assert peak + len(data) <= charge, f"{shape}: {peak / (len(data) - 4):.1f} bytes per envelope byte"


def test_an_envelope_over_the_cap_is_refused_before_it_is_decoded():
    data = _frame(b"\x90", 300_000)
    with pytest.raises(CodecError, match="envelope of 300005 bytes exceeds"):
        codec.decode(data)  # default cap: 256 KiB
    big = np.arange(1 << 20, dtype=np.uint64)  # 8 MiB of array body travels outside the envelope
    obj, charge = codec.decode_charged(codec.encode({"share": big}))
    assert (obj["share"] == big).all()
    assert charge < big.nbytes + 10_000  # charged about what it holds (a view on the frame)
