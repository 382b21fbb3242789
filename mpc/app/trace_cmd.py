"""``mpc trace FILE``: summarise a JSONL message trace written by ``mpc run --sim --trace FILE``.

One row of :mod:`mpc.app.cli`'s command table.
"""

from __future__ import annotations

import argparse
import json


def trace_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", help="a JSONL trace from mpc run --sim --trace FILE")
    p.add_argument("--json", metavar="FILE", help="write the summary as JSON")
    p.add_argument("--plot", metavar="PNG", help="draw a message timeline (needs matplotlib: the 'plot' extra)")
    p.add_argument("--top", type=int, default=20, help="parties listed in the per-party table")


def cmd_trace(args: argparse.Namespace) -> int:
    """Summarise a message trace: per round, per party, critical path."""
    from netsim import summary

    trace = list(summary.read(args.trace))
    s = summary.summarize(trace)
    print(summary.render(s, top=args.top))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary.as_json(s), fh)
    if args.plot:
        summary.plot(trace, args.plot)
        print(f"timeline written to {args.plot}")
    return 0


__all__ = ["cmd_trace", "trace_args"]
