"""Errors against the fake Kubernetes API: each names the resource, and says what to do.

The 404 and 403 bodies are kube-apiserver's Status objects, replayed verbatim.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from mesh.cluster.api import KubeApi
from mesh.cluster.errors import (
    Conflict,
    Forbidden,
    KubeconfigError,
    NotServed,
    RolloutFailed,
    Unreachable,
)
from mesh.router.base import RouterError
from mesh.router.factory import router_for
from mesh.router.kubernetes import KubernetesRouter
from tests.support.fake_kubernetes_api import (
    NOT_SERVED_BODY,
    FakeKubernetesApi,
    forbidden_body,
)
from tests.support.ports import free_port

VS_PATH = "/apis/networking.istio.io/v1/namespaces/voting/virtualservices/voting-app"
DEPLOYMENT_PATH = "/apis/apps/v1/namespaces/voting/deployments/voting-app-1-0"


async def test_a_cluster_without_istio_fails_before_changing_anything_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    fake.without_group("/apis/networking.istio.io/v1")

    with pytest.raises(NotServed) as caught:
        await router.apply_step("deploy")

    assert str(caught.value) == (
        "Gateway voting-app-gateway.voting: the cluster does not serve networking.istio.io/v1 "
        "gateways (404 on /apis/networking.istio.io/v1). Is Istio installed? Istio 1.22 or "
        "later serves networking.istio.io/v1; `kubectl get crd gateways.networking.istio.io` tells."
    )
    assert not [r for r in fake.requests if r.method != "GET"], "nothing may change"


async def test_recorded_404_on_a_virtual_service_path_names_it_and_the_missing_crd_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    """Discovery said yes (a CRD deleted meanwhile); the object's path answers 404."""
    fake.replay("PATCH", VS_PATH, 404, NOT_SERVED_BODY)

    with pytest.raises(NotServed) as caught:
        await router.apply_step("deploy")

    assert str(caught.value) == (
        "VirtualService voting-app.voting: the cluster does not serve networking.istio.io/v1 "
        "virtualservices (404 on /apis/networking.istio.io/v1: the server could not find the "
        "requested resource). Is Istio installed? Istio 1.22 or later serves "
        "networking.istio.io/v1; `kubectl get crd virtualservices.networking.istio.io` tells."
    )
    assert isinstance(caught.value, RouterError)


async def test_recorded_403_on_apply_names_the_deployment_and_the_verb_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    fake.replay(
        "PATCH",
        DEPLOYMENT_PATH,
        403,
        forbidden_body("patch", "apps", "deployments", "voting", "voting-app-1-0"),
    )

    with pytest.raises(Forbidden) as caught:
        await router.apply_step("deploy")

    assert str(caught.value) == (
        "Deployment voting-app-1-0.voting: RBAC forbids 'patch' on deployments.apps in namespace "
        'voting: deployments.apps "voting-app-1-0" is forbidden: User '
        '"system:serviceaccount:ci:deployer" cannot patch resource "deployments" in API group '
        '"apps" in the namespace "voting". Ask for a Role granting patch on deployments.apps.'
    )


async def test_forbidden_delete_while_pruning_names_the_deployment_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    await router.apply_step("canary")
    fake.forbid("delete", "deployments")

    with pytest.raises(Forbidden) as caught:
        await router.apply_step("finalize")

    assert str(caught.value).startswith(
        "Deployment voting-analytics-1-0.voting: RBAC forbids 'delete' on deployments.apps in "
        'namespace voting: deployments.apps "voting-analytics-1-0" is forbidden: User '
        '"system:serviceaccount:ci:deployer" cannot delete resource "deployments"'
    )


async def test_forbidden_list_in_status_names_the_collection_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    fake.forbid("list", "virtualservices")

    with pytest.raises(Forbidden) as caught:
        await router.status()

    assert str(caught.value) == (
        "VirtualService objects in namespace voting: RBAC forbids 'list' on "
        "virtualservices.networking.istio.io in namespace voting: "
        "virtualservices.networking.istio.io is forbidden: User "
        '"system:serviceaccount:ci:deployer" cannot list resource "virtualservices" in API '
        'group "networking.istio.io" in the namespace "voting". Ask for a Role granting list '
        "on virtualservices.networking.istio.io."
    )


async def test_a_namespace_labelled_otherwise_by_someone_else_is_a_conflict_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    """The Namespace is applied without force: we do not take fields others set."""
    fake.seed(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "voting", "labels": {"istio-injection": "disabled"}},
        }
    )

    with pytest.raises(Conflict) as caught:
        await router.apply_step("deploy")

    assert str(caught.value) == (
        "Namespace voting: patch conflicts with another field manager: Apply failed with 1 "
        'conflict: conflict with "kubectl-client-side-apply": .metadata.labels.istio-injection'
    )


async def test_a_stalled_deployment_fails_the_step_and_prunes_nothing_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    await router.apply_step("canary")
    fake.ready_after_polls = 2
    fake.stall("voting-app-2-0")
    fake.clear_requests()

    with pytest.raises(RolloutFailed) as caught:
        await router.apply_step("finalize")

    assert str(caught.value) == (
        'Deployment voting-app-2-0.voting: stalled: ReplicaSet "voting-app-2-0-7d9f8" has timed '
        "out progressing. (kubectl -n voting describe deployment voting-app-2-0)"
    )
    assert not [r for r in fake.requests if r.method == "DELETE"]


async def test_deployments_not_ready_in_time_are_named_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    fake.ready_after_polls = 10**9
    router.timeout = 0.1

    with pytest.raises(RolloutFailed) as caught:
        await router.apply_step("deploy")

    assert str(caught.value) == (
        "not ready after 0.1s: Deployment voting-analytics-1-0.voting 0/1 ready; "
        "Deployment voting-app-1-0.voting 0/3 ready; Deployment voting-redis.voting 0/1 ready; "
        "Deployment voting-storage-1-0.voting 0/1 ready (kubectl -n voting get pods)"
    )


async def test_an_api_server_that_does_not_answer_is_named_fake_kubernetes_api() -> None:
    port = free_port()  # nothing listens there
    router = KubernetesRouter(
        KubeApi.from_client(ApiClient(Configuration(host=f"http://127.0.0.1:{port}")))
    )
    try:
        with pytest.raises(Unreachable) as caught:
            await router.apply_step("deploy")
    finally:
        await router.close()

    assert re.match(
        rf"API apps/v1: the API server at http://127\.0\.0\.1:{port} does not answer \(",
        str(caught.value),
    )


async def test_a_context_missing_from_the_kubeconfig_is_named_fake_kubernetes_api(
    kubeconfig: Path,
) -> None:
    router = router_for("no-such-context", kubeconfig=kubeconfig)
    try:
        with pytest.raises(KubeconfigError) as caught:
            await router.status()
    finally:
        await router.close()

    assert str(caught.value).startswith(
        f"kubeconfig {kubeconfig}: cannot use context 'no-such-context': "
    )


async def test_an_unknown_step_is_a_router_error_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    with pytest.raises(RouterError, match=r"no step '9' \(steps: 1-deploy, "):
        await router.apply_step("9")
    assert fake.requests == []
