"""`voting rollout`: run the canary of the 2.0 stack, locally or on a cluster, and steer it.

    voting rollout [--spec SPEC]        run a rollout to its end (promoted, rolled back, aborted)
    voting rollout pause | resume       hold the routes where they are / go on (Argo's verbs)
    voting rollout promote | abort      promote now, skipping what is left / roll back now
    voting rollout confirm              open the confirm gate the rollout waits at
    voting rollout status [--watch]     the rollout's phase, gates and events (live with --watch)

`resume` (or `--resume`) also goes on with a rollout whose controller was lost (status shows
`controller-lost`) from the phase after the last one that passed; `--rollback` puts the
routes back on 1.x and marks it rolled back. SIGTERM or Ctrl-C roll back and leave the
rollout `aborted: interrupted`. The verbs reach the controller through the local system's
control API, or with `--context` through two ConfigMaps of the namespace
(mesh/router/kubernetes_rollout.py); who asked, and when, goes to the rollout's event log.
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
    from mesh.rollout_lease import VERBS

    parser = subparsers.add_parser(
        "rollout", help="canary the 2.0 stack with metric gates; promote or roll back"
    )
    parser.add_argument(
        "verb",
        nargs="?",
        choices=(*VERBS, "status"),
        help="steer the running rollout instead of starting one",
    )
    parser.add_argument("--watch", action="store_true", help="with status: follow it live")
    parser.add_argument("--spec", type=Path, help="rollout spec YAML (default: built-in)")
    parser.add_argument("--context", help="Kubernetes context (default: the local system)")
    parser.add_argument("--namespace", default="voting")
    parser.add_argument("--kubeconfig", help="kubeconfig file (a cluster; default: $KUBECONFIG)")
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
    if args.verb and (args.spec or args.resume or args.rollback):
        print(f"voting: rollout {args.verb}: takes no --spec/--resume/--rollback", file=sys.stderr)
        return 2
    if args.watch and args.verb != "status":
        print("voting: rollout: --watch goes with `status`", file=sys.stderr)
        return 2
    if args.verb == "status":
        return _status(args)
    if args.verb == "resume" and _controller_lost(args):
        args.resume, args.verb = True, None
    if args.verb:
        return _command(args)
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


def _where(args: argparse.Namespace) -> dict:
    """Which system the rollout acts on: the local one, or a cluster's namespace."""
    return {
        "state_dir": args.state_dir,
        "context": args.context,
        "namespace": args.namespace,
        "kubeconfig": args.kubeconfig,
    }


async def _run(args: argparse.Namespace):
    from rollout.runner import resume_rollout, rollback_rollout, run_rollout
    from rollout.spec import load_spec

    if args.rollback:
        return await rollback_rollout(**_where(args), on_event=_print)
    running = {"prometheus_url": args.prometheus_url, "on_event": _print}
    if args.resume:
        return await resume_rollout(**_where(args), **running, cancel_reason=INTERRUPTED)
    spec = load_spec(args.spec)
    return await run_rollout(spec, **_where(args), **running, cancel_reason=INTERRUPTED)


def _print(message: str) -> None:
    print(message, flush=True)


def _progress(args: argparse.Namespace) -> dict | None:
    """The rollout's progress as status shows it, from the local system or the cluster."""
    from rollout.runner import read_progress

    return asyncio.run(read_progress(**_where(args)))


def _controller_lost(args: argparse.Namespace) -> bool:
    from mesh.rollout_lease import CONTROLLER_LOST

    try:
        progress = _progress(args)
    except Exception:  # said by the command itself
        return False
    return (progress or {}).get("state") == CONTROLLER_LOST


def _command(args: argparse.Namespace) -> int:
    import getpass

    from rollout.runner import command_rollout

    try:
        progress, done = asyncio.run(
            command_rollout(args.verb, by=getpass.getuser(), **_where(args))
        )
    except Exception as exc:  # refused, or no system: one line
        print(f"voting: rollout {args.verb}: {exc}", file=sys.stderr)
        return 1
    if done:
        print(f"rollout {args.verb}: done")
    else:
        print(f"rollout {args.verb}: sent; the controller is acting on it")
    print(render_progress(progress))
    return 0


def _status(args: argparse.Namespace) -> int:
    import time

    from mesh.rollout_lease import FINAL_STATES

    shown = None
    while True:
        try:
            progress = _progress(args)
        except Exception as exc:
            print(f"voting: rollout status: {exc}", file=sys.stderr)
            return 1
        text = render_progress(progress)
        if text != shown:
            print(text + ("\n" if args.watch else ""), flush=True)
            shown = text
        if not args.watch or (progress or {}).get("state") in FINAL_STATES:
            return 0
        try:
            time.sleep(1.0)
        except KeyboardInterrupt:
            return 0


def render_progress(progress: dict | None) -> str:
    """What `voting rollout status` prints: the line of `voting status`, then the details."""
    import time

    from mesh.rollout_lease import describe

    line = describe(progress)
    if line is None:
        return "no rollout: status shows none"
    lines = [line]
    phase = (progress or {}).get("phase") or {}
    if phase.get("detail") and phase["detail"] not in line:
        lines.append(f"  phase: {phase['detail']}")
    if progress.get("failed_checks"):
        lines.append(f"  failed checks in a row: {progress['failed_checks']}")
    for gate in progress.get("gates") or []:
        value = "no-data" if gate.get("value") is None else f"{gate['value']:.3g}"
        if gate.get("value") is None and str(gate.get("name")).startswith("webhook "):
            value = str(gate.get("detail") or value)  # what the hook answered
        lines.append(f"  {gate['name']}: {value} ({gate['bound']}) {gate['verdict']}")
    for event in (progress.get("events") or [])[-5:]:
        when = time.strftime("%H:%M:%S", time.localtime(event.get("time", 0)))
        lines.append(f"  {when} {event.get('message')}")
    return "\n".join(lines)
