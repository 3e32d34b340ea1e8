"""Compile Istio resources into Envoy configuration, per proxy, the way istiod does.

For each sidecar: an outbound HTTP listener (the function reaches it as its HTTP proxy) whose
route table holds one virtual host per Service, with the VirtualService rules that apply to
this workload's labels (first match wins); one cluster per destination subset and endpoint
version; and an inbound listener whose filter chains follow the PeerAuthentication mode.
For the ingress gateway: the VirtualServices bound to its Gateway.

Cluster names carry what telemetry needs (no dots, so Envoy's tag extraction keeps them whole):
  outbound_<port>_<subset or ->_<service>_v<version>     e.g. outbound_8080_v1-1_voting-analytics_v1-1
  inbound_<port>_<mtls|plain>_<workload>_<app>_v<version of the caller>
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from mesh.local.ca import IssuedCert, spiffe_id
from mesh.local.resources import (
    Destination,
    HTTPMatch,
    HTTPRoute,
    MeshResources,
    Operation,
    Service,
    StringMatch,
    Workload,
    short_host,
)
from mesh.local.topology import (
    INGRESS_NAMESPACE,
    INGRESS_SERVICE_ACCOUNT,
    INGRESS_WORKLOAD,
    IngressGateway,
    Pod,
)

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
T_TLS_INSPECTOR = (
    "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
)

# Istio's default retry policy for every HTTP route (istio/pilot/pkg/networking/core/route/retry),
# with one difference: Istio retries every 503, while here a 503 is retried only when a sidecar
# produced it itself (the app behind it is unreachable or reset: another replica may answer).
# A 503 the app sent (its own dependency is down, with Retry-After) is passed on: retrying it
# nests (the gateway x3 over the app's sidecar x3 = 9 storage calls, 3x the app's deadline),
# turning a quick "try again" into a multi-second hang during an outage.
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-headers"
DEFAULT_RETRIES = 2
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


# ---------------------------------------------------------------- policies
def effective_mtls_mode(resources: MeshResources, labels: dict[str, str]) -> str:
    """PeerAuthentication in force for a workload: selector policy over namespace-wide, default PERMISSIVE."""
    selected = [
        p
        for p in resources.peer_authentications
        if p.selector and all(labels.get(k) == v for k, v in p.selector)
    ]
    namespace_wide = [p for p in resources.peer_authentications if not p.selector]
    for policy in (*selected, *namespace_wide):
        if policy.mode != "UNSET":
            return policy.mode
    return "PERMISSIVE"


def peer_authentication_name(resources: MeshResources, labels: dict[str, str]) -> str:
    for policy in resources.peer_authentications:
        if policy.selector and all(labels.get(k) == v for k, v in policy.selector):
            return f"{policy.name}/{resources.namespace}"
    for policy in resources.peer_authentications:
        if not policy.selector:
            return f"{policy.name}/{resources.namespace}"
    return "-"


def client_tls_mode(view: MeshView, service: str, subset: str | None, endpoints: list[Pod]) -> str:
    """The TLS a client sidecar uses towards a destination: DestinationRule, else auto mTLS."""
    rule = view.resources.destination_rule(service)
    if rule is not None:
        subset_rule = rule.subset(subset) if subset else None
        mode = (subset_rule.tls_mode if subset_rule else None) or rule.tls_mode
        if mode:
            return mode
    if not view.auto_mtls:
        return "DISABLE"
    modes = {effective_mtls_mode(view.resources, p.labels) for p in endpoints}
    return "DISABLE" if modes == {"DISABLE"} else "ISTIO_MUTUAL"


def _principal_matcher(principal: str) -> dict[str, Any]:
    if principal == "*":
        return {"authenticated": {"principal_name": {"prefix": "spiffe://"}}}
    if principal.endswith("*"):
        return {"authenticated": {"principal_name": {"prefix": "spiffe://" + principal[:-1]}}}
    if principal.startswith("*"):
        return {"authenticated": {"principal_name": {"suffix": principal[1:]}}}
    return {"authenticated": {"principal_name": {"exact": "spiffe://" + principal}}}


def _path_matcher(path: str) -> dict[str, Any]:
    """Istio path values: exact, `prefix*`, `*suffix` or `*`."""
    if path == "*":
        matcher: dict[str, Any] = {"prefix": "/"}
    elif path.endswith("*"):
        matcher = {"prefix": path[:-1]}
    elif path.startswith("*"):
        matcher = {"suffix": path[1:]}
    else:
        matcher = {"exact": path}
    return {"url_path": {"path": matcher}}


def _method_matcher(method: str) -> dict[str, Any]:
    return {"header": {"name": ":method", "string_match": {"exact": method}}}


def _any_of(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return rules[0] if len(rules) == 1 else {"or_rules": {"rules": rules}}


def _permission(operation: Operation) -> dict[str, Any]:
    """All of an operation's fields must hold; within a field, any value."""
    conditions = []
    if operation.paths:
        conditions.append(_any_of([_path_matcher(p) for p in operation.paths]))
    if operation.not_paths:
        conditions.append({"not_rule": _any_of([_path_matcher(p) for p in operation.not_paths])})
    if operation.methods:
        conditions.append(_any_of([_method_matcher(m) for m in operation.methods]))
    if operation.not_methods:
        conditions.append(
            {"not_rule": _any_of([_method_matcher(m) for m in operation.not_methods])}
        )
    if not conditions:
        return {"any": True}
    return conditions[0] if len(conditions) == 1 else {"and_rules": {"rules": conditions}}


