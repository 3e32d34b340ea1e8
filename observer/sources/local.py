"""The local mesh as a source: its control API (`voting up`) and the Prometheus it runs.

The status JSON already holds routes, mTLS modes, replicas, step and events; this module only
translates it (``state_from_status``). Prometheus is the one the status names (``"prometheus"``)
unless ``--prometheus-url`` overrides it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mesh.local.control import ControlClient
from mesh.local.errors import MeshError
from observer.errors import SourceUnavailable, StepNotApplied
from observer.metrics import MetricsReader
from observer.model import (
    Event,
    MeshState,
    Metrics,
    Route,
    ServiceConfig,
    StepInfo,
    Votes,
    Workload,
)
from observer.rollout_progress import rollout_from_json
from observer.votes import read_votes
from telemetry.prometheus import PrometheusClient
from telemetry.queries import DEFAULT_WINDOW


def _route_notes(route: dict[str, Any]) -> str | None:
    """What the route adds to routing (abort, delay, timeout, mirror, circuit breaker...), or
    what the proxy answers itself: shown beside the route, never as ordinary traffic."""
    fault = route.get("fault")
    labels = (
        [f"abort {fault.get('abort_percent', 0):g}% {fault.get('status', '')}".strip()]
        if fault
        else []
    )
    if route.get("answered"):
        labels.insert(0, str(route["answered"]))
    labels += [str(label) for label in route.get("policies") or ()]
    return ", ".join(labels) or None


def state_from_status(status: dict[str, Any]) -> MeshState:
    """Translate `voting status --json` into a MeshState."""
    step = status.get("step")
    return MeshState(
        step=StepInfo(int(step["number"]), str(step["name"])) if step else None,
        services=tuple(
            ServiceConfig(
                name=s["name"],
                peer_authentication=s.get("peer_authentication", "?"),
                client_tls=s.get("client_tls", "?"),
                routes=tuple(
                    Route(
                        match=r.get("match", "all"),
                        subset=r.get("subset"),
                        version=r.get("version"),
                        weight=int(r.get("weight", 100)),
                        fault=_route_notes(r),
                    )
                    for r in s.get("routes", ())
                ),
            )
            for s in status.get("services", ())
        ),
        workloads=tuple(
            Workload(w["app"], w["version"], int(w.get("ready", 0)), int(w.get("desired", 0)))
            for w in status.get("workloads", ())
        ),
        events=tuple(Event(float(e["time"]), str(e["message"])) for e in status.get("events", ())),
        ingress_url=status.get("ingress"),
        prometheus_url=status.get("prometheus"),
        rollout=rollout_from_json(status.get("rollout")),
    )


class LocalSource:
    """Reads a `voting up` system through its control API; steps go through it too."""

    kind = "local"

    def __init__(
        self,
        state_dir: Path,
        *,
        prometheus_url: str | None = None,
        timeout: float = 2.0,
        window: str = DEFAULT_WINDOW,
    ) -> None:
        self.state_dir = state_dir
        self.window = window
        self.control = ControlClient(state_dir)
        self.timeout = timeout
        self._prometheus_override = prometheus_url
        self._last: MeshState | None = None
        self._reader: MetricsReader | None = None

    @property
    def label(self) -> str:
        return f"local {self.state_dir}"

    @property
    def ingress_url(self) -> str | None:
        return self._last.ingress_url if self._last else None

    async def state(self) -> MeshState:
        try:
            status = await self.control.call("GET", "/status", timeout=self.timeout)
        except TimeoutError as exc:
            raise SourceUnavailable(f"control API: no answer within {self.timeout:g}s") from exc
        except MeshError as exc:
            raise SourceUnavailable(f"control API: {exc}") from exc
        self._last = state_from_status(status)
        return self._last

    def _prometheus_url(self) -> str | None:
        return self._prometheus_override or (self._last.prometheus_url if self._last else None)

    async def metrics(self) -> Metrics:
        url = self._prometheus_url()
        if not url:
            detail = (
                "waiting for the local system"
                if self._last is None
                else "this local system runs no Prometheus (install prometheus, or pass --prometheus-url)"
            )
            return Metrics.unavailable("unconfigured", detail)
        if self._reader is None or self._reader.client.base_url != url.rstrip("/"):
            if self._reader is not None:
                await self._reader.client.aclose()
            self._reader = MetricsReader(
                PrometheusClient(url, timeout=self.timeout), window=self.window
            )
        return await self._reader.read()

    async def votes(self) -> Votes:
        if self._last is None:
            return Votes(state="unconfigured", detail="waiting for the local system")
        return await read_votes(self.ingress_url, timeout=self.timeout + 1)

    async def apply_step(self, step: int) -> MeshState:
        try:
            status = await self.control.step(str(step))
        except MeshError as exc:
            raise StepNotApplied(f"step {step} not applied: {exc}") from exc
        self._last = state_from_status(status)
        return self._last

    async def aclose(self) -> None:
        if self._reader is not None:
            await self._reader.client.aclose()
            self._reader = None
