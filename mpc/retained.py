"""Opening shares a node keeps for the parties that may ask for them (:meth:`Context.open_round`).

An opening of degree d among n > d + 1 parties needs d + 1 shares at each party: each party
sends its share to the d parties that interpolate from it, not to all n − 1 (n·d messages a
round instead of n·(n − 1)). A party whose sender is gone *pulls* a share from the next live
party instead; that party's node answers from what it keeps here, at once, or as soon as its
own protocol reaches the round (a pull may come before the share exists).

What a pull can get is what an all-to-all opening sends every party of the group anyway: a
share this node broadcast for opening. Bounded: at most ``KEEP`` shares and ``KEEP_BYTES`` of
them (the oldest go first; the newest two are kept whatever their size: the ones a pull most
likely wants), ``PENDING`` pulls waiting per peer, and each share is given to each peer once; a pull
beyond that is a :class:`ProtocolError`. A pull of an evicted share waits, and the puller's wait
ends at its deadline.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .errors import ProtocolError

KEEP = 1024  # shares kept in all (a dependent chain's most recent rounds; a few hundred bytes each)
KEEP_BYTES = 256 << 20  # and their bytes (a large opening's share is kept whole; the newest two always)
PENDING = 64  # pulls per peer for shares this node has not made yet

Key = tuple[str, str]  # (instance, tag)


class Retained:
    """The shares kept and the pulls waiting for them, per ``(instance, tag)``."""

    def __init__(self) -> None:
        # key -> [payload, the opening's group, the peers it was given to on request (or None),
        #         bytes, the peers the round itself sent it to]
        self._kept: OrderedDict[Key, list[Any]] = OrderedDict()
        self._pending: dict[Key, set[int]] = {}
        self._pending_count: dict[int, int] = {}
        self._bytes = 0  # of the kept shares (arrays; other payloads count 0)
        self._slow: dict[str, set[int]] = {}  # instance -> parties that missed an opening's deadline

    def slow(self, instance: str) -> set[int]:
        """The parties whose share missed a deadline in an opening of ``instance`` (to be
        replaced at once in its later openings; a live set, forgotten by :meth:`finish`)."""
        got = self._slow.get(instance)
        if got is None:
            got = self._slow[instance] = set()
        return got

    def keep(self, instance: str, tag: str, payload: Any, group: frozenset[int],
             sent: tuple[int, ...] = ()) -> tuple[int, ...]:
        """Keep this node's share of ``(instance, tag)`` (the caller gives a copy it will not
        change: :func:`protocols.common.snapshot`); ``sent``: the parties the round sends it to
        (they may not pull it as well). The members of ``group`` that pulled it already are
        returned (they get it with the round's own sends)."""
        key = (instance, tag)
        kept = self._kept
        size = getattr(payload, "nbytes", 0)
        old = kept.pop(key, None)
        if old is not None:
            self._bytes -= old[3]
        kept[key] = [payload, group, None, size, sent]  # (a round's cost: no set until someone pulls)
        self._bytes += size
        # the newest two stay whatever their size: a party one round ahead still serves the round
        # before (a puller whose sender crashed needs it), as all-to-all would have
        while len(kept) > KEEP or (self._bytes > KEEP_BYTES and len(kept) > 2):
            self._bytes -= kept.popitem(last=False)[1][3]
        if not self._pending:
            return ()
        waiting = self._pending.pop(key, None)
        if not waiting:
            return ()
        for p in waiting:
            self._pending_count[p] -= 1
        given = kept[key][2] = waiting & group
        return tuple(sorted(given))

    def pull(self, peer: int, instance: str, tag: str) -> tuple[bool, Any]:
        """``peer`` asks for this node's share of ``(instance, tag)``: ``(True, share)`` to send
        now, or ``(False, None)`` when it is recorded until :meth:`keep` (or already evicted: the
        puller's wait ends at its deadline). Raises :class:`ProtocolError` for a peer outside the
        opening's group, a second pull of one share, or too many waiting pulls."""
        key = (instance, tag)
        kept = self._kept.get(key)
        if kept is not None:
            payload, group, given, _, sent = kept
            if peer not in group:
                raise ProtocolError(f"pulled a share of {instance}/{tag}, an opening it is not part of", peer=peer)
            if peer in sent:
                raise ProtocolError(f"pulled the share of {instance}/{tag} it was sent with the round", peer=peer)
            if given is None:
                given = kept[2] = set()
            elif peer in given:
                raise ProtocolError(f"pulled the share of {instance}/{tag} again", peer=peer)
            given.add(peer)
            return True, payload
        waiting = self._pending.setdefault(key, set())
        if peer in waiting:
            raise ProtocolError(f"pulled the share of {instance}/{tag} again", peer=peer)
        if self._pending_count.get(peer, 0) >= PENDING:
            if not waiting:
                del self._pending[key]
            raise ProtocolError(f"more than {PENDING} pulls waiting", peer=peer)
        waiting.add(peer)
        self._pending_count[peer] = self._pending_count.get(peer, 0) + 1
        return False, None

    def finish(self, instance: str) -> None:
        """Forget ``instance``: its shares, the pulls waiting for them, its slow parties."""
        self._slow.pop(instance, None)
        for key in [k for k in self._kept if k[0] == instance]:
            self._bytes -= self._kept.pop(key)[3]
        for key in [k for k in self._pending if k[0] == instance]:
            for p in self._pending.pop(key):
                self._pending_count[p] -= 1

    def __len__(self) -> int:
        return len(self._kept)


__all__ = ["KEEP", "KEEP_BYTES", "PENDING", "Retained"]
