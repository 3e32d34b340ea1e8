"""Every document of mesh/tasks/** (Istio's tasks, docs/tasks.md) checked like the steps:
the official schemas with unknown fields rejected, then the model the local mesh runs.

A task must apply on top of its step as `voting apply -f` applies it: each folder at once,
and each task's files one after another in name order (a sequence such as allow-nothing,
then opening paths one by one), every intermediate set accepted by `parse_resources`.
"""

from __future__ import annotations

import json

import kubernetes_validate
import pydantic
import pytest

from mesh.apply.documents import app_namespace, key_of, load_sources, merge
from mesh.model.resources import parse_resources
from mesh.steps import render_step
from tests.mesh.istio_schema import UnknownIstioKind, validate_istio
from tests.mesh.objects import is_istio, ref
from tests.support.tasks import (
    TASK_STEP,
    TASKS_DIR,
    task_files,
    task_folders,
    task_of,
    task_prerequisites,
)

KUBERNETES_VERSION = kubernetes_validate.latest_version()
FILES = task_files()
FOLDERS = task_folders()
TASKS = sorted({task_of(f) for f in FILES})


def _id(path: object) -> str:
    return str(path).removeprefix(str(TASKS_DIR) + "/")


@pytest.fixture(scope="module")
def step_documents() -> list[dict]:
    return render_step(TASK_STEP)


def test_there_are_tasks() -> None:
    assert {"request-routing", "fault-injection", "traffic-shifting"} <= set(TASKS)


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_each_task_document_passes_its_official_schema(path) -> None:
    for item in load_sources([str(path)]):
        obj = item.document
        if is_istio(obj):
            try:
                validate_istio(obj)
            except (pydantic.ValidationError, UnknownIstioKind) as exc:
                pytest.fail(f"{item.source}: {ref(obj)}: {exc}")
        else:
            try:
                kubernetes_validate.validate(
                    json.loads(json.dumps(obj)), KUBERNETES_VERSION, strict=True
                )
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{item.source}: {ref(obj)}: {exc.message}")


@pytest.mark.parametrize("folder", FOLDERS, ids=_id)
def test_each_task_folder_applies_on_top_of_the_step(folder, step_documents) -> None:
    namespace = app_namespace(step_documents)
    incoming = [item.document for item in load_sources([str(folder)])]
    before = step_documents + task_prerequisites(task_of(folder))
    merged, changes = merge(before, incoming, namespace)
    parse_resources(merged)  # InvalidResource names the document and the field
    assert all(c.action != "unchanged" for c in changes), (
        f"{_id(folder)}: documents identical to step {TASK_STEP}'s own change nothing: "
        + ", ".join(c.key.name for c in changes if c.action == "unchanged")
    )


@pytest.mark.parametrize("task", TASKS)
def test_each_task_applies_file_by_file_in_name_order(task, step_documents) -> None:
    namespace = app_namespace(step_documents)
    in_force = step_documents + task_prerequisites(task)
    for path in (f for f in FILES if task_of(f) == task):
        incoming = [item.document for item in load_sources([str(path)])]
        in_force, _ = merge(in_force, incoming, namespace)
        try:
            parse_resources(in_force)
        except Exception as exc:
            pytest.fail(f"{_id(path)} on top of what came before: {exc}")
        keys = {key_of(d, namespace) for d in in_force}
        assert all(key_of(d, namespace) in keys for d in incoming)
