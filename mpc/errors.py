"""One error hierarchy, rooted at :class:`MpcError`.

Errors raised by a protocol instance finish that instance; the node that hosts it keeps serving.
"""

from __future__ import annotations

from collections.abc import Iterable


class MpcError(Exception):
    """Root of every error this runtime raises on purpose."""


class ConfigError(MpcError):
    """User input (scenario file, CLI flags, node config) is invalid."""


class ProtocolError(MpcError):
    """A peer sent something malformed, unexpected, replayed or for another session."""

    def __init__(self, message: str, *, peer: int | None = None) -> None:
        self.peer = peer
        super().__init__(message if peer is None else f"party {peer}: {message}")


class CodecError(ProtocolError):
    """Bytes could not be encoded or decoded as a message (a protocol error when a peer sent them)."""


class UnexpectedMessage(ProtocolError):
    """A message kind that is not allowed in the protocol's current phase."""


class Equivocation(ProtocolError):
    """The agreement's echo round found that parties received different views from one party
    (:mod:`mpc.agreement`): ``party`` sent different views to different parties, or ``reporter``
    misreports what it received. ``suspects``: one party when this party can prove who lied (then
    also ``peer``), else both (with three parties and one liar, nobody can tell which)."""

    def __init__(self, message: str, *, party: int | None = None, reporter: int | None = None,
                 suspects: Iterable[int] = ()) -> None:
        self.party = party
        self.reporter = reporter
        self.suspects = tuple(sorted(set(suspects)))
        super().__init__(message, peer=self.suspects[0] if len(self.suspects) == 1 else None)


class TransportError(MpcError):
    """The transport could not set up, send or receive."""


class PartyDropped(MpcError):
    """A peer stopped answering (crash, silence, or closed connection) within the timeout."""

    def __init__(self, party: int, reason: str = "no answer within the timeout") -> None:
        self.party = party
        super().__init__(f"party {party} dropped: {reason}")


class QuorumLost(MpcError):
    """Too few parties remain for the protocol to continue."""

    def __init__(self, missing: Iterable[int], *, needed: int | None = None, have: int | None = None) -> None:
        self.missing = tuple(sorted(missing))
        self.needed = needed
        self.have = have
        detail = f" (have {have}, need {needed})" if needed is not None else ""
        super().__init__(f"quorum lost: missing parties {list(self.missing)}{detail}")


class Crashed(MpcError):
    """Raised inside a party that a scenario fault crashed (simulation only)."""


class JobMismatch(ConfigError):
    """The parties' public job descriptors differ; raised at every party before any share is sent."""

    def __init__(self, fields: Iterable[str], parties: Iterable[int] = ()) -> None:
        self.fields = tuple(sorted(fields))
        self.parties = tuple(sorted(parties))
        who = f" (parties {list(self.parties)} disagree)" if self.parties else ""
        super().__init__(f"the parties run different jobs: {', '.join(self.fields)} differ{who}")


class NameInUse(ConfigError):
    """A computation name was used before in this session (names identify computations at every party)."""


class InputRangeError(ConfigError):
    """An input is outside the documented range, or the job's sum of inputs could wrap around."""


class Excluded(MpcError):
    """The others went on without this party (it was too late, or its input was refused); it has no
    output, and in the survivor agreement it does not veto theirs (a protocol that tolerates
    dropouts, such as secure aggregation, raises it at a client the server left out)."""


class ComputationAborted(MpcError):
    """Another party aborted the computation for a reason this runtime has no type for."""


AGREED_KINDS: dict[str, type[MpcError]] = {
    cls.__name__: cls
    for cls in (MpcError, ConfigError, ProtocolError, CodecError, UnexpectedMessage, Equivocation, TransportError,
                PartyDropped, QuorumLost, JobMismatch, NameInUse, InputRangeError, ComputationAborted)
}
"""Error kinds a party may report in the survivor agreement; each survivor raises the same type."""


__all__ = [
    "AGREED_KINDS",
    "CodecError",
    "ComputationAborted",
    "Equivocation",
    "Excluded",
    "ConfigError",
    "Crashed",
    "InputRangeError",
    "JobMismatch",
    "NameInUse",
    "MpcError",
    "PartyDropped",
    "ProtocolError",
    "QuorumLost",
    "TransportError",
    "UnexpectedMessage",
]
