"""Secure arrays: a numpy-like shared-array type with automatic round batching.

    async def main(session, my_input):
        x = session.input(1, my_input if session.me == 1 else None, shape=(3,))
        y = session.input(2, my_input if session.me == 2 else None, shape=(3,))
        return await ((x * y).sum() > 10).reveal()

See docs/arrays.md for the API, the round model and the security bounds.
"""

from typing import TYPE_CHECKING

from mpc.lazy import lazy_exports

if TYPE_CHECKING:  # imported on first use (``__getattr__``): a party imports only what its job runs
    from .array import SecureArray, concatenate, stack
    from .errors import RangeError, SessionMismatch, ShapeError
    from .nonlinear import where
    from .session import Session

__getattr__ = lazy_exports(__name__, {
    "array": ("SecureArray", "concatenate", "stack"),
    "errors": ("RangeError", "SessionMismatch", "ShapeError"),
    "nonlinear": ("where",),
    "session": ("Session",),
})

__all__ = ["RangeError", "SecureArray", "Session", "SessionMismatch", "ShapeError", "concatenate", "stack", "where"]
