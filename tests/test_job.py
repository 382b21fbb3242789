"""Job agreement: parties compare public job descriptors before any share leaves (virtual time)."""

import asyncio

import numpy as np
import pytest

import netsim
from mpc import ConfigError, Node
from mpc.errors import JobMismatch, ProtocolError
from mpc.job import JobDescriptor, differing_fields
from mpc.message import Message
from netsim import SimNetwork
from protocols import secure_sum

pytestmark = pytest.mark.timeout(30)
IDS = (1, 2, 3)


def job(**kw):
    base = dict(protocol="sum", parties=IDS, input_parties=IDS, sharing="shamir", threshold=1)
    return JobDescriptor(**{**base, **kw})


def test_descriptor_is_canonical_and_names_its_differences():
    a = job(options={"b": 1, "a": [1, 2]}, shapes={2: (3,), 1: (3,)}, dtypes={1: "int", 2: "int"},
            input_parties=(2, 1))
    b = job(options={"a": [1, 2], "b": 1}, shapes={1: [3], 2: [3]}, dtypes={2: "int", 1: "int"},
            input_parties=(1, 2))
    assert a == b and a.canonical() == b.canonical() and a.digest() == b.digest()
    assert a.differences(b.as_dict()) == ()
    assert job().differences(job(threshold=2).as_dict()) == ("threshold",)
    assert job().differences(job(input_parties=(1,)).as_dict()) == ("input_parties",)
    assert job().digest() != job(fractional_bits=16).digest()
    with pytest.raises(ProtocolError):
        differing_fields(job().as_dict(), ["not", "a", "table"], peer=2)


@pytest.mark.parametrize("kw, match", [
    ({"input_parties": (4,)}, "not among"),
    ({"parties": (1, 1, 2)}, "twice"),
    ({"options": {"x": object()}}, "plain public data"),
    ({"options": {"x": float("nan")}}, "plain public data"),
    ({"threshold": -1}, "non-negative"),
    ({"dtypes": {1: "complex"}}, "dtypes"),
    ({"shapes": {9: (2,)}}, "give no input"),
])
def test_bad_descriptors_are_config_errors(kw, match):
    with pytest.raises(ConfigError, match=match):
        job(**kw)


def _run_jobs(jobs, *, barrier="mesh", inputs=None):
    """Every party runs secure_sum under its own descriptor; returns results and the instance tags
    of every message that left any party."""

    async def main():
        net = SimNetwork(IDS)
        tags = []

        def watch(at, arrive, src, dst, data):
            msg = Message.from_bytes(data)
            if msg.instance:
                tags.append(msg.tag)

        net.observers.append(watch)

        async def one(pid):
            j = jobs[pid]
            async with Node(pid, transport=net.transport(pid), parties=IDS, session=b"job", timeout=1.0,
                            barrier=barrier) as node:
                x = None if inputs is None else inputs.get(pid)
                try:
                    return await node.run(secure_sum, np.array([10 * pid]) if inputs is None else x,
                                          threshold=j.threshold, input_parties=j.input_parties, job=j)
                except Exception as exc:  # noqa: BLE001
                    return exc

        return await asyncio.gather(*(one(p) for p in IDS)), tags

    return netsim.run(main())


@pytest.mark.parametrize("barrier", ["mesh", "star"])
def test_agreed_job_runs(barrier):
    res, tags = _run_jobs({p: job() for p in IDS}, barrier=barrier)
    assert [r.tolist() for r in res] == [[60]] * 3
    assert "~job" in tags and "share" in tags


@pytest.mark.parametrize("barrier", ["mesh", "star"])
@pytest.mark.parametrize("differ, field", [
    ({"threshold": 2}, "threshold"),
    ({"fractional_bits": 16}, "fractional_bits"),
    ({"protocol": "mean"}, "protocol"),
])
def test_a_mismatch_fails_everywhere_before_any_share(barrier, differ, field):
    jobs = {1: job(), 2: job(), 3: job(**differ)}
    res, tags = _run_jobs(jobs, barrier=barrier)
    for r in res:
        assert isinstance(r, JobMismatch), r
        assert r.fields == (field,) and field in str(r)
    # what left any party: job descriptors and the agreement verdicts, never a share
    assert tags and set(tags) <= {"~job", "~job/decision", "~job/echo", "~end", "~end/decision", "~end/echo"}


