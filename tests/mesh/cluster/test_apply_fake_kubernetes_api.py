"""`apply_step` against the fake Kubernetes API: the exact requests of every step, 1 → 5.

Each step is discovery → server-side apply of every object (Namespace first) → wait for
the Deployments → prune what the step no longer holds → the status reads. The expected
paths come from a table written here, not from the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from mesh.router.kubernetes import KubernetesRouter
from mesh.steps import STEPS
from tests.support.fake_kubernetes_api import FakeKubernetesApi, Recorded
from tests.support.kubernetes import rendered

APPLY = "application/apply-patch+yaml"
OURS = "app.kubernetes.io/part-of=voting-app,app.kubernetes.io/managed-by=voting-mesh"
PROJECT = "app.kubernetes.io/part-of=voting-app"
DEPLOYMENTS = "/apis/apps/v1/namespaces/voting/deployments"
STATUS_READS = 10  # namespace, 7 lists (mesh-wide PeerAuthentications too), the ingress
# Service, and the rollout progress ConfigMap (mesh/router/kubernetes_rollout.py)

# kind -> (group path, plural), written out independently of mesh.cluster.kinds
REST = {
    "Namespace": ("/api/v1", "namespaces"),
    "ServiceAccount": ("/api/v1", "serviceaccounts"),
    "Secret": ("/api/v1", "secrets"),
    "ConfigMap": ("/api/v1", "configmaps"),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims"),
    "Service": ("/api/v1", "services"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "Gateway": ("/apis/networking.istio.io/v1", "gateways"),
    "VirtualService": ("/apis/networking.istio.io/v1", "virtualservices"),
    "DestinationRule": ("/apis/networking.istio.io/v1", "destinationrules"),
    "AuthorizationPolicy": ("/apis/security.istio.io/v1", "authorizationpolicies"),
    "PeerAuthentication": ("/apis/security.istio.io/v1", "peerauthentications"),
}
# what prune lists, in order (reverse apply order; never Namespaces or claims)
PRUNE_LISTS = [
    "/apis/security.istio.io/v1/namespaces/voting/peerauthentications",
    "/apis/security.istio.io/v1/namespaces/voting/authorizationpolicies",
    "/apis/networking.istio.io/v1/namespaces/voting/destinationrules",
    "/apis/networking.istio.io/v1/namespaces/voting/virtualservices",
    "/apis/networking.istio.io/v1/namespaces/voting/gateways",
    DEPLOYMENTS,
    "/api/v1/namespaces/voting/services",
    "/api/v1/namespaces/voting/configmaps",
    "/api/v1/namespaces/voting/secrets",
    "/api/v1/namespaces/voting/serviceaccounts",
]
STEP_5_DELETES = [
    "/apis/security.istio.io/v1/namespaces/voting/authorizationpolicies/voting-redis",
    f"{DEPLOYMENTS}/voting-analytics-1-0",
    f"{DEPLOYMENTS}/voting-analytics-1-1",
    f"{DEPLOYMENTS}/voting-app-1-0",
    f"{DEPLOYMENTS}/voting-redis",
    f"{DEPLOYMENTS}/voting-storage-1-0",
    "/api/v1/namespaces/voting/services/voting-redis",
    "/api/v1/namespaces/voting/serviceaccounts/voting-redis",
]
EXPECTED_DELETES = {1: [], 2: [], 3: [], 4: [], 5: STEP_5_DELETES}
DISCOVERY = {
    1: ["/apis/apps/v1", "/apis/networking.istio.io/v1"],
    2: ["/apis/apps/v1", "/apis/networking.istio.io/v1"],
    3: ["/apis/apps/v1", "/apis/networking.istio.io/v1", "/apis/security.istio.io/v1"],
    4: ["/apis/apps/v1", "/apis/networking.istio.io/v1", "/apis/security.istio.io/v1"],
    5: ["/apis/apps/v1", "/apis/networking.istio.io/v1", "/apis/security.istio.io/v1"],
}


def object_path(obj: dict[str, Any]) -> str:
    group_path, plural = REST[obj["kind"]]
    if obj["kind"] == "Namespace":
        return f"{group_path}/{plural}/voting"
    return f"{group_path}/namespaces/voting/{plural}/{obj['metadata']['name']}"


def expected_apply_order(step: int) -> list[dict[str, Any]]:
    """The Namespace first, then kustomize's order (step 5: VirtualServices before
    DestinationRules)."""
    objects = rendered(step)
    return [o for o in objects if o["kind"] == "Namespace"] + [
        o for o in objects if o["kind"] != "Namespace"
    ]


def split(requests: list[Recorded]) -> dict[str, list[Recorded]]:
    """A step's requests by phase, checking the phases come in order."""
    step_requests, status_reads = requests[:-STATUS_READS], requests[-STATUS_READS:]
    phases: dict[str, list[Recorded]] = {
        "discovery": [],
        "apply": [],
        "wait": [],
        "prune": [],
        "status": status_reads,
    }
    order = ["discovery", "apply", "wait", "prune"]
    reached = 0
    for r in step_requests:
        if r.method == "GET" and r.path.count("/") == 3 and r.path.startswith("/apis/"):
            phase = "discovery"
        elif r.method == "PATCH":
            phase = "apply"
        elif (
            r.method == "GET" and r.path == DEPLOYMENTS and r.query.get("labelSelector") == PROJECT
        ):
            phase = "wait"
        elif r.method == "DELETE" or r.query.get("labelSelector") == OURS:
            phase = "prune"
        else:
            raise AssertionError(f"unexpected request {r.method} {r.path} {r.query}")
        assert order.index(phase) >= reached, (
            f"{r.method} {r.path} after the {order[reached]} phase"
        )
        reached = order.index(phase)
        phases[phase].append(r)
    return phases


