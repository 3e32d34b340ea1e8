"""`voting rollout`: run the canary of the 2.0 stack, locally or on a cluster.

`--resume` goes on with a rollout whose controller was lost (status shows `controller-lost`)
from the weight after the last one that passed; `--rollback` puts the routes back on 1.x and
marks it rolled back. SIGTERM or Ctrl-C roll back and leave the rollout `aborted: interrupted`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

INTERRUPTED = "interrupted"


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
    again = parser.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="go on with the rollout whose controller was lost, from its last passed weight",
    )
    again.add_argument(
        "--rollback",
        action="store_true",
        help="put the routes back on 1.x and mark the (lost) rollout rolled back",
    )
    parser.set_defaults(func=cmd_rollout)


def cmd_rollout(args: argparse.Namespace) -> int:
    if (args.resume or args.rollback) and args.spec:
        print("voting: rollout: --spec is not used with --resume/--rollback", file=sys.stderr)
        return 2
    try:
        outcome = asyncio.run(_interruptible(_run(args)))
    except asyncio.CancelledError:
        print(f"rollout aborted: {INTERRUPTED}")
        return 3
    except Exception as exc:  # every failure here is reported as one line
        print(f"voting: rollout: {exc}", file=sys.stderr)
        return 1
    print(f"rollout {outcome.state}: {outcome.reason}")
    done = outcome.state == "promoted" or (args.rollback and outcome.state == "rolled-back")
    return 0 if done else 3


async def _interruptible(work):
    """Run `work`; SIGTERM or SIGINT cancel it once (a rollout then rolls back), later ones wait."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()

    def interrupted() -> None:
        if not task.cancelling():
            print("[rollout] interrupted: rolling back", flush=True)
            task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, interrupted)
    try:
        return await task
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def _run(args: argparse.Namespace):
    from rollout.runner import resume_rollout, rollback_rollout, run_rollout
    from rollout.spec import load_spec

    if args.rollback:
        return await rollback_rollout(
            state_dir=args.state_dir, context=args.context, on_event=_print
        )
    if args.resume:
        return await resume_rollout(
            state_dir=args.state_dir,
            context=args.context,
            prometheus_url=args.prometheus_url,
            on_event=_print,
            cancel_reason=INTERRUPTED,
        )
    return await run_rollout(
        load_spec(args.spec),
        state_dir=args.state_dir,
        context=args.context,
        namespace=args.namespace,
        prometheus_url=args.prometheus_url,
        on_event=_print,
        cancel_reason=INTERRUPTED,
    )


def _print(message: str) -> None:
    print(message, flush=True)
