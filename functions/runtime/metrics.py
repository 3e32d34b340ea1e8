"""Prometheus metrics, one CollectorRegistry per app.

A per-app registry (not prometheus-client's global one) lets tests and the local mesh
run several functions in one process without their series colliding.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

# Request latency buckets around the 2 s page budget.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


class Metrics:
    """The runtime's HTTP series plus whatever a function registers on `registry`."""

    def __init__(self, function: str, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        info = Gauge(
            "function_info",
            "The function and version this process runs (always 1).",
            ("function", "version"),
            registry=self.registry,
        )
        info.labels(function, version).set(1)
        self.requests = Counter(
            "http_requests",
            "HTTP requests served, by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to serve an HTTP request, by route template and method.",
            ("route", "method"),
            buckets=_BUCKETS,
            registry=self.registry,
        )

        self.shed_requests = Counter(
            "http_requests_shed",
            "Requests answered 503 at once because MAX_IN_FLIGHT were being served.",
            registry=self.registry,
        )

    def shed(self) -> None:
        """Count one request shed by the admission limit."""
        self.shed_requests.inc()

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one served request."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
