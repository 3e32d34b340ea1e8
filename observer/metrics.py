"""Runs the named queries of `telemetry.queries` and folds the answers into a `Metrics`.

Shared by the local and the cluster source: only the Prometheus URL and the label scope
differ. A failed round never raises: it returns ``Metrics`` whose state says why
("unreachable" or "error"), so the dashboard keeps every other panel live.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from observer.model import SERVICES, EdgeMetrics, Metrics, VersionMetrics
from telemetry.errors import PrometheusQueryError, PrometheusUnreachable
from telemetry.prometheus import PrometheusClient, Sample
from telemetry.queries import (
    DEFAULT_WINDOW,
    PROXY_QUERIES,
    SHADOW_SUFFIX,
    render,
    render_proxy,
)

# Instant queries run every round, and the VersionMetrics field each one fills.
VERSION_QUERIES: Mapping[str, str] = {
    "request_rate": "rps",
    "request_share": "share",
    "success_rate": "success",
    "latency_p50": "p50_ms",
    "latency_p99": "p99_ms",
}
EDGE_QUERIES: Mapping[str, str] = {"edge_request_rate": "rps", "edge_mtls_share": "mtls_share"}


class MetricsReader:
    """Reads one round of mesh metrics from a Prometheus; history is refreshed less often."""

    def __init__(
        self,
        client: PrometheusClient,
        *,
        services: tuple[str, ...] = SERVICES,
        window: str = DEFAULT_WINDOW,
        scope: str = "",
        history_span_s: float = 300.0,
        history_step_s: float = 10.0,
    ) -> None:
        self.client = client
        self.services = services
        self.window = window
        self.scope = scope
        self.history_span_s = history_span_s
        self.history_step_s = history_step_s
        self._history: dict[tuple[str, str], tuple[float | None, ...]] = {}
        self._history_at = 0.0

    def query(self, name: str) -> str:
        """The PromQL this reader sends for a named query."""
        return render(name, self.services, self.window, self.scope)

    async def read(self) -> Metrics:
        names = [*VERSION_QUERIES, *EDGE_QUERIES, "service_mtls_share"]
        queries = {n: self.query(n) for n in names}
        shadows = tuple(f"{s}{SHADOW_SUFFIX}" for s in self.services)
        queries["mirror_rate"] = render("request_rate", shadows, self.window, self.scope)
        queries.update({n: render_proxy(n, self.window) for n in PROXY_QUERIES})
        try:
            results = await self.client.query_many(queries)
        except PrometheusUnreachable as exc:
            return Metrics.unavailable("unreachable", str(exc), self.client.base_url, self.window)
        except PrometheusQueryError as exc:
            return Metrics.unavailable("error", str(exc), self.client.base_url, self.window)
        await self._refresh_history()
        return Metrics(
            state="up",
            url=self.client.base_url,
            versions=_versions(results),
            service_mtls={
                s.labels.get("destination_service_name", "?"): s.value
                for s in results["service_mtls_share"]
            },
            edges=_edges(results),
            mirrored={
                (
                    s.labels.get("destination_service_name", "?").removesuffix(SHADOW_SUFFIX),
                    s.labels.get("destination_version", "unknown"),
                ): s.value
                for s in results["mirror_rate"]
            },
            overflow=_by_version(results["overflow_rate"]),
            ejected=_by_version(results["ejections_active"]),
            history=dict(self._history),
            fetched_at=time.time(),
            window=self.window,
        )

    async def _refresh_history(self) -> None:
        """Share per version over the last minutes, at most once per history step."""
        now = time.time()
        if now - self._history_at < self.history_step_s:
            return
        step = self.history_step_s
        end = now - now % step
        start = end - self.history_span_s + step
        try:
            series = await self.client.query_range(self.query("request_share"), start, end, step)
        except (PrometheusUnreachable, PrometheusQueryError):
            return  # keep the previous history; the instant round already reported state
        grid = [start + i * step for i in range(round(self.history_span_s / step))]
        history = {}
        for one in series:
            values = {round(t / step): v for t, v in one.points}
            key = (
                one.labels.get("destination_service_name", "?"),
                one.labels.get("destination_version", "unknown"),
            )
            history[key] = tuple(values.get(round(t / step)) for t in grid)
        self._history = history
        self._history_at = now


def _by_version(samples: list[Sample]) -> dict[tuple[str, str], float | None]:
    """Per (service, version), from the labels the local telemetry gives Envoy's stats
    (mesh/local/telemetry.py); a mirror's `-shadow` twin is not the service's own."""
    found: dict[tuple[str, str], float | None] = {}
    for sample in samples:
        service = sample.labels.get("destination_service_name", "")
        version = sample.labels.get("destination_version", "")
        if not service or not version or service.endswith(SHADOW_SUFFIX) or sample.value is None:
            continue
        found[(service, version)] = (found.get((service, version)) or 0.0) + sample.value
    return found


def _versions(results: Mapping[str, list[Sample]]) -> dict[tuple[str, str], VersionMetrics]:
    fields: dict[tuple[str, str], dict[str, float | None]] = {}
    for query, attribute in VERSION_QUERIES.items():
        for sample in results[query]:
            key = (
                sample.labels.get("destination_service_name", "?"),
                sample.labels.get("destination_version", "unknown"),
            )
            fields.setdefault(key, {})[attribute] = sample.value
    return {key: VersionMetrics(**values) for key, values in fields.items()}


def _edges(results: Mapping[str, list[Sample]]) -> tuple[EdgeMetrics, ...]:
    fields: dict[tuple[str, str, str], dict[str, float | None]] = {}
    for query, attribute in EDGE_QUERIES.items():
        for sample in results[query]:
            key = (
                sample.labels.get("source_workload", "unknown"),
                sample.labels.get("destination_workload", "unknown"),
                sample.labels.get("destination_service_name", "?"),
            )
            fields.setdefault(key, {})[attribute] = sample.value
    return tuple(EdgeMetrics(src, dst, svc, **values) for (src, dst, svc), values in fields.items())
