"""Lazy re-exports for package ``__init__`` modules (PEP 562): a package names its public API
without importing every submodule up front, so that a party process imports only what its job
runs (start-up time). Type checkers see the names through an ``if TYPE_CHECKING:`` import block
next to the table."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import import_module


def lazy_exports(package: str, table: Mapping[str, Iterable[str]]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: ``table`` maps a submodule (relative to
    ``package``) to the names it exports; the first use of a name imports its submodule and
    caches the value in the package."""
    where = {name: module for module, names in table.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{module}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


__all__ = ["lazy_exports"]
