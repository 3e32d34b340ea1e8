"""What a namespace's objects mean, in the shape `LocalMesh.status()` gives (pure functions).

`cluster_status` maps Deployments, Pods, Services, VirtualServices, DestinationRules and
PeerAuthentications, as read from the API, to the status `voting status` prints; `tls_rows`
turns that status into `voting tls-check` rows. Istio's rules are read leniently (unknown
fields are ignored, unlike the local mesh's parser) because a cluster holds what others wrote:

- the PeerAuthentication in force for a workload: one whose selector matches its labels,
  else the namespace-wide one, else PERMISSIVE (the mesh-wide policy in the root namespace
  is not read);
- the TLS a client uses: the DestinationRule's `trafficPolicy.tls.mode`, else Istio's auto
  mutual TLS (ISTIO_MUTUAL unless every endpoint has mTLS DISABLEd).
"""

from __future__ import annotations

from typing import Any

from mesh.steps import Step

NO_PROBE_NOTE = "no live probe in a cluster; use istioctl x describe"
SERVER_COLUMN = {"STRICT": "mTLS", "PERMISSIVE": "HTTP/mTLS", "DISABLE": "HTTP"}
CLIENT_COLUMN = {"ISTIO_MUTUAL": "mTLS", "DISABLE": "HTTP"}

Obj = dict[str, Any]


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _labels(obj: Obj) -> dict[str, str]:
    return dict(_meta(obj).get("labels") or {})


