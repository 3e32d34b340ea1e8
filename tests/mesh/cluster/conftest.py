"""Fixtures: a fake Kubernetes API server per test, a router and a kubeconfig pointing at it,
and every step rendered once per session (the router's `render_step`, cached).

The fake, the kubeconfig and the cached render are shared with tests/mesh/apply, so they are
defined in tests/support/kubernetes.py and imported here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from mesh.cluster.api import KubeApi
from mesh.router.kubernetes import KubernetesRouter
from mesh.steps import STEPS, Step
from tests.support.fake_kubernetes_api import FakeKubernetesApi
from tests.support.kubernetes import cached_render, fake, kubeconfig

__all__ = ["cached_render", "fake", "kubeconfig"]  # fixtures: imported so pytest finds them


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


@pytest.fixture(scope="session")
def all_steps() -> list[Step]:
    return list(STEPS)
