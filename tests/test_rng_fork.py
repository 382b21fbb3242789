"""A forked child never repeats its parent's randomness; keyed generators stay deterministic."""

from __future__ import annotations

import os

import pytest

from mpc.rng import Csprng

pytestmark = pytest.mark.timeout(30)


def _in_child(draw) -> bytes:  # type: ignore[no-untyped-def]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: draw, report, leave without running the parent's cleanup
        try:
            os.write(w, draw())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        out = fh.read()
    os.waitpid(pid, 0)
    return out


def test_a_forked_child_draws_fresh_randomness():
    rng = Csprng()
    rng.random_bytes(5)  # mid-stream, as a node's generator would be
    child = _in_child(lambda: rng.random_bytes(32))
    parent = rng.random_bytes(32)
    assert len(child) == 32 and child != parent
    # and two children of the same parent differ from each other
    assert _in_child(lambda: rng.random_bytes(32)) != _in_child(lambda: rng.random_bytes(32))


def test_a_keyed_generator_continues_its_stream_in_the_child():
    key = bytes(range(32))
    rng = Csprng(key)
    rng.random_bytes(7)
    child = _in_child(lambda: rng.random_bytes(32))
    assert child == rng.random_bytes(32)  # same position, same key: the same bytes
    fresh = Csprng(key)
    fresh.random_bytes(7)
    assert child == fresh.random_bytes(32)
