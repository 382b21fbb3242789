"""One frozen dataclass per message kind, checked at construction.

A message object that exists is well formed: every field went through its check from
:mod:`protocols.secagg.wire` (types, sizes, distinct ids, parallel lists of equal length).
What depends on the round's state (which ids may appear, the vector length) is checked by the
state machine that receives it. On the wire a message is a map ``{"kind": ..., field: value}``;
:func:`decode` turns a peer's map into a message or raises ProtocolError naming the peer.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from mpc.errors import ProtocolError, UnexpectedMessage
from mpc.field import U64

from . import wire
from .commit import HASH
from .keyshares import KEY_BYTES, LIMBS
from .phases import Kind
from .signatures import MAX_KEY_BYTES, MAX_SIG_BYTES

PK_BYTES = 32
VK = wire.blob(most=MAX_KEY_BYTES)
SIG = wire.blob(most=MAX_SIG_BYTES)
CT_BYTES = 8 + 2 * LIMBS * 8 + 16  # (sender, receiver, two shares' limbs) + AES-GCM tag


def _checked(check: wire.Check, **kw: Any) -> Any:
    return field(metadata={"check": check}, **kw)


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    KIND: ClassVar[Kind]

    def __post_init__(self) -> None:
        for name, check in _CHECKS[type(self)]:
            object.__setattr__(self, name, check(getattr(self, name), name))
        self._validate()

    def _validate(self) -> None:
        """Checks across fields (parallel lists)."""

    def to_wire(self) -> dict[str, Any]:
        return {"kind": self.KIND.value, **{name: getattr(self, name) for name in _NAMES[type(self)]}}


@dataclass(frozen=True, slots=True, kw_only=True)
class Join(Message):
    KIND = Kind.JOIN


@dataclass(frozen=True, slots=True, kw_only=True)
class Advertise(Message):
    KIND = Kind.ADVERTISE
    c_pk: bytes = _checked(wire.blob(PK_BYTES))
    s_pk: bytes = _checked(wire.blob(PK_BYTES))
    vk: bytes = _checked(VK)  # the signer's verification key (DER); checked against identities
    sig: bytes = _checked(SIG)  # over crypto.advertisement_message(round_id, id, dim, c_pk, s_pk)
    dim: int = _checked(wire.positive_int)


@dataclass(frozen=True, slots=True, kw_only=True)
class Keys(Message):
    KIND = Kind.KEYS
    ids: tuple[int, ...] = _checked(wire.ids)
    c_pk: tuple[bytes, ...] = _checked(wire.blobs(PK_BYTES))
    s_pk: tuple[bytes, ...] = _checked(wire.blobs(PK_BYTES))
    vk: tuple[bytes, ...] = _checked(wire.blobs(most=MAX_KEY_BYTES))
    sig: tuple[bytes, ...] = _checked(wire.blobs(most=MAX_SIG_BYTES))
    absent: tuple[int, ...] = _checked(wire.ids)  # neighbours that advertised nothing
    root: bytes = _checked(wire.blob(HASH))  # Merkle root over every registered client's leaf
    proofs: Any = _checked(wire.hashes)  # (len(ids) + len(absent), depth, 32): inclusion proofs, or none
    dim: int = _checked(wire.positive_int)

    def _validate(self) -> None:
        wire.same_length("keys", self.ids, self.c_pk, self.s_pk, self.vk, self.sig)
        if len(self.proofs) not in (0, len(self.ids) + len(self.absent)):
            raise ProtocolError("keys: one inclusion proof per listed client, or none")


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareKeys(Message):
    KIND = Kind.SHARE_KEYS
    ids: tuple[int, ...] = _checked(wire.ids)
    cts: tuple[bytes, ...] = _checked(wire.blobs(CT_BYTES))
    commit: bytes = _checked(wire.blob(KEY_BYTES))

    def _validate(self) -> None:
        wire.same_length("share_keys", self.ids, self.cts)


@dataclass(frozen=True, slots=True, kw_only=True)
class Shares(Message):
    KIND = Kind.SHARES
    ids: tuple[int, ...] = _checked(wire.ids)
    cts: tuple[bytes, ...] = _checked(wire.blobs(CT_BYTES))

    def _validate(self) -> None:
        wire.same_length("shares", self.ids, self.cts)


@dataclass(frozen=True, slots=True, kw_only=True)
class MaskedInput(Message):
    KIND = Kind.MASKED_INPUT
    y: U64 = _checked(wire.array(1))


@dataclass(frozen=True, slots=True, kw_only=True)
class Survivors(Message):
    KIND = Kind.SURVIVORS
    bits: bytes = _checked(wire.blob(most=1 << 20))  # U3 as a bitmap over the registered clients


@dataclass(frozen=True, slots=True, kw_only=True)
class Consistency(Message):
    KIND = Kind.CONSISTENCY
    sig: bytes = _checked(SIG)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnmaskRequest(Message):
    KIND = Kind.UNMASK_REQUEST
    ids: tuple[int, ...] = _checked(wire.ids)
    sigs: tuple[bytes, ...] = _checked(wire.blobs(most=MAX_SIG_BYTES))

    def _validate(self) -> None:
        wire.same_length("signatures", self.ids, self.sigs)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unmask(Message):
    KIND = Kind.UNMASK
    b_ids: tuple[int, ...] = _checked(wire.ids)
    b: U64 = _checked(wire.array(2, field=True))
    sk_ids: tuple[int, ...] = _checked(wire.ids)
    sk: U64 = _checked(wire.array(2, field=True))

    def _validate(self) -> None:
        for name, ids, arr in (("b", self.b_ids, self.b), ("sk", self.sk_ids, self.sk)):
            if arr.shape != (len(ids), LIMBS):
                raise ProtocolError(f"{name} shares must have shape ({len(ids)}, {LIMBS})")


@dataclass(frozen=True, slots=True, kw_only=True)
class Result(Message):
    KIND = Kind.RESULT
    used: bytes = _checked(wire.blob(most=1 << 20))  # U3, the clients whose inputs are in the sum
    output: Any = _checked(wire.optional(wire.vector), default=None)  # int64 or float64



@dataclass(frozen=True, slots=True, kw_only=True)
class Abort(Message):
    KIND = Kind.ABORT
    error: str = _checked(wire.text)
    reason: str = _checked(wire.text, default="")
    missing: tuple[int, ...] = _checked(wire.ids, default=())
    needed: int | None = _checked(wire.optional(wire.positive_int), default=None)
    have: int | None = _checked(wire.optional(wire.count), default=None)


MESSAGES: dict[Kind, type[Message]] = {cls.KIND: cls for cls in (
    Join, Advertise, Keys, ShareKeys, Shares, MaskedInput, Survivors, Consistency, UnmaskRequest, Unmask, Result,
    Abort)}
# per class, once: (field, check) pairs and field names (messages are many, dataclasses.fields is slow)
_CHECKS: dict[type[Message], tuple[tuple[str, wire.Check], ...]] = {
    cls: tuple((f.name, f.metadata["check"]) for f in fields(cls) if "check" in f.metadata) for cls in MESSAGES.values()}
_NAMES: dict[type[Message], frozenset[str]] = {cls: frozenset(f.name for f in fields(cls)) for cls in MESSAGES.values()}


def decode(payload: Any, peer: int | None) -> Message:
    """A peer's map as a checked message; ProtocolError (naming the peer) if it is not one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("kind"), str):
        raise ProtocolError("a secure-aggregation message is a map with a 'kind'", peer=peer)
    try:
        cls = MESSAGES[Kind(payload["kind"])]
    except ValueError:
        raise UnexpectedMessage(f"unknown message kind {payload['kind'][:40]!r}", peer=peer) from None
    names = _NAMES[cls]
    extra = payload.keys() - names - {"kind"}
    if extra:
        raise ProtocolError(f"{cls.KIND.value} message has unknown fields {sorted(map(str, extra))[:5]}", peer=peer)
    try:
        return cls(**{k: v for k, v in payload.items() if k != "kind"})
    except TypeError:
        raise ProtocolError(f"{cls.KIND.value} message lacks fields {sorted(names - set(payload))}", peer=peer) from None
    except ProtocolError as exc:
        raise ProtocolError(f"{cls.KIND.value}: {exc}", peer=peer) from None


__all__ = [
    "Abort", "Advertise", "CT_BYTES", "Consistency", "Join", "Keys", "MESSAGES", "MaskedInput", "Message",
    "PK_BYTES", "Result", "ShareKeys", "Shares", "Survivors", "Unmask", "UnmaskRequest", "decode",
]
