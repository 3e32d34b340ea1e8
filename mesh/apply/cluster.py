"""`voting apply | delete --context`: the same documents, server-side applied to a cluster.

Before anything is sent, the whole resulting set is validated with the local mesh's model
(`parse_resources`): the project's live objects of the namespace (labelled
`app.kubernetes.io/part-of: voting-app`, as `voting step` applies them) with the documents
applied or removed. Then each changed document is applied with server-side apply
(`fieldManager=voting-mesh`, `force=true` as `voting step` does), labelled as ours, so the
next `voting step` prunes what was created on top and re-applies what was configured. A
document without a namespace (or in `voting`, the rendered one) goes to `--namespace`;
one in `istio-system` stays there.

`--dry-run` reads the live objects and reports what would change; nothing is written.
Delete first checks every document exists: if one does not, nothing is deleted.
"""

from __future__ import annotations

import copy
from typing import Any

from mesh.apply.documents import Change, Key, MissingDocuments, delete, merge, type_name
from mesh.cluster import kinds as k
from mesh.cluster.api import KubeApi
from mesh.cluster.errors import NotServed
from mesh.router.kubernetes_objects import RENDERED_NAMESPACE, rename_principals

_SKIPPED = (k.NAMESPACE, k.POD)


def prepare(doc: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The document as applied: in its namespace, labelled as this project's."""
    obj = copy.deepcopy(doc)
    meta = obj.setdefault("metadata", {})
    if obj.get("kind") == "Namespace":
        meta.pop("namespace", None)
    elif meta.get("namespace") in (None, "", RENDERED_NAMESPACE):
        meta["namespace"] = namespace
    labels = meta.setdefault("labels", {})
    labels[k.MANAGED_BY] = k.MANAGER
    labels.setdefault(k.PART_OF, k.PROJECT)
    if obj.get("kind") == "AuthorizationPolicy" and namespace != RENDERED_NAMESPACE:
        rename_principals(obj, namespace)
    return obj


def cleaned(live: dict[str, Any]) -> dict[str, Any]:
    """A live object as a document: no status, no server-set metadata."""
    meta = live.get("metadata") or {}
    obj = {key: value for key, value in live.items() if key not in ("metadata", "status")}
    obj["metadata"] = {
        key: meta[key] for key in ("name", "namespace", "labels", "annotations") if meta.get(key)
    }
    annotations = dict(obj["metadata"].get("annotations") or {})
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if annotations:
        obj["metadata"]["annotations"] = annotations
    else:
        obj["metadata"].pop("annotations", None)
    return obj


def same(live: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether applying `wanted` would change nothing the live object holds."""
    for key, value in wanted.items():
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if live.get(key) != value:
            return False
    live_meta, meta = live.get("metadata") or {}, wanted.get("metadata") or {}
    for field in ("labels", "annotations"):
        have = live_meta.get(field) or {}
        if any(have.get(name) != value for name, value in (meta.get(field) or {}).items()):
            return False
    return True


async def live_documents(api: KubeApi, namespace: str) -> list[dict[str, Any]]:
    """The project's objects in force in the namespace, as documents (the validation base)."""
    documents = []
    found = await api.get(k.NAMESPACE, namespace, None)
    if found is not None:
        documents.append(cleaned({"apiVersion": "v1", "kind": "Namespace", **found}))
    for kind in k.KINDS:
        if kind in _SKIPPED:
            continue
        try:
            items = await api.list(kind, namespace, k.PROJECT_SELECTOR)
        except NotServed:
            continue
        documents += [cleaned(item) for item in items]
    return documents


async def apply_to_cluster(
    api: KubeApi,
    namespace: str,
    documents: list[dict[str, Any]],
    *,
    deleting: bool = False,
    dry_run: bool = False,
    ignore_not_found: bool = False,
) -> list[Change]:
    """Apply (or delete) the documents; return one Change per document, kubectl's words."""
    from mesh.model.resources import parse_resources

    wanted = [prepare(doc, namespace) for doc in documents]
    for obj in wanted:
        k.kind_of(obj)  # every kind has a REST mapping, before anything is read or sent
    live = [await _get(api, obj) for obj in wanted]
    base = await live_documents(api, namespace)
    if deleting and ignore_not_found:
        found = [(o, x) for o, x in zip(wanted, live, strict=True) if x]
        wanted, live = [o for o, _ in found], [x for _, x in found]
    if deleting:
        missing = [
            f"{type_name(o)}/{o['metadata']['name']}"
            for o, x in zip(wanted, live, strict=True)
            if not x
        ]
        if missing:
            raise MissingDocuments(f"not found: {', '.join(missing)}")
        resulting, _ = delete(base, [o for o in wanted if _key(o) in _keys(base)], namespace)
    else:
        resulting, _ = merge(base, wanted, namespace)
    parse_resources(resulting)  # InvalidResource, naming the document and the field
    changes = []
    for obj, current in zip(wanted, live, strict=True):
        key = _key(obj)
        if deleting:
            action = "deleted"
        else:
            action = (
                "created"
                if current is None
                else "unchanged"
                if same(current, obj)
                else ("configured")
            )
        changes.append(Change(key, type_name(obj), action))
    if dry_run:
        return changes
    for obj, change in zip(wanted, changes, strict=True):
        kind = k.kind_of(obj)
        if change.action == "deleted":
            await api.delete(kind, change.key.name, obj["metadata"].get("namespace"))
        elif change.action != "unchanged":
            await api.apply(obj, force=kind is not k.NAMESPACE)
    return changes


async def _get(api: KubeApi, obj: dict[str, Any]) -> dict[str, Any] | None:
    meta = obj["metadata"]
    return await api.get(k.kind_of(obj), meta["name"], meta.get("namespace"))


def _key(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return Key(obj["kind"], meta.get("namespace") or "", meta["name"])


def _keys(documents: list[dict[str, Any]]) -> set[Key]:
    return {_key(d) for d in documents}
