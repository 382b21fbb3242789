"""Object mode: messages cross the simulated network as objects, not bytes.

Between two nodes of one process the codec is pure overhead: the sender encodes, the receiver
decodes, and nothing in between looks at the bytes. In object mode the network carries the
:class:`~mpc.message.Message` itself, with what the bytes would have told:

- its **size** on the wire, exactly ``len(msg.to_bytes())`` (links, stats and traces need it);
- an **immutable snapshot** of its payload taken at send time, shaped as the receiver would have
  decoded it: arrays are read-only little-endian C-contiguous copies (the sender may reuse its
  buffers after sending, and a broadcast's snapshot is shared by every receiver, so nobody may
  write into it), tuples are lists, numpy scalars are Python numbers. Lists and dicts are rebuilt
  per receiver (:meth:`Parcel.open`): one receiver's edits never reach another.
- no copy of an array that is **frozen** already: read-only, C-contiguous, little-endian, and
  read-only along its whole chain of bases down to an owner (or immutable ``bytes``), as a decoded
  array or a row of a sender's frozen share matrix is. Numpy lets only the owner's holder make it
  writeable again; a sender that freezes an array promises not to (protocols freeze what they
  scatter: 10^6 copies of 8-element rows were 15 % of a 1000-party sum).

A payload that is one numpy array (shares, the common case) is snapshotted directly and its
envelope size is computed once per ``(header, dtype, shape)``; any other payload is encoded and
decoded once per message object, so a broadcast costs one encoding for all its receivers and the
snapshot is exactly what decoding gives. A payload the receiver could not decode (say a dict with
integer keys) travels as bytes, and the receiver rejects it as it would in byte mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpc.codec import DECODE_OVERHEAD, DECODED_PER_ENVELOPE_BYTE, DTYPES
from mpc.errors import CodecError
from mpc.message import Message, _build

_CONTAINERS = (list, dict)
_LEAVES = (type(None), bool, int, float, str, bytes)
_ENVELOPE_CACHE_MAX = 4096
_LITTLE = {dt.newbyteorder(">"): dt for dt in DTYPES.values()} | {dt: dt for dt in DTYPES.values()}


class Parcel:
    """A message in flight in object mode: its snapshot and its size on the wire."""

    __slots__ = ("msg", "size", "charge", "thaw")

    def __init__(self, msg: Message, size: int, charge: int, thaw: bool) -> None:
        self.msg = msg
        self.size = size
        self.charge = charge  # what decoding would charge the receiver's buffer (codec.decode_charged)
        self.thaw = thaw  # the payload holds lists or dicts: each receiver gets its own copies

    def open(self) -> Message:
        """The message as one receiver gets it (never shared mutable state with another)."""
        if not self.thaw:
            return self.msg
        m = self.msg
        return _build(Message, m.session, m.instance, m.tag, m.sender, _thaw(m.payload))

    def to_bytes(self) -> bytes:
        return self.msg.to_bytes()


def _thaw(x: Any) -> Any:
    if type(x) is list:
        return [_thaw(v) if type(v) in _CONTAINERS else v for v in x]
    if type(x) is dict:
        return {k: (_thaw(v) if type(v) in _CONTAINERS else v) for k, v in x.items()}
    return x


def _has_containers(x: Any) -> bool:
    return type(x) in _CONTAINERS


def frozen_array(a: np.ndarray) -> bool:
    """Whether ``a`` is C-contiguous and read-only down to its owner, whose memory is its own or
    immutable ``bytes`` (a view of a writeable array, or of a ``bytearray``, could still change)."""
    flags = a.flags
    if flags.writeable or not flags.c_contiguous:
        return False
    base = a.base
    while base is not None:
        if type(base) is not np.ndarray:
            return type(base) is bytes
        if base.flags.writeable:
            return False
        base = base.base
    return True


class Packer:
    """Turns outgoing messages into parcels (or, for undecodable payloads, into bytes).

    One per network: the envelope-size cache is shared by every sender. Caches are bounded.
    """

    def __init__(self) -> None:
        self._envelope: dict[tuple[Any, ...], int] = {}
        # the last frozen row packed: (base, shape, strides, dtype, session, instance, tag, sender,
        # size, charge, (size, charge)). Another view of the same base with the same layout and header (the next
        # row of a scattered share matrix) is frozen and just as large: no checks, no lookups.
        self._row: tuple[Any, ...] | None = None

    def forget(self) -> None:
        """End of a batch: the next array is checked afresh (its owner might be writeable again)."""
        self._row = None

    def pack_meta(self, msg: Message) -> tuple[Message | Parcel | bytes, tuple[int, int] | None]:
        """``(msg, (size, charge))`` for a message whose payload is a frozen array (it travels as
        is: no parcel to make and free), else ``(pack(msg), None)``."""
        p = msg.payload
        row = self._row
        if (type(p) is np.ndarray and row is not None and p.base is row[0] and msg.tag is row[6]
                and msg.instance is row[5] and msg.session is row[4] and msg.sender == row[7]
                and p.shape == row[1] and p.strides == row[2] and p.dtype is row[3]):
            return msg, row[10]
        item = self.pack(msg)
        if isinstance(item, Parcel) and item.msg is msg and not item.thaw:
            return msg, (item.size, item.charge)
        return item, None

    def pack(self, msg: Message) -> Parcel | bytes:
        """A parcel for ``msg``, or its bytes when a receiver would reject them; raises
        :class:`CodecError` where encoding would (the sender's error, as in byte mode)."""
        p = msg.payload
        if type(p) is np.ndarray:
            row = self._row
            if (row is not None and p.base is row[0] and msg.tag is row[6] and msg.instance is row[5]
                    and msg.session is row[4] and msg.sender == row[7] and p.shape == row[1]
                    and p.strides == row[2] and p.dtype is row[3]):
                return Parcel(msg, row[8], row[9], False)
            dt = _LITTLE.get(p.dtype)
            if dt is not None:
                return self._pack_array(msg, p, dt)
        data = msg.to_bytes()
        try:
            snap, charge = Message.from_bytes_charged(data)
        except CodecError:
            return data
        return Parcel(snap, len(data), charge, _has_containers(snap.payload))

    def _pack_array(self, msg: Message, p: np.ndarray, dt: np.dtype) -> Parcel:
        key = (msg.session, msg.instance, msg.tag, msg.sender, dt, p.shape)
        env = self._envelope.get(key)
        if env is None:
            env = len(msg.to_bytes()) - p.nbytes  # the real encoder: exact by construction
            if len(self._envelope) >= _ENVELOPE_CACHE_MAX:
                self._envelope.clear()
            self._envelope[key] = env
        size = env + p.nbytes
        charge = size + DECODED_PER_ENVELOPE_BYTE * (env - 4) + DECODE_OVERHEAD
        if p.dtype == dt and frozen_array(p):
            if p.base is not None:
                self._row = (p.base, p.shape, p.strides, p.dtype, msg.session, msg.instance, msg.tag, msg.sender,
                             size, charge, (size, charge))
            return Parcel(msg, size, charge, False)
        # a copy (C order, little-endian, as decoded): the sender may reuse its buffer
        snap = p.copy() if p.dtype == dt else p.astype(dt, order="C")
        snap.setflags(write=False)  # (2x cheaper than snap.flags.writeable = False)
        frozen = _build(Message, msg.session, msg.instance, msg.tag, msg.sender, snap)
        return Parcel(frozen, size, charge, False)


__all__ = ["Packer", "Parcel", "frozen_array"]
