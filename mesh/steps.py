"""The tutorial's five rollout steps, and rendering one with `kubectl kustomize`.

Each step is a kustomization directory, ``mesh/steps/<number>-<name>``; rendering it gives
every Kubernetes and Istio object of that step (namespace ``voting``). This module is the
one place that knows the list, for the cluster docs, the tests and the local mesh::

    from mesh.steps import STEPS, render_step, resolve_step

    step = resolve_step("canary")   # also 4, "4" or "4-canary"
    for obj in render_step(step):   # plain dicts, in kustomize's output order
        ...

Errors (one tree, all naming the step or the value given)::

    StepError
    ├── UnknownStepError   resolve_step got something that names no step (also a ValueError)
    └── RenderError        kubectl is missing, kustomize failed, or its output is not objects
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import yaml

STEPS_DIR = Path(__file__).resolve().parent / "steps"
RENDER_TIMEOUT_S = 60


class Step(NamedTuple):
    """One rollout step: equal to its ``(number, name)`` tuple."""

    number: int
    name: str

    @property
    def directory(self) -> str:
        """The step's directory name, e.g. ``"4-canary"``."""
        return f"{self.number}-{self.name}"

    @property
    def path(self) -> Path:
        """The step's kustomization directory."""
        return STEPS_DIR / self.directory


STEPS: list[Step] = [
    Step(1, "deploy"),
    Step(2, "update-analytics"),
    Step(3, "lock-down"),
    Step(4, "canary"),
    Step(5, "finalize"),
]


class StepError(Exception):
    """Base of this module's errors."""


class UnknownStepError(StepError, ValueError):
    """A value that names no step."""


class RenderError(StepError):
    """A step that could not be rendered."""


def resolve_step(value: str | int | Step) -> Step:
    """Return the step named by a number (3, "3"), a name ("lock-down") or a directory
    ("3-lock-down")."""
    if isinstance(value, Step):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UnknownStepError(f"not a step: {value!r} ({_choices()})")
    text = str(value).strip()
    for step in STEPS:
        if text in (str(step.number), step.name, step.directory):
            return step
    raise UnknownStepError(f"no step {value!r} ({_choices()})")


def render_step(step: str | int | Step) -> list[dict[str, Any]]:
    """Render a step with ``kubectl kustomize`` and return its objects as dicts."""
    step = resolve_step(step)
    try:
        kubectl = find_kubectl()
    except RenderError as exc:
        raise RenderError(f"step {step.directory}: {exc}") from exc
    try:
        done = subprocess.run(
            [kubectl, "kustomize", str(step.path)],
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"step {step.directory}: could not run {kubectl}: {exc}") from exc
    if done.returncode != 0:
        detail = done.stderr.strip() or f"exit status {done.returncode}"
        raise RenderError(f"step {step.directory}: kubectl kustomize failed: {detail}")
    try:
        documents = [doc for doc in yaml.safe_load_all(done.stdout) if doc is not None]
    except yaml.YAMLError as exc:
        raise RenderError(f"step {step.directory}: output is not YAML: {exc}") from exc
    for doc in documents:
        if not isinstance(doc, dict) or "kind" not in doc:
            raise RenderError(f"step {step.directory}: output holds a non-object: {doc!r:.80}")
    return documents


def find_kubectl() -> str:
    """The kubectl next to this Python (the project's venv) first, then the one on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file():
        return str(beside)
    found = shutil.which("kubectl")
    if found is None:
        raise RenderError(
            f"kubectl not found next to {sys.executable} or on PATH "
            "(it comes with the project: pip install -e .)"
        )
    return found


def _choices() -> str:
    return "steps: " + ", ".join(step.directory for step in STEPS)
