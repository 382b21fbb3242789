"""Range safety at share time: inputs outside the documented bound, or sums that could wrap, are
refused at every party before the refusing party shares anything (virtual time)."""

import asyncio

import numpy as np
import pytest

import netsim
from mpc.errors import ConfigError, InputRangeError
from mpc.field import GF61, Z64
from mpc.job import MAX_ABS_INPUT, check_input_range, input_bound
from mpc.message import Message
from netsim import SimNetwork
from protocols import secure_sum

pytestmark = pytest.mark.timeout(30)
BIG = (1 << 60) - 1


def test_bounds():
    assert input_bound(GF61.modulus, 1) == MAX_ABS_INPUT == BIG
    assert input_bound(GF61.modulus, 3) == BIG // 3
    assert input_bound(Z64.modulus, 8) == BIG  # 8 · (2^60 − 1) < 2^63: no wrap
    assert input_bound(Z64.modulus, 9) == ((1 << 63) - 1) // 9
    check_input_range(np.array([-BIG, BIG]), GF61.modulus)
    for bad in (np.array([1 << 60]), np.array([-(1 << 60)]), np.array([np.iinfo(np.int64).min]),
                np.array([1 << 63], dtype=np.uint64)):
        with pytest.raises(InputRangeError):
            check_input_range(bad, GF61.modulus)


def _sum(inputs, sharing="shamir"):
    ids = tuple(sorted(inputs))

    async def main():
        net = SimNetwork(ids, {"latency_ms": 1})
        sent: dict[int, list[str]] = {p: [] for p in ids}
        net.observers.append(lambda at, arr, src, dst, data: sent[src].append(Message.from_bytes(data).tag))

        async def one(pid):
            from mpc import Node

            async with Node(pid, transport=net.transport(pid), parties=ids, session=b"range", timeout=1.0) as node:
                try:
                    return await node.run(secure_sum, np.array([inputs[pid]], dtype=np.int64), sharing=sharing)
                except Exception as exc:  # noqa: BLE001
                    return exc

        return await asyncio.gather(*(one(p) for p in ids)), sent

    return netsim.run(main())


def test_a_shamir_sum_that_would_wrap_is_refused_not_opened_as_4():
    # (2^60 − 1) + (2^60 − 1) + 5 used to open as 4
    res, sent = _sum({1: BIG, 2: BIG, 3: 5})
    assert all(isinstance(r, ConfigError) for r in res), res
    assert isinstance(res[0], InputRangeError) and str(BIG) in str(res[0]) and "sum of 3" in str(res[0])
    assert "share" not in sent[1] and "share" not in sent[2]  # the refusing parties shared nothing
    assert all("open" not in tags for tags in sent.values())  # and nothing was opened


@pytest.mark.parametrize("sharing", ["shamir", "additive"])
def test_two_to_the_60_is_refused_even_alone(sharing):
    res, _ = _sum({1: 1 << 60, 2: 0}, sharing)
    assert all(isinstance(r, ConfigError) for r in res)


def test_additive_sum_that_would_wrap_2_to_the_64_is_refused():
    res, _ = _sum({1: 1 << 62, 2: 1 << 62}, "additive")
    assert all(isinstance(r, ConfigError) for r in res)


def test_the_largest_allowed_values_still_add_up():
    res, _ = _sum({1: BIG // 3, 2: BIG // 3, 3: -(BIG // 3)})
    assert [r.tolist() for r in res] == [[BIG // 3]] * 3
