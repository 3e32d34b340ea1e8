"""`voting analyze`: findings about mesh YAML before it is applied, like `istioctl analyze`.

What is analyzed: the rendered `--step N` (or, without it, what the running local system
holds, if one runs), with the `-f` files on top (a document replaces the one of the same kind,
namespace and name, as `kubectl apply` would). Exit status as istioctl's: 0 when no finding
reaches `--failure-threshold` (default Error), 79 when one does, 2 when the input cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from mesh.analyze.analyzers import ANALYZERS
from mesh.analyze.messages import LEVELS, SCHEMA_VALIDATION_ERROR, Message, message
from mesh.apply.documents import app_namespace, load_sources, merge
from mesh.errors import MeshError
from mesh.model.resources import parse_resources

FOUND_ISSUES_EXIT = 79  # istioctl analyze: "Analyzers found issues"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="find problems in mesh YAML before applying it (like istioctl analyze)",
        description=__doc__,
    )
    parser.add_argument("-f", "--filename", action="append", default=[], help="file or directory")
    parser.add_argument("--step", help="analyze this rollout step (1-5 or its name)")
    parser.add_argument(
        "--failure-threshold",
        choices=list(LEVELS),
        default="Error",
        help="the level from which findings fail the command",
    )
    parser.add_argument("--state-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=cmd_analyze)


def _base_documents(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.step:
        from mesh.steps import render_step, resolve_step

        return render_step(resolve_step(args.step))
    if args.filename:
        return []
    from mesh.local.control import ControlClient
    from mesh.local.paths import default_state_dir

    client = ControlClient(args.state_dir or default_state_dir())
    return list((asyncio.run(client.documents())).get("documents") or [])


def analyze(documents: list[dict[str, Any]]) -> list[Message]:
    """Every finding about these documents; a document the model refuses is one finding."""
    try:
        resources = parse_resources(documents, check_references=False)
    except MeshError as exc:
        resource, _, reason = str(exc).partition(": ")
        return [message(SCHEMA_VALIDATION_ERROR, resource if reason else "-", reason or exc)]
    findings = [finding for analyzer in ANALYZERS for finding in analyzer(resources, documents)]
    return list(dict.fromkeys(findings))  # one line per distinct finding


def cmd_analyze(args: argparse.Namespace) -> int:
    try:
        base = _base_documents(args)
        extra = [d.document for d in load_sources(args.filename)] if args.filename else []
        documents, _ = merge(base, extra, app_namespace([*base, *extra]))
    except (MeshError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not documents:
        print("error: nothing to analyze: give -f FILES or --step N, or start `voting up`")
        return 2
    findings = sorted(analyze(documents), key=lambda m: (-LEVELS[m.kind.level], m.kind.code))
    namespace = next(
        (d["metadata"]["name"] for d in documents if d.get("kind") == "Namespace"), "voting"
    )
    if not findings:
        print(f"✔ No validation issues found when analyzing namespace: {namespace}.")
        return 0
    for finding in findings:
        print(finding)
    failing = [f for f in findings if LEVELS[f.kind.level] >= LEVELS[args.failure_threshold]]
    return FOUND_ISSUES_EXIT if failing else 0
