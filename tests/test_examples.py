"""The examples run as written: the HTTP service computes requests that reach the parties in
different orders (named computations), and the README's embedding snippet."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy_harness import free_base_ports
from mpc import Node

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(120)]
NAMED = "name" in inspect.signature(Node.run).parameters


def _load_service():
    spec = importlib.util.spec_from_file_location("example_service", ROOT / "examples" / "service.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.real_time
@pytest.mark.skipif(not NAMED, reason="named computations (node.run(..., name=)) are not merged yet")
async def test_service_answers_requests_that_arrive_in_any_order():
    svc = _load_service()
    bases = free_base_ports(3, 4)
    http = free_base_ports(3, 0)
    inputs = {1: {"a": [1, 2], "b": [100, 0]}, 2: {"a": [2, 2], "b": [200, 1]}, 3: {"a": [3, 2], "b": [300, 5]}}
    order = {1: ["a", "b"], 2: ["b", "a"], 3: ["b", "a"]}  # the requests reach the parties in different orders
    ops = {"a": "sum", "b": "dot"}

    async def party(p: int, stop_event: asyncio.Event) -> None:
        async with svc.MpcService(p, svc.addresses(bases), "example-test") as s:
            stop = await svc.serve_http(s.compute, "127.0.0.1", http[p - 1])
            try:
                await stop_event.wait()
            finally:
                await stop()

    async def client(p: int) -> dict[str, object]:
        # both requests in flight at once, sent in this party's order (an HTTP service serves
        # requests concurrently; a counter-numbered node would pair party 1's "a" with party 2's "b")
        calls = []
        for rid in order[p]:
            calls.append(asyncio.create_task(
                svc.post(http[p - 1], {"id": rid, "op": ops[rid], "values": inputs[p][rid]})))
            await asyncio.sleep(0)
        answers = {}
        for rid, (status, body) in zip(order[p], await asyncio.gather(*calls), strict=True):
            assert status == 200, body
            answers[rid] = body["result"]
        return answers

    done = asyncio.Event()
    servers = [asyncio.create_task(party(p, done)) for p in (1, 2, 3)]
    try:
        async with asyncio.timeout(60):
            while True:  # the HTTP ports are up once every node passed its start barrier
                try:
                    for port in http:
                        _, w = await asyncio.open_connection("127.0.0.1", port)
                        w.close()
                    break
                except OSError:
                    await asyncio.sleep(0.05)  # polling other tasks' sockets, not ordering
            got = await asyncio.gather(*(client(p) for p in (1, 2, 3)))
    finally:
        done.set()
        await asyncio.gather(*servers, return_exceptions=True)
    want_a = [sum(inputs[p]["a"][i] for p in (1, 2, 3)) for i in range(2)]
    want_b = sum(inputs[1]["b"][i] * inputs[2]["b"][i] * inputs[3]["b"][i] for i in range(2))
    for answers in got:
        assert answers == {"a": want_a, "b": want_b}


def _embed_code(base: int) -> str:
    """examples/embed.py (the README snippet), with only its BASE port line moved to free ports."""
    code = (ROOT / "examples" / "embed.py").read_text()
    assert code.count("BASE = 9100") == 1
    return code.replace("BASE = 9100", f"BASE = {base}")


def _free_embed_base() -> int:
    """BASE such that BASE + 100 * i + j (parties i, peers j of 1..3) are free: they all lie in
    base + 1 .. base + 310 for base = BASE + 100, which free_base_ports checks."""
    return free_base_ports(1, 310)[0] - 100


def test_the_readme_embedding_snippet_is_examples_embed_py():  # README.md shows examples/embed.py verbatim
    doc = (ROOT / "README.md").read_text()
    code = (ROOT / "examples" / "embed.py").read_text()
    assert f"```python\n{code}```" in doc


@pytest.mark.parametrize("split", [False, True], ids=["one-process", "one-process-per-party"])
def test_the_embedding_snippet_runs_as_written(tmp_path, split):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _attempt in range(3):  # a port taken between choosing and binding: choose again
        script = tmp_path / "embed.py"
        script.write_text(_embed_code(_free_embed_base()))
        runs = [[str(p)] for p in (1, 2, 3)] if split else [[]]
        procs = [subprocess.Popen([sys.executable, str(script), *a], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for a in runs]
        outs = [p.communicate(timeout=60) for p in procs]
        if not any("in use" in err.lower() for _, err in outs):
            break
    text = "".join(out for out, _ in outs)
    assert all(p.returncode == 0 for p in procs), outs
    assert sorted(text.splitlines()) == [f"party {i}: [60, -6]" for i in (1, 2, 3)]


@pytest.mark.slow  # ~10 s; tests/test_app_deploy.py runs the same deployment on loopback by default
@pytest.mark.timeout(180)
def test_three_namespace_tls_deployment(tmp_path):
    if os.geteuid() != 0 or subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        pytest.skip("needs root and ip netns")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(ROOT / "examples" / "deploy-netns.sh"), str(tmp_path / "work")],
                          env=env, capture_output=True, text=True, timeout=150)
    if proc.returncode == 77:
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "every host opened [13, 0, 999999]" in proc.stdout
    for i in (1, 2, 3):
        assert f"party {i}: netns-sum: [13, 0, 999999]" in proc.stdout
