"""Routes described for people: the ROUTES column of `voting status` and the dashboard.

Computed on the typed model, so the local system and a cluster (read leniently) describe the
same objects the same way.
"""

from __future__ import annotations

from typing import Any

from mesh.model.fields import short_host
from mesh.model.policy import client_tls_mode, effective_mtls_mode, peer_authentication_name
from mesh.model.resources import MeshResources
from mesh.model.virtual_service import Destination, HTTPRoute


def _seconds(value: float) -> str:
    return f"{value:g}s"


def rule_policies(resources: MeshResources, rule: HTTPRoute, dest: Destination | None) -> list[str]:
    """What a rule (and its destination's DestinationRule) adds to plain routing, one short
    label each: shown beside the route so a task's effect never reads as ordinary traffic."""
    labels = []
    fault = rule.fault
    if fault and fault.delay_percent:
        labels.append(f"delay {_seconds(fault.delay_seconds)} {fault.delay_percent:g}%")
    if rule.timeout:
        labels.append(f"timeout {_seconds(rule.timeout)}")
    if rule.retries and rule.retries.attempts:
        per_try = rule.retries.per_try_timeout
        labels.append(
            f"retries {rule.retries.attempts}" + (f" x {_seconds(per_try)}" if per_try else "")
        )
    for mirror in rule.mirrors:
        target = mirror.destination.subset or short_host(mirror.destination.host)
        labels.append(f"mirror {target} {mirror.percent:g}%")
    if rule.rewrite is not None:
        labels.append(f"rewrite {rule.rewrite.uri or ''}".rstrip())
    if rule.headers is not None or (dest is not None and dest.headers is not None):
        labels.append("headers")
    if rule.cors is not None:
        labels.append("cors")
    if dest is not None:
        destination_rule = resources.destination_rule(short_host(dest.host))
        if destination_rule is not None:
            pool, outlier = destination_rule.traffic_policy(dest.subset)
            if pool is not None:
                labels.append("circuit breaker")
            if outlier is not None:
                labels.append("outlier ejection")
    return labels


def _answered_at_proxy(rule: HTTPRoute) -> str | None:
    if rule.redirect is not None:
        return f"redirect {rule.redirect.code} {rule.redirect.uri or rule.redirect.prefix_rewrite or ''}".rstrip()
    if rule.direct_response is not None:
        return f"direct response {rule.direct_response.status}"
    return None


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
            answered = _answered_at_proxy(rule)
            if answered is not None:  # no destination: the proxy answers itself
                routes.append(
                    {
                        "virtual_service": vs.name,
                        "match": " | ".join(conditions) if conditions else "all",
                        "subset": None,
                        "version": None,
                        "weight": 100,
                        "fault": None,
                        "answered": answered,
                        "policies": rule_policies(resources, rule, None),
                    }
                )
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
                        "policies": rule_policies(resources, rule, dest),
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
                "policies": [],
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
