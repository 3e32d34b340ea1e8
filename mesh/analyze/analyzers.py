"""The checks of `voting analyze`, each after the `istioctl analyze` analyzer it mirrors.

Each function takes the typed model (and, where a check needs fields the model does not keep,
the raw documents) and returns findings; none raises. Files of Istio's analyzers:
pkg/config/analysis/analyzers/{virtualservice,destinationrule,authz,service,gateway}/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mesh.analyze import messages as msg
from mesh.analyze.messages import Message, message
from mesh.model.fields import fqdn
from mesh.model.kinds import ROOT_NAMESPACE
from mesh.model.policy import compose_peer_authentication, gateway_hosts, selects
from mesh.model.resources import MeshResources, dangling_destinations
from mesh.model.virtual_service import HTTPMatch

# pkg/config/protocol/instance.go: the protocols a port name may start with.
PROTOCOLS = {
    "grpc",
    "grpc-web",
    "http",
    "http2",
    "https",
    "tcp",
    "tls",
    "mongo",
    "redis",
    "mysql",
    "udp",
}


def _ref(kind: str, namespace: str, name: str) -> str:
    return f"{kind} {namespace}/{name}"


def references(resources: MeshResources, _docs: list[dict[str, Any]]) -> list[Message]:
    """Hosts, subsets and gateways a VirtualService names (virtualservice/destinationhosts.go,
    destinationrules.go, gateways.go)."""
    found = []
    gateways = {f"{g.namespace}/{g.name}" for g in resources.gateways}
    for vs in resources.virtual_services:
        where = _ref("VirtualService", vs.namespace, vs.name)
        for gateway in vs.gateways:
            if gateway == "mesh":
                continue
            full = gateway if "/" in gateway else f"{vs.namespace}/{gateway}"
            if full not in gateways:
                found.append(message(msg.REFERENCED_RESOURCE_NOT_FOUND, where, "gateway", full))
    for vs, dest, what in dangling_destinations(resources):
        where = _ref("VirtualService", vs.namespace, vs.name)
        host = fqdn(dest.host, vs.namespace)
        if what == "host":
            found.append(message(msg.REFERENCED_RESOURCE_NOT_FOUND, where, "host", host))
        else:
            found.append(
                message(
                    msg.REFERENCED_RESOURCE_NOT_FOUND,
                    where,
                    "host+subset in destinationrule",
                    f"{host}+{dest.subset}",
                )
            )
    return found


def unreachable_rules(resources: MeshResources, _docs: list[dict[str, Any]]) -> list[Message]:
    """After pkg/config/validation/validation.go analyzeUnreachableHTTPRules.

    A rule without matches makes every later rule unreachable; a match seen in an earlier
    rule is ineffective, and a rule whose matches were all seen before is unreachable.
    """
    found = []
    for vs in resources.virtual_services:
        where = _ref("VirtualService", vs.namespace, vs.name)

        def unreachable(index: int, reason: str, name: str | None, where: str = where) -> None:
            found.append(
                message(msg.VIRTUAL_SERVICE_UNREACHABLE_RULE, where, name or index, reason)
            )

        seen: dict[HTTPMatch, int] = {}
        empty_at = -1
        for index, rule in enumerate(vs.http):
            if not rule.matches:
                if empty_at >= 0:
                    unreachable(index, "only the last rule can have no matches", rule.name)
                empty_at = index
                continue
            duplicates = 0
            for number, match in enumerate(rule.matches):
                if empty_at >= 0:
                    unreachable(index, "route without matches defined before", rule.name)
                    continue
                if match in seen:
                    found.append(
                        message(
                            msg.VIRTUAL_SERVICE_INEFFECTIVE_MATCH,
                            where,
                            rule.name or index,
                            match.name or number,
                            vs.http[seen[match]].name or seen[match],
                        )
                    )
                    duplicates += 1
                    continue
                seen[match] = index
            if duplicates == len(rule.matches):
                unreachable(index, "all matches used by prior rules", rule.name)
    return found


def _pod_labels(resources: MeshResources, namespace: str) -> list[dict[str, str]]:
    return [dict(w.labels) for w in resources.workloads] if namespace == resources.namespace else []


def subsets_select_pods(resources: MeshResources, _docs: list[dict[str, Any]]) -> list[Message]:
    """destinationrule/podnotselected.go: every subset selects a pod of its host."""
    found = []
    for dr in resources.destination_rules:
        service = resources.service(dr.host)
        if service is None:
            if not dr.host.startswith("*"):
                found.append(
                    message(
                        msg.UNKNOWN_DESTINATION_RULE_HOST,
                        _ref("DestinationRule", dr.namespace, dr.name),
                        fqdn(dr.host, dr.namespace),
                    )
                )
            continue
        pods = [
            labels for labels in _pod_labels(resources, dr.namespace) if service.selects(labels)
        ]
        for subset in dr.subsets:
            if not any(selects(subset.labels, labels) for labels in pods):
                found.append(
                    message(
                        msg.DESTINATION_RULE_SUBSET_NOT_SELECT_PODS,
                        _ref("DestinationRule", dr.namespace, dr.name),
                        subset.name,
                    )
                )
    return found


def mtls_conflicts(resources: MeshResources, _docs: list[dict[str, Any]]) -> list[Message]:
    """Plaintext from clients towards workloads that accept only mutual TLS: every request fails."""
    found = []
    for dr in resources.destination_rules:
        service = resources.service(dr.host)
        if service is None:
            continue
        modes = [("", dr.tls_mode)] + [(s.name, s.tls_mode) for s in dr.subsets]
        for subset, mode in modes:
            if mode != "DISABLE":
                continue
            subset_def = dr.subset(subset) if subset else None
            for workload in resources.workloads:
                labels = dict(workload.labels)
                if not service.selects(labels) or (
                    subset_def is not None and not selects(subset_def.labels, labels)
                ):
                    continue
                merged = compose_peer_authentication(resources, labels)
                if merged.mode_for(workload.container_port) == "STRICT":
                    found.append(
                        message(
                            msg.MTLS_POLICY_CONFLICT,
                            _ref("DestinationRule", dr.namespace, dr.name),
                            fqdn(dr.host, dr.namespace) + (f" (subset {subset})" if subset else ""),
                            mode,
                            f"{dr.namespace}/{dr.name}",
                            merged.policy,
                        )
                    )
                    break
    return found


GATEWAY_LABELS = {"app": "istio-ingressgateway", "istio": "ingressgateway"}


def selectors_match(resources: MeshResources, _docs: list[dict[str, Any]]) -> list[Message]:
    """authz/authorizationpolicies.go: a workload selector that selects nothing.

    A policy selects workloads of its own namespace; one of the root namespace selects
    workloads of every namespace, the ingress gateway included.
    """
    found = []
    policies = [("AuthorizationPolicy", p) for p in resources.authorization_policies] + [
        ("PeerAuthentication", p) for p in resources.peer_authentications
    ]
    for kind, policy in policies:
        candidates = _pod_labels(resources, policy.namespace)
        if policy.namespace == ROOT_NAMESPACE:
            candidates = [*(dict(w.labels) for w in resources.workloads), GATEWAY_LABELS]
        if policy.selector and not any(selects(policy.selector, c) for c in candidates):
            labels = ",".join(f"{k}={v}" for k, v in policy.selector)
            found.append(
                message(
                    msg.NO_MATCHING_WORKLOADS_FOUND,
                    _ref(kind, policy.namespace, policy.name),
                    labels,
                )
            )
    return found


def hosts_in_gateways(resources: MeshResources, _docs: list[dict[str, Any]]) -> list[Message]:
    """virtualservice/gateways.go: a VirtualService host its Gateway does not serve (the
    compiler's own rule, mesh.model.policy.gateway_hosts, so a warning means a missing route)."""
    found = []
    for vs in resources.virtual_services:
        for gw in resources.gateways:
            if not vs.bound_to(f"{gw.namespace}/{gw.name}"):
                continue
            served = set(gateway_hosts(gw, vs))
            for host in (h for h in vs.hosts if h not in served):
                found.append(
                    message(
                        msg.VIRTUAL_SERVICE_HOST_NOT_FOUND_IN_GATEWAY,
                        _ref("VirtualService", vs.namespace, vs.name),
                        host,
                        f"{vs.namespace}/{vs.name}",
                        f"{gw.namespace}/{gw.name}",
                    )
                )
    return found


def port_names(_resources: MeshResources, docs: list[dict[str, Any]]) -> list[Message]:
    """service/portname.go: a port whose name gives no protocol (and no appProtocol)."""
    found = []
    for doc in docs:
        if doc.get("kind") != "Service":
            continue
        meta = doc.get("metadata") or {}
        for port in (doc.get("spec") or {}).get("ports") or []:
            name = str(port.get("name", ""))
            if (
                port.get("appProtocol")
                or name.split("-", 1)[0].lower() in PROTOCOLS
                or name.lower() == "grpc-web"
            ):
                continue
            found.append(
                message(
                    msg.PORT_NAME_NOT_UNDER_NAMING_CONVENTION,
                    _ref("Service", meta.get("namespace", "voting"), meta.get("name", "?")),
                    name or '""',
                    port.get("port"),
                    port.get("targetPort", port.get("port")),
                )
            )
    return found


ANALYZERS: list[Callable[[MeshResources, list[dict[str, Any]]], list[Message]]] = [
    references,
    unreachable_rules,
    subsets_select_pods,
    mtls_conflicts,
    selectors_match,
    hosts_in_gateways,
    port_names,
]
