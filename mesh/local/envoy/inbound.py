"""Inbound: a sidecar's listener, its filter chains following the PeerAuthentication in force."""

from __future__ import annotations

from typing import Any

from functions.runtime.settings import DEFAULT_MAX_IN_FLIGHT
from mesh.local.envoy.common import (
    LOCAL_REPLY_HEADER,
    SOURCE_HEADER,
    T_DOWNSTREAM_TLS,
    T_LISTENER,
    T_TLS_INSPECTOR,
    UNKNOWN,
    MeshView,
    address,
    hcm,
    static_cluster,
    tls_certificates,
    version_tag,
)
from mesh.local.envoy.jwt import jwt_filters
from mesh.local.envoy.rbac import rbac_filters
from mesh.local.topology import INGRESS_WORKLOAD, Pod
from mesh.model.policy import effective_mtls_mode
from mesh.model.resources import MeshResources


def _source_workloads(resources: MeshResources) -> list[tuple[str, str, str]]:
    sources = [(w.name, w.app, w.version) for w in resources.mesh_workloads()]
    return [(INGRESS_WORKLOAD, INGRESS_WORKLOAD, ""), *sources]


# Marks the 5xx an inbound sidecar generates itself (app unreachable, reset, overflow), so the
# caller's retry policy can tell them from the app's own answers (see mesh.local.envoy.retries).
OVERFLOW_RETRY_AFTER = {
    # Overflow (an admission limit or a connectionPool reached): shed with Retry-After, and
    # not marked as a sidecar's own failure, so callers do not retry it (as in Istio, where
    # the default policy retries no status code): retrying would feed the overload.
    "filter": {"response_flag_filter": {"flags": ["UO"]}},
    "headers_to_add": [
        {
            "header": {"key": "Retry-After", "value": "1"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        }
    ],
}
LOCAL_REPLY_CONFIG = {
    "mappers": [
        OVERFLOW_RETRY_AFTER,
        {
            "filter": {
                "status_code_filter": {
                    "comparison": {
                        "op": "GE",
                        "value": {"default_value": 500, "runtime_key": "mesh.local_reply_5xx"},
                    }
                }
            },
            "headers_to_add": [
                {
                    "header": {"key": LOCAL_REPLY_HEADER, "value": "true"},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                }
            ],
        },
    ]
}


INBOUND_RETRY = {"num_retries": 2, "retry_on": "reset-before-request"}
"""Istio's inbound default (route/retry/retry.go ConvertInboundPolicy): a request reset before
it reached the app (its connection to the app closed under it) was never processed, so it is
safe to retry even for a vote."""


def admission_limit(pod: Pod) -> int:
    """The app's MAX_IN_FLIGHT (docs/contracts.md), enforced by its sidecar before the app."""
    value = dict(pod.workload.env).get("MAX_IN_FLIGHT", "")
    return int(value) if value.strip().isdigit() else DEFAULT_MAX_IN_FLIGHT


def inbound_cluster_name(port: int, security: str, workload: str, app: str, version: str) -> str:
    return f"inbound_{port}_{security}_{workload}_{app}_{version_tag(version)}"


def _inbound_chain(
    view: MeshView, pod: Pod, security: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    port = pod.workload.container_port
    limit = admission_limit(pod)
    clusters = []
    routes = []
    if security == "mtls":
        for workload, app, version in _source_workloads(view.resources):
            name = inbound_cluster_name(port, security, workload, app, version)
            clusters.append(static_cluster(name, [pod.app_port], limit))
            routes.append(
                {
                    "match": {
                        "prefix": "/",
                        "headers": [{"name": SOURCE_HEADER, "string_match": {"exact": workload}}],
                    },
                    "route": {"cluster": name, "timeout": "0s", "retry_policy": INBOUND_RETRY},
                }
            )
    unknown = inbound_cluster_name(port, security, UNKNOWN, UNKNOWN, "")
    clusters.append(static_cluster(unknown, [pod.app_port], limit))
    routes.append(
        {
            "match": {"prefix": "/"},
            "route": {"cluster": unknown, "timeout": "0s", "retry_policy": INBOUND_RETRY},
        }
    )
    # destination.port / to.operation.ports name the container port: here, this listener's.
    # jwt_authn before RBAC (istiod's authn, then authz filters)
    filters = jwt_filters(view.resources, pod.labels, view.resources.namespace) + rbac_filters(
        view.resources,
        pod.labels,
        view.resources.namespace,
        {pod.workload.container_port: pod.inbound_port},
    )
    route_config = {
        "name": f"inbound_{security}",
        "virtual_hosts": [{"name": "inbound", "domains": ["*"], "routes": routes}],
        "request_headers_to_remove": [SOURCE_HEADER],
    }
    manager = hcm(f"inbound_{security}", {"route_config": route_config}, filters)
    manager["typed_config"]["local_reply_config"] = LOCAL_REPLY_CONFIG
    chain: dict[str, Any] = {
        "name": f"inbound_{security}",
        "filter_chain_match": {"transport_protocol": "tls" if security == "mtls" else "raw_buffer"},
        "filters": [manager],
    }
    if security == "mtls":
        cert = view.certs[pod.name]
        chain["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": T_DOWNSTREAM_TLS,
                "require_client_certificate": True,
                "common_tls_context": {
                    "tls_certificates": tls_certificates(cert),
                    "validation_context": {"trusted_ca": {"filename": str(cert.ca)}},
                },
            },
        }
    return chain, clusters


def compile_inbound(view: MeshView, pod: Pod) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    mode = effective_mtls_mode(view.resources, pod.labels, pod.workload.container_port)
    securities = {"STRICT": ["mtls"], "PERMISSIVE": ["mtls", "plain"], "DISABLE": ["plain"]}[mode]
    chains, clusters = [], []
    for security in securities:
        chain, chain_clusters = _inbound_chain(view, pod, security)
        chains.append(chain)
        clusters.extend(chain_clusters)
    listener = {
        "@type": T_LISTENER,
        "name": "inbound",
        "address": address(pod.inbound_port),
        "listener_filters": [
            {
                "name": "envoy.filters.listener.tls_inspector",
                "typed_config": {"@type": T_TLS_INSPECTOR},
            }
        ],
        "filter_chains": chains,
    }
    return listener, clusters
