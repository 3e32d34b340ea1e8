"""What a namespace's objects mean, in the shape `LocalMesh.status()` gives (pure functions).

`cluster_status` maps Deployments, Pods, Services, VirtualServices, DestinationRules and
PeerAuthentications, as read from the API, to the status `voting status` prints; `tls_rows`
turns that status into `voting tls-check` rows. The objects are parsed into the same typed
model as the local mesh's (mesh.model), leniently because a cluster holds what others wrote
(unknown fields dropped, unreadable objects left out), and Istio's rules are the model's
(mesh.model.policy): one implementation for both backends. PeerAuthentications of the root
namespace are applied when the caller passes them (the router reads its own namespace).
"""

from __future__ import annotations

from typing import Any

from mesh.model.describe import service_status
from mesh.model.resources import MeshResources, parse_resources
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


# ---------------------------------------------------------------- services
def service_entry(service: Obj, pods: list[Obj], resources: MeshResources, namespace: str) -> Obj:
    """The same row as the local status (mesh.model.describe), on objects read leniently."""
    selector = dict(_spec(service).get("selector") or {})
    ports = _spec(service).get("ports") or []
    entry = service_status(
        resources,
        _meta(service).get("name", ""),
        selector,
        [_labels(p) for p in pods if _selects(selector, _labels(p))],
    )
    return {**entry, "port": ports[0].get("port") if ports else None}


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
    resources = parse_resources(
        [
            {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": namespace}},
            *deployments,
            *services,
            *virtual_services,
            *destination_rules,
            *peer_authentications,
        ],
        check_references=False,
        strict=False,
    )
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
            service_entry(s, pods, resources, namespace)
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
