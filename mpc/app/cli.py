"""The ``mpc`` command line: ``run``, ``bench`` (and more as the runtime grows)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from mpc.errors import ConfigError, MpcError
from mpc.app.runner import Report, summarize

from .trace_cmd import cmd_trace, trace_args

Command = Callable[[argparse.Namespace], int]

def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="scenario file (TOML), see DESIGN.md")
    p.add_argument("--sim", action="store_true", help="run all parties in one process over netsim")
    p.add_argument("--json", metavar="FILE", help="write a machine-readable report")
    p.add_argument("--tls", action="store_true", help="real mode: mutual TLS with fresh per-run identities")
    p.add_argument("--trace", metavar="FILE", help="with --sim: write a JSONL message trace (no payloads)")
    p.add_argument("--transport", choices=("nng", "tcp"), default=None,
                   help="real mode: pynng (the default) or asyncio TCP; overrides the scenario's transport")
    p.add_argument("--fork-server", action="store_true",
                   help="real mode: fork the party processes from one pre-imported server (faster start-up)")


def print_report(report: Report) -> None:
    d = report.as_dict()
    status = "OK" if report.ok else "FAILED"
    print(f"{status}  {report.scenario} ({report.mode}): {len(report.outcomes)} parties, "
          f"{d['messages']} messages, {d['bytes'] / 1e6:.2f} MB, elapsed {report.elapsed_s:.3f} s"
          + (f" (wall {report.wall_s:.3f} s)" if report.mode == "sim" else ""))
    lines: dict[str, list[int]] = {}
    for pid, o in sorted(report.outcomes.items()):
        if o.status == "ok" and o.result is not None and o.result.output is not None:
            detail = summarize(o.result.output)
        elif o.status == "ok":
            detail = "done (no output)"
        else:
            detail = o.status + (f": {o.error}: {o.message}" if o.error else "")
        lines.setdefault(detail, []).append(pid)
    for detail, pids in lines.items():
        who = f"party {pids[0]}" if len(pids) == 1 else f"parties {', '.join(map(str, pids))}"
        print(f"  {who}: {detail}")
    if report.reason:
        print(f"  mismatch: {report.reason}")


def cmd_run(args: argparse.Namespace) -> int:
    """Run every party of a scenario (OS processes over pynng, or --sim) and check [expect]."""
    from mpc.app.scenario import load

    scn = load(args.scenario)
    if args.sim:
        from mpc.app.runner import run_sim

        report = run_sim(scn, trace=args.trace)
    else:
        from mpc.app.launch import run_real

        if args.trace:
            raise ConfigError("--trace needs --sim (real runs are not traced)")
        if args.fork_server:
            from mpc.app.forkserver import ForkServer

            with ForkServer() as fs:
                report = run_real(scn, tls=args.tls, spawn=fs.spawn, transport=args.transport)
        else:
            report = run_real(scn, tls=args.tls, transport=args.transport)
    print_report(report)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report.as_dict(), fh)
    return 0 if report.ok else 1


def _keygen_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--parties", required=True, help="party ids: a count N (1..N) or a comma list, e.g. 0,1,2")
    p.add_argument("--out", required=True, help="directory for ca.pem and party-<id>.pem (keys are mode 0600)")
    p.add_argument("--days", type=int, default=365)


def cmd_keygen(args: argparse.Namespace) -> int:
    """Create a CA and one TLS identity per party."""
    from mpc.errors import ConfigError
    from mpc.identity import generate

    try:
        ids = [int(x) for x in args.parties.split(",")] if "," in args.parties else list(range(1, int(args.parties) + 1))
    except ValueError:
        raise ConfigError(f"--parties: expected N or a comma list, got {args.parties!r}") from None
    generate(args.out, ids, days=args.days)
    print(f"wrote {args.out}/ca.pem and {len(ids)} party identities")
    return 0


def _node_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="party config (TOML): party, scenario, session, [peers], tls_dir")
    p.add_argument("--json", metavar="FILE", help="write this party's outcome as JSON")


def cmd_node(args: argparse.Namespace) -> int:
    """Run one party of a multi-host deployment."""
    from mpc.app.deploy import run_node

    return run_node(args.config, args.json)


def _bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("suites", nargs="*", default=[], help="suites to run (default: all; see docs/benchmarks.md)")
    p.add_argument("--parties", default=None, help="comma-separated party counts (default: per suite)")
    p.add_argument("--sizes", default=None, help="comma-separated vector sizes, e.g. 1e3,1e6 (default: per suite)")
    p.add_argument("--repeat", type=int, default=3, help="repeats per figure (median, min, max)")
    p.add_argument("--json", metavar="FILE", help="write every row as JSON")
    p.add_argument("--plot", metavar="FILE", help="throughput vs size plot (needs the 'plot' extra)")
    p.add_argument("--compare", default="", metavar="RUNTIMES", help="also run the equivalent programs of: mpyc")
    p.add_argument("--quick", action="store_true", help="small sizes, one repeat")


def cmd_bench(args: argparse.Namespace) -> int:
    """Benchmarks, as ratios measured side by side in one run."""
    from mpc.app.bench import main as bench_main

    return bench_main(args)


COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Command]] = {
    "run": (_run_args, cmd_run),
    "keygen": (_keygen_args, cmd_keygen),
    "node": (_node_args, cmd_node),
    "bench": (_bench_args, cmd_bench),
    "trace": (trace_args, cmd_trace),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mpc", description="Peer-to-peer secure multi-party computation runtime")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (never shares or keys)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (setup, fn) in COMMANDS.items():
        p = sub.add_parser(name, help=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else None)
        setup(p)
        p.set_defaults(func=fn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * args.verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except MpcError as exc:
        print(f"mpc: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
