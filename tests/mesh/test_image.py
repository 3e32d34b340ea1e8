"""The function image: its Dockerfile and the lock of its Python dependencies."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
LOCK = ROOT / "docker" / "requirements.lock"
# First-party packages: never in the lock. The image ships `functions` and `voting`; voting's
# CLI skips (and wires only) the areas that are present.
PROJECT_PACKAGES = {"functions", "voting", "mesh", "observer", "rollout", "bench", "telemetry"}


@pytest.fixture(scope="module")
def lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split()[0].upper(), line.partition(" ")[2])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_lock_pins_every_package_to_one_version():
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+", line), line


def test_the_lock_holds_every_third_party_package_the_functions_import(lock):
    required, optional = _imports(ROOT / "functions", ROOT / "voting")
    declared = _declared_dependencies()
    owners = metadata.packages_distributions()
    missing = set()
    for module in required | optional:
        if module in sys.stdlib_module_names or module in PROJECT_PACKAGES:
            continue
        dists = {canonicalize_name(d) for d in owners.get(module, [module])}
        needed = module in required or dists & declared
        if needed and not dists & set(lock):
            missing.add(module)
    assert not missing, f"imported but not in {LOCK.name}: {sorted(missing)}"


def test_the_image_starts_from_a_slim_python_3_11(instructions):
    args = dict(line.split("=", 1) for kind, line in instructions if kind == "ARG" and "=" in line)
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?(@sha256:\w+)?", args["PYTHON_IMAGE"])
    assert {line for kind, line in instructions if kind == "FROM"} <= {
        "${PYTHON_IMAGE} AS deps",
        "${PYTHON_IMAGE}",
    }


def test_the_image_runs_as_a_numeric_non_root_user(instructions):
    users = [line for kind, line in instructions if kind == "USER"]
    assert users, "no USER instruction"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_the_image_installs_exactly_the_lock(instructions):
    runs = " ".join(line for kind, line in instructions if kind == "RUN")
    assert "--no-deps" in runs and "-r /tmp/requirements.lock" in runs and "pip check" in runs


def test_the_image_bakes_in_no_secrets(instructions):
    for kind, line in instructions:
        if kind in ("ENV", "ARG", "LABEL"):
            assert not re.search(r"PASSWORD|SECRET|TOKEN|_KEY", line, re.IGNORECASE), line


def _imports(*packages: Path) -> tuple[set[str], set[str]]:
    """Top-level modules imported: (required, optional), optional meaning guarded by an
    `except ImportError` (or ModuleNotFoundError)."""
    required: set[str] = set()
    optional: set[str] = set()
    for package in packages:
        for path in package.rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            guarded = {
                id(node)
                for block in ast.walk(tree)
                if isinstance(block, ast.Try) and _catches_import_error(block)
                for statement in block.body
                for node in ast.walk(statement)
            }
            for node in ast.walk(tree):
                modules = _modules(node)
                (optional if id(node) in guarded else required).update(modules)
    return required, optional - required


def _modules(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return {node.module.split(".")[0]}
    return set()


def _catches_import_error(block: ast.Try) -> bool:
    names = {
        n.id
        for handler in block.handlers
        if handler.type is not None
        for n in ast.walk(handler.type)
        if isinstance(n, ast.Name)
    }
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def _declared_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(spec).name) for spec in project["dependencies"]}
