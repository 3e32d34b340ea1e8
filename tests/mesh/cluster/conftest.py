"""Fixtures: a fake Kubernetes API server per test, a router and a kubeconfig pointing at it,
and every step rendered once per session (the router's `render_step`, cached)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from mesh.cluster.api import KubeApi
from mesh.router.kubernetes import KubernetesRouter
from mesh.steps import STEPS, Step, render_step, resolve_step
from tests.mesh.cluster.fake_kubernetes_api import FakeKubernetesApi, kubeconfig_for

_RENDERED: dict[Step, list[dict[str, Any]]] = {}


def rendered(step: str | int | Step) -> list[dict[str, Any]]:
    """A step's objects as `render_step` gives them (rendered once, copied each time)."""
    step = resolve_step(step)
    if step not in _RENDERED:
        _RENDERED[step] = render_step(step)
    return copy.deepcopy(_RENDERED[step])


@pytest.fixture(autouse=True)
def cached_render(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mesh.router.kubernetes.render_step", rendered)


@pytest.fixture
def fake() -> Iterator[FakeKubernetesApi]:
    """A running fake API server; stopped after the test, even on failure."""
    server = FakeKubernetesApi()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def router(fake: FakeKubernetesApi) -> AsyncIterator[KubernetesRouter]:
    """The Kubernetes router on kubernetes-asyncio's ApiClient, pointed at the fake."""
    client = ApiClient(Configuration(host=fake.url))
    router = KubernetesRouter(
        KubeApi.from_client(client), "voting", context="fake", timeout=5, poll_interval=0.01
    )
    try:
        yield router
    finally:
        await router.close()


@pytest.fixture
def kubeconfig(fake: FakeKubernetesApi, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_for(fake.url))
    return path


@pytest.fixture(scope="session")
def all_steps() -> list[Step]:
    return list(STEPS)
