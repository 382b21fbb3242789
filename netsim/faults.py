"""Scenario ``[[faults]]``: typed faults and triggers, parsed once, and their simulation.

Each entry names a party and one fault kind::

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
last path segment: :meth:`AfterRound.matches`). ``at_ms`` is virtual time from the start of the
run. Real runs apply only ``crash`` (by killing the process, or by the node itself for
``after:``). :func:`parse_faults` is the one parser of this grammar; the scenario loader holds
its result, and :class:`FaultPlan` installs it on a simulated network.
"""

from __future__ import annotations

import asyncio
import math
from functools import partial
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mpc.errors import ConfigError

if TYPE_CHECKING:
    from .transport import SimNetwork


# -- triggers ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AtTime:
    """``at_ms:<n>``: at ``seconds`` of virtual time after the run starts."""

    seconds: float


@dataclass(frozen=True, slots=True)
class AfterRound:
    """``after:<tag>``: right after the party sent its messages of round ``tag``."""

    tag: str

    def matches(self, sent: str) -> bool:
        """Whether a message of round ``sent`` fires this trigger: the full tag or its last path
        segment (``after:share`` matches ``mul/share``)."""
        return sent == self.tag or sent.rsplit("/", 1)[-1] == self.tag


Trigger = AtTime | AfterRound


def parse_trigger(spec: Any, where: str) -> Trigger:
    """``at_ms:<n>`` (n ≥ 0) or ``after:<round tag>``; anything else is a :class:`ConfigError`."""
    if isinstance(spec, str) and spec.startswith("after:") and len(spec) > 6:
        return AfterRound(spec.removeprefix("after:"))
    if isinstance(spec, str) and spec.startswith("at_ms:"):
        try:
            ms = float(spec.removeprefix("at_ms:"))
        except ValueError:
            ms = -1.0
        if 0 <= ms < math.inf:
            return AtTime(ms / 1000.0)
    raise ConfigError(f"{where} must be 'at_ms:<n>' or 'after:<round tag>', got {spec!r}")


# -- faults --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Triggered:
    """A fault that strikes ``party`` once, at ``when``."""

    party: int
    when: Trigger

    @property
    def after(self) -> str | None:
        """The round tag after which the fault strikes (``None``: a timed fault)."""
        return self.when.tag if isinstance(self.when, AfterRound) else None

    @property
    def at_s(self) -> float | None:
        """The virtual (or, in a real run, wall) second at which the fault strikes."""
        return self.when.seconds if isinstance(self.when, AtTime) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Crash(Triggered):
    """``crash``: the party stops for good; its peers see the disconnect."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Restart(Triggered):
    """``restart``: a crash, then ``down_s`` later a fresh incarnation starts from scratch."""

    down_s: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Silent(Triggered):
    """``silent``: every message from or to the party is lost, with no disconnect notice."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Slow:
    """``slow``: the party's links are ``factor`` times slower, plus ``delay_s`` per message."""

    party: int
    factor: float
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Partition:
    """``partition``: messages between the party and ``others`` are held from ``at_s`` until
    ``heal_s`` (then resent, as TCP would), or lost if it never heals."""

    party: int
    at_s: float
    heal_s: float | None = None  # None: never heals (held messages are lost)
    others: frozenset[int] | None = None  # None: every other party


Fault = Crash | Restart | Silent | Slow | Partition
FAULT_KINDS = ("crash", "restart", "silent", "slow", "partition")
EXTRA_KEYS: Mapping[str, frozenset[str]] = {
    "crash": frozenset(),
    "restart": frozenset({"down_ms"}),
    "silent": frozenset(),
    "slow": frozenset({"delay_ms"}),
    "partition": frozenset({"heal_at_ms", "from"}),
}


def _seconds(entry: Mapping[str, Any], key: str, where: str) -> float | None:
    v = entry.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf:
        raise ConfigError(f"{where}.{key} must be a non-negative number of ms, got {v!r}")
    return float(v) / 1000.0


