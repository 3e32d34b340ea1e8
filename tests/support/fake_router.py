"""A Router that keeps routes in memory, for tests of the rollout loop without a mesh."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from mesh.router.base import Route
from mesh.router.routes import default_route

# Step 4's voting-app rules, as mesh/istio/voting-app/canary-v2-0 writes them.
CANARY_STEP_RULES: list[dict[str, Any]] = [
    {
        "name": "featureflag-v2-0",
        "match": [
            {
                "uri": {"prefix": "/"},
                "headers": {"cookie": {"regex": "^(.*?; ?)?(featureflag=on)(;.*)?$"}},
            }
        ],
        "route": [
            {"destination": {"host": "voting-app", "port": {"number": 8080}, "subset": "v2-0"}}
        ],
    },
    {
        "name": "v1-0",
        "match": [{"uri": {"prefix": "/"}}],
        "route": [
            {"destination": {"host": "voting-app", "port": {"number": 8080}, "subset": "v1-0"}}
        ],
    },
]


class FakeRouter:
    """Records every step applied and every set of `http` rules, in order."""

    target = "fake"

    def __init__(self, step: str = "canary") -> None:
        self.step = step
        self.http: list[list[dict[str, Any]]] = []
        self.steps: list[str] = []

    @property
    def routes(self) -> list[list[Route]]:
        """The default route of each set of rules, in order."""
        return [default_route({"spec": {"http": rules}}) for rules in self.http]

    async def status(self) -> dict[str, Any]:
        return {"step": {"name": self.step}, "workloads": []}

    async def apply_step(self, step: str, on_progress: Any = None) -> dict[str, Any]:
        self.step = step
        self.steps.append(step)
        return await self.status()

    async def get_http(self, service: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.http[-1] if self.http else CANARY_STEP_RULES)

    async def set_http(self, service: str, rules: Sequence[dict[str, Any]]) -> None:
        self.http.append(copy.deepcopy(list(rules)))

    async def get_routes(self, service: str) -> list[Route]:
        return self.routes[-1]

    async def set_routes(self, service: str, routes: Sequence[Route]) -> None:
        raise AssertionError("the rollout sets whole http rules (set_http), not set_routes")

    async def close(self) -> None:
        return None
