"""`voting proxy-config <pod|ingress> [section] [-o short|json|yaml]`, like `istioctl proxy-config`.

The pod names are those of `voting status`; the running system's control API says which
admin port each Envoy listens on, and everything shown is then read from that Envoy itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from mesh.local.errors import MeshError
from mesh.proxyconfig import dump as d
from mesh.proxyconfig import tables
from mesh.proxyconfig.certs import sds_rows, secret_rows

SECTIONS = ("listeners", "routes", "clusters", "endpoints", "secrets")


def register(subparsers: argparse._SubParsersAction) -> None:
    from mesh.local.paths import default_state_dir
    from mesh.router.verbs import add_cluster_arguments

    parser = subparsers.add_parser(
        "proxy-config",
        help="what one Envoy really holds: listeners, routes, clusters, endpoints, secrets "
        "(like istioctl proxy-config)",
    )
    parser.add_argument(
        "pod", help="a pod as `voting status` names it (a unique prefix will do), or `ingress`"
    )
    parser.add_argument("section", nargs="?", default="all", choices=(*SECTIONS, "all"))
    parser.add_argument(
        "-o",
        "--output",
        default="short",
        choices=("short", "json", "yaml"),
        help="short tables (default), or the raw config_dump section(s)",
    )
    add_cluster_arguments(parser)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=default_state_dir(),
        help="where the running system keeps its files (default: %(default)s, or $VOTING_STATE_DIR)",
    )
    parser.set_defaults(func=cmd_proxy_config)


def _fail(message: str, code: int = 1) -> int:
    print(f"voting: {message}", file=sys.stderr)
    return code


def cmd_proxy_config(args: argparse.Namespace) -> int:
    from mesh.local.control import ControlClient

    if args.context or args.kubeconfig:
        return _fail(
            "proxy-config reads the local mesh's Envoys; on a cluster use "
            f"`istioctl proxy-config {args.section} {args.pod} -n {args.namespace}`",
            2,
        )
    client = ControlClient(args.state_dir)
    try:
        status = asyncio.run(client.status())
    except MeshError as exc:
        return _fail(str(exc))
    try:
        proxy = d.resolve(status, args.pod)
    except d.UnknownProxy as exc:
        return _fail(str(exc), 2)
    try:
        if args.output != "short":
            print(_raw(proxy, args.section, args.output))
            return 0
        documents: list[dict[str, Any]] = []
        if args.section in ("routes", "all"):
            with contextlib.suppress(MeshError):
                documents = asyncio.run(client.documents()).get("documents", [])
        print(render(proxy, args.section, status, documents))
    except MeshError as exc:
        return _fail(str(exc))
    return 0


def _raw(proxy: d.Proxy, section: str, output: str) -> str:
    if section == "endpoints":
        data: Any = d.cluster_statuses(proxy)
    elif section == "all":
        data = d.config_dump(proxy)
    else:
        data = d.section(d.config_dump(proxy), section)
    if output == "yaml":
        import yaml

        return yaml.safe_dump(data, sort_keys=False).rstrip()
    return json.dumps(data, indent=2)


def render(
    proxy: d.Proxy,
    section: str,
    status: dict[str, Any],
    documents: list[dict[str, Any]],
) -> str:
    """The short tables of one section, or of all one after another."""
    wanted = SECTIONS if section == "all" else (section,)
    config = d.config_dump(proxy) if wanted != ("endpoints",) else {}
    parts = []
    for name in wanted:
        if name == "listeners":
            text = tables.listeners_table(d.listener_rows(config))
        elif name == "routes":
            text = tables.routes_table(d.route_rows(config, d.virtual_services(documents)))
        elif name == "clusters":
            text = tables.clusters_table(d.cluster_rows(config, d.destination_rules(status)))
        elif name == "endpoints":
            text = tables.endpoints_table(d.endpoint_rows(d.cluster_statuses(proxy)))
        else:
            text = tables.secrets_table(sds_rows(config) + secret_rows(config))
        parts.append(f"{name.upper()} of {proxy.name}\n{text}" if section == "all" else text)
    return "\n\n".join(parts)
