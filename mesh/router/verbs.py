"""`voting step | status | tls-check`, the same code for the local system and a cluster.

`voting step 4` (the running `voting up`), `voting step 4 --context aks` and `voting cluster
step 4` all end here: one `router_for` (mesh/router/factory.py) picks the backend from the
arguments, and the verb only talks to the `Router`. What the two backends print differs only
where they differ: a cluster's status is headed by its context and namespace, and its
tls-check rows come from configuration alone (a local one also probes every pod).
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
from mesh.router.base import Router, RouterError

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


def run_step(args: argparse.Namespace, *, cluster: bool | None = None) -> int:
    """Apply `args.step`, showing progress; print the status after."""
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)

    async def work(router: Router) -> int:
        status = await router.apply_step(args.step, on_progress=progress)
        print()
        print(format_status(status))
        return 0

    return _run(args, work, cluster)


def run_status(args: argparse.Namespace, *, cluster: bool | None = None) -> int:
    async def work(router: Router) -> int:
        status = await router.status()
        print(
            json.dumps(status, indent=2) if getattr(args, "json", False) else format_status(status)
        )
        return 0

    return _run(args, work, cluster)


def run_tls_check(args: argparse.Namespace, *, cluster: bool | None = None) -> int:
    service = getattr(args, "service", "all") or "all"

    async def work(router: Router) -> int:
        rows = await router.tls_check(service)
        if not rows:
            return _fail(f"no service named {service} in {router.target}")
        print(json.dumps(rows, indent=2) if getattr(args, "json", False) else format_tls(rows))
        return 0 if all(r["status"] == "OK" for r in rows) else 3

    return _run(args, work, cluster)


def format_status(status: dict[str, Any]) -> str:
    """The `voting status` table; a cluster's headed by where it was read."""
    from mesh.router.status_table import format_status as table

    target = status.get("target") or {}
    if target.get("kind") != "kubernetes":
        return table(status)
    shown = dict(status)
    if not shown.get("ingress"):
        shown["ingress"] = "(no load-balancer address: port-forward istio-ingressgateway)"
    head = f"context {target.get('context') or '(current)'}, namespace {target.get('namespace')}"
    return head + "\n" + table(shown)


def format_tls(rows: list[dict[str, Any]]) -> str:
    """tls-check rows: with what the probe saw when there was one (the local system)."""
    if rows and rows[0].get("probe") is not None:
        from mesh.local.tlscheck import format_rows

        return format_rows(rows)
    from mesh.cluster.status import format_tls_rows

    return format_tls_rows(rows)


def _fail(message: str) -> int:
    print(f"voting: {message}", file=sys.stderr)
    return 1


def _run(
    args: argparse.Namespace, work: Callable[[Router], Awaitable[int]], cluster: bool | None
) -> int:
    from mesh.router.factory import router_for

    async def main() -> int:
        router = router_for(
            getattr(args, "context", None),
            namespace=getattr(args, "namespace", "voting"),
            kubeconfig=getattr(args, "kubeconfig", None),
            state_dir=getattr(args, "state_dir", None),
            rollout_timeout=getattr(args, "timeout", DEFAULT_TIMEOUT_S),
            images=images_from(args),
            cluster=cluster,
        )
        try:
            return await work(router)
        finally:
            await router.close()

    try:
        return asyncio.run(main())
    except RouterError as exc:
        return _fail(str(exc))