def _selects(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def short_host(host: str) -> str:
    return host.split(".", 1)[0]


# ---------------------------------------------------------------- workloads
def _pod_entry(pod: Obj) -> Obj:
    status = pod.get("status") or {}
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    restarts = sum(int(c.get("restartCount", 0)) for c in status.get("containerStatuses") or [])
    return {
        "name": _meta(pod).get("name"),
        "ready": ready,
        "restarts": restarts,
        "phase": status.get("phase", "Unknown"),
    }


def workload_entry(deployment: Obj, pods: list[Obj]) -> Obj:
    spec = _spec(deployment)
    status = deployment.get("status") or {}
    template = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    members = [_pod_entry(p) for p in pods if _selects(selector, _labels(p))]
    generation = _meta(deployment).get("generation", 0)
    return {
        "name": _meta(deployment).get("name"),
        "app": template.get("app", _labels(deployment).get("app", "")),
        "version": template.get("version", _labels(deployment).get("version", "")),
        "desired": int(spec.get("replicas", 1)),
        "ready": int(status.get("readyReplicas", 0)),
        "updated": int(status.get("updatedReplicas", 0)),
        "observed_generation_current": status.get("observedGeneration", 0) >= generation,
        "restarts": sum(p["restarts"] for p in members),
        "pods": sorted(members, key=lambda p: p["name"] or ""),
    }


# ---------------------------------------------------------------- mutual TLS
def _peer_policies(peer_authentications: list[Obj], labels: dict[str, str]) -> list[Obj]:
    selected = [
        p
        for p in peer_authentications
        if _selects((_spec(p).get("selector") or {}).get("matchLabels"), labels)
    ]
    namespace_wide = [
        p for p in peer_authentications if not (_spec(p).get("selector") or {}).get("matchLabels")
    ]
    return selected + sorted(namespace_wide, key=lambda p: _meta(p).get("creationTimestamp", ""))


def effective_mtls_mode(peer_authentications: list[Obj], labels: dict[str, str]) -> str:
    for policy in _peer_policies(peer_authentications, labels):
        mode = (_spec(policy).get("mtls") or {}).get("mode", "UNSET")
        if mode != "UNSET":
            return mode
    return "PERMISSIVE"


def peer_authentication_name(
    peer_authentications: list[Obj], labels: dict[str, str], namespace: str
) -> str:
    policies = _peer_policies(peer_authentications, labels)
    return f"{_meta(policies[0]).get('name')}/{namespace}" if policies else "-"


def _destination_rule(destination_rules: list[Obj], service: str) -> Obj | None:
    return next(
        (d for d in destination_rules if short_host(_spec(d).get("host", "")) == service), None
    )


def _subset_labels(rule: Obj | None, subset: str | None) -> dict[str, str]:
    if rule is None or subset is None:
        return {}
    for entry in _spec(rule).get("subsets") or []:
        if entry.get("name") == subset:
            return dict(entry.get("labels") or {})
    return {}


# ---------------------------------------------------------------- routes
def _describe_match(match: Obj) -> str:
    parts = []
    if match.get("sourceLabels"):
        parts.append("from " + ",".join(f"{k}={v}" for k, v in match["sourceLabels"].items()))
    for name, value in (match.get("headers") or {}).items():
        kind, text = next(iter(value.items())) if value else ("exact", "")
        if name.lower() == "cookie" and "featureflag=on" in str(text):
            parts.append("cookie featureflag=on")
        else:
            symbol = {"exact": "=", "prefix": "^=", "regex": "~"}.get(kind, f" {kind} ")
            parts.append(f"{name.lower()}{symbol}{text}")
    uri = match.get("uri") or {}
    if uri and uri != {"prefix": "/"}:
        kind, text = next(iter(uri.items()))
        parts.append("uri" + {"exact": "=", "prefix": "^=", "regex": "~"}.get(kind, kind) + text)
    return " & ".join(parts) or "all"


def describe_routes(
    virtual_services: list[Obj], destination_rules: list[Obj], service: str
) -> list[Obj]:
    """Which match sends traffic to which subset, like the local mesh's `describe_routes`."""
    rule = _destination_rule(destination_rules, service)
    routes: list[Obj] = []
    for vs in virtual_services:
        for http in _spec(vs).get("http") or []:
            destinations = http.get("route") or []
            matches = http.get("match") or []
            condition = " | ".join(_describe_match(m) for m in matches) if matches else "all"
            abort = (http.get("fault") or {}).get("abort") or {}
            abort_percent = float((abort.get("percentage") or {}).get("value", 0))
            for dest in destinations:
                target = dest.get("destination") or {}
                if short_host(target.get("host", "")) != service:
                    continue
                subset = target.get("subset")
                routes.append(
                    {
                        "virtual_service": _meta(vs).get("name"),
                        "match": condition,
                        "subset": subset,
                        "version": _subset_labels(rule, subset).get("version"),
                        "weight": int(dest.get("weight", 100 if len(destinations) == 1 else 0)),
                        "fault": {
                            "abort_percent": abort_percent,
                            "status": int(abort.get("httpStatus", 503)),
                        }
                        if abort_percent
                        else None,
                    }
                )
    if not routes:
        routes.append(
            {
                "virtual_service": None,
                "match": "all",
                "subset": None,
                "version": None,
                "weight": 100,
                "fault": None,
            }
        )
    return routes


def service_entry(
    service: Obj,
    pods: list[Obj],
    virtual_services: list[Obj],
    destination_rules: list[Obj],
    peer_authentications: list[Obj],
    namespace: str,
) -> Obj:
    name = _meta(service).get("name", "")
    selector = dict(_spec(service).get("selector") or {})
    endpoints = [_labels(p) for p in pods if _selects(selector, _labels(p))]
    modes = sorted({effective_mtls_mode(peer_authentications, e) for e in endpoints}) or [
        effective_mtls_mode(peer_authentications, selector)
    ]
    rule = _destination_rule(destination_rules, name)
    client = (
        ((_spec(rule).get("trafficPolicy") or {}).get("tls") or {}).get("mode") if rule else None
    )
    if client is None:
        client = "DISABLE" if modes == ["DISABLE"] else "ISTIO_MUTUAL"
    ports = _spec(service).get("ports") or []
    return {
        "name": name,
        "port": ports[0].get("port") if ports else None,
        "peer_authentication": "/".join(modes),
        "authn_policy": peer_authentication_name(peer_authentications, selector, namespace),
        "client_tls": client,
        "destination_rule": f"{_meta(rule).get('name')}/{namespace}" if rule else "-",
        "routes": describe_routes(virtual_services, destination_rules, name),
    }


# ---------------------------------------------------------------- the whole status
def cluster_status(
    *,
    target: Obj,
    namespace: str,
    step: Step | None,
    ingress: str | None,
    deployments: list[Obj],
    pods: list[Obj],
    services: list[Obj],
    virtual_services: list[Obj],
    destination_rules: list[Obj],
    peer_authentications: list[Obj],
) -> Obj:
    by_name = {_meta(s).get("name"): s for s in services}
    return {
        "target": target,
        "step": {"number": step.number, "name": step.name} if step else None,
        "ingress": ingress,
        "ingress_admin_port": None,
        "prometheus": None,
        "auto_mtls": True,
        "workloads": [
            workload_entry(d, pods) for d in sorted(deployments, key=lambda d: _meta(d)["name"])
        ],
        "services": [
            service_entry(
                s, pods, virtual_services, destination_rules, peer_authentications, namespace
            )
            for s in sorted(services, key=lambda s: _meta(s)["name"])
        ],
        "stores": {
            "redis": "redis://voting-redis:6379/0" if "voting-redis" in by_name else None,
            "mysql": "voting-mysql:3306/azurevote" if "voting-mysql" in by_name else None,
        },
        "rss_bytes": None,
        "events": [],
    }


# ---------------------------------------------------------------- tls-check
def tls_rows(status: Obj, service: str) -> list[Obj]:
    """`istioctl authn tls-check`-like rows from configuration only (no probe)."""
    namespace = (status.get("target") or {}).get("namespace", "voting")
    wanted = service.split(".", 1)[0]
    rows = []
    for entry in status["services"]:
        if wanted not in ("", "all") and entry["name"] != wanted:
            continue
        server, client = entry["peer_authentication"], entry["client_tls"]
        conflict = (server == "STRICT" and client == "DISABLE") or (
            server == "DISABLE" and client == "ISTIO_MUTUAL"
        )
        rows.append(
            {
                "host": f"{entry['name']}.{namespace}.svc.cluster.local:{entry.get('port') or 8080}",
                "status": "CONFLICT" if conflict else "OK",
                "server": SERVER_COLUMN.get(server, server),
                "client": CLIENT_COLUMN.get(client, client),
                "authn_policy": entry["authn_policy"],
                "destination_rule": entry["destination_rule"],
                "probe": None,
                "note": NO_PROBE_NOTE,
            }
        )
    return rows


def format_tls_rows(rows: list[Obj]) -> str:
    header = ("HOST:PORT", "STATUS", "SERVER", "CLIENT", "AUTHN POLICY", "DESTINATION RULE")
    lines = [header] + [
        (r["host"], r["status"], r["server"], r["client"], r["authn_policy"], r["destination_rule"])
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) + 3 for i in range(len(header))]
    table = [
        "".join(col.ljust(w) for col, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    return "\n".join([*table, "", f"configuration only: {NO_PROBE_NOTE}"])
