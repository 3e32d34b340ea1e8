"""An Envoy's own view of its configuration: fetched from its admin API, turned into rows.

Rows are read from what Envoy holds (`/config_dump`, `/clusters?format=json`), never from
what the compiler meant to push: a rejected update or a stale file shows up here as it is.
What the config cannot tell (which VirtualService or DestinationRule a route or cluster came
from) is looked up, when given, in the resources in force.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from mesh.local.errors import MeshError

GATEWAY = "istio-ingressgateway"
GATEWAY_ALIASES = ("ingress", "ingressgateway", GATEWAY)
NAMESPACE = "voting"  # the app namespace (docs/contracts.md); cluster names do not carry it
SECTION_TYPES = {
    "bootstrap": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
    "clusters": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
    "listeners": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
    "routes": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
    "secrets": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump",
}


class UnknownProxy(MeshError):
    """No pod (or several) of the running system goes by the given name."""


@dataclass(frozen=True)
class Proxy:
    """One Envoy of the running system: a pod's sidecar or the ingress gateway."""

    name: str
    admin_port: int


def proxies(status: dict[str, Any]) -> list[Proxy]:
    """Every Envoy that `voting status` names, pods first, then the gateway."""
    found = [
        Proxy(pod["name"], int(pod["admin_port"]))
        for workload in status.get("workloads", [])
        for pod in workload.get("pods", [])
        if pod.get("admin_port")
    ]
    if status.get("ingress_admin_port"):
        found.append(Proxy(GATEWAY, int(status["ingress_admin_port"])))
    return found