def test_each_party_listing_only_its_own_input_is_refused_naming_input_parties():
    # the deployment mistake: every host's scenario lists only its own input
    jobs = {p: job(input_parties=(p,)) for p in IDS}
    res, tags = _run_jobs(jobs, inputs={p: np.array([p]) for p in IDS})
    assert all(isinstance(r, JobMismatch) and r.fields == ("input_parties",) for r in res)
    assert res[0].parties == (2, 3)  # compared with the lowest party's descriptor
    assert "share" not in tags


def test_a_job_naming_parties_outside_the_session_is_refused_at_every_party():
    async def main():
        net = SimNetwork((1, 2))

        async def one(pid):
            mine = job() if pid == 1 else job(parties=(1, 2), input_parties=(1, 2))
            async with Node(pid, transport=net.transport(pid), parties=(1, 2), session=b"j", timeout=1.0) as node:
                try:
                    return await node.run(secure_sum, [pid], input_parties=(1, 2), job=mine)
                except Exception as exc:  # noqa: BLE001
                    return exc, asyncio.get_running_loop().time()

        return await asyncio.gather(one(1), one(2))

    (e1, t1), (e2, t2) = netsim.run(main())
    assert isinstance(e1, ConfigError) and "not in this session" in str(e1)
    assert isinstance(e2, ConfigError) and t2 < 0.5  # party 1's refusal ended party 2's wait early


@pytest.mark.parametrize("barrier", ["mesh", "star"])
def test_a_served_job_travels_in_the_hello_and_a_mismatch_stops_every_start(barrier):
    async def main(jobs):
        net = SimNetwork(IDS)
        routes = []
        net.observers.append(lambda at, arr, src, dst, data: routes.append(Message.from_bytes(data).instance))

        async def one(pid):
            node = Node(pid, transport=net.transport(pid), parties=IDS, session=b"served", barrier=barrier,
                        job=jobs[pid], timeout=1.0)
            try:
                async with node:
                    return (await node.run(secure_sum, [pid])).tolist()
            except Exception as exc:  # noqa: BLE001
                return exc

        return await asyncio.gather(*(one(p) for p in IDS)), routes

    same, routes = netsim.run(main({p: job() for p in IDS}))
    assert same == [[6]] * 3
    if barrier == "mesh":
        assert "~job" not in routes  # no extra round: the descriptors rode on the hellos
    res, routes = netsim.run(main({1: job(), 2: job(sharing="additive"), 3: job()}))
    assert all(isinstance(r, JobMismatch) and r.fields == ("sharing",) for r in res), res
    assert set(routes) <= {"", "~job"}  # control messages and the star's verdict only


def test_a_deployment_where_each_host_lists_only_its_own_input_is_refused():
    """Issue 11's silent leak: each host's scenario had only its own [inputs] entry, so every party
    inferred a different set of input parties. Now the hello's job comparison refuses the run."""
    from mpc.app.runner import run_party
    from mpc.app.scenario import parse

    def scenario_of_host(pid):
        return parse({"name": "deploy", "protocol": "sum", "parties": 3, "inputs": {str(pid): [pid, 2 * pid]}})

    async def main():
        net = SimNetwork(IDS)
        shares = []
        net.observers.append(lambda at, arr, src, dst, data: shares.append(Message.from_bytes(data).tag))
        outs = await asyncio.gather(*(run_party(scenario_of_host(p), p, net.transport(p), session=b"dep",
                                                on_crash=lambda: None, parties=IDS) for p in IDS))
        return outs, shares

    outs, tags = netsim.run(main())
    for o in outs:
        assert o.status == "error" and o.error == "JobMismatch" and "ConfigError" in o.error_kinds
        assert "input_parties" in o.message
    assert "share" not in tags and "open" not in tags