async def test_steps_1_to_5_apply_wait_and_prune_with_exact_requests_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    for step in STEPS:
        fake.clear_requests()
        status = await router.apply_step(step.number)
        phases = split(list(fake.requests))
        expected = expected_apply_order(step.number)

        assert [r.path for r in phases["discovery"]] == DISCOVERY[step.number]

        patches = phases["apply"]
        assert [(r.method, r.path) for r in patches] == [
            ("PATCH", object_path(o)) for o in expected
        ]
        assert {r.content_type for r in patches} == {APPLY}
        assert {r.field_manager for r in patches} == {"voting-mesh"}
        assert [r.force for r in patches] == [o["kind"] != "Namespace" for o in expected]
        assert [r.body["kind"] for r in patches] == [o["kind"] for o in expected]
        assert [r.body["spec"] for r in patches if "spec" in r.body] == [
            o["spec"] for o in expected if "spec" in o
        ]
        for r in patches:
            assert r.body["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "voting-mesh"
            assert r.body["metadata"]["labels"]["app.kubernetes.io/part-of"] == "voting-app"
        assert patches[0].body["metadata"]["annotations"]["voting-mesh/step"] == step.directory

        assert phases["wait"], f"step {step.number}: no readiness poll"

        prune = phases["prune"]
        assert [r.path for r in prune if r.method == "GET"] == PRUNE_LISTS
        deletes = [r for r in prune if r.method == "DELETE"]
        assert [r.path for r in deletes] == EXPECTED_DELETES[step.number]
        for r in deletes:
            assert r.content_type == "application/json"
            assert r.body == {
                "apiVersion": "v1",
                "kind": "DeleteOptions",
                "propagationPolicy": "Background",
            }

        assert {(r.method, r.path) for r in phases["status"]} == {
            ("GET", "/api/v1/namespaces/voting"),
            ("GET", DEPLOYMENTS),
            ("GET", "/api/v1/namespaces/voting/pods"),
            ("GET", "/api/v1/namespaces/voting/services"),
            ("GET", "/apis/networking.istio.io/v1/namespaces/voting/virtualservices"),
            ("GET", "/apis/networking.istio.io/v1/namespaces/voting/destinationrules"),
            ("GET", "/apis/security.istio.io/v1/namespaces/voting/peerauthentications"),
            # the mesh-wide policies of Istio's root namespace
            ("GET", "/apis/security.istio.io/v1/namespaces/istio-system/peerauthentications"),
            ("GET", "/api/v1/namespaces/istio-system/services/istio-ingressgateway"),
            ("GET", "/api/v1/namespaces/voting/configmaps/voting-rollout-progress"),
        }
        assert status["step"] == {"number": step.number, "name": step.name}


async def test_step_5_deletes_the_1x_deployments_and_the_redis_server_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    await router.apply_step("canary")
    await router.apply_step("finalize")

    for name in ("voting-app-1-0", "voting-analytics-1-0", "voting-analytics-1-1"):
        assert fake.find("Deployment", name) is None
    for kind in ("Deployment", "Service", "ServiceAccount", "AuthorizationPolicy"):
        assert fake.find(kind, "voting-redis") is None, kind
    for name in ("voting-app-2-0", "voting-analytics-2-0", "voting-storage-2-0", "voting-mysql"):
        assert fake.find("Deployment", name) is not None
    assert not [p for p in fake.objects if p[1] == "pods" and "-1-" in p[3]], "1.x pods left"


async def test_step_5_deletes_only_after_the_2_0_deployments_are_ready_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    await router.apply_step("canary")
    fake.ready_after_polls = 3  # step 5 drops 2.0's feature-flag toggle: voting-app-2-0 rolls
    fake.clear_requests()

    await router.apply_step("finalize")

    calls = [(r.method, r.path) for r in fake.requests]
    first_delete = calls.index(("DELETE", STEP_5_DELETES[0]))
    assert calls[:first_delete].count(("GET", DEPLOYMENTS)) >= 3


async def test_the_same_step_twice_creates_nothing_and_deletes_nothing_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    await router.apply_step("lock-down")
    generations = {
        name: fake.find("Deployment", name)["metadata"]["generation"]
        for name in ("voting-app-1-0", "voting-analytics-1-1")
    }
    fake.clear_requests()
    messages: list[str] = []

    await router.apply_step("lock-down", on_progress=messages.append)

    phases = split(list(fake.requests))
    assert not [r for r in fake.requests if r.method == "DELETE"]
    assert not [m for m in messages if m.startswith(("created", "deleted", "waiting"))]
    assert len(phases["wait"]) == 1, "everything was ready at the first poll"
    for name, generation in generations.items():
        assert fake.find("Deployment", name)["metadata"]["generation"] == generation


async def test_going_back_from_lock_down_removes_its_istio_policies_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    await router.apply_step("lock-down")
    fake.clear_requests()

    await router.apply_step("update-analytics")

    deleted = {"/".join(r.path.split("/")[-2:]) for r in fake.requests if r.method == "DELETE"}
    assert deleted == {
        "peerauthentications/default",
        "authorizationpolicies/voting-app",
        "authorizationpolicies/voting-analytics",
        "authorizationpolicies/voting-storage",
        "authorizationpolicies/voting-redis",
        "destinationrules/voting-app",
        "destinationrules/voting-analytics",
        "destinationrules/voting-storage",
        "virtualservices/voting-analytics",
        "virtualservices/voting-storage",
    }


async def test_waiting_shows_progress_until_every_deployment_is_ready_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    fake.ready_after_polls = 3
    messages: list[str] = []

    await router.apply_step("deploy", on_progress=messages.append)

    waiting = [m for m in messages if m.startswith("waiting for Deployments")]
    assert waiting == [
        "waiting for Deployments: voting-analytics-1-0 0/1 ready, voting-app-1-0 0/3 ready, "
        "voting-redis 0/1 ready, voting-storage-1-0 0/1 ready"
    ]
    assert messages[-2:] == ["4 Deployment(s) ready", "step 1 (deploy) in force"]
    polls = [r for r in fake.requests if r.method == "GET" and r.path == DEPLOYMENTS]
    assert len(polls) >= 3 + 1  # three until ready, one for the status


@pytest.mark.parametrize(
    ("status", "ready", "where"),
    [
        (
            {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3},
            True,
            "3/3 ready",
        ),
        (
            {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3},
            False,
            "change not yet seen",
        ),
        (
            {"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "readyReplicas": 3},
            False,
            "old pods terminating",
        ),
        (
            {"observedGeneration": 2, "replicas": 4, "updatedReplicas": 1, "readyReplicas": 3},
            False,
            "1/3 updated",
        ),
        (
            {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 2},
            False,
            "2/3 ready",
        ),
        ({}, False, "0/3 ready"),
    ],
    ids=[
        "rolled-out",
        "old-generation",
        "old-pods-left",
        "not-all-updated",
        "not-all-ready",
        "new",
    ],
)
def test_a_deployment_is_ready_when_its_generation_is_observed_and_all_replicas_ready(
    status: dict[str, int], ready: bool, where: str
) -> None:
    from mesh.router.kubernetes import deployment_progress

    deployment = {"metadata": {"generation": 2}, "spec": {"replicas": 3}, "status": status}
    assert deployment_progress(deployment, 2) == (ready, where)


def test_images_are_replaced_by_name_whatever_their_tag() -> None:
    from mesh.router.kubernetes_objects import image_name, prepare

    objects = prepare(
        rendered("canary"),
        "voting",
        STEPS[3],
        {"voting-app": "myacr.azurecr.io/voting-app:0.1.0", "redis": "mirror.example/redis:7"},
    )

    images = {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]["image"]
        for o in objects
        if o["kind"] == "Deployment"
    }
    assert (
        images["voting-app-1-0"]
        == images["voting-app-2-0"]
        == ("myacr.azurecr.io/voting-app:0.1.0")
    )
    assert images["voting-redis"] == "mirror.example/redis:7"
    assert images["voting-analytics-1-0"] == "voting-analytics"
    assert images["voting-mysql"] == "mysql:8.4"
    assert [image_name(r) for r in ("a:1", "reg:5000/a", "reg:5000/a:1", "a@sha256:00")] == [
        "a",
        "reg:5000/a",
        "reg:5000/a",
        "a",
    ]


def test_another_namespace_moves_every_object_and_the_policy_principals() -> None:
    from mesh.router.kubernetes_objects import prepare

    objects = prepare(rendered("lock-down"), "voting-demo", STEPS[2])

    assert objects[0]["kind"] == "Namespace"
    assert objects[0]["metadata"]["name"] == "voting-demo"
    assert {o["metadata"]["namespace"] for o in objects[1:]} == {"voting-demo"}
    principals = {
        p
        for o in objects
        if o["kind"] == "AuthorizationPolicy"
        for rule in o["spec"].get("rules", [])
        for source in rule.get("from", [])
        for p in source["source"].get("principals", [])
    }
    assert "cluster.local/ns/voting-demo/sa/voting-app" in principals
    assert "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account" in principals
    assert not [p for p in principals if "/ns/voting/" in p]
