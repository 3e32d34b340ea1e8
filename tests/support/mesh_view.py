"""Compile Istio documents the way the local mesh does, without starting a process.

`view_of` parses documents (a rendered step plus extra YAML) and lays out pods with ports and
certificates as `voting up` would; `sidecar`/`ingress` compile one proxy; the small readers
pick a virtual host's routes or a listener out of the result.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from mesh.local.ca import LocalCA
from mesh.local.envoy import MeshView, ProxyConfig, compile_ingress, compile_sidecar
from mesh.local.topology import IngressGateway, Pod
from mesh.model.resources import MeshResources, parse_resources
from mesh.steps import render_step

_RENDERED: dict[str, list[dict[str, Any]]] = {}


def step_documents(step: str) -> list[dict[str, Any]]:
    """A rendered rollout step (cached: kustomize is slow), as a fresh copy to edit."""
    if step not in _RENDERED:
        _RENDERED[step] = render_step(step)
    return copy.deepcopy(_RENDERED[step])


def documents(step: str, extra: str = "", drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A step's documents without the `Kind/name`s in `drop`, plus the YAML in `extra`."""
    docs = [d for d in step_documents(step) if f"{d['kind']}/{d['metadata']['name']}" not in drop]
    return docs + [d for d in yaml.safe_load_all(extra) if d]


def make_view(resources: MeshResources, ca: LocalCA, auto_mtls: bool = True) -> MeshView:
    pods, port = [], 30000
    for workload in resources.mesh_workloads():
        for index in range(workload.replicas):
            pods.append(
                Pod(f"{workload.name}-{index}", workload, port, port + 1, port + 2, port + 3)
            )
            port += 4
    certs = {p.name: ca.issue("voting", p.workload.service_account, p.name) for p in pods}
    certs["istio-ingressgateway"] = ca.issue(
        "istio-system", "istio-ingressgateway-service-account", "gw"
    )
    return MeshView(resources, tuple(pods), certs, auto_mtls)


def view_of(docs: list[dict[str, Any]], ca: LocalCA, auto_mtls: bool = True) -> MeshView:
    return make_view(parse_resources(docs), ca, auto_mtls)


def pod_of(view: MeshView, workload: str) -> Pod:
    return next(p for p in view.pods if p.workload.name == workload)


def sidecar(view: MeshView, workload: str) -> ProxyConfig:
    return compile_sidecar(view, pod_of(view, workload), "/tmp/rds")


def ingress(view: MeshView) -> ProxyConfig:
    return compile_ingress(view, IngressGateway(8080, 8081), "/tmp/rds")


def routes_for(view: MeshView, workload: str, service: str) -> list[dict[str, Any]]:
    """The routes `workload`'s sidecar sends requests for `service` by."""
    config = sidecar(view, workload)
    assert config.route is not None
    host = next(v for v in config.route["virtual_hosts"] if v["name"].startswith(f"{service}."))
    return host["routes"]


def listener(config: ProxyConfig, name: str) -> dict[str, Any]:
    return next(item for item in config.listeners if item["name"] == name)


def http_filters(listener_: dict[str, Any]) -> list[list[str]]:
    """The HTTP filter names of each filter chain of a listener."""
    return [
        [f["name"] for f in chain["filters"][0]["typed_config"]["http_filters"]]
        for chain in listener_["filter_chains"]
    ]


def shares(weighted: list[dict[str, Any]]) -> dict[str, float]:
    """Envoy weights are relative: each cluster's share of the total."""
    total = sum(c["weight"] for c in weighted)
    return {c["name"]: round(c["weight"] / total, 3) for c in weighted}
