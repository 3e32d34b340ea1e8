"""What every compiled Envoy shares: type URLs, names, and the small config builders.

Cluster names carry what telemetry needs (no dots, so Envoy's tag extraction keeps them whole):
  outbound_<port>_<subset or ->_<service>_v<version>     e.g. outbound_8080_v1-1_voting-analytics_v1-1
  inbound_<port>_<mtls|plain>_<workload>_<app>_v<version of the caller>
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mesh.local.ca import IssuedCert
from mesh.local.topology import Pod
from mesh.model.resources import MeshResources

SOURCE_HEADER = "x-mesh-source-workload"
"""Added by the source sidecar; trusted by the destination only on a mutual-TLS chain."""

UNKNOWN = "unknown"
T_LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
T_CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
T_ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
T_HCM = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
    "HttpConnectionManager"
)
T_ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
T_FAULT = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
T_RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
T_UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
T_DOWNSTREAM_TLS = (
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
)
T_PREVIOUS_HOSTS = (
    "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
)
T_HTTP_PROTOCOL_OPTIONS = (
    "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
)
T_TLS_INSPECTOR = (
    "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
)

LOCAL_REPLY_HEADER = "x-mesh-local-reply"
"""Set by an inbound sidecar on the 5xx it generates itself (never on the app's answers)."""
# Istio sets connection-pool limits far above Envoy's defaults (1024, 3 concurrent retries).
UNLIMITED = 4294967295


@dataclass(frozen=True)
class MeshView:
    """What the compiler needs: the resources in force and the pods that serve them."""

    resources: MeshResources
    pods: tuple[Pod, ...]
    certs: dict[str, IssuedCert]
    auto_mtls: bool = True


@dataclass
class ProxyConfig:
    """One Envoy's dynamic configuration: listeners (LDS), clusters (CDS), routes (RDS)."""

    listeners: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    route: dict[str, Any] | None = None


def version_tag(version: str) -> str:
    return "v" + (version.replace(".", "-") if version else UNKNOWN)


def address(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def tls_certificates(cert: IssuedCert) -> list[dict[str, Any]]:
    return [
        {
            "certificate_chain": {"filename": str(cert.cert)},
            "private_key": {"filename": str(cert.key)},
        }
    ]


def static_cluster(name: str, ports: list[int], max_requests: int = 0) -> dict[str, Any]:
    """A cluster of loopback endpoints; `max_requests` > 0 caps what it admits at once.

    Uncapped, Istio's limits (far above Envoy's defaults). Capped: at most `max_requests`
    requests and connections, and a short queue (a quarter of it) for a burst; past that
    Envoy answers 503 itself (response flag UO) in C++, far cheaper than the app could.
    """
    thresholds = {
        "max_connections": max_requests or UNLIMITED,
        "max_pending_requests": max(1, max_requests // 4) if max_requests else UNLIMITED,
        "max_requests": max_requests or UNLIMITED,
        "max_retries": UNLIMITED,
    }
    return {
        "@type": T_CLUSTER,
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "circuit_breakers": {"thresholds": [thresholds]},
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address(p)}} for p in ports]}]
            if ports
            else [],
        },
    }


OUTBOUND_IDLE_TIMEOUT = 0.5
"""Seconds a sidecar keeps an idle connection to another sidecar (Istio: 1 h).

Local addition, paired with the proxies' drain (`EnvoyProxy.command`: immediate strategy,
DRAIN_TIME seconds). A changed listener drains: a connection that carries a request meanwhile
is closed by the server after its response (`Connection: close`), cleanly; one left idle for
the whole drain is closed at its end, and a request the client sent on it at that instant
would fail (503 UC). Closing idle connections well before the drain ends leaves none.
"""

DRAIN_TIME = 2
"""`--drain-time-s` of every local Envoy: more than OUTBOUND_IDLE_TIMEOUT, see there."""


def outbound_protocol_options() -> dict[str, Any]:
    """HTTP/1.1 to the server sidecar, idle connections closed after OUTBOUND_IDLE_TIMEOUT."""
    return {
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": T_HTTP_PROTOCOL_OPTIONS,
            "common_http_protocol_options": {"idle_timeout": f"{OUTBOUND_IDLE_TIMEOUT}s"},
            "explicit_http_config": {"http_protocol_options": {}},
        }
    }


# Every 5xx a proxy answers, with Envoy's response flags (UO overflow, UF connect failure, UH
# no healthy host, NR no route, ...): the proxy's stdout (`logs/<proxy>.envoy.out`) says why.
FAILED_REQUESTS_LOG = {
    "name": "envoy.access_loggers.stdout",
    "filter": {
        "status_code_filter": {
            "comparison": {
                "op": "GE",
                "value": {"default_value": 500, "runtime_key": "mesh.access_log_5xx"},
            }
        }
    },
    "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
        "log_format": {
            "text_format_source": {
                "inline_string": "[%START_TIME%] %REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"
                " %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER%"
                " %UPSTREAM_TRANSPORT_FAILURE_REASON% %DURATION%ms\n"
            }
        },
    },
}


def hcm(
    stat_prefix: str, route_spec: dict[str, Any], filters: list[dict[str, Any]]
) -> dict[str, Any]:
    """An HTTP connection manager as istiod builds one for every HTTP listener.

    `normalize_path`: Istio's default `meshConfig.pathNormalization` (DEFAULT = BASE) sets it
    on every HCM (pilot/pkg/networking/core/listener_builder.go), so routes and RBAC see the
    RFC 3986 path: `/%6detrics`, `/./metrics` and `/a/../metrics` are `/metrics` to them.
    Slashes are not merged and `%2F` stays as it is, as in BASE.
    """
    return {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": T_HCM,
            "stat_prefix": stat_prefix,
            "normalize_path": True,
            "access_log": [FAILED_REQUESTS_LOG],
            **route_spec,
            "http_filters": [
                *filters,
                {"name": "envoy.filters.http.router", "typed_config": {"@type": T_ROUTER}},
            ],
        },
    }


def rds(name: str, path: str, directory: str) -> dict[str, Any]:
    return {
        "rds": {
            "route_config_name": name,
            "config_source": {
                "resource_api_version": "V3",
                "path_config_source": {"path": path, "watched_directory": {"path": directory}},
            },
        }
    }
