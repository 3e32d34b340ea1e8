"""Routes described for people: the ROUTES column of `voting status` and the dashboard.

Computed on the typed model, so the local system and a cluster (read leniently) describe the
same objects the same way.
"""

from __future__ import annotations

from typing import Any

from mesh.model.fields import short_host
from mesh.model.policy import client_tls_mode, effective_mtls_mode, peer_authentication_name
from mesh.model.resources import MeshResources


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


def service_status(
    resources: MeshResources,
    name: str,
    selector: dict[str, str],
    endpoints: list[dict[str, str]],
    auto_mtls: bool = True,
) -> dict[str, Any]:
    """A service's row of `voting status`, local or cluster: mTLS in force on its endpoints
    (the selector's when it has none), the policy that decides it, the TLS clients use, its
    DestinationRule and routes."""
    modes = sorted({effective_mtls_mode(resources, e) for e in endpoints}) or [
        effective_mtls_mode(resources, selector)
    ]
    rule = resources.destination_rule(name)
    return {
        "name": name,
        "peer_authentication": "/".join(modes),
        "authn_policy": peer_authentication_name(resources, selector),
        "client_tls": client_tls_mode(resources, name, None, endpoints or [selector], auto_mtls),
        "destination_rule": f"{rule.name}/{rule.namespace}" if rule else "-",
        "routes": describe_routes(resources, name),
    }
