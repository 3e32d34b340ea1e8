"""mesh.steps: the step list, resolving a step, rendering one with kubectl kustomize."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mesh import steps
from mesh.steps import STEPS, RenderError, Step, UnknownStepError, render_step, resolve_step


def test_steps_are_the_five_tutorial_steps_in_order():
    assert STEPS == [
        (1, "deploy"),
        (2, "update-analytics"),
        (3, "lock-down"),
        (4, "canary"),
        (5, "finalize"),
    ]


def test_each_step_names_its_kustomization_directory():
    for step in STEPS:
        assert step.path == Path(steps.__file__).parent / "steps" / step.directory
        assert (step.path / "kustomization.yaml").is_file()


def test_the_steps_directory_holds_exactly_the_five_steps():
    on_disk = sorted(p.name for p in steps.STEPS_DIR.iterdir() if p.is_dir())
    assert on_disk == [step.directory for step in STEPS]


@pytest.mark.parametrize("value", [3, "3", " 3 ", "lock-down", "3-lock-down"])
def test_resolve_step_accepts_a_number_a_name_or_a_directory(value):
    assert resolve_step(value) == Step(3, "lock-down")


def test_resolve_step_returns_a_step_unchanged():
    assert resolve_step(STEPS[3]) is STEPS[3]


@pytest.mark.parametrize("value", [0, 6, "6", "canary-4", "lockdown", "", True, None, 3.0])
def test_resolve_step_rejects_what_names_no_step(value):
    with pytest.raises(UnknownStepError, match="1-deploy, 2-update-analytics"):
        resolve_step(value)


def test_an_unknown_step_is_also_a_value_error():
    with pytest.raises(ValueError):
        resolve_step("nope")


def test_render_step_returns_the_step_objects_as_dicts(rendered):
    objs = render_step("1")
    assert objs == rendered["1-deploy"]
    assert {"kind": "Namespace", "name": "voting"} in [
        {"kind": o["kind"], "name": o["metadata"]["name"]} for o in objs
    ]


def test_the_contract_command_renders_the_step_with_no_extra_flags(step, rendered):
    root = Path(steps.__file__).resolve().parents[1]
    command = [steps.find_kubectl(), "kustomize", f"mesh/steps/{step.directory}"]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True)
    assert list(yaml.safe_load_all(done.stdout)) == rendered[step.directory]


def test_render_error_names_the_step_when_kustomize_fails(tmp_path, monkeypatch):
    broken = tmp_path / "2-update-analytics"
    broken.mkdir()
    (broken / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    monkeypatch.setattr(steps, "STEPS_DIR", tmp_path)
    with pytest.raises(RenderError, match=r"step 2-update-analytics: kubectl kustomize failed"):
        render_step(2)


def test_render_error_names_the_step_when_the_output_is_not_objects(tmp_path, monkeypatch):
    odd = tmp_path / "5-finalize"
    odd.mkdir()
    (odd / "kustomization.yaml").write_text("resources: []\n")
    monkeypatch.setattr(steps, "STEPS_DIR", tmp_path)
    monkeypatch.setattr(steps.subprocess, "run", _fake_run(stdout="- just\n- a list\n"))
    with pytest.raises(RenderError, match="step 5-finalize: output holds a non-object"):
        render_step("finalize")


def test_kubectl_next_to_python_is_preferred(tmp_path, monkeypatch):
    kubectl = tmp_path / "kubectl"
    kubectl.write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    assert steps.find_kubectl() == str(kubectl)


def test_kubectl_on_path_is_used_when_none_is_next_to_python(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text("#!/bin/sh\n")
    kubectl.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(bin_dir))
    assert steps.find_kubectl() == str(kubectl)


def test_render_error_names_the_step_when_kubectl_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RenderError, match="step 4-canary: kubectl not found"):
        render_step("canary")


def _fake_run(stdout: str):
    def run(*args, **kwargs):
        return steps.subprocess.CompletedProcess(args, 0, stdout=stdout, stderr="")

    return run
