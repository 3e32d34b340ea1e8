"""One small routing interface, whichever mesh holds the routes (after Flagger's `pkg/router`).

The boundary it draws: callers (the CLI, the observer, a rollout) say *what* should be in
force, a rollout step or the weights of a service's default route, and read back what is;
a `Router` decides *how*. The local implementation asks a running `voting up` through its
control API; the Kubernetes one (`mesh/router/kubernetes.py`) applies objects through the API
server. Only `router_for` (`mesh/router/factory.py`) knows which one it returns::

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

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from mesh.steps import Step

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

    async def tls_check(self, service: str) -> list[dict[str, Any]]:
        """`istioctl authn tls-check`-like rows for a service (or "all"): the configured
        modes and whether they agree; the local system also probes each pod."""
        ...

    async def get_routes(self, service: str) -> list[Route]:
        """The destinations and weights of the service's default route."""
        ...

    async def set_routes(self, service: str, routes: Sequence[Route]) -> None:
        """Give the service's default route these destinations and weights (sum 100)."""
        ...

    async def get_http(self, service: str) -> list[dict[str, Any]]:
        """The `http` rules of the service's VirtualService, as in force."""
        ...

    async def set_http(self, service: str, rules: Sequence[dict[str, Any]]) -> None:
        """Replace the `http` rules of the service's VirtualService (a rollout's phases)."""
        ...

    async def report_rollout(self, progress: dict[str, Any]) -> None:
        """Keep a rollout's progress (rollout/progress.py) where `status()["rollout"]` reads it."""
        ...

    async def take_rollout_commands(self) -> list[dict[str, Any]]:
        """The verbs (`voting rollout pause|resume|promote|abort|confirm`) asked for since the
        last call, for the rollout's controller."""
        ...

    async def rollout_command(self, verb: str, by: str) -> None:
        """Ask the rollout's controller for `verb`; a `CommandRefused` (a RouterError or a
        MeshError) when it does not apply now."""
        ...

    async def close(self) -> None:
        """Release connections; the router is not used afterwards."""
        ...
