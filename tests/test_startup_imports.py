"""Start-up: a party process imports only what its job runs (issue 14).

Every party pays its imports at once on a few cores, so a module a plain sum never uses costs
start-up time N times over. These runs are real: ``run_real`` starts each party as its own OS
process (a thin wrapper around :func:`mpc.app.party.party_main` that records ``sys.modules`` once
the party's outcome is written), the sum is opened and checked against the plaintext.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from mpc.app.bench._scenario import to_toml
from mpc.app.launch import PARTY_ENV, run_real
from mpc.app.scenario import load

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(120), pytest.mark.real_time]

WRAPPER = """
import json, sys
from mpc.app import party
party.party_main()
with open(sys.argv[1], "w") as fh:
    json.dump(sorted(sys.modules), fh)
party.exit_now(0)
"""

# never needed by a plain sum without TLS: other protocols, certificates, the launcher, plotting
NOT_FOR_A_SUM = (
    "cryptography.x509", "cryptography.hazmat.primitives.asymmetric", "protocols.api",
    "protocols.secagg.client", "protocols.secagg.server", "protocols.secagg.crypto", "protocols.secagg.protocol",
    "protocols.secagg.signatures", "protocols.secagg.keyshares", "protocols.secagg.graph",
    "protocols.secarray.array", "protocols.secarray.session", "protocols.secarray.prep",
    "mpc.app.launch", "mpc.app.cli", "mpc.app.bench", "mpc.app.deploy", "mpc.identity",
    "netsim.clock", "netsim.transport", "netsim.endpoint", "netsim.arrivals", "netsim.delivery", "netsim.links",
    "tomllib", "matplotlib", "mpyc", "scipy",
)


def _run_and_list_modules(tmp_path: Path, transport: str) -> tuple[dict[str, Any], list[set[str]]]:
    scenario = tmp_path / "sum.toml"
    inputs = {"1": [5, -2], "2": [7, 11], "3": [-1, 4]}
    scenario.write_text(to_toml({"name": "sum-imports", "protocol": "sum", "parties": 3, "sharing": "shamir",
                                 "transport": transport, "inputs": inputs}))
    lists: list[Path] = []
    env = {**PARTY_ENV, **os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}

    async def spawn(stderr: int) -> Any:
        lists.append(tmp_path / f"modules-{len(lists)}.json")
        return await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRAPPER, str(lists[-1]), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=stderr, env=env)

    report = run_real(load(scenario), spawn=spawn)
    assert report.ok, report.reason
    return report.as_dict(), [set(json.loads(p.read_text())) for p in lists]


def _unneeded(modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == bad or m.startswith(bad + ".") for bad in NOT_FOR_A_SUM)}


def test_a_sum_over_pynng_imports_no_other_protocol_nor_certificates(tmp_path: Path) -> None:
    doc, lists = _run_and_list_modules(tmp_path, "nng")
    assert doc["output"] == [5 + 7 - 1, -2 + 11 + 4]
    assert len(lists) == 3
    for modules in lists:
        assert {"pynng", "protocols.sum", "mpc.node"} <= modules  # the list is the real party's
        assert _unneeded(modules) == set()


def test_a_sum_over_tcp_does_not_load_pynng(tmp_path: Path) -> None:
    doc, lists = _run_and_list_modules(tmp_path, "tcp")
    assert doc["output"] == [5 + 7 - 1, -2 + 11 + 4]
    for modules in lists:
        assert "mpc.transport.tcp" in modules
        assert _unneeded(modules) == set()
        assert not {m for m in modules if m == "pynng" or m.startswith(("pynng.", "mpc.transport.nng"))}
