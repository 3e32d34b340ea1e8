"""`status` and `tls-check` rows from the objects the fake Kubernetes API holds."""

from __future__ import annotations

import pytest

from mesh.cluster.status import NO_PROBE_NOTE, tls_rows, workload_entry
from mesh.model.policy import effective_mtls_mode, peer_authentication_name
from mesh.model.resources import parse_resources
from mesh.router.kubernetes import KubernetesRouter
from mesh.steps import STEPS
from tests.support.fake_kubernetes_api import FakeKubernetesApi
from tests.support.kubernetes import rendered

LOCAL_STATUS_KEYS = {
    "step",
    "ingress",
    "ingress_admin_port",
    "prometheus",
    "auto_mtls",
    "workloads",
    "services",
    "stores",
    "rss_bytes",
    "events",
}
LOCAL_WORKLOAD_KEYS = {"name", "app", "version", "desired", "ready", "restarts", "pods"}
LOCAL_SERVICE_KEYS = {
    "name",
    "peer_authentication",
    "authn_policy",
    "client_tls",
    "destination_rule",
    "routes",
}
ROUTE_KEYS = {"virtual_service", "match", "subset", "version", "weight", "fault", "policies"}


async def test_status_has_the_shape_of_the_local_status_fake_kubernetes_api(
    router: KubernetesRouter,
) -> None:
    from mesh.router.status_table import format_status

    status = await router.apply_step("canary")

    assert status.keys() >= LOCAL_STATUS_KEYS
    assert all(w.keys() >= LOCAL_WORKLOAD_KEYS for w in status["workloads"])
    assert all(s.keys() >= LOCAL_SERVICE_KEYS for s in status["services"])
    assert all(r.keys() == ROUTE_KEYS for s in status["services"] for r in s["routes"])
    assert "voting-app-2-0          2.0      3/3     0" in format_status(status)


async def test_status_after_canary_shows_workloads_mtls_and_the_cookie_route_fake_kubernetes_api(
    router: KubernetesRouter,
) -> None:
    status = await router.apply_step("canary")

    assert status["step"] == {"number": 4, "name": "canary"}
    assert status["target"] == {"kind": "kubernetes", "context": "fake", "namespace": "voting"}
    workloads = {w["name"]: w for w in status["workloads"]}
    assert sorted(workloads) == [
        "voting-analytics-1-0",
        "voting-analytics-1-1",
        "voting-analytics-2-0",
        "voting-app-1-0",
        "voting-app-2-0",
        "voting-mysql",
        "voting-redis",
        "voting-storage-1-0",
        "voting-storage-2-0",
    ]
    app = workloads["voting-app-2-0"]
    assert (app["app"], app["version"], app["ready"], app["desired"]) == ("voting-app", "2.0", 3, 3)
    assert len(app["pods"]) == 3 and all(p["ready"] for p in app["pods"])
    services = {s["name"]: s for s in status["services"]}
    assert services["voting-app"] == {
        "name": "voting-app",
        "port": 8080,
        "peer_authentication": "STRICT",
        "authn_policy": "default/voting",
        "client_tls": "ISTIO_MUTUAL",
        "destination_rule": "voting-app/voting",
        "routes": [
            {
                "virtual_service": "voting-app",
                "match": "cookie featureflag=on",
                "subset": "v2-0",
                "version": "2.0",
                "weight": 100,
                "fault": None,
                "policies": [],
            },
            {
                "virtual_service": "voting-app",
                "match": "all",
                "subset": "v1-0",
                "version": "1.0",
                "weight": 100,
                "fault": None,
                "policies": [],
            },
        ],
    }
    assert status["stores"] == {
        "redis": "redis://voting-redis:6379/0",
        "mysql": "voting-mysql:3306/azurevote",
    }


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.directory)
async def test_routes_and_mtls_read_like_the_local_mesh_reads_them_fake_kubernetes_api(
    router: KubernetesRouter, step
) -> None:
    """The same objects, read back from the API, mean what the local mesh's parser says."""
    from mesh.model.describe import describe_routes
    from mesh.model.policy import effective_mtls_mode, peer_authentication_name
    from mesh.model.resources import parse_resources

    status = await router.apply_step(step)
    local = parse_resources(rendered(step))

    for service in status["services"]:
        name = service["name"]
        if name not in {w.app for w in local.mesh_workloads()}:
            continue  # the local mesh reports function services only
        assert service["routes"] == describe_routes(local, name), name
        selector = dict(local.service(name).selector)
        assert service["authn_policy"] == peer_authentication_name(local, selector)
        labels = [dict(w.labels) for w in local.mesh_workloads() if w.app == name]
        modes = sorted({effective_mtls_mode(local, x) for x in labels})
        assert service["peer_authentication"] == "/".join(modes), name
        rule = local.destination_rule(name)
        assert service["destination_rule"] == (f"{rule.name}/voting" if rule else "-")


async def test_the_ingress_is_the_gateways_load_balancer_address_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    fake.seed(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": "20.50.1.7"}]}},
        }
    )
    assert (await router.status())["ingress"] == "http://20.50.1.7/"