def rbac_filter(resources: MeshResources, labels: dict[str, str]) -> dict[str, Any] | None:
    """ALLOW AuthorizationPolicies selecting the workload; with any of them, others get 403.

    Like istiod: one RBAC policy per rule, a request is allowed when some rule matches both
    one of its sources and one of its operations; a policy without rules allows nothing.
    """
    policies = [
        p
        for p in resources.authorization_policies
        if p.selector is None or all(labels.get(k) == v for k, v in p.selector)
    ]
    if not policies:
        return None
    rules = {
        f"ns[{resources.namespace}]-policy[{p.name}]-rule[{index}]": {
            "permissions": [_permission(op) for op in rule.operations] or [{"any": True}],
            "principals": [{"any": True}]
            if rule.principals is None
            else [_principal_matcher(x) for x in rule.principals] or [{"not_id": {"any": True}}],
        }
        for p in policies
        for index, rule in enumerate(p.rules)
    }
    return {
        "name": "envoy.filters.http.rbac",
        "typed_config": {"@type": T_RBAC, "rules": {"action": "ALLOW", "policies": rules}},
    }


# ---------------------------------------------------------------- building blocks
def _address(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def _tls_certificates(cert: IssuedCert) -> list[dict[str, Any]]:
    return [
        {
            "certificate_chain": {"filename": str(cert.cert)},
            "private_key": {"filename": str(cert.key)},
        }
    ]


def _static_cluster(name: str, ports: list[int]) -> dict[str, Any]:
    return {
        "@type": T_CLUSTER,
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "circuit_breakers": {
            "thresholds": [
                {
                    "max_connections": UNLIMITED,
                    "max_pending_requests": UNLIMITED,
                    "max_requests": UNLIMITED,
                    "max_retries": UNLIMITED,
                }
            ]
        },
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _address(p)}} for p in ports]}]
            if ports
            else [],
        },
    }


def _string_matcher(match: StringMatch) -> dict[str, Any]:
    if match.kind == "regex":
        return {"safe_regex": {"regex": match.value}}
    return {match.kind: match.value}


def _route_match(match: HTTPMatch | None) -> dict[str, Any]:
    result: dict[str, Any] = {"prefix": "/"}
    if match is not None and match.uri is not None:
        uri = match.uri
        result = (
            {"path": uri.value}
            if uri.kind == "exact"
            else {"prefix": uri.value}
            if uri.kind == "prefix"
            else {"safe_regex": {"regex": uri.value}}
        )
    if match is not None and match.headers:
        result["headers"] = [
            {"name": name, "string_match": _string_matcher(value)} for name, value in match.headers
        ]
    return result


def _fault_config(route: HTTPRoute) -> dict[str, Any] | None:
    """Delays use Envoy's fault filter; aborts are compiled as abort clusters (see route_action)."""
    fault = route.fault
    if fault is None or not fault.delay_percent:
        return None
    return {
        "@type": T_FAULT,
        "delay": {
            "fixed_delay": f"{fault.delay_seconds:.3f}s",
            "percentage": {
                "numerator": round(fault.delay_percent * 10000),
                "denominator": "MILLION",
            },
        },
    }


