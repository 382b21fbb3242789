"""The ``mpc`` command line: ``run``, ``bench`` (and more as the runtime grows)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from mpc.errors import ConfigError, MpcError
from mpc.app.runner import Report, summarize

from .trace_cmd import cmd_trace, trace_args

Command = Callable[[argparse.Namespace], int]

def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help="a scenario file (TOML, see docs/design.md) or a shipped name (mpc scenarios)")
    p.add_argument("--sim", action="store_true", help="run all parties in one process over netsim")
    p.add_argument("--json", metavar="FILE", help="write a machine-readable report")
    p.add_argument("--tls", action="store_true", help="real mode: mutual TLS with fresh per-run identities")
    p.add_argument("--trace", metavar="FILE", help="with --sim: write a JSONL message trace (no payloads)")
    p.add_argument("--transport", choices=("nng", "tcp"), default=None,
                   help="real mode: pynng (the default) or asyncio TCP; overrides the scenario's transport")
    p.add_argument("--fork-server", action="store_true",
                   help="real mode: fork the party processes from one pre-imported server (faster start-up)")
    p.add_argument("--log-dir", metavar="DIR", help="keep per-party logs (party-<id>.log, timestamped) in DIR")


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
        who = f"party {pids[0]}" if len(pids) == 1 else f"parties {id_ranges(pids)}"
        print(f"  {who}: {detail}")
    if report.reason:
        print(f"  mismatch: {report.reason}")


def id_ranges(pids: list[int]) -> str:
    """Sorted party ids as runs: ``[0, 1, 2, 4, 6, 7]`` → ``"0-2, 4, 6, 7"`` (a 1000-party run's
    report line lists one range, not 1000 ids)."""
    runs: list[list[int]] = []
    for p in pids:
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return ", ".join(f"{a}-{b}" if b > a + 1 else (f"{a}, {b}" if b == a + 1 else str(a)) for a, b in runs)


def _check_flags(args: argparse.Namespace) -> None:
    """Flag combinations and output paths, checked before anything runs (a result is never lost)."""
    if args.sim and args.tls:
        raise ConfigError("--tls applies to real runs only (a --sim run has no sockets)")
    if args.sim and args.fork_server:
        raise ConfigError("--fork-server applies to real runs only")
    if args.trace and not args.sim:
        raise ConfigError("--trace needs --sim (real runs are not traced)")
    for flag, value in (("--json", args.json), ("--trace", args.trace)):
        if value:
            writable_file(flag, value)
    if args.log_dir:
        d = Path(args.log_dir)
        if d.exists() and not d.is_dir():
            raise ConfigError(f"--log-dir {d}: not a directory")
        if not d.exists() and not os.access(d.parent if str(d.parent) else ".", os.W_OK):
            raise ConfigError(f"--log-dir {d}: cannot create it (parent missing or not writable)")


def writable_file(flag: str, value: str) -> None:
    path = Path(value)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ConfigError(f"{flag} {path}: is a directory")
    if not parent.is_dir():
        raise ConfigError(f"{flag} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{flag} {path}: not writable")


def cmd_run(args: argparse.Namespace) -> int:
    """Run every party of a scenario (OS processes over pynng, or --sim) and check [expect]."""
    from mpc.app.scenario import load, resolve
    from mpc.app.validate import validate

    _check_flags(args)
    scn = load(resolve(args.scenario))
    for note in validate(scn, real=not args.sim, identities=None if args.sim else bool(args.tls)):
        print(f"mpc: {note}", file=sys.stderr)
    log_dir = Path(args.log_dir) if args.log_dir else None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
    if args.sim:
        from mpc.app.runner import run_sim

        report = run_sim(scn, trace=args.trace, log_dir=log_dir, verbose=args.verbose)
    else:
        from mpc.app.launch import run_real

        if args.fork_server:
            from mpc.app.forkserver import ForkServer

            with ForkServer() as fs:
                report = run_real(scn, tls=args.tls, spawn=fs.spawn, log_dir=log_dir, verbose=args.verbose,
                                  transport=args.transport)
        else:
            report = run_real(scn, tls=args.tls, log_dir=log_dir, verbose=args.verbose, transport=args.transport)
    print_report(report)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report.as_dict(), fh)
    return 0 if report.ok else 1


def _scenarios_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--path", action="store_true", help="print the directory that holds them")


def cmd_scenarios(args: argparse.Namespace) -> int:
    """List the shipped scenarios (run one with: mpc run NAME)."""
    from mpc.app.scenario import shipped

    found = shipped()
    if args.path:
        print(next(iter(found.values())).parent if found else "")
        return 0
    for name, path in found.items():
        head = _describe(path)
        print(f"{name:<22} {head}")
    return 0


def _describe(path: Path) -> str:
    import tomllib

    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return "(unreadable)"
    extra = ", ".join(f"{k} {doc[k]}" for k in ("sharing", "triples") if k in doc)
    return f"{doc.get('protocol', '?')}, {doc.get('parties', '?')} parties" + (f", {extra}" if extra else "")


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
    p.add_argument("--config", required=True,
                   help="party config (TOML): party, session, [peers], tls_dir, scenario or [[jobs]]")
    p.add_argument("--json", metavar="FILE", help="write this party's outcome as JSON (a list with --jobs)")
    p.add_argument("--jobs", metavar="-", help="'-': keep reading job lines '<scenario> [<input>]' from stdin")


def cmd_node(args: argparse.Namespace) -> int:
    """Run one party of a multi-host deployment."""
    from mpc.app.deploy import run_node

    if args.json:
        writable_file("--json", args.json)
    return run_node(args.config, args.json, args.jobs)


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
    "scenarios": (_scenarios_args, cmd_scenarios),
    "keygen": (_keygen_args, cmd_keygen),
    "node": (_node_args, cmd_node),
    "bench": (_bench_args, cmd_bench),
    "trace": (trace_args, cmd_trace),
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mpc-runtime")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mpc", description="Peer-to-peer secure multi-party computation runtime")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (never shares or keys)")
    parser.add_argument("--version", action="version", version=f"mpc {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (setup, fn) in COMMANDS.items():
        p = sub.add_parser(name, help=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else None)
        p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                       help="more logging (also passed on to the parties)")
        setup(p)
        p.set_defaults(func=fn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING - 10 * args.verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")
    from mpc.app.signals import Interrupted, exit_on_signals

    try:
        with exit_on_signals():
            return int(args.func(args))
    except MpcError as exc:
        print(f"mpc: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Interrupted) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else 2
        print(f"mpc: interrupted ({'SIGTERM' if signum == 15 else 'SIGINT'}); every party stopped", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
