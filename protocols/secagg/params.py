"""Public parameters of one aggregation round, the same at the server and every client."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mpc.errors import ConfigError

from .crypto import harary_neighbours


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    """Public parameters of one aggregation round (the same at the server and every client).

    ``threshold`` is the number of shares needed to rebuild a secret, i.e. the minimum number of
    survivors at each stage (SecAgg: of all clients; SecAgg+: of each client's neighbours).
    """

    clients: tuple[int, ...]
    threshold: int
    variant: str = "secagg"  # secagg | secagg+
    degree: int = 0  # SecAgg+: neighbours per client (0 for SecAgg: everyone)
    fractional_bits: int | None = None
    result_to_clients: bool = True
    server: int = 0

    @classmethod
    def make(cls, clients: tuple[int, ...], options: Mapping[str, Any], *,
             degree_threshold: int | None = None, fractional_bits: int | None = None) -> Params:
        """From a scenario's ``[options]`` (variant, degree, threshold, result_to_clients).

        ``degree_threshold`` is a top-level Shamir degree t (the project-wide meaning); it asks
        for t + 1 shares. Defaults: SecAgg+ degree 2·⌈log2 n⌉ (even), threshold ⌊m/2⌋ + 1 for m
        the number of share holders (n, or the degree + 1), i.e. a majority of them.
        """
        clients = tuple(sorted(clients))
        n = len(clients)
        if n < 2:
            raise ConfigError("secure aggregation needs at least two clients")
        variant = str(options.get("variant", "secagg"))
        if variant not in ("secagg", "secagg+"):
            raise ConfigError(f"options.variant must be 'secagg' or 'secagg+', got {variant!r}")
        if variant == "secagg+":
            default_k = 2 * math.ceil(math.log2(n))
            degree = int(options.get("degree", default_k))
            if degree < 2:
                raise ConfigError("options.degree must be at least 2")
            degree = min(n - 1, degree + degree % 2)
        else:
            degree = n - 1
        holders = degree + 1  # a client holds a share of its own secrets too (as in the paper)
        if "threshold" in options:
            needed = int(options["threshold"])
        elif degree_threshold is not None:
            needed = degree_threshold + 1
        else:
            needed = holders // 2 + 1
        if not 1 <= needed <= holders:
            raise ConfigError(f"threshold must be in 1..{holders} (share holders per client), got {needed}")
        return cls(clients=clients, threshold=needed, variant=variant, degree=degree if variant == "secagg+" else 0,
                   fractional_bits=fractional_bits, result_to_clients=bool(options.get("result_to_clients", True)))


def neighbourhoods(
    params: Params, u1: tuple[int, ...], sid: bytes, only: int | None = None
) -> dict[int, frozenset[int]]:
    """Who shares keys with whom: everyone (SecAgg) or the seeded Harary graph on U1 (SecAgg+);
    with ``only``, just that client's neighbourhood."""
    degree = params.degree if params.variant == "secagg+" else len(u1)
    return harary_neighbours(u1, degree, sid, only=only)


__all__ = ["Params", "neighbourhoods"]