ABORT_LISTENER = "mesh_abort"
ABORT_HEADER = "x-mesh-abort"


def abort_cluster(of: str, status: int) -> dict[str, Any]:
    """A cluster answering `status` from an internal listener, counted under `of`'s stats.

    Istio aborts in the source proxy's fault filter, before the router, so Envoy's cluster
    stats never see the request. Compiled as a weighted share of the route that goes to this
    cluster instead, the abort is counted as a response of the destination it was meant for,
    which is what Istio's source-side telemetry reports and what a canary gate must see.
    """
    name = f"{of}~abort{status}"
    return {
        "@type": T_CLUSTER,
        "name": name,
        "alt_stat_name": of,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "envoy_internal_address": {
                                        "server_listener_name": ABORT_LISTENER
                                    }
                                }
                            }
                        }
                    ]
                }
            ],
        },
    }


def abort_listener(statuses: set[int]) -> dict[str, Any]:
    """The internal listener behind abort clusters: answers the status the route asked for."""
    routes = [
        {
            "match": {
                "prefix": "/",
                "headers": [{"name": ABORT_HEADER, "string_match": {"exact": str(status)}}],
            },
            "direct_response": {"status": status, "body": {"inline_string": "fault filter abort"}},
        }
        for status in sorted(statuses)
    ]
    routes.append({"match": {"prefix": "/"}, "direct_response": {"status": 503}})
    route_config = {
        "name": ABORT_LISTENER,
        "virtual_hosts": [{"name": "abort", "domains": ["*"], "routes": routes}],
    }
    return {
        "@type": T_LISTENER,
        "name": ABORT_LISTENER,
        "internal_listener": {},
        "filter_chains": [{"filters": [_hcm(ABORT_LISTENER, {"route_config": route_config}, [])]}],
    }


def _retry_policy(route: HTTPRoute) -> dict[str, Any] | None:
    retries = route.retries
    attempts = DEFAULT_RETRIES if retries is None else retries.attempts
    if attempts <= 0:
        return None
    retry_on = retries.retry_on if retries and retries.retry_on else DEFAULT_RETRY_ON
    if route.fault and route.fault.abort_percent:  # Istio aborts before the router: no retry
        retry_on = ",".join(
            c
            for c in retry_on.split(",")
            if c not in ("retriable-status-codes", "retriable-headers", "5xx", "gateway-error")
        )
    policy: dict[str, Any] = {
        "retry_on": retry_on,
        "num_retries": attempts,
        "retry_host_predicate": [
            {
                "name": "envoy.retry_host_predicates.previous_hosts",
                "typed_config": {"@type": T_PREVIOUS_HOSTS},
            }
        ],
        "host_selection_retry_max_attempts": 5,
        "retriable_status_codes": [503],
        "retriable_headers": [{"name": LOCAL_REPLY_HEADER, "present_match": True}],
    }
    if retries is not None and retries.per_try_timeout:
        policy["per_try_timeout"] = f"{retries.per_try_timeout:.3f}s"
    return policy


def _hcm(
    stat_prefix: str, route_spec: dict[str, Any], filters: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": T_HCM,
            "stat_prefix": stat_prefix,
            **route_spec,
            "http_filters": [
                *filters,
                {"name": "envoy.filters.http.router", "typed_config": {"@type": T_ROUTER}},
            ],
        },
    }


FAULT_FILTER = {"name": "envoy.filters.http.fault", "typed_config": {"@type": T_FAULT}}


