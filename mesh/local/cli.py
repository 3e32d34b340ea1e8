"""`voting up | down | step | status | tls-check | tls-secret`: the local system from the command
line.

The subcommands and their options are declared here; `up` and `down` run in `mesh/local/up.py`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mesh.local.up import cmd_down, cmd_up
from mesh.router.verbs import add_cluster_arguments, run_status, run_step, run_tls_check


def _state_dir_arg(parser: argparse.ArgumentParser) -> None:
    from mesh.local.paths import default_state_dir

    parser.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="where the running system keeps its files (default: %(default)s, or $VOTING_STATE_DIR)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    up = subparsers.add_parser(
        "up", help="run the whole system locally on real Envoy (the main job)"
    )
    up.add_argument(
        "--step", default="1", help="rollout step to start at: 1-5 or its name (default 1)"
    )
    up.add_argument("--port", type=int, default=8080, help="ingress gateway port (default 8080)")
    up.add_argument(
        "--https-port",
        type=int,
        help="ingress gateway port of HTTPS Gateway servers (default: one of the pods' ports; "
        "`voting status` shows it)",
    )
    up.add_argument(
        "--control-port", type=int, default=15000, help="control API port (default 15000)"
    )
    up.add_argument(
        "--base-port", type=int, default=20000, help="first port for pods (default 20000)"
    )
    up.add_argument(
        "--no-auto-mtls",
        action="store_true",
        help="plaintext until a DestinationRule asks for ISTIO_MUTUAL (Istio 1.0 behaviour)",
    )
    up.add_argument(
        "--prometheus-port", type=int, default=9090, help="Prometheus port (default 9090)"
    )
    up.add_argument(
        "--prometheus-bin", default=None, help="the prometheus binary (default: on PATH)"
    )
    up.add_argument("--no-telemetry", action="store_true", help="do not start Prometheus")
    up.add_argument(
        "--function-processes",
        choices=("forked", "exec"),
        default="forked",
        help="fork functions from one pre-imported host, sharing its memory (default), or "
        "exec one Python interpreter per function",
    )
    up.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    up.add_argument("--mysql-host", default="127.0.0.1")
    up.add_argument("--mysql-port", type=int, default=3306)
    up.add_argument("--mysql-user", default="root")
    up.add_argument(
        "--mysql-password-file",
        type=Path,
        default=None,
        help="file holding the MySQL password (else $MYSQL_PASSWORD; never on the command "
        "line, where every user of the machine could read it)",
    )
    up.add_argument("--mysql-password", default=None, help=argparse.SUPPRESS)
    up.add_argument("--mysql-database", default="azurevote")
    up.add_argument(
        "--detach", action="store_true", help="return once ready; stop with `voting down`"
    )
    up.add_argument(
        "--watch",
        action="store_true",
        help="roll functions onto changed code and apply changed manifests live",
    )
    up.add_argument("--no-ui", action="store_true", help="do not open the dashboard")
    _state_dir_arg(up)
    # `dashboard` (an async callable of the state dir) is plugged in by `voting/cli.py`,
    # which wires the observer in: mesh imports no UI.
    up.set_defaults(func=cmd_up, dashboard=None)

    down = subparsers.add_parser("down", help="stop the local system")
    _state_dir_arg(down)
    down.add_argument(
        "--all",
        action="store_true",
        help="stop every local system of this user (each `voting up`, detached or not, "
        "whatever its state dir; registered in $VOTING_REGISTRY_DIR)",
    )
    down.set_defaults(func=cmd_down)

    step = subparsers.add_parser("step", help="apply a rollout step to the running system")
    step.add_argument("step", help="1-5 or deploy, update-analytics, lock-down, canary, finalize")
    add_cluster_arguments(step, rollout=True)
    _state_dir_arg(step)
    step.set_defaults(func=cmd_step)

    status = subparsers.add_parser("status", help="workloads, routes and mTLS modes in force")
    status.add_argument("--json", action="store_true")
    add_cluster_arguments(status)
    _state_dir_arg(status)
    status.set_defaults(func=cmd_status)

    check = subparsers.add_parser(
        "tls-check", help="mutual-TLS state of a service (like istioctl authn tls-check)"
    )
    check.add_argument("service", nargs="?", default="all")
    check.add_argument("--json", action="store_true")
    add_cluster_arguments(check)
    _state_dir_arg(check)
    check.set_defaults(func=cmd_tls_check)

    secret = subparsers.add_parser(
        "tls-secret",
        help="a kubernetes.io/tls Secret for a Gateway's credentialName, signed by the local CA",
    )
    secret.add_argument("--host", action="append", required=True, help="DNS name (repeatable)")
    secret.add_argument("--name", default="voting-credential", help="the Secret's name")
    secret.add_argument("--namespace", default="istio-system", help="the gateway's namespace")
    _state_dir_arg(secret)
    secret.set_defaults(func=cmd_tls_secret)


# ---------------------------------------------------------------- step / status / tls-check
def cmd_step(args: argparse.Namespace) -> int:
    return run_step(args)


def cmd_status(args: argparse.Namespace) -> int:
    return run_status(args)


def cmd_tls_check(args: argparse.Namespace) -> int:
    return run_tls_check(args)


def cmd_tls_secret(args: argparse.Namespace) -> int:
    """Print the Secret YAML; stderr says which CA file a client trusts it with."""
    import yaml

    from mesh.local.ca import LocalCA, tls_secret_document

    ca = LocalCA(args.state_dir / "ca")
    secret = tls_secret_document(ca, args.host, args.name, args.namespace)
    print(yaml.safe_dump(secret, sort_keys=False), end="")
    print(f"# clients trust it with: curl --cacert {ca.ca_path}", file=sys.stderr)
    return 0
