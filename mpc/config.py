"""A node's configuration: who it is, who the others are, the session, deadlines, limits, and
the shape of its barriers and agreement steps."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from . import codec
from .errors import ConfigError
from .job import JobDescriptor

Barrier = Literal["mesh", "star"]


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """Everything a node needs besides its transport and its CSPRNG; validated at construction.

    ``session`` binds every message of a run: parties of one run share it, and two runs never do
    (there is no default). ``neighbors`` are the peers this node talks to (``None``: all of
    them). ``barrier`` is the shape of the start and close barriers: ``"mesh"`` — every party
    tells every neighbour; passing it proves every link carried a message. ``"star"`` — every party
    tells the lowest id (the root), which answers everyone once all have arrived: O(n) messages;
    passing it proves every party started and reached the root, not that every pairwise link is up
    (a send on a link still being set up waits, bounded by the transport's send timeout). Leaves of
    a star must have the root among their neighbours.

    ``job``: the one job this node serves, if it serves one: its digest travels in the hello, and
    :meth:`Node.start` fails at every party with :class:`JobMismatch` naming the differing fields
    when they differ (a mesh sends the full descriptors only then; a star always compares them
    at the root: one extra exchange at start, in which a leaf whose digest matched the root's
    hello sends only its digest).

    ``survivor_agreement``: after each computation the live parties agree to all output or all
    abort (see :mod:`mpc.agreement`; one extra exchange of a few bytes per computation).
    """

    party_id: int
    parties: tuple[int, ...]
    session: bytes
    timeout: float = 10.0
    connect_timeout: float = 30.0
    limits: codec.Limits = codec.DEFAULT_LIMITS
    neighbors: tuple[int, ...] | None = None
    barrier: Barrier = "mesh"
    survivor_agreement: bool = True
    job: JobDescriptor | None = None
    transport: str = "nng"  # what Node opens when given addresses: nng | tcp (asyncio TCP)

    def __post_init__(self) -> None:
        parties, members = _canonical(tuple(self.parties))
        object.__setattr__(self, "parties", parties)
        if self.party_id not in members:
            raise ConfigError(f"party {self.party_id} is not among the parties {list(parties)}")
        if not isinstance(self.session, bytes) or not 0 < len(self.session) <= 64:
            raise ConfigError("the session must be 1 to 64 bytes that every party of this run (and no other run) uses")
        if not (self.timeout >= 0 and self.connect_timeout >= 0):
            raise ConfigError("timeouts must be non-negative numbers of seconds")
        if self.transport not in ("nng", "tcp"):
            raise ConfigError(f"unknown transport {self.transport!r} (nng | tcp)")
        if self.barrier not in ("mesh", "star"):
            raise ConfigError(f"unknown barrier {self.barrier!r} (mesh | star)")
        if self.neighbors is not None:
            neighbors = tuple(sorted(set(self.neighbors) - {self.party_id}))
            unknown = set(neighbors) - members
            if unknown:
                raise ConfigError(f"neighbours {sorted(unknown)} are not among the parties")
            object.__setattr__(self, "neighbors", neighbors)
        if self.star and self.party_id != self.root and self.root not in self.peers:
            raise ConfigError(f"a star barrier, or neighbours that are not everyone, need the root "
                              f"(party {self.root}) among party {self.party_id}'s neighbours")

    @property
    def root(self) -> int:
        """The lowest party id: the centre of a star barrier."""
        return self.parties[0]

    @property
    def star(self) -> bool:
        """Whether agreement steps go through the root: a star barrier, or not every pair talks."""
        return self.barrier == "star" or len(self.peers) != len(self.parties) - 1

    @property
    def peers(self) -> tuple[int, ...]:
        """The parties this node talks to (its neighbours, or every other party)."""
        if self.neighbors is not None:
            return self.neighbors
        return tuple(p for p in self.parties if p != self.party_id)


@functools.lru_cache(maxsize=16)
def _canonical(parties: tuple[int, ...]) -> tuple[tuple[int, ...], frozenset[int]]:
    """The sorted party list without repeats, and its set: one shared pair per list, so that the
    10,000 nodes of a simulation do not each hold (and sort) a copy of it."""
    members = frozenset(parties)
    return tuple(sorted(members)), members


def session_bytes(session: bytes | str) -> bytes:
    """A session given as text is its UTF-8 bytes."""
    return session.encode() if isinstance(session, str) else session


__all__ = ["Barrier", "NodeConfig", "session_bytes"]