# ---------------------------------------------------------------- outbound routing
class _OutboundBuilder:
    """Collects the clusters that a proxy's routes refer to while compiling them."""

    def __init__(self, view: MeshView, identity: IssuedCert) -> None:
        self.view = view
        self.identity = identity
        self.clusters: dict[str, dict[str, Any]] = {}
        self.abort_statuses: set[int] = set()

    def endpoints(self, service: Service, subset: str | None) -> list[Pod]:
        pods = [p for p in self.view.pods if service.selects(p.labels)]
        if subset is None:
            return pods
        rule = self.view.resources.destination_rule(service.name)
        subset_def = rule.subset(subset) if rule else None
        if subset_def is None:
            return []
        return [p for p in pods if all(p.labels.get(k) == v for k, v in subset_def.labels)]

    def destination_clusters(self, dest: Destination) -> list[tuple[str, int]]:
        """Clusters (one per endpoint version) and their relative weights for one destination."""
        service = self.view.resources.service(dest.host)
        assert service is not None  # checked when the resources were parsed
        port = dest.port or (service.ports[0].port if service.ports else 8080)
        pods = self.endpoints(service, dest.subset)
        by_version: dict[str, list[Pod]] = defaultdict(list)
        for pod in pods:
            by_version[pod.workload.version].append(pod)
        if not by_version:
            by_version[self._subset_version(service, dest.subset)] = []
        tls = client_tls_mode(self.view, service.name, dest.subset, pods)
        result = []
        for version, members in sorted(by_version.items()):
            name = f"outbound_{port}_{dest.subset or '-'}_{service.name}_{version_tag(version)}"
            if name not in self.clusters:
                cluster = _static_cluster(name, [p.inbound_port for p in members])
                if tls == "ISTIO_MUTUAL":
                    cluster["transport_socket"] = self._upstream_tls(service, members, dest, port)
                self.clusters[name] = cluster
            result.append((name, max(len(members), 1)))
        return result

    def _subset_version(self, service: Service, subset: str | None) -> str:
        rule = self.view.resources.destination_rule(service.name)
        subset_def = rule.subset(subset) if (rule and subset) else None
        return dict(subset_def.labels).get("version", UNKNOWN) if subset_def else UNKNOWN

    def _upstream_tls(
        self, service: Service, members: list[Pod], dest: Destination, port: int
    ) -> dict[str, Any]:
        accounts = sorted({p.workload.service_account for p in members}) or sorted(
            {
                w.service_account
                for w in self.view.resources.workloads
                if service.selects(dict(w.labels))
            }
        )
        namespace = self.view.resources.namespace
        return {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": T_UPSTREAM_TLS,
                "sni": f"outbound_.{port}_.{dest.subset or ''}_.{service.name}.{namespace}.svc.cluster.local",
                "common_tls_context": {
                    "tls_certificates": _tls_certificates(self.identity),
                    "validation_context": {
                        "trusted_ca": {"filename": str(self.identity.ca)},
                        "match_typed_subject_alt_names": [
                            {"san_type": "URI", "matcher": {"exact": spiffe_id(namespace, sa)}}
                            for sa in accounts
                        ],
                    },
                },
            },
        }

    def route_action(self, rule: HTTPRoute) -> dict[str, Any]:
        weighted: list[dict[str, Any]] = []
        abort = rule.fault.abort_percent if rule.fault else 0.0
        for dest in rule.destinations:
            clusters = self.destination_clusters(dest)
            total = sum(w for _, w in clusters)
            for name, share in clusters:
                weight = dest.weight * share * 1000 // total
                aborted = round(weight * abort / 100)
                if weight - aborted > 0:
                    weighted.append({"name": name, "weight": weight - aborted})
                if aborted > 0:
                    assert rule.fault is not None
                    status = rule.fault.abort_status
                    self.clusters.setdefault(f"{name}~abort{status}", abort_cluster(name, status))
                    self.abort_statuses.add(status)
                    weighted.append(
                        {
                            "name": f"{name}~abort{status}",
                            "weight": aborted,
                            "request_headers_to_add": [
                                {"header": {"key": ABORT_HEADER, "value": str(status)}}
                            ],
                        }
                    )
        action: dict[str, Any] = {"timeout": f"{rule.timeout:.3f}s" if rule.timeout else "0s"}
        if not weighted:  # every destination at weight 0: Istio answers 503
            return {"direct_response": {"status": 503}}
        if len(weighted) == 1 and "request_headers_to_add" not in weighted[0]:
            action["cluster"] = weighted[0]["name"]
        else:
            action["weighted_clusters"] = {"clusters": weighted}
        retry = _retry_policy(rule)
        if retry:
            action["retry_policy"] = retry
        return {"route": action}

    def routes(self, rules: list[tuple[HTTPRoute, list[HTTPMatch | None]]]) -> list[dict[str, Any]]:
        result = []
        for index, (rule, matches) in enumerate(rules):
            action = self.route_action(rule)
            fault = _fault_config(rule)
            for match in matches:
                entry: dict[str, Any] = {
                    "name": rule.name or f"rule-{index}",
                    "match": _route_match(match),
                    **action,
                }
                if fault and "route" in action:
                    entry["typed_per_filter_config"] = {"envoy.filters.http.fault": fault}
                result.append(entry)
        return result


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


