"""Scenario ``[[faults]]`` in simulation. Each entry names a party and one fault kind:

    crash = "at_ms:250" | "after:<tag>"   the party stops for good; peers see the disconnect
    restart = "at_ms:250" | "after:<tag>" crash, then after down_ms (default 1000) a fresh
                                          incarnation of the party starts from scratch
    silent = "at_ms:0" | "after:<tag>"    from then on every message from or to the party is
                                          lost, without a disconnect notice (peers time out)
    slow = 4.0                            links from and to the party are 4x slower (latency and
                                          serialization); delay_ms = adds a fixed delay per message
    partition = "at_ms:100"               messages between the party and the others (or those in
                                          from = [...]) sent from then until heal_at_ms are held
                                          until the heal (TCP resends them); without heal_at_ms,
                                          or with loss_mode = "drop", they are lost

``after:<tag>`` fires right after the party sent its messages of that round (a full tag or its
last path segment). ``at_ms`` is virtual time from the start of the run. Real runs apply only
``crash`` (by killing the process). ``crash = "after:..."`` is applied by the node itself.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mpc.errors import ConfigError

from .wire import message_tag

if TYPE_CHECKING:
    from .transport import SimNetwork

EXTRA_KEYS: Mapping[str, frozenset[str]] = {
    "crash": frozenset(),
    "restart": frozenset({"down_ms"}),
    "silent": frozenset(),
    "slow": frozenset({"delay_ms"}),
    "partition": frozenset({"heal_at_ms", "from"}),
}


def parse_trigger(spec: Any, where: str) -> tuple[str, float | str]:
    """``("at", seconds)`` or ``("after", tag)``."""
    if isinstance(spec, str) and spec.startswith("after:") and len(spec) > 6:
        return "after", spec.removeprefix("after:")
    if isinstance(spec, str) and spec.startswith("at_ms:"):
        try:
            ms = float(spec.removeprefix("at_ms:"))
        except ValueError:
            ms = -1.0
        if ms >= 0:
            return "at", ms / 1000.0
    raise ConfigError(f"{where}: expected 'at_ms:<n>' or 'after:<round tag>', got {spec!r}")


def _ms(extra: Mapping[str, Any], key: str, where: str, default: float | None) -> float | None:
    v = extra.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ConfigError(f"{where}.{key} must be a non-negative number of ms, got {v!r}")
    return float(v) / 1000.0


class FaultPlan:
    """Validated faults, installed on a running simulation by :meth:`install`."""

    def __init__(self, net: SimNetwork, faults: Sequence[Any]) -> None:
        self.net = net
        self.faults = tuple(faults)
        self._handles: list[asyncio.Handle] = []
        self._coming_back: dict[int, asyncio.Future[None]] = {}
        for k, f in enumerate(self.faults):
            where = f"faults[{k}]"
            if f.party not in net.parties:
                raise ConfigError(f"{where}: party {f.party} is not in this run")
            unknown = set(f.extra) - EXTRA_KEYS.get(f.kind, frozenset())
            if unknown:
                raise ConfigError(f"{where}: unknown keys {sorted(unknown)} for a {f.kind} fault")
            if f.kind in ("crash", "restart", "silent"):
                parse_trigger(f.spec, f"{where}.{f.kind}")
            elif f.kind == "slow":
                if isinstance(f.spec, bool) or not isinstance(f.spec, (int, float)) or f.spec <= 0:
                    raise ConfigError(f"{where}.slow must be a positive factor, got {f.spec!r}")
                _ms(f.extra, "delay_ms", where, 0.0)
            elif f.kind == "partition":
                kind, at = parse_trigger(f.spec, f"{where}.partition")
                heal = _ms(f.extra, "heal_at_ms", where, None)
                if kind != "at" or (heal is not None and heal <= float(at)):
                    raise ConfigError(f"{where}: partition needs 'at_ms:<n>' and heal_at_ms > n")
                others = f.extra.get("from")
                if others is not None and (not isinstance(others, list) or not set(others) <= set(net.parties)):
                    raise ConfigError(f"{where}.from must be a list of parties")

    def install(self, tasks: Mapping[int, asyncio.Task[Any]], start: Callable[[int], None]) -> None:
        """Arm every fault; ``start(pid)`` launches a fresh incarnation of a restarted party."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        net = self.net
        for f in self.faults:
            p = f.party
            if f.kind == "slow":
                net.slow[p] = (float(f.spec), _ms(f.extra, "delay_ms", "", 0.0) or 0.0)
                continue
            if f.kind == "partition":
                heal = _ms(f.extra, "heal_at_ms", "", None)
                others = f.extra.get("from")
                _, at = parse_trigger(f.spec, "")
                net.partitions.append((t0 + float(at), math.inf if heal is None else t0 + heal, p,
                                       None if others is None else frozenset(others)))
                continue
            if f.kind == "crash":
                if f.crash_after:
                    continue  # the node applies it (real runs too)
                action: Callable[[], None] = lambda p=p: self._crash(p, tasks)
            elif f.kind == "restart":
                down = _ms(f.extra, "down_ms", "", 1000.0) or 0.0
                action = lambda p=p, down=down: self._restart(p, tasks, start, down)
            else:  # silent
                action = lambda p=p: net.silent.add(p)
            kind, when = parse_trigger(f.spec, "")
            if kind == "at":
                self._handles.append(loop.call_at(t0 + float(when), action))
            else:
                self._after(p, str(when), action)

    def _after(self, party: int, tag: str, action: Callable[[], None]) -> None:
        fired = False

        def hook(src: int, data: bytes) -> None:
            nonlocal fired
            if fired or src != party:
                return
            sent = message_tag(data)
            if sent is not None and (sent == tag or sent.rsplit("/", 1)[-1] == tag):
                fired = True
                # call_soon runs after the other sends of this round already queued by the node
                self._handles.append(asyncio.get_running_loop().call_soon(action))

        self.net.senders.append(hook)

    def _crash(self, party: int, tasks: Mapping[int, asyncio.Task[Any]]) -> None:
        self.net.crash(party)
        task = tasks.get(party)
        if task is not None:
            task.cancel()

    def _restart(self, party: int, tasks: Mapping[int, asyncio.Task[Any]], start: Callable[[int], None],
                 down: float) -> None:
        task = tasks.get(party)
        if task is None or task.done() or party in self._coming_back:
            return  # it already finished: nothing to restart
        loop = asyncio.get_running_loop()
        self._crash(party, tasks)
        back = self._coming_back[party] = loop.create_future()

        def come_back() -> None:
            self.net.revive(party)
            start(party)
            if not back.done():
                back.set_result(None)

        self._handles.append(loop.call_later(down, come_back))

    async def restarted(self, party: int) -> None:
        """Wait until a restart of ``party`` that is under way has launched its new incarnation."""
        back = self._coming_back.get(party)
        if back is not None:
            await back

    def close(self) -> None:
        for h in self._handles:
            h.cancel()
        self._handles.clear()


__all__ = ["EXTRA_KEYS", "FaultPlan", "parse_trigger"]
