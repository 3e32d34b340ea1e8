"""Istio's rules computed on the typed model, once, for the compiler, status and tls-check.

- which PeerAuthentication is in force for a workload (`effective_mtls_mode`);
- the TLS a client sidecar uses towards a destination (`client_tls_mode`);
- which VirtualService rules apply to a proxy (`applicable_rules`);
- which Services the local mesh runs (`mesh_services`).
"""

from __future__ import annotations

from mesh.model.resources import HTTPMatch, HTTPRoute, MeshResources, Service


def _selects(selector: tuple[tuple[str, str], ...], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector)


def effective_mtls_mode(resources: MeshResources, labels: dict[str, str]) -> str:
    """PeerAuthentication in force for a workload: selector policy over namespace-wide, default PERMISSIVE."""
    selected = [
        p for p in resources.peer_authentications if p.selector and _selects(p.selector, labels)
    ]
    namespace_wide = [p for p in resources.peer_authentications if not p.selector]
    for policy in (*selected, *namespace_wide):
        if policy.mode != "UNSET":
            return policy.mode
    return "PERMISSIVE"


def peer_authentication_name(resources: MeshResources, labels: dict[str, str]) -> str:
    """The `name/namespace` of the PeerAuthentication `effective_mtls_mode` reads, else `-`."""
    for policy in resources.peer_authentications:
        if policy.selector and _selects(policy.selector, labels):
            return f"{policy.name}/{resources.namespace}"
    for policy in resources.peer_authentications:
        if not policy.selector:
            return f"{policy.name}/{resources.namespace}"
    return "-"


def client_tls_mode(
    resources: MeshResources,
    service: str,
    subset: str | None,
    endpoint_labels: list[dict[str, str]],
    auto_mtls: bool = True,
) -> str:
    """The TLS a client sidecar uses towards a destination: DestinationRule, else auto mTLS."""
    rule = resources.destination_rule(service)
    if rule is not None:
        subset_rule = rule.subset(subset) if subset else None
        mode = (subset_rule.tls_mode if subset_rule else None) or rule.tls_mode
        if mode:
            return mode
    if not auto_mtls:
        return "DISABLE"
    modes = {effective_mtls_mode(resources, labels) for labels in endpoint_labels}
    return "DISABLE" if modes == {"DISABLE"} else "ISTIO_MUTUAL"


def applicable_rules(
    rules: tuple[HTTPRoute, ...], labels: dict[str, str], gateway: str | None
) -> list[tuple[HTTPRoute, list[HTTPMatch | None]]]:
    """The rules, with only the match entries that apply to this proxy (sourceLabels, gateways)."""
    result: list[tuple[HTTPRoute, list[HTTPMatch | None]]] = []
    for rule in rules:
        if not rule.matches:
            result.append((rule, [None]))
            continue
        kept: list[HTTPMatch | None] = [
            m
            for m in rule.matches
            if m.applies_to_source(labels) and (not m.gateways or (gateway or "mesh") in m.gateways)
        ]
        if kept:
            result.append((rule, kept))
    return result


def mesh_services(resources: MeshResources) -> list[Service]:
    """Services that select at least one workload the mesh runs (the others are not meshed)."""
    return [
        s
        for s in resources.services
        if any(s.selects(dict(w.labels)) for w in resources.mesh_workloads())
    ]
