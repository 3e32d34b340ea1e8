"""The cluster source against a fake Kubernetes API: a real aiohttp server on a free port
speaking the real REST paths (discovery, server-side apply, label selectors, a Deployment
controller, RBAC refusals), shared with the mesh's router tests
(`tests/support/fake_kubernetes_api.py`). kubernetes-asyncio does real requests.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from mesh.cluster.api import KubeApi
from mesh.router.kubernetes import KubernetesRouter
from observer.app import ObserverApp
from observer.errors import SourceUnavailable, StepNotApplied
from observer.sources.cluster import ClusterSource
from observer.widgets.chrome import StatusLine
from observer.widgets.services import ServicesTable
from tests.support.fake_kubernetes_api import FakeKubernetesApi
from tests.support.kubernetes import cached_render, fake

__all__ = ["cached_render", "fake"]  # fixtures of this module (cached_render is autouse)

DEPLOYMENTS = "/apis/apps/v1/namespaces/voting/deployments"


def router_for(fake: FakeKubernetesApi) -> KubernetesRouter:
    client = ApiClient(Configuration(host=fake.url))
    return KubernetesRouter(
        KubeApi.from_client(client), "voting", context="fake", timeout=10, poll_interval=0.01
    )


@pytest.fixture
async def canary(fake: FakeKubernetesApi) -> FakeKubernetesApi:
    """The fake cluster after step 4 was applied to it (by the mesh's router)."""
    router = router_for(fake)
    try:
        await router.apply_step(4)
    finally:
        await router.close()
    return fake


@pytest.fixture
async def source(fake: FakeKubernetesApi) -> AsyncIterator[ClusterSource]:
    cluster = ClusterSource(router_for(fake), timeout=5)
    try:
        yield cluster
    finally:
        await cluster.aclose()


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float) -> None:
    """Let the app run until `condition()` holds; fail clearly otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.1)


class TestClusterSource:
    async def test_canary_routes_are_read_from_the_fake_kubernetes_api(
        self, canary: FakeKubernetesApi, source: ClusterSource
    ) -> None:
        app = (await source.state()).service("voting-app")
        assert app is not None
        assert [(r.match, r.version) for r in app.routes] == [
            ("cookie featureflag=on", "2.0"),
            ("all", "1.0"),
        ]

    async def test_the_step_in_force_is_read_from_the_fake_kubernetes_api(
        self, canary: FakeKubernetesApi, source: ClusterSource
    ) -> None:
        step = (await source.state()).step
        assert step is not None and (step.number, step.name) == (4, "canary")

    async def test_replicas_come_from_deployments_in_the_fake_kubernetes_api(
        self, canary: FakeKubernetesApi, source: ClusterSource
    ) -> None:
        workloads = {
            (w.app, w.version): (w.ready, w.desired) for w in (await source.state()).workloads
        }
        assert workloads[("voting-app", "2.0")] == (3, 3)
        assert workloads[("voting-storage", "2.0")] == (1, 1)

    async def test_strict_mtls_policy_is_read_from_the_fake_kubernetes_api(
        self, canary: FakeKubernetesApi, source: ClusterSource
    ) -> None:
        services = (await source.state()).services
        mesh = [
            s
            for s in services
            if s.name.startswith(("voting-app", "voting-analytics", "voting-storage"))
        ]
        assert {(s.peer_authentication, s.client_tls) for s in mesh} == {("STRICT", "ISTIO_MUTUAL")}

    async def test_a_forbidden_list_on_the_fake_kubernetes_api_becomes_source_unavailable(
        self, canary: FakeKubernetesApi, source: ClusterSource
    ) -> None:
        canary.forbid("list", "deployments")
        with pytest.raises(SourceUnavailable, match=r"Kubernetes API: .*forbidden"):
            await source.state()

    async def test_a_step_is_applied_through_the_fake_kubernetes_api_with_progress_as_events(
        self, canary: FakeKubernetesApi, source: ClusterSource
    ) -> None:
        state = await source.apply_step(5)
        assert state.step is not None and state.step.number == 5
        assert canary.find("Deployment", "voting-app-1-0") is None
        assert any("step 5 (finalize) in force" in e.message for e in state.events)

    async def test_a_refused_step_on_the_fake_kubernetes_api_is_step_not_applied(
        self, canary: FakeKubernetesApi, source: ClusterSource
    ) -> None:
        canary.forbid("patch", "virtualservices")
        with pytest.raises(StepNotApplied, match="step 5 not applied"):
            await source.apply_step(5)


class TestDashboardOnTheFakeKubernetesAPI:
    async def test_kubernetes_api_errors_show_in_the_status_line_and_are_retried_with_backoff(
        self, canary: FakeKubernetesApi, source: ClusterSource
    ) -> None:
        canary.forbid("list", "deployments")
        canary.clear_requests()
        app = ObserverApp(source, refresh_s=0.2, votes_every_s=60)
        async with app.run_test(size=(120, 40)) as pilot:
            status = app.query_one(StatusLine)
            await wait_for(pilot, lambda: "retry in" in status.plain, 30)
            assert "kubernetes ● Kubernetes API" in status.plain
            await asyncio.sleep(3.0)
            canary.forbidden.clear()
            table = app.query_one(ServicesTable)
            await wait_for(pilot, lambda: "cookie featureflag=on" in table.text(120).plain, 30)
            assert "kubernetes ● up" in status.plain
            # 0.2 s ticks for 3 s would be ~15 attempts; a 1 s, 2 s, 4 s backoff makes 3.
            failed = sum(1 for r in canary.requests[:40] if r.path == DEPLOYMENTS)
            assert failed <= 5

    async def test_applying_a_step_from_the_keyboard_reaches_the_fake_kubernetes_api(
        self, canary: FakeKubernetesApi, source: ClusterSource
    ) -> None:
        app = ObserverApp(source, refresh_s=0.3, votes_every_s=60)
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.query_one(ServicesTable)
            await wait_for(pilot, lambda: "cookie featureflag=on" in table.text(120).plain, 30)
            await pilot.press("5")
            await pilot.press("y")
            await wait_for(pilot, lambda: canary.find("Deployment", "voting-app-1-0") is None, 30)
            await wait_for(pilot, lambda: "cookie featureflag=on" not in table.text(120).plain, 30)
            assert "all traffic" in table.text(120).plain


async def test_a_cluster_rollout_shows_on_the_panel_and_p_pauses_it_through_its_configmap_fake_kubernetes_api(
    canary: FakeKubernetesApi, source: ClusterSource
) -> None:
    """The progress a `voting rollout --context` controller keeps in its ConfigMap
    (mesh/router/kubernetes_rollout.py) is read by the cluster source; p asks it to pause."""
    from observer.widgets.rollout import RolloutPanel
    from rollout.progress import progress_json
    from rollout.spec import RolloutSpec

    outcome = {"state": "running", "weight": 25, "reason": "", "history": [], "gates": []}
    await source.router.report_rollout(
        progress_json(outcome, RolloutSpec(interval=30.0), passed=[10], pid=77)
    )
    app = ObserverApp(source, refresh_s=0.2)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(RolloutPanel)
        await wait_for(pilot, lambda: "weight 25% → v2-0" in panel.text(76).plain, 30)
        await pilot.press("p")
        found: list[dict[str, Any]] = []

        def sent() -> bool:
            data = (canary.find("ConfigMap", "voting-rollout-commands") or {}).get("data") or {}
            found[:] = json.loads(data.get("commands") or "[]")
            return bool(found)

        await wait_for(pilot, sent, 30)
        assert [(c["verb"], c["by"].endswith("(dashboard)")) for c in found] == [("pause", True)]
