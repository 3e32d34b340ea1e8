"""A step's rendered objects as the Kubernetes router applies them: in the target namespace,
labelled as ours (so a later step may prune them), the Namespace first and annotated with the
step, AuthorizationPolicy principals renamed to the namespace, and container images replaced
as `--image`/`--default-repo` say (like kustomize's `images`)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from mesh.cluster import kinds as k
from mesh.steps import Step

RENDERED_NAMESPACE = "voting"
"""The namespace the step kustomizations render into (and AuthorizationPolicies name)."""


def prepare(
    documents: list[dict[str, Any]],
    namespace: str,
    step: Step,
    images: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The rendered objects as they are applied: in `namespace`, labelled as ours, the
    Namespace first and annotated with the step, container images replaced as `images`
    says (`{"voting-app": "registry.example/voting-app:0.1.0"}`, like kustomize's `images`)."""
    objects = []
    for doc in documents:
        obj = copy.deepcopy(doc)
        kind = k.kind_of(obj)
        meta = obj.setdefault("metadata", {})
        if kind is k.NAMESPACE:
            meta["name"] = namespace
            meta.setdefault("annotations", {})[k.STEP_ANNOTATION] = step.directory
        else:
            meta["namespace"] = namespace
        meta.setdefault("labels", {})[k.MANAGED_BY] = k.MANAGER
        meta["labels"].setdefault(k.PART_OF, k.PROJECT)
        if namespace != RENDERED_NAMESPACE and obj["kind"] == "AuthorizationPolicy":
            rename_principals(obj, namespace)
        if images and kind is k.DEPLOYMENT:
            _replace_images(obj, images)
        objects.append(obj)
    if not any(o["kind"] == "Namespace" for o in objects):
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": namespace,
                    "labels": {k.PART_OF: k.PROJECT, k.MANAGED_BY: k.MANAGER},
                    "annotations": {k.STEP_ANNOTATION: step.directory},
                },
            }
        )
    return sorted(objects, key=lambda o: o["kind"] != "Namespace")  # stable: order kept


def rename_principals(policy: dict[str, Any], namespace: str) -> None:
    """SPIFFE principals of the rendered namespace, moved to `namespace`."""
    old, new = f"/ns/{RENDERED_NAMESPACE}/", f"/ns/{namespace}/"
    for rule in (policy.get("spec") or {}).get("rules") or []:
        for entry in rule.get("from") or []:
            source = entry.get("source") or {}
            if "principals" in source:
                source["principals"] = [p.replace(old, new) for p in source["principals"]]


def image_name(reference: str) -> str:
    """`voting-app:1.0`, `voting-app@sha256:...` → `voting-app` (a registry port is kept)."""
    name = reference.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def _replace_images(deployment: dict[str, Any], images: Mapping[str, str]) -> None:
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
        new = images.get(image_name(container.get("image", "")))
        if new:
            container["image"] = new
