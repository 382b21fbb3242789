"""Message traces: one JSON line per message sent, in virtual time; never a payload.

A line is ``{"t": sent_at, "at": arrives_at | null, "from": src, "to": dst, "inst": instance,
"tag": round tag, "size": bytes}`` with times in seconds rounded to the nanosecond. ``at`` is null
for a message the network lost. Keys are written in a fixed order so that the same seed gives
the same file, byte for byte, in either wire mode (the size is the encoded size either way).
"""

from __future__ import annotations

import json
from typing import IO


def _time(t: float | None) -> str:
    return "null" if t is None else repr(round(t, 9))


class Tracer:
    """A monitor for :attr:`SimNetwork.monitors` writing JSONL to ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fh: IO[str] | None = open(path, "w", encoding="utf-8")  # noqa: SIM115 (closed by close())
        self.count = 0

    def __call__(self, sent: float, arrives: float | None, src: int, dst: int, inst: str, tag: str, size: int) -> None:
        fh = self._fh
        if fh is None:
            return
        fh.write(f'{{"t":{_time(sent)},"at":{_time(arrives)},"from":{src},"to":{dst},'
                 f'"inst":{json.dumps(inst)},"tag":{json.dumps(tag)},"size":{size}}}\n')
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


__all__ = ["Tracer"]
