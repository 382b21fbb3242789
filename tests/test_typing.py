"""mypy runs as part of the test suite (CI runs the README's test command): the packages stay
typed with the configuration in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(300)


def test_mypy_is_clean() -> None:
    from mypy import api  # the test extra installs it: no skip, a missing mypy is a failure

    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), str(ROOT / "mpc"),
                                      str(ROOT / "protocols"), str(ROOT / "netsim")])
    assert status == 0, stdout + stderr
