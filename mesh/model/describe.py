"""Routes described for people: the ROUTES column of `voting status` and the dashboard.

Computed on the typed model, so the local system and a cluster (read leniently) describe the
same objects the same way.
"""

from __future__ import annotations

from typing import Any

from mesh.model.resources import MeshResources, short_host


def describe_routes(resources: MeshResources, service: str) -> list[dict[str, Any]]:
    """Which match sends a service's traffic to which subset and version, for status views.

    One entry per destination of every VirtualService rule that routes to the service, in
    rule order; with none, the service's default route (all pods).
    """
    routes: list[dict[str, Any]] = []
    for vs in resources.virtual_services:
        targets = {short_host(d.host) for r in vs.http for d in r.destinations}
        if service not in targets:
            continue
        for rule in vs.http:
            conditions = []
            for match in rule.matches:
                parts = []
                if match.source_labels:
                    parts.append("from " + ",".join(f"{k}={v}" for k, v in match.source_labels))
                for name, value in match.headers:
                    if name == "cookie" and "featureflag=on" in value.value:
                        parts.append("cookie featureflag=on")
                    else:
                        parts.append(f"{name}{value.describe()}")
                if match.uri and not (match.uri.kind == "prefix" and match.uri.value == "/"):
                    parts.append(f"uri{match.uri.describe()}")
                conditions.append(" & ".join(parts) or "all")
            for dest in rule.destinations:
                if short_host(dest.host) != service:
                    continue
                subset_labels = {}
                rule_ = resources.destination_rule(service)
                if rule_ and dest.subset and rule_.subset(dest.subset):
                    subset_labels = dict(rule_.subset(dest.subset).labels)
                routes.append(
                    {
                        "virtual_service": vs.name,
                        "match": " | ".join(conditions) if conditions else "all",
                        "subset": dest.subset,
                        "version": subset_labels.get("version"),
                        "weight": dest.weight,
                        "fault": (
                            {
                                "abort_percent": rule.fault.abort_percent,
                                "status": rule.fault.abort_status,
                            }
                            if rule.fault and rule.fault.abort_percent
                            else None
                        ),
                    }
                )
    if not routes:
        routes.append(
            {
                "virtual_service": None,
                "match": "all",
                "subset": None,
                "version": None,
                "weight": 100,
                "fault": None,
            }
        )
    return routes
