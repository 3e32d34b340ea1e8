"""Documents for `voting apply | delete`: loading them, and kubectl-apply's set arithmetic.

A document is keyed like kubectl keys an object: ``(kind, namespace, name)``, the namespace
defaulting to the application namespace (a Namespace itself has none)::

    loaded = load_sources(["vs.yaml", "overlays/", "-"])      # files, a directory, stdin
    merged, changes = merge(in_force, [d.document for d in loaded], "voting")
    # changes: [Change(key, "created" | "configured" | "unchanged"), ...]
    kept, gone = delete(in_force, [d.document for d in loaded], "voting")   # MissingDocuments
    kept, gone = delete(in_force, docs, "voting", step=rendered_step)   # step's own back
    overlay(rendered_step, in_force, "voting")  # what was created/configured/deleted on top

Nothing here talks to a mesh; errors are `DocumentError`s naming the file and the document.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import yaml

from mesh.errors import MeshError

DEFAULT_NAMESPACE = "voting"
CLUSTER_SCOPED = frozenset({"Namespace"})
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
RENDER_TIMEOUT_S = 60


class DocumentError(MeshError):
    """A file that cannot be read, or a document that is not a Kubernetes object."""


class MissingDocuments(DocumentError):
    """`delete` named documents that are not in force."""


class Key(NamedTuple):
    kind: str
    namespace: str  # "" for cluster-scoped kinds
    name: str


class Loaded(NamedTuple):
    """A document and where it came from (`vs.yaml`, `vs.yaml#2`, `<stdin>`)."""

    source: str
    document: dict[str, Any]


class Change(NamedTuple):
    key: Key
    type_name: str  # kubectl's `virtualservice.networking.istio.io`
    action: str  # created | configured | unchanged | deleted | restored (the step's own)

    def line(self, dry_run: bool = False) -> str:
        """`virtualservice.networking.istio.io/voting-app configured`, as kubectl says it."""
        return f"{self.type_name}/{self.key.name} {self.action}" + (" (dry run)" if dry_run else "")


# ---------------------------------------------------------------- loading
def load_sources(sources: Sequence[str], stdin: TextIO | None = None) -> list[Loaded]:
    """Every document of every `-f` source, in order; `-` reads standard input."""
    loaded: list[Loaded] = []
    for source in sources:
        if source == "-":
            loaded += parse_text((stdin or sys.stdin).read(), "<stdin>")
            continue
        path = Path(source)
        if path.is_dir():
            loaded += load_directory(path)
        elif path.is_file():
            loaded += parse_text(_read(path), str(path))
        else:
            raise DocumentError(f"{source}: no such file or directory")
    if not loaded:
        raise DocumentError(f"no objects in {', '.join(sources)}")
    return loaded


def load_directory(path: Path) -> list[Loaded]:
    """A kustomization is rendered with `kubectl kustomize`; else its *.yaml/*.yml, sorted."""
    if any((path / name).is_file() for name in KUSTOMIZATION_FILES):
        return parse_text(render_kustomization(path), f"{path} (kustomize)")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
    loaded: list[Loaded] = []
    for file in files:
        loaded += parse_text(_read(file), str(file))
    return loaded


def render_kustomization(path: Path) -> str:
    """`kubectl kustomize DIR`, with the kubectl the steps are rendered with."""
    from mesh.steps import RenderError, find_kubectl

    try:
        kubectl = find_kubectl()
        done = subprocess.run(
            [kubectl, "kustomize", str(path)],
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT_S,
            check=False,
        )
    except (RenderError, OSError, subprocess.TimeoutExpired) as exc:
        raise DocumentError(f"{path}: cannot render the kustomization: {exc}") from exc
    if done.returncode != 0:
        detail = done.stderr.strip() or f"exit status {done.returncode}"
        raise DocumentError(f"{path}: kubectl kustomize failed: {detail}")
    return done.stdout


def parse_text(text: str, source: str) -> list[Loaded]:
    """The objects of a YAML stream; a `kind: List` gives its items."""
    try:
        raw = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise DocumentError(f"{source}: not YAML: {' '.join(str(exc).split())}") from exc
    loaded: list[Loaded] = []
    for index, doc in enumerate(raw, 1):
        where = source if len(raw) == 1 else f"{source}#{index}"
        items = doc.get("items") if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
        for item in items or []:
            check_object(item, where)
            loaded.append(Loaded(where, item))
    return loaded


def check_object(doc: Any, where: str) -> None:
    if not isinstance(doc, dict):
        raise DocumentError(f"{where}: not an object: {doc!r:.60}")
    for field in ("apiVersion", "kind"):
        if not isinstance(doc.get(field), str) or not doc[field]:
            raise DocumentError(f"{where}: {field} is missing")
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise DocumentError(f"{where}: {doc['kind']} has no metadata.name")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path}: cannot read: {exc}") from exc


# ---------------------------------------------------------------- keys and names
def app_namespace(documents: Iterable[dict[str, Any]]) -> str:
    """The namespace the documents run in: their Namespace's name, else `voting`."""
    for doc in documents:
        if doc.get("kind") == "Namespace":
            return str((doc.get("metadata") or {}).get("name") or DEFAULT_NAMESPACE)
    return DEFAULT_NAMESPACE


def key_of(doc: dict[str, Any], namespace: str) -> Key:
    kind = str(doc.get("kind"))
    meta = doc.get("metadata") or {}
    scope = "" if kind in CLUSTER_SCOPED else str(meta.get("namespace") or namespace)
    return Key(kind, scope, str(meta.get("name")))


def type_name(doc: dict[str, Any]) -> str:
    """kubectl's name of the type: `virtualservice.networking.istio.io`, `service`."""
    api_version = str(doc.get("apiVersion", ""))
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    kind = str(doc.get("kind", "")).lower()
    return f"{kind}.{group}" if group else kind


def describe(key: Key, namespace: str) -> str:
    """`virtualservice voting-app`, `authorizationpolicy ingress-no-flags.istio-system`."""
    suffix = f".{key.namespace}" if key.namespace and key.namespace != namespace else ""
    return f"{key.kind.lower()} {key.name}{suffix}"


def normalized(doc: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The document as stored: a namespaced object names its namespace."""
    out = copy.deepcopy(doc)
    key = key_of(out, namespace)
    if key.namespace:
        out.setdefault("metadata", {})["namespace"] = key.namespace
    return out


# ---------------------------------------------------------------- set arithmetic
def merge(
    current: Sequence[dict[str, Any]], incoming: Sequence[dict[str, Any]], namespace: str
) -> tuple[list[dict[str, Any]], list[Change]]:
    """Create or replace each incoming document by key (in place; new ones at the end)."""
    merged = [normalized(d, namespace) for d in current]
    index = {key_of(d, namespace): i for i, d in enumerate(merged)}
    changes = []
    for doc in incoming:
        doc = normalized(doc, namespace)
        key = key_of(doc, namespace)
        if key not in index:
            index[key] = len(merged)
            merged.append(doc)
            action = "created"
        elif merged[index[key]] == doc:
            action = "unchanged"
        else:
            merged[index[key]] = doc
            action = "configured"
        changes.append(Change(key, type_name(doc), action))
    return merged, changes


def delete(
    current: Sequence[dict[str, Any]],
    targets: Sequence[dict[str, Any]],
    namespace: str,
    step: Sequence[dict[str, Any]] = (),
    ignore_not_found: bool = False,
) -> tuple[list[dict[str, Any]], list[Change]]:
    """Remove each target by key; if any is not there, nothing is removed.

    With `step` (the step in force, as rendered): a target whose document in force was
    configured on top of the step's own gets the step's version back ("restored") instead
    of being removed, so deleting what a task applied undoes the task, whatever it replaced.
    Once the step's version is in force, deleting another version of it (a second stage of
    the same task) changes nothing ("unchanged"); only the step's own document (same spec)
    removes it. `ignore_not_found` skips targets that are not there, as kubectl's flag does.
    """
    present = {key_of(d, namespace): normalized(d, namespace) for d in current}
    rendered = {key_of(d, namespace): normalized(d, namespace) for d in step}
    wanted: dict[Key, dict[str, Any]] = {}
    for doc in targets:
        wanted.setdefault(key_of(doc, namespace), doc)
    missing = [key for key in wanted if key not in present]
    if missing and not ignore_not_found:
        names = ", ".join(f"{type_name(wanted[k])}/{k.name}" for k in missing)
        raise MissingDocuments(f"not found: {names}")
    actions: dict[Key, str] = {}
    for key, doc in wanted.items():
        if key not in present:
            continue
        if key not in rendered:
            actions[key] = "deleted"
        elif present[key] != rendered[key]:
            actions[key] = "restored"
        elif doc.get("spec") == rendered[key].get("spec"):
            actions[key] = "deleted"  # the step's own document
        else:
            actions[key] = "unchanged"  # another version of it, already undone
    kept = [
        rendered[key] if actions.get(key) == "restored" else doc
        for key, doc in present.items()
        if actions.get(key) != "deleted"
    ]
    return kept, [Change(k, type_name(wanted[k]), action) for k, action in actions.items()]


def overlay(
    base: Sequence[dict[str, Any]], current: Sequence[dict[str, Any]], namespace: str
) -> list[dict[str, str]]:
    """What `current` changes on top of `base` (a rendered step): created, configured and
    deleted documents, as `{"kind", "name", "namespace", "action", "describe"}`."""
    before = {key_of(d, namespace): normalized(d, namespace) for d in base}
    after = {key_of(d, namespace): normalized(d, namespace) for d in current}
    changed: list[tuple[Key, str]] = []
    for key, doc in after.items():
        if key not in before:
            changed.append((key, "created"))
        elif before[key] != doc:
            changed.append((key, "configured"))
    changed += [(key, "deleted") for key in before if key not in after]
    return [
        {
            "kind": key.kind,
            "name": key.name,
            "namespace": key.namespace,
            "action": action,
            "describe": describe(key, namespace),
        }
        for key, action in changed
    ]


def format_overlay(step: dict[str, Any] | None, applied: Sequence[dict[str, Any]]) -> str | None:
    """`applied on top of step 3: virtualservice voting-analytics (configured), …`."""
    if not applied:
        return None
    number = (step or {}).get("number", "?")
    items = ", ".join(f"{a['describe']} ({a['action']})" for a in applied)
    return f"applied on top of step {number}: {items}"
