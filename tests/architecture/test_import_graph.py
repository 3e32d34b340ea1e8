"""The layering the README's architecture section draws: no package, and no module, that
imports something which imports it back (directly or around a longer loop). Every import
counts, also one inside a function: a lazy import hides a cycle, it does not remove it."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("functions", "mesh", "observer", "rollout", "telemetry", "bench", "voting")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `path` imports (`from a.b import c` is a.b.c if that is a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in known}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(path, known) - {name} for name, path in known.items()}


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    try:
        graphlib.TopologicalSorter(edges).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_no_two_packages_import_each_other(graph: dict[str, set[str]]) -> None:
    packages: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for module, imported in graph.items():
        top = module.split(".")[0]
        packages[top] |= {name.split(".")[0] for name in imported} - {top}
    assert _cycle(packages) is None, f"packages importing each other: {_cycle(packages)}"


def test_no_module_imports_one_that_imports_it_back(graph: dict[str, set[str]]) -> None:
    # a package's __init__ is imported by each of its modules' imports: leave those edges out
    edges = {m: {i for i in imported if not m.startswith(i + ".")} for m, imported in graph.items()}
    assert _cycle(edges) is None, f"an import cycle: {' -> '.join(_cycle(edges) or [])}"


def test_the_graph_sees_the_imports_it_must(graph: dict[str, set[str]]) -> None:
    """Guards the check itself: a parser that found no imports would pass the two above."""
    assert "telemetry.prometheus" in graph["rollout.controller"]
    assert "mesh.router.base" in graph["rollout.controller"]
    assert "functions.cli" in graph["mesh.local.function_host"]  # a lazy import counts