def _domains(service: str, namespace: str, port: int) -> list[str]:
    names = [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]
    return [*names, *(f"{n}:{port}" for n in names)]


def mesh_services(resources: MeshResources) -> list[Service]:
    """Services that select at least one workload the mesh runs (the others are not meshed)."""
    return [
        s
        for s in resources.services
        if any(s.selects(dict(w.labels)) for w in resources.mesh_workloads())
    ]


def compile_outbound_routes(
    builder: _OutboundBuilder, labels: dict[str, str], source_workload: str
) -> dict[str, Any]:
    resources = builder.view.resources
    virtual_hosts = []
    for service in mesh_services(resources):
        port = service.ports[0].port if service.ports else 8080
        vs = next(
            (
                v
                for v in resources.virtual_services
                if v.applies_to_mesh and any(short_host(h) == service.name for h in v.hosts)
            ),
            None,
        )
        if vs is not None:
            rules = applicable_rules(vs.http, labels, None)
        else:
            rules = [(HTTPRoute(None, (), (Destination(service.name, None, None, 100),)), [None])]
        virtual_hosts.append(
            {
                "name": f"{service.name}.{resources.namespace}.svc.cluster.local:{port}",
                "domains": _domains(service.name, resources.namespace, port),
                "routes": builder.routes(rules)
                or [{"match": {"prefix": "/"}, "direct_response": {"status": 404}}],
            }
        )
    return {
        "@type": T_ROUTE,
        "name": "outbound",
        "virtual_hosts": virtual_hosts,
        "response_headers_to_remove": [LOCAL_REPLY_HEADER],
        "request_headers_to_add": [
            {
                "header": {"key": SOURCE_HEADER, "value": source_workload},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ],
    }


def _rds(name: str, path: str, directory: str) -> dict[str, Any]:
    return {
        "rds": {
            "route_config_name": name,
            "config_source": {
                "resource_api_version": "V3",
                "path_config_source": {"path": path, "watched_directory": {"path": directory}},
            },
        }
    }


# ---------------------------------------------------------------- inbound
def _source_workloads(resources: MeshResources) -> list[tuple[str, str, str]]:
    sources = [(w.name, w.app, w.version) for w in resources.mesh_workloads()]
    return [(INGRESS_WORKLOAD, INGRESS_WORKLOAD, ""), *sources]


# Marks the 5xx an inbound sidecar generates itself (app unreachable, reset, overflow), so the
# caller's retry policy can tell them from the app's own answers (see DEFAULT_RETRY_ON).
LOCAL_REPLY_CONFIG = {
    "mappers": [
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
        }
    ]
}


def inbound_cluster_name(port: int, security: str, workload: str, app: str, version: str) -> str:
    return f"inbound_{port}_{security}_{workload}_{app}_{version_tag(version)}"


def _inbound_chain(
    view: MeshView, pod: Pod, security: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    port = pod.workload.container_port
    clusters = []
    routes = []
    if security == "mtls":
        for workload, app, version in _source_workloads(view.resources):
            name = inbound_cluster_name(port, security, workload, app, version)
            clusters.append(_static_cluster(name, [pod.app_port]))
            routes.append(
                {
                    "match": {
                        "prefix": "/",
                        "headers": [{"name": SOURCE_HEADER, "string_match": {"exact": workload}}],
                    },
                    "route": {"cluster": name, "timeout": "0s"},
                }
            )
    unknown = inbound_cluster_name(port, security, UNKNOWN, UNKNOWN, "")
    clusters.append(_static_cluster(unknown, [pod.app_port]))
    routes.append({"match": {"prefix": "/"}, "route": {"cluster": unknown, "timeout": "0s"}})
    filters = [f for f in (rbac_filter(view.resources, pod.labels),) if f]
    route_config = {
        "name": f"inbound_{security}",
        "virtual_hosts": [{"name": "inbound", "domains": ["*"], "routes": routes}],
        "request_headers_to_remove": [SOURCE_HEADER],
    }
    hcm = _hcm(f"inbound_{security}", {"route_config": route_config}, filters)
    hcm["typed_config"]["local_reply_config"] = LOCAL_REPLY_CONFIG
    chain: dict[str, Any] = {
        "name": f"inbound_{security}",
        "filter_chain_match": {"transport_protocol": "tls" if security == "mtls" else "raw_buffer"},
        "filters": [hcm],
    }
    if security == "mtls":
        cert = view.certs[pod.name]
        chain["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": T_DOWNSTREAM_TLS,
                "require_client_certificate": True,
                "common_tls_context": {
                    "tls_certificates": _tls_certificates(cert),
                    "validation_context": {"trusted_ca": {"filename": str(cert.ca)}},
                },
            },
        }
    return chain, clusters


