"""A session: the object a program talks to. :class:`Session` is the :class:`~.graph.Engine`
(scheme, preprocessing, round scheduler) plus inputs and reveals of SecureArrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mpc.errors import ConfigError, PartyDropped, ProtocolError

from .array import SecureArray
from .graph import Engine
from .prep import share_arith
from .rounds import Input
from .steps import Step


class Session(Engine):
    __doc__ = Engine.__doc__

    # -- inputs -----------------------------------------------------------------------------
    def input(self, owner: int, value: Any = None, *, shape: tuple[int, ...] | int | None = None,
              fixed: bool = False) -> SecureArray:
        """A shared array from ``owner``'s ``value``; every other party passes the public ``shape``."""
        if owner not in self.scheme.parties:
            raise ConfigError(f"input owner {owner} is not a computing party")
        rows = None
        if owner == self.me:
            if value is None:
                raise ConfigError(f"party {owner} owns this input but passed no value")
            enc = self.encode(value, fixed)
            if shape is not None and tuple(np.atleast_1d(shape)) != enc.shape:
                raise ConfigError(f"input of shape {enc.shape}, declared {shape}")
            shp: tuple[int, ...] = enc.shape
            rows = share_arith(self.scheme, enc.reshape(-1), self.ctx.rng)
        elif shape is None:
            raise ConfigError(f"the shape of party {owner}'s input is needed (it is public)")
        else:
            shp = tuple(int(d) for d in np.atleast_1d(shape)) if not isinstance(shape, int) else (shape,)
        size = int(np.prod(shp))

        def receive() -> Step[np.ndarray]:
            (share,) = yield [Input(owner, size, rows)]
            return share.reshape(shp)

        return SecureArray(self, self.node(receive, ()), shp, fixed)

    async def inputs(self, value: Any, owners: Sequence[int] | None = None,
                     fixed: bool | None = None) -> dict[int, SecureArray]:
        """Every owner's array; one public round announces the shapes and kinds first."""
        owners = tuple(self.input_parties if owners is None else owners)
        mine = None
        if self.me in owners:
            if value is None:
                raise ConfigError(f"party {self.me} is an input party but has no input")
            arr = np.asarray(value)
            isfix = bool(arr.dtype.kind == "f") if fixed is None else fixed
            mine = [list(arr.shape), isfix]
        quorum = None if self.scheme.kind == "additive" else self.scheme.open_quorum  # Shamir: owners suffice
        got = await self.ctx.exchange(f"shape{self.rounds}", mine, among=self.scheme.parties, quorum=quorum)
        self.rounds += 1
        out: dict[int, SecureArray] = {}
        for p in owners:
            if p not in got:
                raise PartyDropped(p, "an input party never announced its input")
            ann = got[p]
            if (not isinstance(ann, list) or len(ann) != 2 or not isinstance(ann[0], list)
                    or not all(type(d) is int and 0 <= d <= 1 << 30 for d in ann[0]) or type(ann[1]) is not bool):
                raise ProtocolError("malformed input announcement", peer=p)
            out[p] = self.input(p, value if p == self.me else None, shape=tuple(ann[0]), fixed=ann[1])
        return out

    async def __aenter__(self) -> Session:
        return self


__all__ = ["Session"]