async def test_status_of_an_empty_namespace_has_no_step_fake_kubernetes_api(
    router: KubernetesRouter,
) -> None:
    status = await router.status()
    assert (status["step"], status["workloads"], status["services"], status["ingress"]) == (
        None,
        [],
        [],
        None,
    )


def test_a_workload_counts_ready_pods_and_restarts_of_its_own_pods() -> None:
    deployment = {
        "metadata": {"name": "voting-app-1-0", "generation": 3},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "voting-app", "version": "1.0"}},
            "template": {"metadata": {"labels": {"app": "voting-app", "version": "1.0"}}},
        },
        "status": {"observedGeneration": 2, "readyReplicas": 1, "updatedReplicas": 1},
    }

    def pod(name: str, version: str, ready: bool, restarts: int) -> dict:
        return {
            "metadata": {"name": name, "labels": {"app": "voting-app", "version": version}},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "containerStatuses": [{"restartCount": restarts}, {"restartCount": 1}],
            },
        }

    entry = workload_entry(
        deployment,
        [pod("a", "1.0", True, 0), pod("b", "1.0", False, 4), pod("c", "2.0", True, 9)],
    )

    assert (entry["ready"], entry["desired"], entry["restarts"]) == (1, 3, 6)
    assert [p["name"] for p in entry["pods"]] == ["a", "b"]
    assert entry["observed_generation_current"] is False


def live(kind: str, name: str, namespace: str, spec: dict) -> dict:
    """An object as the API returns it: extra metadata and status the model does not read."""
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "uid": "u-" + name, "generation": 1},
        "spec": spec,
        "status": {"validationMessages": []},
    }


def test_a_workload_peer_authentication_wins_over_the_namespace_one() -> None:
    objects = [
        live("PeerAuthentication", "default", "voting", {"mtls": {"mode": "STRICT"}}),
        live(
            "PeerAuthentication",
            "redis-permissive",
            "voting",
            {"selector": {"matchLabels": {"app": "voting-redis"}}, "mtls": {"mode": "PERMISSIVE"}},
        ),
    ]
    resources = parse_resources(objects, strict=False)
    assert effective_mtls_mode(resources, {"app": "voting-redis"}) == "PERMISSIVE"
    assert effective_mtls_mode(resources, {"app": "voting-app"}) == "STRICT"
    assert effective_mtls_mode(parse_resources([], strict=False), {"app": "voting-app"}) == (
        "PERMISSIVE"
    )
    assert peer_authentication_name(resources, {"app": "voting-redis"}) == (
        "redis-permissive/voting"
    )


def test_live_objects_are_read_leniently_with_the_local_rules() -> None:
    """Unknown fields, unsupported kinds and the mesh-wide policy: as the local mesh reads them."""
    objects = [
        live("PeerAuthentication", "mesh", "istio-system", {"mtls": {"mode": "STRICT"}}),
        live("PeerAuthentication", "ns", "voting", {"mtls": {"mode": "UNSET"}, "future": 1}),
        live("RequestAuthentication", "jwt", "voting", {"jwtRules": []}),
    ]
    resources = parse_resources(objects, strict=False)
    # policy_applier.go: the namespace's UNSET inherits the mesh-wide STRICT
    assert effective_mtls_mode(resources, {"app": "voting-app"}) == "STRICT"


async def test_tls_check_after_lock_down_is_ok_from_configuration_only_fake_kubernetes_api(
    router: KubernetesRouter,
) -> None:
    status = await router.apply_step("lock-down")

    assert tls_rows(status, "voting-storage.voting") == [
        {
            "host": "voting-storage.voting.svc.cluster.local:8080",
            "status": "OK",
            "server": "mTLS",
            "client": "mTLS",
            "authn_policy": "default/voting",
            "destination_rule": "voting-storage/voting",
            "probe": None,
            "note": NO_PROBE_NOTE,
        }
    ]
    assert NO_PROBE_NOTE == "no live probe in a cluster; use istioctl x describe"


async def test_tls_check_before_lock_down_is_permissive_with_auto_mtls_fake_kubernetes_api(
    router: KubernetesRouter,
) -> None:
    status = await router.apply_step("update-analytics")

    [row] = tls_rows(status, "voting-analytics")
    assert (row["status"], row["server"], row["client"], row["authn_policy"]) == (
        "OK",
        "HTTP/mTLS",
        "mTLS",
        "-",
    )
    assert row["destination_rule"] == "-"


async def test_tls_check_flags_plaintext_clients_of_a_strict_server_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    await router.apply_step("lock-down")
    fake.find("DestinationRule", "voting-storage")["spec"]["trafficPolicy"]["tls"]["mode"] = (
        "DISABLE"
    )

    rows = tls_rows(await router.status(), "all")

    assert {r["host"].split(".")[0]: r["status"] for r in rows} == {
        "voting-analytics": "OK",
        "voting-app": "OK",
        "voting-redis": "OK",
        "voting-storage": "CONFLICT",
    }
