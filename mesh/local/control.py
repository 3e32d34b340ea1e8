"""The supervisor's control API on loopback, and the client the other commands use.

`voting up` serves it; `voting step`, `voting status`, `voting down` and the observer call it.
Where it listens is written to `<state dir>/control.json`.

    GET  /status             what runs, the routes and mTLS modes in force, recent events
    POST /step  {"step": S}  apply a rollout step (200 with the new status, 400/409 with the reason)
    POST /apply {"step": S, "documents": [...]}  apply edited resources under step S's name
    GET  /documents          the resources in force, as applied, and the step as rendered
    PUT  /rollout {...}      a rollout's progress, shown in /status
    POST /rollout/commands {"verb": V, "by": B}  queue pause/resume/promote/abort/confirm
    DELETE /rollout/commands  the queued commands, for the controller (and cleared)
    POST /shutdown           stop everything
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from mesh.local.errors import MeshError, NotRunning
from mesh.local.system import LocalMesh
from mesh.rollout_lease import RUNNING, CommandRefused, check_command
from mesh.steps import StepError, resolve_step

MESH_KEY = web.AppKey("mesh", LocalMesh)
STOP_KEY = web.AppKey("stop", asyncio.Event)


async def _status(request: web.Request) -> web.Response:
    return web.json_response(request.app[MESH_KEY].status())


async def _step(request: web.Request) -> web.Response:
    try:
        body = await request.json()
        step = str(body["step"])
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": 'expected JSON {"step": "<1-5 or name>"}'}, status=400)
    mesh = request.app[MESH_KEY]
    if mesh.lock.locked():
        return web.json_response({"error": "another step is being applied"}, status=409)
    try:
        await mesh.apply_step(step)
    except (MeshError, StepError) as exc:
        mesh.event(f"step {step} failed: {exc}")
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(mesh.status())


async def _apply(request: web.Request) -> web.Response:
    """Apply edited resources under a step's name (for `--watch`, rollouts and fault drills)."""
    try:
        body = await request.json()
        documents = body["documents"]
        step = resolve_step(str(body["step"]))
        if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
            raise TypeError("documents must be a list of objects")
    except (ValueError, KeyError, TypeError, StepError) as exc:
        return web.json_response({"error": f"expected {{step, documents}}: {exc}"}, status=400)
    mesh = request.app[MESH_KEY]
    try:
        await mesh.apply_documents(documents, step)
    except MeshError as exc:
        mesh.event(f"apply refused: {exc}")
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(mesh.status())


async def _documents(request: web.Request) -> web.Response:
    mesh = request.app[MESH_KEY]
    step = {"number": mesh.step.number, "name": mesh.step.name} if mesh.step else None
    rendered = mesh.rendered.get(mesh.step) if mesh.step else None
    return web.json_response({"step": step, "documents": mesh.documents, "rendered": rendered})


async def _rollout(request: web.Request) -> web.Response:
    """A rollout reports its progress here so that `status` (and the dashboard) show it."""
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise TypeError("expected an object")
    except (ValueError, TypeError) as exc:
        return web.json_response({"error": f"expected a JSON object: {exc}"}, status=400)
    mesh = request.app[MESH_KEY]
    mesh.rollout = body
    if body.get("state") != RUNNING:
        mesh.rollout_commands.clear()  # an ended rollout acts on nothing queued for it
    return web.json_response({"ok": True})


async def _queue_command(request: web.Request) -> web.Response:
    """`voting rollout pause|resume|promote|abort|confirm`: refused unless it applies now."""
    mesh = request.app[MESH_KEY]
    try:
        body = await request.json()
        verb, by = str(body["verb"]), str(body.get("by") or "someone")
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": 'expected JSON {"verb": V, "by": B}'}, status=400)
    try:
        check_command(mesh.rollout, verb)
        if any(c["verb"] == verb for c in mesh.rollout_commands):
            raise CommandRefused(f"a {verb} is already on its way to the controller")
    except CommandRefused as exc:
        return web.json_response({"error": str(exc)}, status=409)
    mesh.rollout_commands.append({"verb": verb, "by": by, "time": time.time()})
    mesh.event(f"rollout {verb} requested by {by}")
    return web.json_response({"queued": verb})


async def _take_commands(request: web.Request) -> web.Response:
    mesh = request.app[MESH_KEY]
    commands, mesh.rollout_commands[:] = list(mesh.rollout_commands), []
    return web.json_response({"commands": commands})


async def _shutdown(request: web.Request) -> web.Response:
    request.app[STOP_KEY].set()
    return web.json_response({"stopping": True})


def control_app(mesh: LocalMesh, stop: asyncio.Event) -> web.Application:
    app = web.Application()
    app[MESH_KEY] = mesh
    app[STOP_KEY] = stop
    app.router.add_get("/status", _status)
    app.router.add_post("/step", _step)
    app.router.add_post("/apply", _apply)
    app.router.add_get("/documents", _documents)
    app.router.add_put("/rollout", _rollout)
    app.router.add_post("/rollout/commands", _queue_command)
    app.router.add_delete("/rollout/commands", _take_commands)
    app.router.add_post("/shutdown", _shutdown)
    return app


def write_control_file(state_dir: Path, port: int) -> None:
    path = state_dir / "control.json"
    path.write_text(json.dumps({"pid": os.getpid(), "port": port}))


class ControlClient:
    """Talks to a running `voting up` through its control API."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def base_url(self) -> str:
        try:
            info = json.loads((self.state_dir / "control.json").read_text())
        except (OSError, ValueError) as exc:
            raise NotRunning(
                f"no local system is running (nothing in {self.state_dir}); start it with `voting up`"
            ) from exc
        return f"http://127.0.0.1:{info['port']}"

    async def call(self, method: str, path: str, payload: Any = None, timeout: float = 120) -> Any:
        url = self.base_url() + path
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                session.request(method, url, json=payload) as response,
            ):
                data = await response.json(content_type=None)
                if response.status >= 400:
                    raise MeshError(data.get("error", f"HTTP {response.status}"))
                return data
        except aiohttp.ClientConnectionError as exc:
            raise NotRunning(
                f"the local system at {url} does not answer; is `voting up` running?"
            ) from exc

    async def status(self) -> dict[str, Any]:
        return await self.call("GET", "/status", timeout=5)

    async def step(self, step: str) -> dict[str, Any]:
        return await self.call("POST", "/step", {"step": step})

    async def apply(self, step: str, documents: list[dict[str, Any]]) -> dict[str, Any]:
        return await self.call("POST", "/apply", {"step": step, "documents": documents})

    async def documents(self) -> dict[str, Any]:
        return await self.call("GET", "/documents", timeout=10)

    async def report_rollout(self, progress: dict[str, Any]) -> None:
        await self.call("PUT", "/rollout", progress, timeout=5)

    async def rollout_command(self, verb: str, by: str) -> dict[str, Any]:
        return await self.call("POST", "/rollout/commands", {"verb": verb, "by": by}, timeout=5)

    async def take_rollout_commands(self) -> list[dict[str, Any]]:
        return (await self.call("DELETE", "/rollout/commands", timeout=5))["commands"]

    async def shutdown(self) -> None:
        await self.call("POST", "/shutdown", timeout=5)
