"""`voting rollout`: run the canary of the 2.0 stack, locally or on a cluster."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from mesh.local.paths import default_state_dir

    parser = subparsers.add_parser(
        "rollout", help="canary the 2.0 stack with metric gates; promote or roll back"
    )
    parser.add_argument("--spec", type=Path, help="rollout spec YAML (default: built-in)")
    parser.add_argument("--context", help="Kubernetes context (default: the local system)")
    parser.add_argument("--namespace", default="voting")
    parser.add_argument("--prometheus-url", help="Prometheus (default: the local system's)")
    parser.add_argument("--state-dir", type=Path, default=default_state_dir())
    parser.set_defaults(func=cmd_rollout)


def cmd_rollout(args: argparse.Namespace) -> int:
    try:
        outcome = asyncio.run(_run(args))
    except Exception as exc:  # every failure here is reported as one line
        print(f"voting: rollout: {exc}", file=sys.stderr)
        return 1
    print(f"rollout {outcome.state}: {outcome.reason}")
    return 0 if outcome.state == "promoted" else 3


async def _run(args: argparse.Namespace):
    from rollout.runner import run_rollout
    from rollout.spec import load_spec

    return await run_rollout(
        load_spec(args.spec),
        state_dir=args.state_dir,
        context=args.context,
        namespace=args.namespace,
        prometheus_url=args.prometheus_url,
        on_event=_print,
    )


def _print(message: str) -> None:
    print(message, flush=True)
