"""Top-level `voting` command.

Each area owns its subcommands in its own `cli.py` and exposes `register(subparsers)`;
this module only assembles them, so adding a verb never touches another area's code. It
also wires areas that must not import each other: `voting up` opens the observer's
dashboard, but `mesh/` imports no UI.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Modules that contribute subcommands, in help order. A module listed here must define
# `register(subparsers: argparse._SubParsersAction) -> None`; each parser it adds sets
# `func=callable(args) -> int`.
COMMAND_MODULES = (
    "functions.cli",
    "mesh.local.cli",
    "mesh.analyze.cli",
    "observer.cli",
    "rollout.cli",
    "voting.loadtester",
    "bench.cli",
    "mesh.cluster.cli",
    "mesh.proxyconfig.cli",
    "mesh.apply.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voting",
        description="The AKS voting app on a service mesh: run, route, observe.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise  # a missing dependency inside an area, not a missing area
            continue
        module.register(subparsers)
    up = subparsers.choices.get("up")
    if up is not None and importlib.util.find_spec("observer.app") is not None:
        up.set_defaults(dashboard=_local_dashboard)
        up.add_argument(
            "--rollout-spec",
            type=Path,
            help="the spec the dashboard's rollout key (R) runs (default: built-in); an A/B "
            "spec makes its demo traffic (t) send the spec's header too",
        )
    return parser


async def _local_dashboard(state_dir: Path, spec: Any = None) -> None:
    """The observer on the local system whose state is in `state_dir` (for `voting up`)."""
    from observer.app import run_local_dashboard

    await run_local_dashboard(state_dir, spec)


def _with_rollout_spec(args: argparse.Namespace) -> int | None:
    """`voting up --rollout-spec`: read before anything starts (an error exits 2), then
    handed to the dashboard it opens."""
    path = getattr(args, "rollout_spec", None)
    if path is None or getattr(args, "dashboard", None) is None:
        return None
    from rollout.spec import SpecError, load_spec

    try:
        spec = load_spec(path)
    except SpecError as exc:
        print(f"voting: up: --rollout-spec: {exc}", file=sys.stderr)
        return 2
    args.dashboard = functools.partial(_local_dashboard, spec=spec)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    refused = _with_rollout_spec(args)
    if refused is not None:
        return refused
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
