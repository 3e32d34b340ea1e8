"""Small readers over rendered objects (plain dicts), shared by the mesh tests."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

ISTIO_API_GROUPS = ("networking.istio.io", "security.istio.io")
APP_FUNCTIONS = {"voting-app": "vote", "voting-analytics": "results", "voting-storage": "storage"}
"""The function each app's containers run (docs/contracts.md)."""


def is_istio(obj: Obj) -> bool:
    """True for Istio custom resources."""
    return obj["apiVersion"].split("/")[0] in ISTIO_API_GROUPS


def of_kind(objs: list[Obj], kind: str) -> list[Obj]:
    """The objects of one kind, in rendered order."""
    return [obj for obj in objs if obj["kind"] == kind]


def named(objs: list[Obj], kind: str, name: str) -> Obj | None:
    """The object of that kind and name, if the step has it."""
    return next((o for o in of_kind(objs, kind) if o["metadata"]["name"] == name), None)


def ref(obj: Obj) -> str:
    """`kind/name`, as kubectl spells it."""
    return f"{obj['kind'].lower()}/{obj['metadata']['name']}"


def pod_spec(deployment: Obj) -> Obj:
    """A Deployment's pod spec."""
    return deployment["spec"]["template"]["spec"]


def pod_labels(deployment: Obj) -> dict[str, str]:
    """A Deployment's pod labels."""
    return deployment["spec"]["template"]["metadata"]["labels"]


def containers(deployment: Obj) -> list[Obj]:
    """A Deployment's (non-init) containers."""
    return pod_spec(deployment)["containers"]


def function_deployments(objs: list[Obj]) -> list[Obj]:
    """Deployments running one of the three functions."""
    return [d for d in of_kind(objs, "Deployment") if pod_labels(d).get("app") in APP_FUNCTIONS]


def env(container: Obj) -> dict[str, Obj]:
    """A container's env entries by name."""
    return {item["name"]: item for item in container.get("env", [])}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """True if every selector label is among the labels."""
    return all(labels.get(key) == value for key, value in selector.items())
