"""The fake Kubernetes API as fixtures, and every step rendered once per session.

`rendered` is the router's `render_step`, cached (kubectl kustomize takes ~0.5 s a step).
The fixtures are defined here once and imported by tests/mesh/cluster/conftest.py and
tests/mesh/apply/conftest.py, not put in tests/mesh/conftest.py: there the autouse
`cached_render` would patch the router for every mesh test, not just those two directories.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh.steps import Step, render_step, resolve_step
from tests.support.fake_kubernetes_api import FakeKubernetesApi, kubeconfig_for

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
def kubeconfig(fake: FakeKubernetesApi, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_for(fake.url))
    return path
