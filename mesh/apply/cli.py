"""`voting apply -f FILE|DIR|-` and `voting delete -f …`: kubectl-apply on the local mesh.

    voting apply -f vs.yaml [-f more/ ...] [--dry-run]     create or replace by kind/namespace/name
    voting delete -f vs.yaml [--dry-run] [--ignore-not-found]   remove by kind/namespace/name
    voting apply -f vs.yaml --context aks                  server-side apply to that cluster

Locally, the documents in force (`GET /documents` of `voting up`) are merged with the files,
the whole resulting set is validated with the model the system runs (`parse_resources`), and
only then posted under the step in force (`POST /apply`, which validates again). A refused
set changes nothing: the previous configuration keeps serving, and the reason is one line
naming the document and the field (exit status 2). Output is kubectl's, one line a document:

    virtualservice.networking.istio.io/voting-app configured
    authorizationpolicy.security.istio.io/ingress-no-flags created (dry run)

Locally, deleting a document that was configured on top of the step puts the step's own
version back (`restored`): `voting delete -f mesh/tasks/<task>` undoes a task whatever it
replaced. `voting step N` replaces the whole set again; `voting status` shows what is
applied on top.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

EXIT_REFUSED = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    from mesh.local.cli import _state_dir_arg
    from mesh.router.verbs import add_cluster_arguments

    for verb, help_text in (
        ("apply", "create or update resources from files (kubectl apply semantics)"),
        ("delete", "delete the resources named in files (kubectl delete -f semantics)"),
    ):
        parser = subparsers.add_parser(verb, help=help_text, description=help_text)
        parser.add_argument(
            "-f",
            "--filename",
            dest="files",
            action="append",
            required=True,
            metavar="FILE|DIR|-",
            help="a YAML file, a directory (its *.yaml/*.yml, or its kustomization), "
            "or - for standard input (repeatable)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="print what would change; change nothing"
        )
        if verb == "delete":
            parser.add_argument(
                "--ignore-not-found",
                action="store_true",
                help="skip documents that are not in force instead of refusing (kubectl's flag)",
            )
        add_cluster_arguments(parser)
        _state_dir_arg(parser)
        parser.set_defaults(
            func=cmd_apply if verb == "apply" else cmd_delete, deleting=verb == "delete"
        )


def cmd_apply(args: argparse.Namespace) -> int:
    return run(args)


def cmd_delete(args: argparse.Namespace) -> int:
    return run(args)


def run(args: argparse.Namespace) -> int:
    from mesh.apply.documents import DocumentError, load_sources
    from mesh.errors import MeshError
    from mesh.local.errors import NotRunning
    from mesh.router.base import RouterError

    verb = "delete" if args.deleting else "apply"
    try:
        loaded = load_sources(args.files)
        if args.context or args.kubeconfig:
            changes = _on_cluster(args, loaded)
        else:
            changes = _on_local(args, loaded)
    except NotRunning as exc:
        return _fail(str(exc), 1)
    except DocumentError as exc:
        return _fail(f"{verb} refused, nothing changed: {exc}", EXIT_REFUSED)
    except MeshError as exc:  # invalid documents, or the running system refused them
        return _fail(f"{verb} refused, nothing changed: {_sourced(exc, loaded)}", EXIT_REFUSED)
    except RouterError as exc:
        from mesh.cluster.errors import Invalid, UnknownKind

        code = EXIT_REFUSED if isinstance(exc, Invalid | UnknownKind) else 1
        return _fail(f"{verb} failed: {exc}", code)
    for change in changes:
        print(change.line(args.dry_run))
    return 0


def _on_local(args: argparse.Namespace, loaded: list[Any]) -> list[Any]:
    from mesh.apply.documents import app_namespace, delete, merge
    from mesh.local.control import ControlClient
    from mesh.local.errors import MeshError

    client = ControlClient(args.state_dir)
    in_force = asyncio.run(client.documents())
    step = in_force.get("step")
    if not step:
        raise MeshError("the local system has no step in force yet; wait for `voting up`")
    current = in_force.get("documents") or []
    namespace = app_namespace(current)
    documents = [item.document for item in loaded]
    if args.deleting:
        rendered = in_force.get("rendered")
        if rendered is None:  # a `voting up` older than this client: render the step here
            from mesh.steps import render_step

            rendered = render_step(str(step["number"]))
        resulting, changes = delete(
            current,
            documents,
            namespace,
            step=rendered,
            ignore_not_found=getattr(args, "ignore_not_found", False),
        )
    else:
        resulting, changes = merge(current, documents, namespace)
    if all(change.action == "unchanged" for change in changes):
        return changes
    validate(resulting, loaded)
    if not args.dry_run:
        asyncio.run(client.apply(str(step["number"]), resulting))
    return changes


def validate(documents: list[dict[str, Any]], loaded: list[Any]) -> None:
    """The whole set through the model (InvalidResource names the document and field)."""
    from mesh.model.resources import parse_resources

    parse_resources(documents)


def _sourced(exc: Exception, loaded: list[Any]) -> str:
    """The message, headed by the file of the document it names (if one was loaded)."""
    message = str(exc)
    for item in loaded:
        prefix = f"{item.document.get('kind')} {item.document['metadata']['name']}"
        if message.startswith((prefix + ".", prefix + ":")):
            return f"{item.source}: {message}"
    return message


def _on_cluster(args: argparse.Namespace, loaded: list[Any]) -> list[Any]:
    from mesh.apply.cluster import apply_to_cluster
    from mesh.cluster.api import KubeApi

    async def main() -> list[Any]:
        api = KubeApi.from_kubeconfig(args.context, args.kubeconfig)
        try:
            return await apply_to_cluster(
                api,
                args.namespace,
                [item.document for item in loaded],
                deleting=args.deleting,
                dry_run=args.dry_run,
                ignore_not_found=getattr(args, "ignore_not_found", False),
            )
        finally:
            await api.close()

    return asyncio.run(main())


def _fail(message: str, code: int) -> int:
    print(f"voting: {message}", file=sys.stderr)
    return code
