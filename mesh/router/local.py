"""The local implementation of `Router`: a thin adapter over a running `voting up`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mesh.router.base import Progress, Route, RouterError
from mesh.router.routes import (
    default_route,
    find_virtual_service,
    http_rules,
    with_default_route,
    with_http_rules,
)
from mesh.steps import Step, StepError, resolve_step


class LocalRouter:
    """A thin adapter over `mesh.local.control.ControlClient` (a running `voting up`).

    `set_routes` re-applies the resources in force (as the running system reports them) with
    one VirtualService edited, so edits made by others, such as an injected fault, are kept.
    """

    def __init__(self, state_dir: Path) -> None:
        from mesh.local.control import ControlClient

        self.client = ControlClient(state_dir)
        self.target = f"local system (state in {state_dir})"
        self._in_force: tuple[Step, list[dict[str, Any]]] | None = None

    async def apply_step(
        self, step: str | int | Step, on_progress: Progress | None = None
    ) -> dict[str, Any]:
        target = self._resolve(step)
        if on_progress:
            on_progress(f"applying step {target.number} ({target.name}) to the {self.target}")
        status = await self._call(self.client.step(str(target.number)))
        self._in_force = None
        return status

    async def status(self) -> dict[str, Any]:
        return await self._call(self.client.status())

    async def tls_check(self, service: str) -> list[dict[str, Any]]:
        from mesh.local.tlscheck import tls_check

        status = await self.status()
        return await self._call(tls_check(status, service, self.client.state_dir))

    async def get_routes(self, service: str) -> list[Route]:
        _, documents = await self._documents()
        return default_route(find_virtual_service(documents, service))

    async def set_routes(self, service: str, routes: Sequence[Route]) -> None:
        step, documents = await self._documents()
        index = documents.index(find_virtual_service(documents, service))
        edited = with_default_route(documents[index], service, routes)
        if edited == documents[index]:
            return
        updated = [*documents[:index], edited, *documents[index + 1 :]]
        await self._call(self.client.apply(str(step.number), updated))
        self._in_force = None

    async def get_http(self, service: str) -> list[dict[str, Any]]:
        _, documents = await self._documents()
        return http_rules(find_virtual_service(documents, service))

    async def set_http(self, service: str, rules: Sequence[dict[str, Any]]) -> None:
        step, documents = await self._documents()
        index = documents.index(find_virtual_service(documents, service))
        edited = with_http_rules(documents[index], rules)
        if edited == documents[index]:
            return
        updated = [*documents[:index], edited, *documents[index + 1 :]]
        await self._call(self.client.apply(str(step.number), updated))
        self._in_force = None

    async def report_rollout(self, progress: dict[str, Any]) -> None:
        await self._call(self.client.report_rollout(progress))

    async def take_rollout_commands(self) -> list[dict[str, Any]]:
        return await self._call(self.client.take_rollout_commands())

    async def rollout_command(self, verb: str, by: str) -> None:
        await self._call(self.client.rollout_command(verb, by))

    async def close(self) -> None:
        return None

    async def _documents(self) -> tuple[Step, list[dict[str, Any]]]:
        """The step and the resources in force, as the running system applied them."""
        if self._in_force is None:
            in_force = await self._call(self.client.documents())
            if not in_force.get("step"):
                raise RouterError(f"{self.target}: no step in force yet")
            self._in_force = (self._resolve(in_force["step"]["number"]), in_force["documents"])
        return self._in_force

    @staticmethod
    def _resolve(step: str | int | Step) -> Step:
        try:
            return resolve_step(step)
        except StepError as exc:
            raise RouterError(str(exc)) from exc

    @staticmethod
    async def _call(call: Any) -> Any:
        from mesh.local.errors import MeshError

        try:
            return await call
        except MeshError as exc:
            raise RouterError(str(exc)) from exc
