"""Outbound: a VirtualService's rules as the route table a sidecar or gateway sends requests by.

One virtual host per Service, with the rules that apply to this proxy (first match wins);
one cluster per destination subset and endpoint version.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

from mesh.local.ca import IssuedCert, spiffe_id
from mesh.local.envoy.common import (
    LOCAL_REPLY_HEADER,
    SOURCE_HEADER,
    T_ROUTE,
    T_UPSTREAM_TLS,
    UNKNOWN,
    MeshView,
    outbound_protocol_options,
    static_cluster,
    tls_certificates,
    version_tag,
)
from mesh.local.envoy.faults import ABORT_HEADER, abort_cluster, fault_config
from mesh.local.envoy.http_actions import (
    CORS_FILTER,
    MAX_DIRECT_RESPONSE_BODY_BYTES,
    cors_config,
    direct_response_action,
    redirect_action,
    rewrite_fields,
)
from mesh.local.envoy.retries import retry_policy
from mesh.local.envoy.traffic_policy import apply_traffic_policy
from mesh.local.topology import Pod
from mesh.model.fields import StringMatch, short_host
from mesh.model.policy import applicable_rules, client_tls_mode, mesh_services, selects
from mesh.model.virtual_service import Destination, HTTPMatch, HTTPRoute, Mirror
from mesh.model.workloads import Service
from telemetry.queries import SHADOW_SUFFIX


def string_matcher(match: StringMatch) -> dict[str, Any]:
    """util.ConvertToEnvoyMatch: exact, prefix or safe_regex (RE2)."""
    if match.kind == "regex":
        return {"safe_regex": {"regex": match.value}}
    return {match.kind: match.value}


def header_matcher(name: str, match: StringMatch, invert: bool = False) -> dict[str, Any]:
    """route.go translateHeaderMatch: presence, else a string match; inverted for withoutHeaders."""
    result: dict[str, Any] = {"name": name}
    if match.kind == "present":
        result["present_match"] = True
    else:
        result["string_match"] = string_matcher(match)
        if invert:
            result["treat_missing_header_as_empty"] = True
    if invert:
        result["invert_match"] = True
    return result


def route_match(match: HTTPMatch | None) -> dict[str, Any]:
    """An HTTPMatchRequest as an Envoy RouteMatch (route.go TranslateRouteMatch)."""
    result: dict[str, Any] = {"prefix": "/"}
    if match is None:
        return result
    headers = [header_matcher(name, value) for name, value in match.headers]
    headers += [header_matcher(name, value, invert=True) for name, value in match.without_headers]
    headers.sort(key=lambda h: h["name"])
    uri = match.uri
    if uri is not None:
        result = (
            {"path": uri.value}
            if uri.kind == "exact"
            else {"prefix": uri.value}
            if uri.kind == "prefix"
            else {"safe_regex": {"regex": uri.value}}
        )
    result["case_sensitive"] = not match.ignore_uri_case
    pseudo = ((":method", match.method), (":authority", match.authority), (":scheme", match.scheme))
    headers += [header_matcher(name, value) for name, value in pseudo if value is not None]
    if headers:
        result["headers"] = headers
    if match.query_params:
        result["query_parameters"] = [
            {"name": name, "present_match": True}
            if value.kind == "present"
            else {"name": name, "string_match": string_matcher(value)}
            for name, value in match.query_params
        ]
    return result


class OutboundBuilder:
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
        return [p for p in pods if selects(subset_def.labels, p.labels)]

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
        tls = client_tls_mode(
            self.view.resources,
            service.name,
            dest.subset,
            [p.labels for p in pods],
            self.view.auto_mtls,
            pods[0].workload.container_port if pods else None,
        )
        rule = self.view.resources.destination_rule(service.name)
        result = []
        for version, members in sorted(by_version.items()):
            name = f"outbound_{port}_{dest.subset or '-'}_{service.name}_{version_tag(version)}"
            if name not in self.clusters:
                cluster = static_cluster(name, [p.inbound_port for p in members])
                cluster["typed_extension_protocol_options"] = outbound_protocol_options()
                if tls == "ISTIO_MUTUAL":
                    cluster["transport_socket"] = self._upstream_tls(service, members, dest, port)
                if rule is not None:  # connectionPool / outlierDetection (traffic_policy.py)
                    apply_traffic_policy(cluster, *rule.traffic_policy(dest.subset))
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
                    "tls_certificates": tls_certificates(self.identity),
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
        # route.go applyHTTPRouteDestination: one destination takes everything whatever its
        # weight; of several, those at weight 0 are left out and the rest are relative.
        single = len(rule.destinations) == 1
        for dest in rule.destinations:
            if not single and dest.weight == 0:
                continue
            # processWeightedDestination: a destination's headers go on its cluster weights
            # (a single destination's go on the route: processDestination, in routes()).
            own = {} if single else _destination_header_fields(dest)
            clusters = self.destination_clusters(dest)
            total = sum(w for _, w in clusters)
            for name, share in clusters:
                weight = (100 if single else dest.weight) * share * 1000 // total
                aborted = round(weight * abort / 100)
                if weight - aborted > 0:
                    weighted.append({"name": name, "weight": weight - aborted, **own})
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
        if len(weighted) == 1 and set(weighted[0]) == {"name", "weight"}:
            action["cluster"] = weighted[0]["name"]
        else:
            action["weighted_clusters"] = {"clusters": weighted}
        authority = rule.headers.authority if rule.headers else None
        if authority is None and single and rule.destinations[0].headers is not None:
            authority = rule.destinations[0].headers.authority  # processDestination
        action.update(rewrite_fields(rule.rewrite, authority))
        retry = retry_policy(rule)
        if retry:
            action["retry_policy"] = retry
        if rule.mirrors:
            action["request_mirror_policies"] = [self.mirror_policy(m) for m in rule.mirrors]
        return {"route": action}

    def mirror_policy(self, mirror: Mirror) -> dict[str, Any]:
        """route.go TranslateRequestMirrorPolicy: one cluster, a runtime fraction, not traced.

        The copies go through a twin of the destination's cluster named `<service>-shadow`,
        so the telemetry (mesh/local/telemetry.py reads service names from cluster names)
        counts them apart from served traffic, as Istio's `-shadow` host suffix marks them.
        """
        ((name, _),) = self.destination_clusters(mirror.destination)  # one: resources.py
        service = short_host(mirror.destination.host)
        shadow = name.replace(f"_{service}_", f"_{service}{SHADOW_SUFFIX}_", 1)
        if shadow not in self.clusters:
            twin = copy.deepcopy(self.clusters[name])
            twin["name"] = twin["load_assignment"]["cluster_name"] = shadow
            self.clusters[shadow] = twin
        return {
            "cluster": shadow,
            "runtime_fraction": {
                "default_value": {"numerator": mirror.numerator, "denominator": mirror.denominator}
            },
            "trace_sampled": False,
        }

    def rule_fields(self, rule: HTTPRoute, port: int | None) -> dict[str, Any]:
        """route.go TranslateRoute: redirect, else direct response, else the route; then the
        rule's header operations, and a single destination's after them."""
        if rule.redirect is not None:
            fields = redirect_action(rule.redirect, port)
        elif rule.direct_response is not None:
            fields = direct_response_action(rule.direct_response)
        else:
            fields = self.route_action(rule)
        headers = rule.headers.envoy() if rule.headers else {}
        if "route" in fields and len(rule.destinations) == 1:
            for key, value in _destination_header_fields(rule.destinations[0]).items():
                if key != "host_rewrite_literal":
                    headers[key] = headers.get(key, []) + value
        return {**fields, **headers}

    def routes(
        self, rules: list[tuple[HTTPRoute, list[HTTPMatch | None]]], port: int | None = None
    ) -> list[dict[str, Any]]:
        """The Envoy routes of `rules` for a listener on `port` (a redirect's derived port)."""
        result = []
        for index, (rule, matches) in enumerate(rules):
            action = self.rule_fields(rule, port)
            fault = fault_config(rule)
            for match in matches:
                name = rule.name or f"rule-{index}"
                if match is not None and match.name:
                    name = f"{name}.{match.name}"  # route.go TranslateRoute's route name
                entry: dict[str, Any] = {"name": name, "match": route_match(match), **action}
                if match is not None and match.stat_prefix:
                    entry["stat_prefix"] = match.stat_prefix
                per_filter = {}
                if fault and "route" in action:
                    per_filter["envoy.filters.http.fault"] = fault
                if rule.cors is not None:  # route.go TranslateRoute: whatever the action
                    per_filter[CORS_FILTER["name"]] = cors_config(rule.cors)
                if per_filter:
                    entry["typed_per_filter_config"] = per_filter
                result.append(entry)
        return result


def _destination_header_fields(dest: Destination) -> dict[str, Any]:
    """A destination's `headers` as the fields of its cluster weight (or of the route)."""
    if dest.headers is None:
        return {}
    fields = dest.headers.envoy()
    if dest.headers.authority:
        fields["host_rewrite_literal"] = dest.headers.authority
    return fields


def _domains(service: str, namespace: str, port: int) -> list[str]:
    names = [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]
    return [*names, *(f"{n}:{port}" for n in names)]


def compile_outbound_routes(
    builder: OutboundBuilder, labels: dict[str, str], source_workload: str
) -> dict[str, Any]:
    resources = builder.view.resources
    virtual_hosts = []
    for service in mesh_services(resources):
        port = service.ports[0].port if service.ports else 8080
        vs = resources.virtual_service_for(service.name)
        rules = applicable_rules(vs.http, labels, {"mesh"}, resources.namespace, port) if vs else []
        if not rules:  # no VirtualService, or none of its rules is for this proxy: default route
            rules = [(HTTPRoute(None, (), (Destination(service.name, None, None, 100),)), [None])]
        virtual_hosts.append(
            {
                "name": f"{service.name}.{resources.namespace}.svc.cluster.local:{port}",
                "domains": _domains(service.name, resources.namespace, port),
                "routes": builder.routes(rules, port),
            }
        )
    return {
        "@type": T_ROUTE,
        "name": "outbound",
        "virtual_hosts": virtual_hosts,
        "max_direct_response_body_size_bytes": MAX_DIRECT_RESPONSE_BODY_BYTES,
        "response_headers_to_remove": [LOCAL_REPLY_HEADER],
        "request_headers_to_add": [
            {
                "header": {"key": SOURCE_HEADER, "value": source_workload},
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }
        ],
    }
