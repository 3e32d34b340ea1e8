"""Istio's rules computed on the typed model, once, for the compiler, status and tls-check.

- which PeerAuthentication is in force for a workload (`effective_mtls_mode`);
- the TLS a client sidecar uses towards a destination (`client_tls_mode`);
- which VirtualService rules apply to a proxy (`applicable_rules`);
- which Services the local mesh runs (`mesh_services`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mesh.model.gateway import Gateway
from mesh.model.kinds import ROOT_NAMESPACE
from mesh.model.resources import MeshResources
from mesh.model.virtual_service import HTTPMatch, HTTPRoute, VirtualService
from mesh.model.workloads import Service


def selects(selector: tuple[tuple[str, str], ...], labels: dict[str, str]) -> bool:
    """Whether a `matchLabels` selector is a subset of the labels (labels.Instance.SubsetOf)."""
    return all(labels.get(k) == v for k, v in selector)


@dataclass(frozen=True)
class MergedPeerAuthentication:
    """The mutual-TLS mode in force for a workload, per port where `portLevelMtls` says so."""

    mode: str
    per_port: tuple[tuple[int, str], ...] = ()
    policy: str = "-"
    """`name/namespace` of the most specific policy that took part, `-` for none."""

    def mode_for(self, port: int | None) -> str:
        return dict(self.per_port).get(port, self.mode) if port is not None else self.mode


def compose_peer_authentication(
    resources: MeshResources, labels: dict[str, str], namespace: str | None = None
) -> MergedPeerAuthentication:
    """Istio's precedence: mesh (root namespace) < namespace < workload, whatever the order.

    After pilot/pkg/security/authn/policy_applier.go ComposePeerAuthentication and
    pilot/pkg/model/authentication.go getConfigsForWorkload: only the workload's namespace
    and the root namespace are looked up; a policy with a selector counts only outside the
    root namespace; of several at one level the oldest wins (here: the first applied);
    UNSET inherits from the level above; the default is PERMISSIVE.
    """
    namespace = namespace or resources.namespace
    mesh = workload = namespace_wide = None
    for policy in resources.peer_authentications:
        if policy.namespace not in (namespace, ROOT_NAMESPACE):
            continue
        if not policy.selector:
            if policy.namespace == ROOT_NAMESPACE:
                mesh = mesh or policy
            else:
                namespace_wide = namespace_wide or policy
        elif policy.namespace != ROOT_NAMESPACE and selects(policy.selector, labels):
            workload = workload or policy
    mode, decided = "PERMISSIVE", "-"
    for level in (mesh, namespace_wide, workload):
        if level is not None:
            decided = f"{level.name}/{level.namespace}"
            if level.mode != "UNSET":
                mode = level.mode
    per_port = tuple(
        (port, mode if port_mode == "UNSET" else port_mode)
        for port, port_mode in (workload.port_level if workload else ())
    )
    return MergedPeerAuthentication(mode, per_port, decided)


def effective_mtls_mode(
    resources: MeshResources, labels: dict[str, str], port: int | None = None
) -> str:
    """The PeerAuthentication mode in force for a workload (on `port`, if given)."""
    return compose_peer_authentication(resources, labels).mode_for(port)


def peer_authentication_name(resources: MeshResources, labels: dict[str, str]) -> str:
    """The `name/namespace` of the most specific PeerAuthentication in force, else `-`."""
    return compose_peer_authentication(resources, labels).policy


def client_tls_mode(
    resources: MeshResources,
    service: str,
    subset: str | None,
    endpoint_labels: list[dict[str, str]],
    auto_mtls: bool = True,
    target_port: int | None = None,
) -> str:
    """The TLS a client sidecar uses towards a destination: DestinationRule, else auto mTLS.

    After pilot/pkg/networking/core/cluster_tls.go: a subset's `tls` replaces the rule's; with
    none, auto mTLS sends ISTIO_MUTUAL unless every endpoint's PeerAuthentication (on the
    target port) is DISABLE.
    """
    rule = resources.destination_rule(service)
    if rule is not None:
        subset_rule = rule.subset(subset) if subset else None
        mode = (subset_rule.tls_mode if subset_rule else None) or rule.tls_mode
        if mode:
            return mode
    if not auto_mtls:
        return "DISABLE"
    modes = {effective_mtls_mode(resources, labels, target_port) for labels in endpoint_labels}
    return "DISABLE" if modes == {"DISABLE"} else "ISTIO_MUTUAL"


def applicable_rules(
    rules: tuple[HTTPRoute, ...],
    labels: dict[str, str],
    gateways: set[str],
    namespace: str,
    port: int | None = None,
) -> list[tuple[HTTPRoute, list[HTTPMatch | None]]]:
    """The rules with the match entries that are for this proxy, in order, as istiod keeps them.

    After pilot/pkg/networking/core/route/route.go BuildHTTPRoutesForVirtualService and
    TranslateRoute: an entry is for the proxy if its `port` (when set) is the listener's and
    sourceMatchHTTP holds (`gateways` when given — "mesh" for sidecars, `namespace/name` for a
    gateway — else `sourceLabels` and `sourceNamespace`); a rule without `match` or an entry
    that matches everything ends the list, as nothing after it can be reached. An empty result
    means the VirtualService is dropped for this proxy (the caller falls back to the default
    route), not that every request is refused.
    """
    result: list[tuple[HTTPRoute, list[HTTPMatch | None]]] = []
    for rule in rules:
        if not rule.matches:
            result.append((rule, [None]))
            break
        kept: list[HTTPMatch | None] = []
        catch_all = False
        for match in rule.matches:
            if match.port is not None and port is not None and match.port != port:
                continue
            if not match.applies_to(labels, gateways, namespace):
                continue
            kept.append(match)
            if match.is_catch_all:
                catch_all = True
                break
        if kept:
            result.append((rule, kept))
        if catch_all:
            break
    return result


def mesh_services(resources: MeshResources) -> list[Service]:
    """Services that select at least one workload the mesh runs (the others are not meshed)."""
    return [
        s
        for s in resources.services
        if any(s.selects(dict(w.labels)) for w in resources.mesh_workloads())
    ]


def host_matches(a: str, b: str) -> bool:
    """pkg/config/host Name.Matches: equal, or either one a wildcard covering the other."""
    if a == b or "*" in (a, b):
        return True
    if a.startswith("*.") and b.endswith(a[1:]):
        return True
    return b.startswith("*.") and a.endswith(b[1:])


def gateway_hosts(gateway: Gateway, vs: VirtualService) -> list[str]:
    """The VirtualService hosts a Gateway's servers serve (`ns/host`, `./host`, `*/host`).

    After pilot/pkg/networking/core/gateway.go pickMatchingGatewayHosts.
    """
    served = []
    for server in gateway.servers:
        for entry in server.hosts:
            namespace, _, name = entry.rpartition("/")
            if (
                namespace in ("", "*")
                or (namespace == "." and vs.namespace == gateway.namespace)
                or namespace == vs.namespace
            ):
                served.append(name)
    return sorted({h for h in vs.hosts if any(host_matches(g, h) for g in served)})
