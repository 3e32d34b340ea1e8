"""A Kubernetes cluster with Istio as a source: the mesh's Kubernetes router, plus Prometheus.

The reading and the stepping are the mesh's own (`mesh.router.kubernetes.KubernetesRouter`, on
kubernetes-asyncio): its ``status()`` lists Deployments, Pods, Services, VirtualServices,
DestinationRules and PeerAuthentications and returns the same shape as the local control
API, so both sources share ``state_from_status`` and the dashboard cannot tell them apart;
its ``apply_step()`` applies a rendered step with server-side apply, waits and prunes. This
module only adds deadlines, the error translation, progress as events, and Prometheus
(``--prometheus-url``, scoped to the namespace with Istio's ``destination_service_namespace``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from mesh.router.base import RouterError
from mesh.router.kubernetes import KubernetesRouter
from observer.errors import SourceUnavailable, StepNotApplied
from observer.metrics import MetricsReader
from observer.model import Event, MeshState, Metrics, Votes
from observer.sources.local import state_from_status
from observer.votes import read_votes
from telemetry.prometheus import PrometheusClient
from telemetry.queries import DEFAULT_WINDOW


class ClusterSource:
    """Reads (and steps) one namespace of a cluster; Prometheus and the ingress by URL."""

    kind = "cluster"

    def __init__(
        self,
        router: KubernetesRouter,
        *,
        prometheus_url: str | None = None,
        ingress_url: str | None = None,
        timeout: float = 5.0,
        window: str = DEFAULT_WINDOW,
    ) -> None:
        self.router = router
        self.timeout = timeout
        self._ingress_override = ingress_url
        self._last: MeshState | None = None
        self._events: deque[Event] = deque(maxlen=50)
        self._reader = (
            MetricsReader(
                PrometheusClient(prometheus_url, timeout=min(timeout, 2.0)),
                scope=f',destination_service_namespace="{router.namespace}"',
                window=window,
            )
            if prometheus_url
            else None
        )

    @classmethod
    def from_kubeconfig(
        cls,
        context: str | None = None,
        namespace: str = "voting",
        kubeconfig: str | Path | None = None,
        **kwargs: Any,
    ) -> ClusterSource:
        """The kubeconfig's context (or its current one); the connection is made lazily."""
        return cls(
            KubernetesRouter.from_kubeconfig(
                context=context, kubeconfig=kubeconfig, namespace=namespace
            ),
            **kwargs,
        )

    @property
    def label(self) -> str:
        return f"cluster {self.router.context or '(current context)'} ns/{self.router.namespace}"

    @property
    def ingress_url(self) -> str | None:
        return self._ingress_override or (self._last.ingress_url if self._last else None)

    def _event(self, message: str) -> None:
        self._events.append(Event(time.time(), message))

    def _state(self, status: dict[str, Any]) -> MeshState:
        state = state_from_status(status)
        return replace(
            state,
            events=(*state.events, *self._events),
            ingress_url=self._ingress_override or state.ingress_url,
            prometheus_url=self._reader.client.base_url if self._reader else None,
        )

    async def state(self) -> MeshState:
        try:
            status = await asyncio.wait_for(self.router.status(), self.timeout)
        except TimeoutError as exc:
            raise SourceUnavailable(f"Kubernetes API: no answer within {self.timeout:g}s") from exc
        except RouterError as exc:
            raise SourceUnavailable(f"Kubernetes API: {exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise SourceUnavailable(f"Kubernetes API unreachable: {exc}") from exc
        self._last = self._state(status)
        return self._last

    async def metrics(self) -> Metrics:
        if self._reader is None:
            return Metrics.unavailable("unconfigured", "no Prometheus (pass --prometheus-url)")
        return await self._reader.read()

    async def votes(self) -> Votes:
        return await read_votes(self.ingress_url, timeout=self.timeout)

    async def apply_step(self, step: int) -> MeshState:
        """Server-side apply, wait for the Deployments, prune; progress lands in the events."""
        try:
            status = await self.router.apply_step(step, on_progress=self._event)
        except RouterError as exc:
            self._event(f"step {step} failed: {exc}")
            raise StepNotApplied(f"step {step} not applied: {exc}") from exc
        self._last = self._state(status)
        return self._last

    async def aclose(self) -> None:
        if self._reader is not None:
            await self._reader.client.aclose()
        await self.router.close()
