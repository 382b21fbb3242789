from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from harness import run_parties
from netsim import VirtualTimeLoop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Async tests run on netsim's virtual-time loop: sleeps and timeouts cost no real time and
    ordering never depends on real delays. Tests of real sockets carry the ``real_time`` marker."""
    if item.get_closest_marker("real_time"):
        return {"real": asyncio.new_event_loop}
    return {"virtual": VirtualTimeLoop}


@pytest.fixture
def parties():
    return run_parties
