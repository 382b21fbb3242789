"""Public parameters of one aggregation round (the same at the server and every client), and the
choice of SecAgg+'s degree and threshold from a corruption fraction γ and a security parameter σ.

The threshold rule (why a split view fails)
-------------------------------------------
Each client u Shamir-shares two secrets among its *holders* (its neighbours and itself, h of them):
the self-mask seed b_u and the mask key s_u^SK. ``threshold`` t shares rebuild either. A lying
server may tell some holders "u survived" (they reveal shares of b_u) and others "u dropped" (they
reveal shares of s_u^SK); with both secrets it unmasks u's input. An honest holder reveals at most
one of the two for a given u in a round (the client's ledger, :meth:`SecAggClient._reveal`), so
with c colluding clients among u's holders (they reveal both) the server gets both secrets only if
(a − c) + c ≥ t and (h − a − c) + c ≥ t for some split a, i.e. only if 2t ≤ h + c. Hence

    2t > h + c          (and t ≥ 2: a degree-0 "sharing" is the secret itself)

is required; it also gives t > c, so the colluders alone never rebuild s_u^SK of a survivor.
:class:`Params` refuses any other setting with a :class:`ConfigError`. For SecAgg (everyone is a
neighbour) c = ⌊γ·n⌋, so γ = 0 gives t > n/2 and γ = 1/3 gives Bonawitz et al.'s t > 2n/3.

SecAgg+ (Bell et al., CCS 2020): degree and threshold from γ and σ
-------------------------------------------------------------------
The graph is a Harary graph H(k, n) on a uniformly random order of the *registered* clients, seeded
by the public job before anyone advertises (:attr:`Params.graph_seed`), so a server that "drops"
clients cannot re-roll it. For a client, its k neighbours are then a uniform k-subset of the other
n − 1 clients. With ⌊γn⌋ corrupt clients (chosen independently of the seed) and ⌊δn⌋ dropouts,
:func:`derive` picks a small even k (a scan in steps of 16, then refined) with a threshold t such that, by a union bound over the
n clients with exact hypergeometric tails,

* security: n · P[corrupt neighbours ≥ 2t − h] ≤ 2^−σ  (then 2t > h + c holds for every client),
* correctness: n · P[corrupt or dropped neighbours > h − t] ≤ 2^−η (enough holders answer),
* connectivity of the honest survivors: C(n, 2) · (γ + δ)^k ≤ 2^−σ (H(k, n) on a ring is cut
  only by two runs of k/2 missing clients), so the server learns only sums over large sets.

Degree k and threshold t (h = k + 1 holders) for δ = 0.1, σ = 40, η = 20, as :func:`derive` gives
them (γ = 1/3 needs the complete graph: c + 2·missing ≈ (3γ + 2δ)k exceeds h, so SecAgg with
t = ⌊2n/3⌋ + 1):

=========  ==========  ==========  ==========  ============  ==============
n          γ = 0       γ = 0.05    γ = 0.1     γ = 0.2       γ = 1/3
=========  ==========  ==========  ==========  ============  ==============
100        18 / 10     34 / 21     50 / 31     80 / 51       99 / 67
1,000      32 / 17     106 / 68    196 / 126   638 / 407     999 / 667
10,000     38 / 20     136 / 87    276 / 177   1780 / 1134   9999 / 6667
100,000    42 / 22     148 / 94    308 / 197   2336 / 1487   99999 / 66667
=========  ==========  ==========  ==========  ============  ==============

(The issue's example, n = 1000, k = 20, t = 11 with γ = 1/3, exposed each client with probability
≈ 2^−4.7; it is refused here.) An explicit ``degree``/``threshold`` is checked against the same
security bound and refused with a ConfigError naming the smallest acceptable threshold.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mpc.errors import ConfigError

from .crypto import PairwiseKeys
from .graph import Ring, harary_neighbours, harary_ring

DEFAULT_GAMMA = 0.05  # fraction of clients that may collude with the server
DEFAULT_DELTA = 0.1  # fraction of clients that may drop out
DEFAULT_SIGMA = 40  # statistical security: failure probability ≤ 2^−σ per round
DEFAULT_ETA = 20  # correctness: a round fails for lack of holders with probability ≤ 2^−η


@lru_cache(maxsize=1024)
def _tails(population: int, marked: int, draws: int) -> tuple[float, ...]:
    """tails[x] = P[X ≥ x] for X the marked items among ``draws`` taken without replacement
    (x = 0..draws + 1), from the log-pmf (exact to float precision, fine down to 1e-300)."""
    def logc(a: int, b: int) -> float:
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1) if 0 <= b <= a else -math.inf

    total = logc(population, draws)
    pmf = [math.exp(logc(marked, i) + logc(population - marked, draws - i) - total) for i in range(draws + 1)]
    tails = [0.0] * (draws + 2)
    for x in range(draws, -1, -1):
        tails[x] = tails[x + 1] + pmf[x]
    return tuple(tails)


def _tail(population: int, marked: int, draws: int, at_least: int) -> float:
    """P[X ≥ at_least] (see :func:`_tails`)."""
    if at_least <= 0:
        return 1.0
    return _tails(population, marked, draws)[at_least] if at_least <= draws else 0.0


@lru_cache(maxsize=256)
def corrupt_bound(n: int, degree: int, gamma: float, sigma: int) -> int:
    """The number c of corrupt neighbours no client exceeds except with probability ≤ 2^−σ
    (union bound over the n clients); for the complete graph, ⌊γn⌋ exactly."""
    corrupt = math.floor(gamma * n)
    if degree >= n - 1 or corrupt == 0:
        return min(corrupt, degree)
    c = 0
    while c < degree and n * _tail(n - 1, corrupt, degree, c + 1) > 2.0**-sigma:
        c += 1
    return c


def min_threshold(holders: int, corrupt: int) -> int:
    """The smallest t with 2t > holders + corrupt and t ≥ 2."""
    return max(2, (holders + corrupt) // 2 + 1)


@lru_cache(maxsize=64)
def derive(n: int, gamma: float = DEFAULT_GAMMA, delta: float = DEFAULT_DELTA, sigma: int = DEFAULT_SIGMA,
           eta: int = DEFAULT_ETA) -> tuple[int, int]:
    """(degree k, threshold t) for SecAgg+ with n clients; (n − 1, t) when no sparser graph works."""
    bad = math.floor((gamma + delta) * n)

    def works(k: int) -> int | None:
        h = k + 1
        t = min_threshold(h, corrupt_bound(n, k, gamma, sigma))
        if t > h or n * _tail(n - 1, bad, k, h - t + 1) > 2.0**-eta:
            return None
        if math.comb(n, 2) * (gamma + delta) ** k > 2.0**-sigma:
            return None
        return t

    # in expectation c ≈ γk and the missing ≈ (γ + δ)k must leave 2t > h + c with t ≤ h − missing
    if gamma + 2 * (gamma + delta) < 1:
        stride = 16  # scan coarsely, then step back to the smallest degree that works
        for coarse in range(2, n - 1, stride):
            if works(coarse) is not None:
                for k in range(max(2, coarse - stride + 2), coarse + 1, 2):
                    t = works(k)
                    if t is not None:
                        return k, t
    return n - 1, min_threshold(n, corrupt_bound(n, n - 1, gamma, sigma))


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    """Public parameters of one aggregation round.

    ``threshold`` is the number of shares needed to rebuild a secret, i.e. the minimum number of
    survivors at each stage (SecAgg: of all clients; SecAgg+: of each client's holders).
    ``corrupt`` is the number of colluding clients tolerated among any client's holders; the
    constructor enforces 2·threshold > holders + corrupt. ``round_id`` binds signed
    advertisements to this round (the job, the instance and, from a node, the session: a re-run of
    the same job must not accept the last run's advertisements); ``graph_seed`` fixes the SecAgg+ graph before U1 is known.
    """

    clients: tuple[int, ...]
    threshold: int
    variant: str = "secagg"  # secagg | secagg+
    degree: int = 0  # SecAgg+: neighbours per client (0 for SecAgg: everyone)
    corrupt: int = 0
    fractional_bits: int | None = None
    result_to_clients: bool = True
    server: int = 0
    round_id: bytes = b"secagg/default-round"
    graph_seed: bytes = b"secagg/default-graph"
    # not a parameter either: True makes every client of this process do all of its own work (no
    # shared key agreements or memoised checks) — for benchmarks that report per-client cost
    isolated: bool = field(default=False, compare=False)
    slot_of: dict[int, int] = field(init=False, repr=False, compare=False)  # client → registration index
    # not a parameter: the round's clients in this process share key agreements (crypto.PairwiseKeys)
    pairwise: PairwiseKeys = field(init=False, repr=False, compare=False)
    ring: Ring | None = field(init=False, repr=False, compare=False)  # the SecAgg+ order, made on first use

    def __post_init__(self) -> None:
        object.__setattr__(self, "slot_of", {u: i for i, u in enumerate(self.clients)})
        object.__setattr__(self, "pairwise", PairwiseKeys(share=not self.isolated))
        object.__setattr__(self, "ring", None)
        if len(self.clients) < 2 or len(self.slot_of) != len(self.clients):
            raise ConfigError("secure aggregation needs at least two distinct clients")
        if self.variant not in ("secagg", "secagg+"):
            raise ConfigError(f"variant must be 'secagg' or 'secagg+', got {self.variant!r}")
        h = self.holders
        if not 0 <= self.corrupt < h:
            raise ConfigError(f"corrupt must be in 0..{h - 1}")
        least = min_threshold(h, self.corrupt)
        if not least <= self.threshold <= h:
            raise ConfigError(
                f"threshold {self.threshold} is unsafe or impossible for {h} share holders with {self.corrupt} "
                f"colluding: it must satisfy 2t > holders + colluders and t <= holders, i.e. {least} <= t <= {h} "
                "(a lower threshold lets a server that splits its dropout story rebuild both secrets of a client)")

    @property
    def complete(self) -> bool:
        """Every client is every other's neighbour (SecAgg, or SecAgg+ with degree n − 1)."""
        return self.holders >= len(self.clients)

    @property
    def holders(self) -> int:
        """Share holders per client: its neighbours and itself."""
        return (self.degree if self.variant == "secagg+" else len(self.clients) - 1) + 1

    @classmethod
    def make(cls, clients: tuple[int, ...], options: Mapping[str, Any], *,
             degree_threshold: int | None = None, fractional_bits: int | None = None,
             round_id: bytes | None = None, session: bytes = b"", isolated: bool = False) -> Params:
        """From a scenario's ``[options]``: variant, degree, threshold, corrupt_fraction (γ),
        dropout_fraction (δ), sigma (σ), eta (η), graph_seed (hex), result_to_clients.

        ``degree_threshold`` is a top-level Shamir degree t (the project-wide meaning); it asks
        for t + 1 shares. Defaults: SecAgg+ degree and threshold from :func:`derive`; SecAgg
        threshold the smallest safe one, ⌊(n + ⌊γn⌋)/2⌋ + 1.
        """
        clients = tuple(sorted(clients))
        n = len(clients)
        if n < 2:
            raise ConfigError("secure aggregation needs at least two clients")
        variant = str(options.get("variant", "secagg"))
        gamma, delta = _fraction(options, "corrupt_fraction", DEFAULT_GAMMA), _fraction(options, "dropout_fraction",
                                                                                         DEFAULT_DELTA)
        sigma, eta = int(options.get("sigma", DEFAULT_SIGMA)), int(options.get("eta", DEFAULT_ETA))
        if variant == "secagg+":
            k0, t0 = derive(n, gamma, delta, sigma, eta)
            degree = int(options.get("degree", k0))
            if degree < 2:
                raise ConfigError("options.degree must be at least 2")
            degree = min(n - 1, degree + degree % 2)
        else:
            degree, t0 = n - 1, 0
        corrupt = corrupt_bound(n, degree, gamma, sigma)
        if "threshold" in options:
            needed = int(options["threshold"])
        elif degree_threshold is not None:
            needed = degree_threshold + 1
        elif variant == "secagg+" and "degree" not in options:
            needed = t0
        else:
            needed = min_threshold(degree + 1, corrupt)
        seed = options.get("graph_seed")
        public = _digest(clients, variant, degree, needed, options)
        return cls(clients=clients, threshold=needed, variant=variant, degree=degree if variant == "secagg+" else 0,
                   corrupt=corrupt, fractional_bits=fractional_bits,
                   result_to_clients=bool(options.get("result_to_clients", True)),
                   round_id=hashlib.sha256(b"secagg/round" + public + (round_id or b"") + (
                       b"/session" + len(session).to_bytes(4, "big") + session if session else b"")).digest(),
                   graph_seed=bytes.fromhex(str(seed)) if seed is not None else hashlib.sha256(
                       b"secagg/graph" + public + (round_id or b"")).digest(), isolated=isolated)


def _fraction(options: Mapping[str, Any], name: str, default: float) -> float:
    value = float(options.get(name, default))
    if not 0.0 <= value < 0.5:
        raise ConfigError(f"options.{name} must be in [0, 0.5), got {value}")
    return value


def _digest(clients: tuple[int, ...], variant: str, degree: int, threshold: int, options: Mapping[str, Any]) -> bytes:
    h = hashlib.sha256(b"secagg/params/v2")
    h.update(struct.pack(f">III{len(clients)}I", degree, threshold, len(clients), *clients))
    h.update(variant.encode())
    h.update(repr(sorted((str(k), str(v)) for k, v in options.items())).encode())
    return h.digest()


def neighbourhoods(params: Params, only: int | None = None) -> dict[int, frozenset[int]]:
    """Who shares keys with whom: everyone (SecAgg) or the Harary graph on the registered clients,
    seeded by the public job (SecAgg+); with ``only``, just that client's neighbourhood."""
    if params.ring is None and not params.complete:  # once per round: each client then costs O(k)
        object.__setattr__(params, "ring", harary_ring(params.clients, params.graph_seed))
    return harary_neighbours(params.clients, params.holders - 1, params.graph_seed, only=only, ring=params.ring)


__all__ = ["Params", "corrupt_bound", "derive", "min_threshold", "neighbourhoods"]
