"""`voting bench [--quick] [--only CASE ...] [--json PATH] [--markdown PATH]`."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path

CASES = ("local", "mesh", "read", "durability", "overload")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `bench` subcommand to the `voting` command."""
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks: mesh cost vs direct, read cost vs data size, local system, observer",
        description="Measure the mesh path against the functions called directly and print "
        "each figure next to its goal. Loads only 127.0.0.1; stops everything it starts.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short durations and 10^5 instead of 10^6 votes (CI smoke)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=CASES, default=list(CASES), help="run only these cases"
    )
    parser.add_argument(
        "--port-base",
        type=int,
        default=16000,
        help="first port the bench may use; it uses up to 1000 from there (default 16000, below the ephemeral range)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path(f"/tmp/voting-bench-{os.getuid()}/results.json"),
        help="where to write the results (default: %(default)s)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a goal is not met (default: report only)"
    )
    parser.set_defaults(func=run)


def _stop_on_signals() -> None:
    """SIGTERM / SIGHUP end the run like Ctrl-C: the `finally` stops every child.

    A second signal while stopping is ignored (the stop has deadlines of its own); a
    SIGKILL skips all this, and the children's PR_SET_PDEATHSIG takes over.
    """

    def handler(signum: int, frame: object) -> None:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    from bench.cases import durability, local_system, mesh_cost, overload, read_cost
    from bench.cases.common import Context, Durations
    from bench.procs import BenchError, Children, Ports
    from bench.report import Report

    command = "voting bench " + shlex.join(sys.argv[2:]) if len(sys.argv) > 1 else "voting bench"
    report = Report(quick=args.quick, command=command.strip())
    report.describe_machine()
    workdir = Path(tempfile.mkdtemp(prefix="voting-bench-"))
    children = Children(workdir)
    _stop_on_signals()
    ctx = Context(
        report=report,
        children=children,
        ports=Ports(args.port_base, args.port_base + 1000),
        durations=Durations.for_run(args.quick),
        workdir=workdir,
    )
    steps = {
        "local": local_system.local_system,
        "mesh": mesh_cost.mesh_cost,
        "read": read_cost.read_cost,
        "durability": durability.durability_cost,
        "overload": overload.overload,
    }
    failed: list[str] = []
    started = time.monotonic()
    try:
        for name in CASES:
            if name not in args.only:
                continue
            try:
                steps[name](ctx)
            except (BenchError, OSError, RuntimeError) as exc:
                failed.append(f"{name}: {exc}")
                ctx.log(f"{name} failed: {exc} (logs in {workdir})")
    finally:
        children.close()
    report.machine["seconds"] = round(time.monotonic() - started, 1)
    report.machine["load_average_at_end"] = os.getloadavg()
    print(report.table())
    print()
    print(report.summary() + f"; {report.machine['seconds']:.0f} s; logs in {workdir}")
    report.write_json(args.json)
    print(f"JSON: {args.json}")
    if args.markdown:
        args.markdown.write_text(report.markdown() + "\n")
        print(f"Markdown: {args.markdown}")
    if failed:
        print("cases that could not run:\n  " + "\n  ".join(failed), file=sys.stderr)
        return 1
    if args.strict and any(r.passed is False for r in report.rows):
        return 1
    return 0
