"""Default-route weights (`get_routes`/`set_routes`) through the Kubernetes router: get,
diff, update with server-side apply, and nothing when nothing changes."""

from __future__ import annotations

import pytest

from mesh.cluster.errors import NotFound
from mesh.router.base import Route, RouterError
from mesh.router.kubernetes import KubernetesRouter
from tests.support.fake_kubernetes_api import FakeKubernetesApi

VS_PATH = "/apis/networking.istio.io/v1/namespaces/voting/virtualservices/voting-app"


async def test_get_routes_reads_the_default_route_fake_kubernetes_api(
    router: KubernetesRouter,
) -> None:
    await router.apply_step("canary")

    assert await router.get_routes("voting-app") == [Route("v1-0", 100)]
    assert await router.get_routes("voting-analytics") == [Route("v1-1", 100)]


async def test_set_routes_applies_the_weights_to_the_last_rule_only_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    await router.apply_step("canary")
    fake.clear_requests()

    await router.set_routes("voting-app", [Route("v1-0", 90), Route("v2-0", 10)])

    assert [(r.method, r.path) for r in fake.requests] == [("GET", VS_PATH), ("PATCH", VS_PATH)]
    patch = fake.requests[1]
    assert (patch.content_type, patch.field_manager, patch.force) == (
        "application/apply-patch+yaml",
        "voting-mesh",
        True,
    )
    rules = patch.body["spec"]["http"]
    assert rules[0]["route"] == [
        {"destination": {"host": "voting-app", "port": {"number": 8080}, "subset": "v2-0"}}
    ], "the cookie rule is untouched"
    assert rules[-1]["route"] == [
        {
            "destination": {"host": "voting-app", "port": {"number": 8080}, "subset": "v1-0"},
            "weight": 90,
        },
        {
            "destination": {"host": "voting-app", "port": {"number": 8080}, "subset": "v2-0"},
            "weight": 10,
        },
    ]
    assert set(patch.body["metadata"]) == {"name", "namespace", "labels"}
    assert await router.get_routes("voting-app") == [Route("v1-0", 90), Route("v2-0", 10)]


async def test_set_routes_to_what_is_in_force_changes_nothing_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    await router.apply_step("canary")
    fake.clear_requests()

    await router.set_routes("voting-app", [Route("v1-0", 100)])

    assert [r.method for r in fake.requests] == ["GET"]


@pytest.mark.parametrize(
    "routes",
    [[Route("v1-0", 90), Route("v2-0", 20)], [], [Route("v1-0", 50), Route("v1-0", 50)]],
    ids=["not-100", "empty", "twice"],
)
async def test_set_routes_refuses_bad_weights_without_a_write_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter, routes: list[Route]
) -> None:
    await router.apply_step("canary")
    fake.clear_requests()

    with pytest.raises(RouterError, match=r"^VirtualService voting-app\.voting: "):
        await router.set_routes("voting-app", routes)

    assert not [r for r in fake.requests if r.method != "GET"]


async def test_routes_of_a_service_without_a_virtual_service_is_named_fake_kubernetes_api(
    router: KubernetesRouter,
) -> None:
    await router.apply_step("deploy")

    with pytest.raises(NotFound) as caught:
        await router.get_routes("voting-analytics")

    assert str(caught.value) == (
        "VirtualService voting-analytics.voting: not found; apply a step that routes it first "
        "(voting cluster step lock-down)"
    )


async def test_a_rollout_phase_replaces_the_http_rules_with_one_apply_fake_kubernetes_api(
    fake: FakeKubernetesApi, router: KubernetesRouter
) -> None:
    """What `voting rollout --context` does at each phase (rollout/routing.py): the A/B rule
    goes in before the default route, in one server-side apply; the same rules again change
    nothing."""
    from rollout.routing import AB, Phase, phase_rules
    from rollout.spec import parse_spec

    await router.apply_step("canary")
    spec = parse_spec({"iterations": 1, "match": [{"headers": {"x-canary": {"exact": "insider"}}}]})
    rules = phase_rules(await router.get_http("voting-app"), spec, Phase(AB, iteration=1))
    fake.clear_requests()

    await router.set_http("voting-app", rules)
    await router.set_http("voting-app", rules)

    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", VS_PATH),
        ("PATCH", VS_PATH),
        ("GET", VS_PATH),
    ]
    applied = fake.requests[1].body["spec"]["http"]
    assert [r.get("name") for r in applied] == ["featureflag-v2-0", "rollout-ab", "v1-0"]
    assert await router.get_http("voting-app") == rules