def resolve(status: dict[str, Any], name: str) -> Proxy:
    """The proxy called `name`, or the one pod whose name starts with it (`pod.voting` too);
    `deploy/<workload>` is that workload's first pod (istioctl's `deploy/` form)."""
    known = proxies(status)
    if name.startswith("deploy/"):
        workload = name.removeprefix("deploy/").removesuffix(f".{NAMESPACE}")
        pods = sorted(
            pod["name"]
            for w in status.get("workloads", [])
            if w.get("name") == workload
            for pod in w.get("pods", [])
        )
        first = next((p for p in known if pods and p.name == pods[0]), None)
        if first is None:
            workloads = ", ".join(str(w.get("name")) for w in status.get("workloads", []))
            raise UnknownProxy(f"no workload {workload!r} with a pod; workloads: {workloads}")
        return first
    wanted = GATEWAY if name in GATEWAY_ALIASES else name.removesuffix(f".{NAMESPACE}")
    for proxy in known:
        if proxy.name == wanted:
            return proxy
    matches = [p for p in known if p.name.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(p.name for p in (matches or known)) or "none"
    if matches:
        raise UnknownProxy(
            f"{name!r} names several pods: {names} (deploy/<workload> picks a workload's first)"
        )
    raise UnknownProxy(f"no pod named {name!r}; pods: {names}")


def fetch_json(admin_port: int, path: str, timeout: float = 5.0) -> Any:
    """GET one admin endpoint of an Envoy on loopback."""
    url = f"http://127.0.0.1:{admin_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise MeshError(f"the Envoy at {url} does not answer: {exc}") from exc


def config_dump(proxy: Proxy) -> dict[str, Any]:
    return fetch_json(proxy.admin_port, "/config_dump")


def cluster_statuses(proxy: Proxy) -> dict[str, Any]:
    return fetch_json(proxy.admin_port, "/clusters?format=json")


def section(dump: dict[str, Any], name: str) -> dict[str, Any]:
    """One section of a config_dump (`{}` when this Envoy has none)."""
    wanted = SECTION_TYPES[name]
    return next((c for c in dump.get("configs", []) if c.get("@type") == wanted), {})


def address_text(address: dict[str, Any]) -> str:
    socket = address.get("socket_address")
    if socket:
        return f"{socket.get('address')}:{socket.get('port_value')}"
    internal = address.get("envoy_internal_address")
    if internal:
        return f"internal:{internal.get('server_listener_name')}"
    return "-"


# ------------------------------------------------------------------ listeners
@dataclass(frozen=True)
class ListenerRow:
    address: str
    match: str
    destination: str


def listener_configs(dump: dict[str, Any]) -> list[dict[str, Any]]:
    part = section(dump, "listeners")
    found = [s["listener"] for s in part.get("static_listeners", []) if "listener" in s]
    for entry in part.get("dynamic_listeners", []):
        state = entry.get("active_state") or entry.get("warming_state") or {}
        if "listener" in state:
            found.append(state["listener"])
    return found


def _chain_destination(chain: dict[str, Any]) -> str:
    for network_filter in chain.get("filters", []):
        config = network_filter.get("typed_config", {})
        if "rds" in config:
            return f"Route: {config['rds'].get('route_config_name')}"
        if "route_config" in config:
            return f"Inline Route: {config['route_config'].get('name')}"
        if "cluster" in config:
            return f"Cluster: {config['cluster']}"
    return "-"


def listener_rows(dump: dict[str, Any]) -> list[ListenerRow]:
    rows = []
    for listener in listener_configs(dump):
        where = (
            f"internal:{listener.get('name')}"
            if "internal_listener" in listener
            else address_text(listener.get("address", {}))
        )
        for chain in listener.get("filter_chains", []):
            protocol = chain.get("filter_chain_match", {}).get("transport_protocol")
            rows.append(
                ListenerRow(
                    where, f"Trans: {protocol}" if protocol else "ALL", _chain_destination(chain)
                )
            )
    return rows


# ------------------------------------------------------------------ routes
@dataclass(frozen=True)
class RouteRow:
    name: str
    vhost: str
    domains: str
    match: str
    virtual_service: str
    route: str
    action: str


def virtual_services(documents: list[dict[str, Any]]) -> dict[str, str]:
    """`host or gateway/vs` → `name.namespace` of the VirtualServices in force.

    Sidecar virtual hosts are named after the Service, gateway ones `<gateway>/<vs>`
    (mesh/local/envoy/proxies.py); both are looked up here.
    """
    found: dict[str, str] = {}
    for doc in documents:
        if doc.get("kind") != "VirtualService":
            continue
        meta, spec = doc.get("metadata", {}), doc.get("spec", {})
        ref = f"{meta.get('name')}.{meta.get('namespace') or NAMESPACE}"
        gateways = spec.get("gateways") or ["mesh"]
        for gateway in gateways:
            if gateway == "mesh":
                for host in spec.get("hosts", []):
                    found.setdefault(host.split(".")[0], ref)
            else:
                found[f"{gateway.split('/')[-1]}/{meta.get('name')}"] = ref
    return found


def _string_match(match: dict[str, Any]) -> str:
    for kind, sign in (("exact", "="), ("prefix", "^="), ("suffix", "$="), ("contains", "*=")):
        if kind in match:
            return f"{sign}{match[kind]}"
    if "safe_regex" in match:
        return f"=~{match['safe_regex'].get('regex')}"
    return "?"


def match_text(match: dict[str, Any]) -> str:
    """A RouteMatch in a line: `/*`, `/path`, `regex`, then its header and query conditions."""
    if "path" in match:
        text = match["path"]
    elif "safe_regex" in match:
        text = f"regex {match['safe_regex'].get('regex')}"
    elif "prefix" in match:
        text = match["prefix"] + "*" if match["prefix"].endswith("/") else match["prefix"] + "/*"
    else:
        text = "-"
    conditions = []
    for header in match.get("headers", []):
        if header.get("present_match"):
            condition = header["name"]
        else:
            condition = header["name"] + _string_match(header.get("string_match", {}))
        conditions.append(("!" if header.get("invert_match") else "") + condition)
    for param in match.get("query_parameters", []):
        condition = "?" + param["name"]
        if not param.get("present_match"):
            condition += _string_match(param.get("string_match", {}))
        conditions.append(condition)
    return " ".join([text, *conditions])


_PER = {"HUNDRED": 1, "TEN_THOUSAND": 100, "MILLION": 10_000}  # FractionalPercent → percent


def action_text(route: dict[str, Any]) -> str:
    """What a route does, in a line: where it sends requests (and copies), or what it answers."""
    if "direct_response" in route:
        return f"direct {route['direct_response'].get('status')}"
    if "redirect" in route:
        redirect = route["redirect"]
        target = redirect.get("path_redirect") or redirect.get("prefix_rewrite", "")
        code = redirect.get("response_code", "MOVED_PERMANENTLY")  # the dump omits the default
        return f"redirect {code} {target}".rstrip()
    action = route.get("route", {})
    if "cluster" in action:
        text = action["cluster"]
    else:
        clusters = action.get("weighted_clusters", {}).get("clusters", [])
        total = sum(int(c.get("weight", 0)) for c in clusters) or 1
        text = ", ".join(
            f"{c['name']} {int(c.get('weight', 0)) * 100 / total:g}%" for c in clusters
        )
    if "prefix_rewrite" in action:
        text = f"rewrite to {action['prefix_rewrite']} → {text}"
    for mirror in action.get("request_mirror_policies", []):
        fraction = mirror.get("runtime_fraction", {}).get("default_value", {})
        per = _PER.get(fraction.get("denominator", "HUNDRED"), 1)
        text += f" + mirror {mirror['cluster']} {int(fraction.get('numerator', 0)) / per:g}%"
    return text


def _domains_text(domains: list[str], shown: int = 2) -> str:
    text = ", ".join(domains[:shown])
    return text + (f" +{len(domains) - shown} more" if len(domains) > shown else "")


def route_rows(dump: dict[str, Any], vs_names: dict[str, str] | None = None) -> list[RouteRow]:
    """Every route of every route table, dynamic (RDS) first, then the listeners' inline ones."""
    vs_names = vs_names or {}
    part = section(dump, "routes")
    tables = [c["route_config"] for c in part.get("dynamic_route_configs", [])]
    tables += [c["route_config"] for c in part.get("static_route_configs", [])]
    rows = []
    for table in tables:
        for vhost in table.get("virtual_hosts", []):
            vs = vs_names.get(vhost["name"]) or vs_names.get(vhost["name"].split(".")[0], "-")
            for route in vhost.get("routes", []):
                rows.append(
                    RouteRow(
                        table.get("name", "-"),
                        vhost["name"],
                        _domains_text(vhost.get("domains", [])),
                        match_text(route.get("match", {})),
                        vs,
                        route.get("name", "-"),
                        action_text(route),
                    )
                )
    return rows


# ------------------------------------------------------------------ clusters
@dataclass(frozen=True)
class ClusterRow:
    fqdn: str
    port: str
    subset: str
    version: str
    direction: str
    type: str
    destination_rule: str
    tls: str
    name: str


def _tls_mode(cluster: dict[str, Any]) -> str:
    socket = cluster.get("transport_socket", {}).get("typed_config", {})
    if "UpstreamTlsContext" not in socket.get("@type", ""):
        return "DISABLE"
    context = socket.get("common_tls_context", {})
    sans = context.get("validation_context", {}).get("match_typed_subject_alt_names", [])
    spiffe = any(s.get("matcher", {}).get("exact", "").startswith("spiffe://") for s in sans)
    return "ISTIO_MUTUAL" if context.get("tls_certificates") and spiffe else "SIMPLE"


def _namespace(cluster: dict[str, Any], service: str) -> str:
    sni = cluster.get("transport_socket", {}).get("typed_config", {}).get("sni", "")
    tail = sni.rsplit(f".{service}.", 1)
    return tail[1].split(".")[0] if len(tail) == 2 else NAMESPACE


def cluster_row(cluster: dict[str, Any], rules: dict[str, str] | None = None) -> ClusterRow:
    """What a cluster's name says (see mesh/local/envoy/common.py) and what its config says.

    outbound_<port>_<subset or ->_<service>_v<version>, `~abort<status>` for injected aborts;
    inbound_<port>_<mtls|plain>_<caller workload>_<caller app>_v<caller version>.
    """
    name = cluster.get("name", "")
    kind = cluster.get("type", "EDS" if "eds_cluster_config" in cluster else "-")
    base, _, abort = name.partition("~")
    parts = base.split("_")
    if parts[0] == "outbound" and len(parts) == 5:
        _, port, subset, service, version = parts
        fqdn = f"{service}.{_namespace(cluster, service)}.svc.cluster.local"
        rule = (rules or {}).get(service, "-")
        subset = subset + (f" ({abort})" if abort else "")
        return ClusterRow(
            fqdn, port, subset, version, "outbound", kind, rule, _tls_mode(cluster), name
        )
    if parts[0] == "inbound" and len(parts) == 6:
        _, port, mode, workload, _app, version = parts
        return ClusterRow(f"from {workload}", port, "-", version, "inbound", kind, "-", mode, name)
    return ClusterRow(name, "-", "-", "-", "-", kind, "-", _tls_mode(cluster), name)


def cluster_rows(dump: dict[str, Any], rules: dict[str, str] | None = None) -> list[ClusterRow]:
    """Clusters in force; `rules` maps a service to its DestinationRule (`name.namespace`)."""
    part = section(dump, "clusters")
    entries = part.get("static_clusters", []) + part.get("dynamic_active_clusters", [])
    rows = [cluster_row(e["cluster"], rules) for e in entries if "cluster" in e]
    return sorted(rows, key=lambda r: (r.direction != "outbound", r.fqdn, r.subset, r.version))


def destination_rules(status: dict[str, Any]) -> dict[str, str]:
    """service → `name.namespace` of its DestinationRule, from `voting status`."""
    found = {}
    for service in status.get("services", []):
        rule = service.get("destination_rule") or "-"
        if rule != "-":
            found[service["name"]] = rule.replace("/", ".")
    return found


# ------------------------------------------------------------------ endpoints
@dataclass(frozen=True)
class EndpointRow:
    endpoint: str
    status: str
    outlier_check: str
    cluster: str


def endpoint_rows(statuses: dict[str, Any]) -> list[EndpointRow]:
    """Every host of every cluster with its health, from `/clusters?format=json`."""
    rows = []
    for cluster in statuses.get("cluster_statuses", []):
        for host in cluster.get("host_statuses", []):
            health = host.get("health_status", {})
            state = health.get("eds_health_status", "UNKNOWN")
            if health.get("failed_active_health_check"):
                state = "UNHEALTHY"
            outlier = "FAILED" if health.get("failed_outlier_check") else "OK"
            rows.append(
                EndpointRow(address_text(host.get("address", {})), state, outlier, cluster["name"])
            )
    return sorted(rows, key=lambda r: (r.cluster, r.endpoint))