def _party(v: Any, parties: int, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= parties:
        raise ConfigError(f"{where}: party {v!r} is outside 0..{parties}")
    return v


def parse_fault(entry: Any, parties: int, where: str = "faults[0]") -> Fault:
    """One ``[[faults]]`` table; party ids are checked against ``0..parties``."""
    if not isinstance(entry, dict) or "party" not in entry:
        raise ConfigError(f"{where}: needs party = <id>")
    pid = _party(entry["party"], parties, where)
    kinds = [k for k in FAULT_KINDS if k in entry]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: give exactly one of {', '.join(FAULT_KINDS)}")
    kind = kinds[0]
    spec = entry[kind]
    unknown = set(entry) - {"party", kind} - EXTRA_KEYS[kind]
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)} for a {kind} fault")
    if kind == "crash":
        return Crash(party=pid, when=parse_trigger(spec, f"{where}: crash"))
    if kind == "restart":
        down = _seconds(entry, "down_ms", where)
        return Restart(party=pid, when=parse_trigger(spec, f"{where}: restart"), down_s=1.0 if down is None else down)
    if kind == "silent":
        return Silent(party=pid, when=parse_trigger(spec, f"{where}: silent"))
    if kind == "slow":
        if isinstance(spec, bool) or not isinstance(spec, (int, float)) or not 0 < spec < math.inf:
            raise ConfigError(f"{where}.slow must be a positive factor, got {spec!r}")
        return Slow(party=pid, factor=float(spec), delay_s=_seconds(entry, "delay_ms", where) or 0.0)
    at = parse_trigger(spec, f"{where}: partition")
    heal = _seconds(entry, "heal_at_ms", where)
    if not isinstance(at, AtTime) or (heal is not None and heal <= at.seconds):
        raise ConfigError(f"{where}: partition needs 'at_ms:<n>' and heal_at_ms > n")
    others = entry.get("from")
    if others is not None:
        if not isinstance(others, list):
            raise ConfigError(f"{where}.from must be a list of parties")
        others = frozenset(_party(o, parties, f"{where}.from") for o in others)
    return Partition(party=pid, at_s=at.seconds, heal_s=heal, others=others)


def parse_faults(entries: Any, parties: int) -> tuple[Fault, ...]:
    """A scenario's ``faults`` array (``[[faults]]``)."""
    if not isinstance(entries, list):
        raise ConfigError("faults must be an array of tables ([[faults]])")
    return tuple(parse_fault(e, parties, f"faults[{k}]") for k, e in enumerate(entries))


# -- simulation ----------------------------------------------------------------------------
class FaultPlan:
    """Typed faults checked against a network, installed on a running simulation by :meth:`install`."""

    def __init__(self, net: SimNetwork, faults: Sequence[Fault]) -> None:
        self.net = net
        self.faults = tuple(faults)
        self._handles: list[asyncio.Handle] = []
        self._coming_back: dict[int, asyncio.Future[None]] = {}
        members = set(net.parties)
        for k, f in enumerate(self.faults):
            if f.party not in members:
                raise ConfigError(f"faults[{k}]: party {f.party} is not in this run")
            if isinstance(f, Partition) and f.others is not None and not f.others <= members:
                raise ConfigError(f"faults[{k}].from must be a list of parties in this run")

    def install(self, tasks: Mapping[int, asyncio.Task[Any]], start: Callable[[int], None]) -> None:
        """Arm every fault; ``start(pid)`` launches a fresh incarnation of a restarted party."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        net = self.net
        for f in self.faults:
            p = f.party
            action: Callable[[], None]
            if isinstance(f, Slow):
                net.slow[p] = (f.factor, f.delay_s)
                continue
            if isinstance(f, Partition):
                heal = math.inf if f.heal_s is None else t0 + f.heal_s
                net.partitions.append((t0 + f.at_s, heal, p, f.others))
                continue
            if isinstance(f, Crash):
                if f.after is not None:
                    continue  # the node applies it (real runs too)
                action = partial(self._crash, p, tasks)
            elif isinstance(f, Restart):
                action = partial(self._restart, p, tasks, start, f.down_s)
            else:  # Silent
                action = partial(net.silent.add, p)
            if isinstance(f.when, AtTime):
                self._handles.append(loop.call_at(t0 + f.when.seconds, action))
            else:
                self._after(p, f.when, action)

    def _after(self, party: int, trigger: AfterRound, action: Callable[[], None]) -> None:
        fired = False

        def hook(src: int, tag: str) -> None:
            nonlocal fired
            if not fired and src == party and trigger.matches(tag):
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


__all__ = [
    "EXTRA_KEYS", "FAULT_KINDS", "AfterRound", "AtTime", "Crash", "Fault", "FaultPlan", "Partition",
    "Restart", "Silent", "Slow", "Trigger", "Triggered", "parse_fault", "parse_faults", "parse_trigger",
]
