"""Fault matrix over real processes: a party is killed (SIGKILL) or frozen (SIGSTOP) at several
points of a run, including between the sends of one broadcast (``sends = 1``).

Documented outcome (docs/deployment.md, "Faults in real runs"): a survivor never outputs a wrong
value; it outputs the plaintext result or ends with PartyDropped / QuorumLost; and the survivors
agree: all output (the same value) or all abort. The faulty party is reported ``crashed`` (a frozen
one is killed by the launcher's watchdog as soon as only stopped parties remain).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from mpc.app.forkserver import ForkServer
from mpc.app.launch import run_real
from mpc.app.scenario import load

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(900)
ABORTS = {"PartyDropped", "QuorumLost"}

POINTS = {  # (fault kind, trigger, extra keys)
    "kill-at-start": ("crash", "at_ms:0", ""),
    "kill-after-share": ("crash", "after:share", ""),
    "kill-mid-share-broadcast": ("crash", "after:share", "sends = 1"),
    "kill-mid-open-broadcast": ("crash", "after:open", "sends = 1"),
    "freeze-after-share": ("freeze", "after:share", ""),
    "freeze-mid-open-broadcast": ("freeze", "after:open", "sends = 1"),
}
SHARINGS = ("additive", "shamir")
# the fast subset includes the case that split the survivors before the node's agreement round:
# additive sharing, a party killed between the sends of its 'open' broadcast (one peer had its
# share and could open, the others could not); now all abort alike
FAST = [(3, "additive", "kill-mid-open-broadcast"), (3, "shamir", "freeze-mid-open-broadcast"),
        (5, "shamir", "kill-mid-share-broadcast")]


@pytest.fixture(scope="module")
def fork_server():
    with ForkServer() as fs:
        yield fs


def _scenario(tmp_path: Path, n: int, sharing: str, point: str) -> Path:
    kind, trigger, extra = POINTS[point]
    inputs = "\n".join(f"{p} = [{p * 1000 + 1}, {-p}, {7 * p}]" for p in range(1, n + 1))
    path = tmp_path / f"{n}-{sharing}-{point}.toml"
    path.write_text(f'protocol = "sum"\nparties = {n}\nsharing = "{sharing}"\ntimeout_s = 2\n'
                    f'[inputs]\n{inputs}\n[[faults]]\nparty = 1\n{kind} = "{trigger}"\n{extra}\n')
    return path


def _check(path: Path, fork_server: ForkServer) -> None:
    scn = load(path)
    report = run_real(scn, spawn=fork_server.spawn)
    want = np.sum([scn.inputs[p] for p in scn.party_ids], axis=0)
    assert report.outcomes[1].status == "crashed", report.outcomes[1]
    survivors = {p: o for p, o in report.outcomes.items() if p != 1}
    kinds = set()
    for p, o in survivors.items():
        if o.status == "ok":
            assert np.array_equal(np.asarray(o.result.output), want), (p, o.result.output)  # never wrong
            kinds.add("output")
        else:
            assert o.status == "error" and o.error in ABORTS, (p, o.status, o.error, o.message)
            kinds.add("abort")
    assert len(kinds) == 1, {p: (o.status, o.error) for p, o in survivors.items()}  # survivors agree
    # a frozen party stalls nobody: the run ends once the survivors are done (timeout_s = 2)
    assert report.wall_s < 3 * scn.timeout_s + 10


@pytest.mark.parametrize("n,sharing,point", FAST)
def test_fault_matrix_fast_subset(tmp_path, fork_server, n, sharing, point):
    _check(_scenario(tmp_path, n, sharing, point), fork_server)


@pytest.mark.slow
@pytest.mark.parametrize("n,sharing,point", [c for c in itertools.product((3, 5, 7), SHARINGS, POINTS)
                                             if c not in FAST])
def test_fault_matrix_full(tmp_path, fork_server, n, sharing, point):
    _check(_scenario(tmp_path, n, sharing, point), fork_server)
