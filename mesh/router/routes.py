"""A service's default route as data: read it from, and write it into, a VirtualService.

The *default route* of a service is the last `http` rule of the VirtualService named after
it (the catch-all comes last, see docs/contracts.md); canary weights live there.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from mesh.router.base import Route, RouterError


def default_route(virtual_service: dict[str, Any]) -> list[Route]:
    """The destinations of a VirtualService's last `http` rule."""
    rules = (virtual_service.get("spec") or {}).get("http") or []
    if not rules:
        raise RouterError(f"{_describe(virtual_service)}: has no http rules")
    routes = rules[-1].get("route") or []
    return [
        Route(
            (r.get("destination") or {}).get("subset"),
            int(r.get("weight", 100 if len(routes) == 1 else 0)),
        )
        for r in routes
    ]


def with_default_route(
    virtual_service: dict[str, Any], service: str, routes: Sequence[Route]
) -> dict[str, Any]:
    """A copy of the VirtualService whose last `http` rule sends to these subsets and weights.

    The destination port of the rule being replaced is kept.
    """
    check_routes(virtual_service, routes)
    result = copy.deepcopy(virtual_service)
    rules = result["spec"]["http"]
    old = rules[-1].get("route") or []
    port = next(((r.get("destination") or {}).get("port") for r in old if "destination" in r), None)
    new = []
    for route in routes:
        destination: dict[str, Any] = {"host": service}
        if port is not None:
            destination["port"] = copy.deepcopy(port)
        if route.subset is not None:
            destination["subset"] = route.subset
        new.append({"destination": destination, "weight": route.weight})
    rules[-1]["route"] = new
    return result


def http_rules(virtual_service: dict[str, Any]) -> list[dict[str, Any]]:
    """A copy of the VirtualService's `http` rules (refused when it has none)."""
    rules = (virtual_service.get("spec") or {}).get("http") or []
    if not rules:
        raise RouterError(f"{_describe(virtual_service)}: has no http rules")
    return copy.deepcopy(rules)


def with_http_rules(
    virtual_service: dict[str, Any], rules: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """A copy of the VirtualService with these `http` rules (the last one is the default)."""
    if not rules:
        raise RouterError(f"{_describe(virtual_service)}: needs at least one http rule")
    result = copy.deepcopy(virtual_service)
    result.setdefault("spec", {})["http"] = copy.deepcopy(list(rules))
    return result


def check_routes(virtual_service: dict[str, Any], routes: Sequence[Route]) -> None:
    where = _describe(virtual_service)
    if not routes:
        raise RouterError(f"{where}: a route needs at least one destination")
    if any(r.weight < 0 or r.weight > 100 for r in routes):
        raise RouterError(f"{where}: weights must be between 0 and 100, got {list(routes)}")
    if sum(r.weight for r in routes) != 100:
        raise RouterError(f"{where}: weights must add up to 100, got {list(routes)}")
    if len({r.subset for r in routes}) != len(routes):
        raise RouterError(f"{where}: a subset may appear once, got {list(routes)}")
    if not (virtual_service.get("spec") or {}).get("http"):
        raise RouterError(f"{where}: has no http rules")


def _describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', 'object')} {meta.get('name')}.{meta.get('namespace', 'voting')}"


def find_virtual_service(documents: list[dict[str, Any]], service: str) -> dict[str, Any]:
    for doc in documents:
        if doc.get("kind") == "VirtualService" and doc["metadata"]["name"] == service:
            return doc
    raise RouterError(f"VirtualService {service}.voting: not in the step in force")
