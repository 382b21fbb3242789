"""Typed errors of the secure-array layer (all :class:`mpc.errors.ConfigError`: the program is wrong)."""

from __future__ import annotations

from mpc.errors import ConfigError


class SessionMismatch(ConfigError):
    """Operands belong to different sessions (different parties, schemes or preprocessing)."""


class ShapeError(ConfigError):
    """Operand shapes or kinds (integer vs fixed point) do not fit the operation."""


class RangeError(ConfigError):
    """A public input or constant lies outside the session's declared value range."""


__all__ = ["RangeError", "SessionMismatch", "ShapeError"]
