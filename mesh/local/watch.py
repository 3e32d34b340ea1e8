"""`voting up --watch`: the local inner loop, like `skaffold dev` in a cluster.

A change to a function's code rolls that function's pods onto the new code (new pods first,
then routes, then the old pods go); a change to a manifest re-renders the current step and
applies it live, or is rejected with the reason while the old routes keep serving.
"""

from __future__ import annotations

from pathlib import Path

from watchfiles import Change, awatch

import functions
import mesh
from functions.names import FUNCTION_APPS
from mesh.local.system import LocalMesh

ALL_APPS = set(FUNCTION_APPS.values())


def _relevant(change: Change, path: str) -> bool:
    name = Path(path).name
    return not name.startswith(".") and name.endswith((".py", ".yaml", ".yml", ".html", ".sql"))


def affected_apps(paths: list[Path], functions_dir: Path) -> set[str]:
    """Which apps run code from these files: a function's own folder, or all for shared code."""
    apps: set[str] = set()
    for path in paths:
        try:
            relative = path.relative_to(functions_dir)
        except ValueError:
            continue
        top = relative.parts[0] if len(relative.parts) > 1 else ""
        apps |= {FUNCTION_APPS[top]} if top in FUNCTION_APPS else ALL_APPS
    return apps


async def watch_sources(system: LocalMesh) -> None:
    """Run until cancelled: react to every saved change under functions/ and mesh/."""
    functions_dir = Path(functions.__file__).resolve().parent
    mesh_dir = Path(mesh.__file__).resolve().parent
    runner_dir = mesh_dir / "local"
    system.event(f"watching {functions_dir} and {mesh_dir} for changes")
    async for changes in awatch(functions_dir, mesh_dir, watch_filter=_relevant, debounce=300):
        paths = [Path(p).resolve() for _, p in changes]
        if any(runner_dir in p.parents for p in paths):
            system.event("the local runner's own code changed: restart `voting up` to use it")
        manifests = [
            p
            for p in paths
            if mesh_dir in p.parents
            and runner_dir not in p.parents
            and p.suffix in (".yaml", ".yml")
        ]
        if manifests:
            system.event(f"manifest changed: {', '.join(p.name for p in manifests)}")
            await system.reload_manifests()
        apps = affected_apps(paths, functions_dir)
        if apps:
            try:
                await system.restart_apps(apps)
            except Exception as exc:  # keep watching whatever happens to one reload
                system.event(f"rolling {', '.join(sorted(apps))} failed: {exc}")
