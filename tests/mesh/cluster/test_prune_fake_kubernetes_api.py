"""Pruning deletes only what `voting step` applied itself: never anyone else's objects."""

from __future__ import annotations

import pytest

from mesh.router.kubernetes import KubernetesRouter
from tests.support.fake_kubernetes_api import FakeKubernetesApi

PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"


def deployment(name: str, labels: dict[str, str]) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "voting", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name, **labels}}},
        },
    }


FOREIGN = [
    # someone else's workload in the namespace
    deployment("someone-elses", {}),
    # deployed by skaffold or kubectl: part of the project, but not applied by `voting step`
    deployment("voting-app-0-9", {PART_OF: "voting-app", MANAGED_BY: "skaffold"}),
    # our manager label only (copied by hand?): not enough
    {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {
            "name": "experiment",
            "namespace": "voting",
            "labels": {MANAGED_BY: "voting-mesh"},
        },
        "spec": {
            "hosts": ["voting-app"],
            "http": [{"route": [{"destination": {"host": "voting-app"}}]}],
        },
    },
    # every namespace has this one
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kube-root-ca.crt", "namespace": "voting"},
        "data": {"ca.crt": "..."},
    },
]
OWNED_LEFTOVER = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "voting-legacy",
        "namespace": "voting",
        "labels": {PART_OF: "voting-app", MANAGED_BY: "voting-mesh"},
    },
    "spec": {"selector": {"app": "voting-legacy"}, "ports": [{"name": "http", "port": 8080}]},
}


@pytest.mark.parametrize("selectors", [True, False], ids=["selector-honoured", "selector-ignored"])
async def test_objects_without_our_labels_are_never_deleted_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter, selectors: bool
) -> None:
    """Also when a server ignored the label selector: the router checks labels itself."""
    fake.honour_selectors = selectors
    await router.apply_step("deploy")
    for obj in [*FOREIGN, OWNED_LEFTOVER]:
        fake.seed(obj)
    fake.clear_requests()

    await router.apply_step("finalize")

    deleted = {r.path.rsplit("/", 1)[-1] for r in fake.requests if r.method == "DELETE"}
    for obj in FOREIGN:
        name = obj["metadata"]["name"]
        assert name not in deleted, name
        assert fake.find(obj["kind"], name) is not None, name
    assert "voting-legacy" in deleted
    assert fake.find("Service", "voting-legacy") is None


async def test_the_namespace_and_the_mysql_claim_are_never_pruned_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    await router.apply_step("canary")
    fake.clear_requests()

    await router.apply_step("deploy")

    deleted = [r.path for r in fake.requests if r.method == "DELETE"]
    assert not [
        p for p in deleted if "persistentvolumeclaims" in p or p.endswith("/namespaces/voting")
    ]
    assert fake.find("PersistentVolumeClaim", "mysql-pv-claim") is not None
    assert fake.find("Deployment", "voting-mysql") is None  # the server goes, its data stays
    assert fake.find("Namespace", "voting", None) is not None
