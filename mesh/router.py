"""One small routing interface, whichever mesh holds the routes (after Flagger's `pkg/router`).

The boundary it draws: callers (the CLI, the observer, a rollout) say *what* should be in
force, a rollout step or the weights of a service's default route, and read back what is;
a `Router` decides *how*. The local implementation asks a running `voting up` through its
control API; the Kubernetes one (`mesh.cluster.router`) applies objects through the API
server. Only `router_for` knows which one it returns::

    router = router_for(context="aks-demo")          # or router_for() for the local system
    try:
        status = await router.apply_step("canary")   # LocalMesh.status() shape
        await router.set_routes("voting-app", [Route("v1-0", 90), Route("v2-0", 10)])
        print(await router.get_routes("voting-app"))
    finally:
        await router.close()

Every method is idempotent: applying a step twice, or setting the routes already in force,
changes nothing. Every error is a `RouterError` whose message names the resource concerned
(`VirtualService voting-app.voting: ...`); `mesh.cluster.errors` draws the Kubernetes ones.

The *default route* of a service is the last `http` rule of the VirtualService named after
it (the catch-all comes last, see docs/contracts.md); canary weights live there.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

from mesh.steps import Step, StepError, resolve_step

Progress = Callable[[str], None]


class Route(NamedTuple):
    """One destination of a service's default route: a DestinationRule subset and its weight."""

    subset: str | None
    weight: int


class RouterError(Exception):
    """Base of every error a Router raises; the message names the resource and fits a user."""


@runtime_checkable
class Router(Protocol):
    """Where the routes live: a local `voting up` or a Kubernetes namespace with Istio."""

    target: str
    """Where this router acts, for messages ("cluster context aks, namespace voting")."""

    async def apply_step(
        self, step: str | int | Step, on_progress: Progress | None = None
    ) -> dict[str, Any]:
        """Make a rollout step the one in force; return the new status."""
        ...

    async def status(self) -> dict[str, Any]:
        """Workloads, services, routes and mTLS modes in force (`LocalMesh.status()` shape)."""
        ...

    async def get_routes(self, service: str) -> list[Route]:
        """The destinations and weights of the service's default route."""
        ...

    async def set_routes(self, service: str, routes: Sequence[Route]) -> None:
        """Give the service's default route these destinations and weights (sum 100)."""
        ...

    async def close(self) -> None:
        """Release connections; the router is not used afterwards."""
        ...


def router_for(
    context: str | None = None,
    *,
    namespace: str = "voting",
    kubeconfig: str | Path | None = None,
    state_dir: Path | None = None,
    cluster: bool | None = None,
    rollout_timeout: float = 300.0,
    images: dict[str, str] | None = None,
) -> Router:
    """The one place that chooses: a cluster when a context or kubeconfig is named (or
    `cluster=True`: then the kubeconfig's current context), else the local system.

    `rollout_timeout` bounds a cluster step's wait for its Deployments and `images` names the
    container images a cluster pulls (`{"voting-app": "<registry>/voting-app:0.1.0"}`); the
    local system has its own deadlines and runs the functions as processes."""
    if cluster is None:
        cluster = context is not None or kubeconfig is not None
    if cluster:
        from mesh.cluster.router import KubernetesRouter

        return KubernetesRouter.from_kubeconfig(
            context=context,
            kubeconfig=kubeconfig,
            namespace=namespace,
            timeout=rollout_timeout,
            images=images,
        )
    if state_dir is None:
        from mesh.local.paths import default_state_dir

        state_dir = default_state_dir()
    return LocalRouter(state_dir)


# ---------------------------------------------------------------- default routes, as data
def default_route(virtual_service: dict[str, Any]) -> list[Route]:
    """The destinations of a VirtualService's last `http` rule."""
    rules = (virtual_service.get("spec") or {}).get("http") or []
    if not rules:
        raise RouterError(f"{_describe(virtual_service)}: has no http rules")
    routes = rules[-1].get("route") or []
    return [
        Route(
            (r.get("destination") or {}).get("subset"),
            int(r.get("weight", 100 if len(routes) == 1 else 0)),
        )
        for r in routes
    ]


def with_default_route(
    virtual_service: dict[str, Any], service: str, routes: Sequence[Route]
) -> dict[str, Any]:
    """A copy of the VirtualService whose last `http` rule sends to these subsets and weights.

    The destination port of the rule being replaced is kept.
    """
    check_routes(virtual_service, routes)
    result = copy.deepcopy(virtual_service)
    rules = result["spec"]["http"]
    old = rules[-1].get("route") or []
    port = next(((r.get("destination") or {}).get("port") for r in old if "destination" in r), None)
    new = []
    for route in routes:
        destination: dict[str, Any] = {"host": service}
        if port is not None:
            destination["port"] = copy.deepcopy(port)
        if route.subset is not None:
            destination["subset"] = route.subset
        new.append({"destination": destination, "weight": route.weight})
    rules[-1]["route"] = new
    return result


def check_routes(virtual_service: dict[str, Any], routes: Sequence[Route]) -> None:
    where = _describe(virtual_service)
    if not routes:
        raise RouterError(f"{where}: a route needs at least one destination")
    if any(r.weight < 0 or r.weight > 100 for r in routes):
        raise RouterError(f"{where}: weights must be between 0 and 100, got {list(routes)}")
    if sum(r.weight for r in routes) != 100:
        raise RouterError(f"{where}: weights must add up to 100, got {list(routes)}")
    if len({r.subset for r in routes}) != len(routes):
        raise RouterError(f"{where}: a subset may appear once, got {list(routes)}")
    if not (virtual_service.get("spec") or {}).get("http"):
        raise RouterError(f"{where}: has no http rules")


def _describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind', 'object')} {meta.get('name')}.{meta.get('namespace', 'voting')}"


def find_virtual_service(documents: list[dict[str, Any]], service: str) -> dict[str, Any]:
    for doc in documents:
        if doc.get("kind") == "VirtualService" and doc["metadata"]["name"] == service:
            return doc
    raise RouterError(f"VirtualService {service}.voting: not in the step in force")


# ---------------------------------------------------------------- the local implementation
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