def compile_inbound(view: MeshView, pod: Pod) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    mode = effective_mtls_mode(view.resources, pod.labels)
    securities = {"STRICT": ["mtls"], "PERMISSIVE": ["mtls", "plain"], "DISABLE": ["plain"]}[mode]
    chains, clusters = [], []
    for security in securities:
        chain, chain_clusters = _inbound_chain(view, pod, security)
        chains.append(chain)
        clusters.extend(chain_clusters)
    listener = {
        "@type": T_LISTENER,
        "name": "inbound",
        "address": _address(pod.inbound_port),
        "listener_filters": [
            {
                "name": "envoy.filters.listener.tls_inspector",
                "typed_config": {"@type": T_TLS_INSPECTOR},
            }
        ],
        "filter_chains": chains,
    }
    return listener, clusters


# ---------------------------------------------------------------- whole proxies
def compile_sidecar(view: MeshView, pod: Pod, config_dir: str) -> ProxyConfig:
    builder = _OutboundBuilder(view, view.certs[pod.name])
    route = compile_outbound_routes(builder, pod.labels, pod.workload.name)
    outbound = {
        "@type": T_LISTENER,
        "name": "outbound",
        "address": _address(pod.outbound_port),
        "filter_chains": [
            {
                "filters": [
                    _hcm(
                        "outbound",
                        _rds("outbound", f"{config_dir}/rds.json", config_dir),
                        [FAULT_FILTER],
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
    builder = _OutboundBuilder(view, view.certs[gateway.name])
    resources = view.resources
    bound = [g for g in resources.gateways if all(labels.get(k) == v for k, v in g.selector)]
    virtual_hosts = []
    for gw in bound:
        for vs in resources.virtual_services:
            if not any(n in (gw.name, f"{resources.namespace}/{gw.name}") for n in vs.gateways):
                continue
            rules = applicable_rules(vs.http, labels, gw.name)
            domains = sorted({h for h in vs.hosts})
            virtual_hosts.append(
                {
                    "name": f"{gw.name}/{vs.name}",
                    "domains": ["*"]
                    if "*" in domains
                    else [*domains, *(f"{d}:*" for d in domains)],
                    "routes": builder.routes(rules),
                }
            )
    route = {
        "@type": T_ROUTE,
        "name": "ingress",
        "virtual_hosts": virtual_hosts,
        "response_headers_to_remove": [LOCAL_REPLY_HEADER],
        "request_headers_to_add": [
            {
                "header": {"key": SOURCE_HEADER, "value": INGRESS_WORKLOAD},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ],
    }
    listener = {
        "@type": T_LISTENER,
        "name": "ingress",
        "address": _address(gateway.port),
        "filter_chains": [
            {
                "filters": [
                    _hcm(
                        "ingress",
                        _rds("ingress", f"{config_dir}/rds.json", config_dir),
                        [FAULT_FILTER],
                    )
                ]
            }
        ],
    }
    return ProxyConfig(
        listeners=[listener, abort_listener(builder.abort_statuses)],
        clusters=list(builder.clusters.values()),
        route=route,
    )


def ingress_identity() -> tuple[str, str]:
    return INGRESS_NAMESPACE, INGRESS_SERVICE_ACCOUNT


def workload_of(pods: tuple[Pod, ...], name: str) -> Workload | None:
    return next((p.workload for p in pods if p.workload.name == name), None)
