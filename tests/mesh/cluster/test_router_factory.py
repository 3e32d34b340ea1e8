"""`router_for` chooses; callers hold a `Router` either way. The local implementation is a
thin adapter over the control API of `voting up`, shown here against a fake control API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from mesh.router.base import Route, Router, RouterError
from mesh.router.factory import router_for
from mesh.router.kubernetes import KubernetesRouter
from mesh.router.local import LocalRouter
from tests.support.kubernetes import rendered
from tests.support.ports import free_port


def test_router_for_a_context_or_kubeconfig_is_the_kubernetes_one(tmp_path: Path) -> None:
    for router in (
        router_for("aks-demo"),
        router_for(kubeconfig=tmp_path / "kubeconfig"),
        router_for(cluster=True, namespace="demo"),
    ):
        assert isinstance(router, KubernetesRouter)
        assert isinstance(router, Router)
    assert router_for("aks-demo", namespace="demo").target == (
        "cluster context aks-demo, namespace demo"
    )


def test_router_for_nothing_is_the_local_system(tmp_path: Path) -> None:
    router = router_for(state_dir=tmp_path)
    assert isinstance(router, LocalRouter)
    assert isinstance(router, Router)
    assert router.target == f"local system (state in {tmp_path})"


class FakeControlApi:
    """`voting up`'s control API: GET /status and /documents, POST /step and /apply (recorded)."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = rendered(4)  # step 4 in force
        self.applied: list[dict[str, Any]] = []
        self.steps: list[str] = []
        self.refuse: str | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/status", self.status)
        app.router.add_post("/step", self.step)
        app.router.add_post("/apply", self.apply)
        app.router.add_get("/documents", self.in_force)
        return app

    async def in_force(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"step": {"number": 4, "name": "canary"}, "documents": self.documents}
        )

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response({"step": {"number": 4, "name": "canary"}, "services": []})

    async def step(self, request: web.Request) -> web.Response:
        self.steps.append((await request.json())["step"])
        return web.json_response({"step": {"number": 5, "name": "finalize"}})

    async def apply(self, request: web.Request) -> web.Response:
        if self.refuse:
            return web.json_response({"error": self.refuse}, status=400)
        self.applied.append(await request.json())
        self.documents = self.applied[-1]["documents"]
        return web.json_response({"step": {"number": 4, "name": "canary"}})


@pytest.fixture
async def control(tmp_path: Path) -> AsyncIterator[FakeControlApi]:
    fake = FakeControlApi()
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    port = free_port()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        (tmp_path / "control.json").write_text(json.dumps({"pid": 0, "port": port}))
        yield fake
    finally:
        await runner.cleanup()


async def test_local_router_applies_a_step_through_the_control_api_fake_control_api(
    control: FakeControlApi, tmp_path: Path
) -> None:
    messages: list[str] = []
    status = await LocalRouter(tmp_path).apply_step("finalize", on_progress=messages.append)

    assert control.steps == ["5"]
    assert status["step"]["number"] == 5
    assert messages == [f"applying step 5 (finalize) to the local system (state in {tmp_path})"]


async def test_local_router_sets_routes_by_applying_the_edited_step_fake_control_api(
    control: FakeControlApi, tmp_path: Path
) -> None:
    router = LocalRouter(tmp_path)

    assert await router.get_routes("voting-app") == [Route("v1-0", 100)]
    await router.set_routes("voting-app", [Route("v1-0", 80), Route("v2-0", 20)])
    await router.set_routes("voting-app", [Route("v1-0", 80), Route("v2-0", 20)])  # no-op
    await router.set_routes("voting-analytics", [Route("v1-1", 50), Route("v2-0", 50)])

    assert [a["step"] for a in control.applied] == ["4", "4"]
    last = {(d["kind"], d["metadata"]["name"]): d for d in control.applied[-1]["documents"]}
    app_rule = last[("VirtualService", "voting-app")]["spec"]["http"][-1]["route"]
    assert [(r["destination"]["subset"], r["weight"]) for r in app_rule] == [
        ("v1-0", 80),
        ("v2-0", 20),
    ], "the first edit is kept by the second"
    expected = {(d["kind"], d["metadata"]["name"]) for d in rendered(4)}
    assert set(last) == expected
    assert await router.get_routes("voting-analytics") == [Route("v1-1", 50), Route("v2-0", 50)]


async def test_local_router_errors_are_router_errors_fake_control_api(
    control: FakeControlApi, tmp_path: Path
) -> None:
    control.refuse = "VirtualService voting-app: spec.http[1]: route weights must add up to 100"

    with pytest.raises(RouterError, match="route weights must add up to 100"):
        await LocalRouter(tmp_path).set_routes("voting-app", [Route("v2-0", 100)])
    with pytest.raises(RouterError, match="no local system is running"):
        await LocalRouter(tmp_path / "elsewhere").status()
