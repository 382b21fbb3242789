"""Real runs: OS processes over pynng on loopback, the CLI, and a node embedded in an asyncio app."""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mpc import Node
from mpc.app.launch import run_real
from mpc.app.runner import run_sim
from mpc.app.scenario import load
from mpc.transport.nng import NngTransport
from mpc.transport.tcp import new_transport
from protocols import secure_sum

ROOT = Path(__file__).resolve().parent.parent
FOUNDATION = ["sum-3", "sum-5-shamir", "mean-10"]
pytestmark = [pytest.mark.timeout(120), pytest.mark.real_time]


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture(autouse=True)
def _children_find_the_package(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])


@pytest.mark.parametrize("name", FOUNDATION)
def test_shipped_scenarios_pass_in_real_mode(name):
    report = run_real(load(ROOT / "scenarios" / f"{name}.toml"))
    assert report.ok, report.reason
    assert all(o.status in ("ok", "crashed") for o in report.outcomes.values())


@pytest.mark.parametrize("name", FOUNDATION)
def test_shipped_scenarios_pass_in_sim_mode(name):
    report = run_sim(load(ROOT / "scenarios" / f"{name}.toml"))
    assert report.ok, report.reason


def _write(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def test_a_peer_killed_before_the_sum_makes_the_others_raise_partydropped(tmp_path):
    scn = load(_write(tmp_path, """
name = "killed"
protocol = "sum"
parties = 3
sharing = "additive"
timeout_s = 4
[inputs]
1 = [1]
2 = [2]
3 = [3]
[[faults]]
party = 3
crash = "at_ms:0"
[expect]
error = "PartyDropped"
"""))
    t0 = time.perf_counter()
    report = run_real(scn)
    assert report.ok, report.reason
    assert report.outcomes[3].status == "crashed"
    for p in (1, 2):
        assert report.outcomes[p].error == "PartyDropped"
        assert report.outcomes[p].protocol_s < scn.timeout_s + 1
    assert time.perf_counter() - t0 < 30


def test_cli_wrong_expect_exits_nonzero_with_a_clear_message(tmp_path):
    bad = (ROOT / "scenarios" / "sum-3.toml").read_text().replace("output = [12, 15, 18]", "output = [12, 15, 19]")
    path = _write(tmp_path, bad)
    out = tmp_path / "r.json"
    for extra in ([], ["--sim"]):
        proc = subprocess.run([sys.executable, "-m", "mpc", "run", str(path), "--json", str(out), *extra],
                              capture_output=True, text=True, env=_env(), timeout=60)
        assert proc.returncode == 1
        assert "FAILED" in proc.stdout and "does not match expected [12, 15, 19]" in proc.stdout
        report = json.loads(out.read_text())
        assert report["ok"] is False and report["outputs"] == {"1,2,3": [12, 15, 18]}
        assert report["output"] == [12, 15, 18]  # once, since every party agrees
        assert {"scenario", "ok", "outputs", "elapsed_s", "messages", "bytes"} <= set(report)
        for p in ("1", "2", "3"):
            party = report["parties"][p]
            assert party["status"] == "ok" and party["bytes_sent"] > 0 and party["messages_sent"] > 0


def test_cli_user_errors_are_readable(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mpc", "run", str(tmp_path / "missing.toml")],
                          capture_output=True, text=True, env=_env(), timeout=30)
    assert proc.returncode == 2 and "scenario file not found" in proc.stderr and "Traceback" not in proc.stderr
    path = _write(tmp_path, 'protocol = "sum"\nparties = 3\nthreshold = 5\n')
    proc = subprocess.run([sys.executable, "-m", "mpc", "run", str(path)],
                          capture_output=True, text=True, env=_env(), timeout=30)
    assert proc.returncode == 2 and "threshold" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("kind", ["nng", "tcp"])
async def test_embedded_nodes_over_real_sockets_in_one_event_loop(kind):
    ids = (1, 2, 3)
    transports = {p: new_transport(kind, p) for p in ids}
    bound = {p: transports[p].bind([q for q in ids if q > p]) for p in ids}
    for p in ids:
        transports[p].connect({q: bound[q][p] for q in ids if q < p}, [q for q in ids if q != p])

    async def party(p):
        async with Node(p, transport=transports[p], parties=ids, session=b"embedded") as node:
            return await node.run(secure_sum, np.array([p, -p, 10**12]))

    res = await asyncio.wait_for(asyncio.gather(*(party(p) for p in ids)), 30)
    for r in res:
        assert r.tolist() == [6, -6, 3 * 10**12]


# multi-host deployments (`mpc node`) are in tests/test_app_deploy.py, on tests/deploy_harness.py


_FOREIGN_CA = """
import asyncio, json, sys
from mpc import Node
from mpc.errors import PartyDropped
from mpc.identity import generate
from mpc.transport.nng import NngTransport

async def main(tmp):
    good = generate(tmp + "/a", [1, 2])
    rogue = generate(tmp + "/b", [2])
    t1, t2 = NngTransport(1, tls=good[1]), NngTransport(2, tls=rogue[2])
    bound = t1.bind([2])
    t2.connect({1: bound[2]}, [1])
    t1.connect({}, [2])

    async def party(p, t):
        async with Node(p, transport=t, parties=(1, 2), session=b"x", connect_timeout=1.5) as node:
            return node

    res = await asyncio.gather(party(1, t1), party(2, t2), return_exceptions=True)
    print(json.dumps([[type(r).__name__, str(r)] for r in res]))

asyncio.run(main(sys.argv[1]))
"""


def test_tls_rejects_a_party_from_another_ca(tmp_path):
    # In a subprocess: nng calls Python back from its own threads on every failed TLS handshake,
    # which on CPython 3.11 can upset the interpreter's recursion bookkeeping for later imports.
    proc = subprocess.run([sys.executable, "-c", _FOREIGN_CA, str(tmp_path)], capture_output=True,
                          text=True, env=_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    (kind1, msg1), (kind2, msg2) = json.loads(proc.stdout.strip().splitlines()[-1])
    assert kind1 == kind2 == "TransportError"  # at the connect deadline, saying why
    assert "party 2: listening on tls+tcp://" in msg1 and "no connection from it arrived" in msg1
    assert "party 1: dialing tls+tcp://" in msg2 and "TLS handshake failed" in msg2
