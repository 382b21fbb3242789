"""Codec: encoding and decoding whole protocol messages carrying uint64 arrays, in MB/s of array
payload, against the floor of copying the array's bytes (``tobytes`` / ``frombuffer``)."""

from __future__ import annotations

import numpy as np

from mpc.message import Message
from mpc.rng import Csprng
from mpc.app.bench._common import BenchConfig, Row, fast_samples

SUITE = "codec"
SESSION = bytes(16)


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
        for name, times in (("copy tobytes (floor)", out_times), ("copy frombuffer (floor)", in_times)):
            rows.append(Row(suite=SUITE, name=name, params={"size": size}).set_times(times, mb, "MB/s"))
    return rows
