"""Process hygiene of ``mpc run``: a signal to the launcher ends every party (and the fork server),
prints one line, and leaves no temporary directory or key behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(180)


def marked_processes(marker: str) -> list[int]:
    """Live processes (zombies excluded) whose environment carries ``marker``."""
    found = []
    needle = f"MPC_TEST_MARKER={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes():
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


def _wait_for(pred, limit: float, what: str):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)  # polling an external condition (other processes), not ordering our own code
    raise AssertionError(f"timed out waiting for {what}")


def _hanging_scenario(tmp_path: Path, parties: int) -> Path:
    """Every party waits: the last one freezes after sharing, and the others' timeout is long."""
    path = tmp_path / "hang.toml"
    path.write_text(f'protocol = "sum"\nparties = {parties}\nsharing = "additive"\ntimeout_s = 120\n'
                    f'[inputs]\ndefault = {{ random = 4, low = 0, high = 9 }}\n'
                    f'[[faults]]\nparty = {parties}\nfreeze = "after:share"\n')
    return path


def _start(tmp_path: Path, parties: int, *extra: str) -> tuple[subprocess.Popen, str, Path]:
    marker = uuid.uuid4().hex
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPC_TEST_MARKER": marker, "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen([sys.executable, "-m", "mpc", "run", str(_hanging_scenario(tmp_path, parties)), *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, marker, tmpdir


def _run_and_signal(tmp_path: Path, parties: int, sig: int, *extra: str) -> tuple[int, str]:
    proc, marker, tmpdir = _start(tmp_path, parties, *extra)
    try:
        # every party (and the fork server) is up, and the frozen one has stopped
        expected = parties + 1 + (1 if "--fork-server" in extra else 0)  # + the launcher
        _wait_for(lambda: len(marked_processes(marker)) >= expected, 90, f"{expected} processes")
        _wait_for(lambda: any(_state(p) == "T" for p in marked_processes(marker)), 60, "the frozen party")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        _wait_for(lambda: not marked_processes(marker), 10, "every process of the run to end")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert list(tmpdir.iterdir()) == []  # no temporary directory, no key file
    return proc.returncode, err


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return "?"


@pytest.mark.parametrize("extra", [
    ("--fork-server", "--tls"),
    pytest.param((), marks=pytest.mark.slow),  # 20 interpreters start in ~20 s on 2 busy cores
], ids=["fork-server-tls", "exec"])
def test_sigterm_to_mpc_run_of_20_parties_ends_every_process(tmp_path, extra):
    rc, err = _run_and_signal(tmp_path, 20, signal.SIGTERM, *extra)
    assert rc == 128 + signal.SIGTERM
    assert err.strip().splitlines() == ["mpc: interrupted (SIGTERM); every party stopped"]


def test_sigint_prints_one_line_and_ends_every_process(tmp_path):
    rc, err = _run_and_signal(tmp_path, 4, signal.SIGINT, "--tls")
    assert rc == 128 + signal.SIGINT
    assert err.strip().splitlines() == ["mpc: interrupted (SIGINT); every party stopped"]


@pytest.mark.parametrize("extra", [("--fork-server",), pytest.param((), marks=pytest.mark.slow)],
                         ids=["fork-server", "exec"])
def test_sigkill_of_mpc_run_takes_its_parties_with_it(tmp_path, extra):
    rc, _ = _run_and_signal(tmp_path, 5, signal.SIGKILL, *extra)
    assert rc == -signal.SIGKILL
