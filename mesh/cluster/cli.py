"""`voting cluster step | status | tls-check`: the rollout verbs against a Kubernetes cluster.

    voting cluster step canary [--context X] [--namespace voting] [--kubeconfig PATH]
                               [--timeout S] [--default-repo REGISTRY [--tag T]] [--image NAME=REF]
    voting cluster status [--json]
    voting cluster tls-check voting-storage [--json]

Without `--context` the kubeconfig's current context is used, as kubectl does. The verbs
themselves are the local ones' (`voting step|status|tls-check --context`): both run
mesh/router/verbs.py, here with `cluster=True`. Nothing here imports kubernetes-asyncio until
a command runs.
"""

from __future__ import annotations

import argparse

from mesh.router.verbs import add_cluster_arguments, run_status, run_step, run_tls_check


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
    step.set_defaults(func=lambda args: run_step(args, cluster=True))

    status = verbs.add_parser("status", help="workloads, routes and mTLS modes in force")
    status.add_argument("--json", action="store_true")
    add_cluster_arguments(status, local_default=False)
    status.set_defaults(func=lambda args: run_status(args, cluster=True))

    check = verbs.add_parser(
        "tls-check", help="mutual-TLS state of a service, from its configuration"
    )
    check.add_argument("service", nargs="?", default="all")
    check.add_argument("--json", action="store_true")
    add_cluster_arguments(check, local_default=False)
    check.set_defaults(func=lambda args: run_tls_check(args, cluster=True))
