"""`voting cluster step | status | tls-check`: the rollout verbs against a Kubernetes cluster.

    voting cluster step canary [--context X] [--namespace voting] [--kubeconfig PATH]
                               [--timeout S] [--default-repo REGISTRY [--tag T]] [--image NAME=REF]
    voting cluster status [--json]
    voting cluster tls-check voting-storage [--json]

Without `--context` the kubeconfig's current context is used, as kubectl does. The local
verbs (`voting step|status|tls-check`, in mesh/local/cli.py) reach the same code with
`--context`: they add the flags with `add_cluster_arguments` and hand over with one line,
`return run_step(args)` (`run_status`, `run_tls_check`). Nothing here imports
kubernetes-asyncio until a command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from functions.names import SERVICES

DEFAULT_TIMEOUT_S = 300.0
FUNCTION_IMAGES = SERVICES


def add_cluster_arguments(
    parser: argparse.ArgumentParser, *, rollout: bool = False, local_default: bool = True
) -> None:
    """`--context`, `--namespace`, `--kubeconfig` (and `--timeout` for a rollout step)."""
    parser.add_argument(
        "--context",
        default=None,
        help="kubeconfig context: act on that cluster"
        + (" instead of the local system" if local_default else " (default: the current one)"),
    )
    parser.add_argument(
        "--namespace", default="voting", help="namespace on the cluster (default: voting)"
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)",
    )
    if rollout:
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT_S,
            help="seconds to wait for the Deployments to be ready (default: %(default)g)",
        )
        parser.add_argument(
            "--default-repo",
            default=None,
            metavar="REGISTRY",
            help="pull the function images from REGISTRY/<voting-app|voting-analytics|"
            "voting-storage>:TAG (like skaffold's default-repo)",
        )
        parser.add_argument(
            "--tag", default="0.1.0", help="image tag with --default-repo (default: %(default)s)"
        )
        parser.add_argument(
            "--image",
            action="append",
            type=_image_option,
            default=[],
            metavar="NAME=REF",
            help="use image REF wherever a step names image NAME (repeatable; "
            "e.g. voting-app=myacr.azurecr.io/voting-app:0.1.0)",
        )


def _image_option(value: str) -> tuple[str, str]:
    name, _, reference = value.partition("=")
    if not name or not reference:
        raise argparse.ArgumentTypeError(f"expected NAME=REF, got {value!r}")
    return name, reference


def images_from(args: argparse.Namespace) -> dict[str, str]:
    """`--default-repo`/`--tag` for the three function images, then each `--image`."""
    images = {}
    repo = getattr(args, "default_repo", None)
    if repo:
        tag = getattr(args, "tag", "0.1.0")
        images = {name: f"{repo.rstrip('/')}/{name}:{tag}" for name in FUNCTION_IMAGES}
    images.update(dict(getattr(args, "image", None) or []))
    return images


def register(subparsers: argparse._SubParsersAction) -> None:
    cluster = subparsers.add_parser(
        "cluster",
        help="step, status and tls-check against a Kubernetes cluster with Istio",
        description="The rollout verbs against a Kubernetes cluster with Istio "
        "(server-side apply, prune, wait). See docs/cluster.md.",
    )
    verbs = cluster.add_subparsers(dest="cluster_command", metavar="VERB")
    cluster.set_defaults(func=lambda _args: cluster.print_help() or 2)

    step = verbs.add_parser(
        "step", help="apply a rollout step: apply, wait for the Deployments, prune"
    )
    step.add_argument("step", help="1-5 or deploy, update-analytics, lock-down, canary, finalize")
    add_cluster_arguments(step, rollout=True, local_default=False)
    step.set_defaults(func=run_step)

    status = verbs.add_parser("status", help="workloads, routes and mTLS modes in force")
    status.add_argument("--json", action="store_true")
    add_cluster_arguments(status, local_default=False)
    status.set_defaults(func=run_status)

    check = verbs.add_parser(
        "tls-check", help="mutual-TLS state of a service, from its configuration"
    )
    check.add_argument("service", nargs="?", default="all")
    check.add_argument("--json", action="store_true")
    add_cluster_arguments(check, local_default=False)
    check.set_defaults(func=run_tls_check)


# ---------------------------------------------------------------- the three verbs
def run_step(args: argparse.Namespace) -> int:
    """Apply `args.step` to the cluster, showing progress; print the status after."""
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    async def work(router: Any) -> int:
        status = await router.apply_step(args.step, on_progress=progress)
        print()
        print(format_status(status))
        return 0

    return _run(args, work)


def run_status(args: argparse.Namespace) -> int:
    async def work(router: Any) -> int:
        status = await router.status()
        print(
            json.dumps(status, indent=2) if getattr(args, "json", False) else format_status(status)
        )
        return 0

    return _run(args, work)


def run_tls_check(args: argparse.Namespace) -> int:
    from mesh.cluster.status import format_tls_rows, tls_rows

    service = getattr(args, "service", "all") or "all"

    async def work(router: Any) -> int:
        rows = tls_rows(await router.status(), service)
        if not rows:
            return _fail(f"no service named {service} in {router.target}")
        print(json.dumps(rows, indent=2) if getattr(args, "json", False) else format_tls_rows(rows))
        return 0 if all(r["status"] == "OK" for r in rows) else 3

    return _run(args, work)


# ---------------------------------------------------------------- plumbing
def format_status(status: dict[str, Any]) -> str:
    """The local `voting status` table, headed by where it was read."""
    from mesh.router.status_table import format_status as table

    target = status.get("target") or {}
    shown = dict(status)
    if not shown.get("ingress"):
        shown["ingress"] = "(no load-balancer address: port-forward istio-ingressgateway)"
    head = f"context {target.get('context') or '(current)'}, namespace {target.get('namespace')}"
    return head + "\n" + table(shown)


def _fail(message: str) -> int:
    print(f"voting: {message}", file=sys.stderr)
    return 1


def _run(args: argparse.Namespace, work: Callable[[Any], Awaitable[int]]) -> int:
    from mesh.router.base import RouterError
    from mesh.router.factory import router_for

    async def main() -> int:
        router = router_for(
            getattr(args, "context", None),
            namespace=getattr(args, "namespace", "voting"),
            kubeconfig=getattr(args, "kubeconfig", None),
            rollout_timeout=getattr(args, "timeout", DEFAULT_TIMEOUT_S),
            images=images_from(args),
            cluster=True,
        )
        try:
            return await work(router)
        finally:
            await router.close()

    try:
        return asyncio.run(main())
    except RouterError as exc:
        return _fail(str(exc))
