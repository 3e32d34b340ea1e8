"""Whole proxies: a sidecar (inbound + outbound) and the ingress gateway, as istiod pushes them."""

from __future__ import annotations

from mesh.local.envoy.common import (
    LOCAL_REPLY_HEADER,
    SOURCE_HEADER,
    T_LISTENER,
    T_ROUTE,
    MeshView,
    ProxyConfig,
    address,
    hcm,
    rds,
)
from mesh.local.envoy.faults import FAULT_FILTER, abort_listener
from mesh.local.envoy.gateway_tls import https_redirect_route, tls_listener
from mesh.local.envoy.http_actions import CORS_FILTER, MAX_DIRECT_RESPONSE_BODY_BYTES
from mesh.local.envoy.inbound import OVERFLOW_RETRY_AFTER, compile_inbound
from mesh.local.envoy.jwt import jwt_filters
from mesh.local.envoy.outbound import OutboundBuilder, compile_outbound_routes
from mesh.local.envoy.rbac import rbac_filters
from mesh.local.topology import INGRESS_NAMESPACE, INGRESS_WORKLOAD, IngressGateway, Pod
from mesh.model.policy import applicable_rules, gateway_hosts, selects


def compile_sidecar(view: MeshView, pod: Pod, config_dir: str) -> ProxyConfig:
    builder = OutboundBuilder(view, view.certs[pod.name])
    route = compile_outbound_routes(builder, pod.labels, pod.workload.name)
    outbound = {
        "@type": T_LISTENER,
        "name": "outbound",
        "address": address(pod.outbound_port),
        "filter_chains": [
            {
                "filters": [
                    hcm(
                        "outbound",
                        rds("outbound", f"{config_dir}/rds.json", config_dir),
                        [FAULT_FILTER, CORS_FILTER],
                    )
                ]
            }
        ],
    }
    inbound, inbound_clusters = compile_inbound(view, pod)
    return ProxyConfig(
        listeners=[inbound, outbound, abort_listener(builder.abort_statuses)],
        clusters=[*builder.clusters.values(), *inbound_clusters],
        route=route,
    )


def compile_ingress(view: MeshView, gateway: IngressGateway, config_dir: str) -> ProxyConfig:
    """The ingress gateway: VirtualServices bound to a Gateway whose selector matches it."""
    labels = dict(gateway.labels)
    # Istio puts the RBAC filter on every HTTP listener, gateways included
    # (pilot/pkg/networking/core/listener.go buildGatewayHTTPFilters → authz builder).
    builder = OutboundBuilder(view, view.certs[gateway.name])
    resources = view.resources
    bound = [g for g in resources.gateways if selects(g.selector, labels)]
    # The Gateway servers' ports are served on the gateway's local ports (plain and TLS).
    ports = {
        server.port: (gateway.https_port or gateway.port) if server.is_tls else gateway.port
        for gw in bound
        for server in gw.servers
    }
    authn = jwt_filters(resources, labels, INGRESS_NAMESPACE)  # before RBAC, as istiod orders
    authz = rbac_filters(resources, labels, INGRESS_NAMESPACE, ports)
    virtual_hosts = []
    for gw in bound:
        reference = f"{gw.namespace}/{gw.name}"
        server_port = gw.servers[0].port if gw.servers else None
        for vs in resources.virtual_services:
            if not vs.bound_to(reference):
                continue
            # gateway.go: match.gateways and match.port are judged against this server.
            rules = applicable_rules(vs.http, labels, {reference}, INGRESS_NAMESPACE, server_port)
            if not rules:  # route.go: a VirtualService with no route for this gateway is dropped
                continue
            # gateway.go pickMatchingGatewayHosts: only the hosts this server serves
            hosts = gateway_hosts(gw, vs)
            if not hosts:
                continue
            domains = ["*"] if "*" in hosts else [*hosts, *(f"{h}:*" for h in hosts)]
            same = next((v for v in virtual_hosts if v["domains"] == domains), None)
            if same is not None:  # one virtual host per host: later VirtualServices' routes follow
                same["routes"].extend(builder.routes(rules, server_port))
                continue
            redirect = https_redirect_route([gw], gateway)
            virtual_hosts.append(
                {
                    "name": f"{gw.name}/{vs.name}",
                    "domains": domains,
                    "routes": [
                        *([redirect] if redirect else []),
                        *builder.routes(rules, server_port),
                    ],
                }
            )
    route = {
        "@type": T_ROUTE,
        "name": "ingress",
        "virtual_hosts": virtual_hosts,
        "max_direct_response_body_size_bytes": MAX_DIRECT_RESPONSE_BODY_BYTES,
        "response_headers_to_remove": [LOCAL_REPLY_HEADER],
        "request_headers_to_add": [
            {
                "header": {"key": SOURCE_HEADER, "value": INGRESS_WORKLOAD},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ],
    }
    ingress_hcm = hcm(
        "ingress",
        rds("ingress", f"{config_dir}/rds.json", config_dir),
        [*authn, *authz, FAULT_FILTER, CORS_FILTER],
    )
    # what the gateway sheds (a DestinationRule connectionPool on a service it routes to) is
    # answered 503 with Retry-After, as the sidecars answer their admission limit's overflow
    ingress_hcm["typed_config"]["local_reply_config"] = {"mappers": [OVERFLOW_RETRY_AFTER]}
    listener = {
        "@type": T_LISTENER,
        "name": "ingress",
        "address": address(gateway.port),
        "filter_chains": [{"filters": [ingress_hcm]}],
    }
    https = tls_listener(resources, bound, gateway, ingress_hcm)
    return ProxyConfig(
        listeners=[listener, *([https] if https else []), abort_listener(builder.abort_statuses)],
        clusters=list(builder.clusters.values()),
        route=route,
    )
