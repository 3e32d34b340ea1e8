"""Which kinds the mesh acts on, and where Istio documents the ones it refuses.

Target: Istio 1.28 (the current release; `istio/api` field semantics, `istio/istio` pilot).
Every kind of the istio.io API groups (and the Kubernetes Gateway API) that the local mesh does
not implement is an error naming its Istio docs page; Kubernetes kinds that have no meaning on
one machine (a ServiceAccount, a PersistentVolumeClaim) are accepted and not acted on.
"""

from __future__ import annotations

ISTIO_VERSION = "1.28"
ROOT_NAMESPACE = "istio-system"
"""Istio's default `meshConfig.rootNamespace`: its policies apply mesh-wide."""

DOCS = "https://istio.io/latest/docs/reference/config"

IMPLEMENTED = {
    "VirtualService": f"{DOCS}/networking/virtual-service/",
    "DestinationRule": f"{DOCS}/networking/destination-rule/",
    "Gateway": f"{DOCS}/networking/gateway/",
    "PeerAuthentication": f"{DOCS}/security/peer_authentication/",
    "AuthorizationPolicy": f"{DOCS}/security/authorization-policy/",
    "RequestAuthentication": f"{DOCS}/security/request_authentication/",
}
"""Istio kinds the local mesh compiles, with their reference pages."""

NOT_IMPLEMENTED = {
    "ServiceEntry": f"{DOCS}/networking/service-entry/",
    "Sidecar": f"{DOCS}/networking/sidecar/",
    "EnvoyFilter": f"{DOCS}/networking/envoy-filter/",
    "WorkloadEntry": f"{DOCS}/networking/workload-entry/",
    "WorkloadGroup": f"{DOCS}/networking/workload-group/",
    "ProxyConfig": f"{DOCS}/networking/proxy-config/",
    "Telemetry": f"{DOCS}/telemetry/",
    "WasmPlugin": f"{DOCS}/proxy_extensions/wasm-plugin/",
}
"""Istio kinds refused by the local mesh (they would otherwise be silently ignored)."""

GATEWAY_API_DOCS = "https://istio.io/latest/docs/tasks/traffic-management/ingress/gateway-api/"

KUBERNETES_RUN = {"Deployment", "Service", "Namespace", "Secret"}
"""Kubernetes kinds the local mesh acts on (pods, endpoints, the namespace, secret env)."""
KUBERNETES_INERT = {"ServiceAccount", "ConfigMap", "PersistentVolumeClaim"}
"""Kubernetes kinds with no local effect: identities come from `serviceAccountName`, stores
keep their data in the machine's Redis and MariaDB."""


def is_istio(api_version: str) -> bool:
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    return group.endswith("istio.io")


def is_gateway_api(api_version: str) -> bool:
    return api_version.startswith("gateway.networking.k8s.io/")
