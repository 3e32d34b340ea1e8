"""Fixtures: every step rendered once per session, and a per-step parametrisation."""

from __future__ import annotations

import copy

import pytest

from mesh.steps import STEPS, Step, render_step
from tests.mesh.objects import Obj


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Obj]]:
    """Every step's objects, keyed by step directory (treat as read-only)."""
    return {step.directory: render_step(step) for step in STEPS}


@pytest.fixture(params=STEPS, ids=lambda step: step.directory)
def step(request: pytest.FixtureRequest) -> Step:
    """Each step in turn."""
    return request.param


@pytest.fixture
def objs(step: Step, rendered: dict[str, list[Obj]]) -> list[Obj]:
    """The objects of the current step (a copy: tests may modify it)."""
    return copy.deepcopy(rendered[step.directory])
