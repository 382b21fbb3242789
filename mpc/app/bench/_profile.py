"""Where a real run's time goes: ``python -m mpc.app.bench._profile SCENARIO [--party N] [--top K]``.

Runs the scenario exactly as ``mpc run`` does (one OS process per node), but starts every party
under cProfile, then prints each requested party's hottest functions by own time and by
cumulative time. Profiling slows Python-level code down, so read shares, not absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import pstats
import sys
import tempfile
from pathlib import Path

from mpc.app.launch import run_real
from mpc.app.scenario import load


def profile(scenario: str, parties: list[int] | None, top: int) -> int:
    with tempfile.TemporaryDirectory(prefix="mpc-profile-") as tmp:
        count = 0

        async def spawn(stderr: int) -> asyncio.subprocess.Process:
            nonlocal count
            count += 1
            out = Path(tmp) / f"spawn-{count}.prof"
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cProfile", "-o", str(out), "-m", "mpc.app.party",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr,
            )

        report = run_real(load(scenario), spawn=spawn)
        print(f"{'OK' if report.ok else 'FAILED'} {report.scenario}: elapsed {report.elapsed_s:.3f} s, protocol "
              + ", ".join(f"{p}: {o.protocol_s:.3f} s" for p, o in sorted(report.outcomes.items())))
        ids = sorted(report.outcomes)  # spawned in node-id order
        for k, pid in enumerate(ids, start=1):
            if parties and pid not in parties:
                continue
            path = Path(tmp) / f"spawn-{k}.prof"
            if not path.exists():
                print(f"party {pid}: no profile (crashed?)")
                continue
            for key in ("tottime", "cumulative"):
                print(f"\n=== party {pid}, by {key} ===")
                pstats.Stats(str(path)).strip_dirs().sort_stats(key).print_stats(top)
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mpc.app.bench._profile", description=__doc__)
    ap.add_argument("scenario")
    ap.add_argument("--party", type=int, action="append", help="only this party (repeatable)")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args(argv)
    return profile(args.scenario, args.party, args.top)


if __name__ == "__main__":
    sys.exit(main())
