"""The PromQL the observer runs, as named templates, and the one client that runs them.

After Flagger's metric observers: the queries are data, kept here and nowhere else, written
against Istio's standard metric names and labels only (``istio_requests_total``,
``istio_request_duration_milliseconds_bucket``; ``reporter``, ``destination_service_name``,
``destination_version``, ``source_workload``, ``destination_workload``, ``response_code``,
``connection_security_policy``), so the same strings work against the local mesh's
Prometheus and against a real Istio Prometheus in a cluster.

Which side reports what, and why:

- Request share, request rate and success rate use ``reporter="source"`` (as Kiali does):
  the caller's proxy sees every request it routed, including the ones its own fault
  injection aborted. Istio injects faults in the SOURCE proxy, so an injected abort never
  reaches the destination and only the source side counts it as a 5xx.
- Latency uses ``reporter="destination"`` (as Flagger does): the time the serving
  workload's proxy measured, without the caller's network or retries.
- Mutual-TLS share uses ``reporter="destination"``: only the server side knows whether the
  connection it accepted was mutual TLS (``connection_security_policy="mutual_tls"``).

Templates use ``string.Template`` placeholders (PromQL's own braces stay untouched):
``$services`` a regex of service names, ``$window`` the rate window (``1m``), ``$scope``
extra label matchers starting with a comma (e.g. ``,destination_service_namespace="voting"``
in a cluster; empty locally).

Ratios keep "no data" apart from 0: a numerator that has no series is replaced by
``0 * denominator`` (``or``), so traffic with no successful/mTLS request reads 0, while no
traffic at all gives no series or NaN, which the client returns as None.

The client is plain aiohttp against ``/api/v1/query`` and ``/api/v1/query_range`` rather than
prometheus-api-client: the observer's sources are asyncio (control API, kubernetes-asyncio),
so queries run concurrently in one async worker with a hard per-request deadline and no
thread per call, and the three outcomes the dashboard must show differently stay distinct:
a result (maybe empty = no data), ``PrometheusQueryError`` (Prometheus said no) and
``PrometheusUnreachable`` (no usable answer).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from string import Template
from typing import Any

import aiohttp

from observer.errors import PrometheusError, PrometheusQueryError, PrometheusUnreachable

# Label matchers shared by every query; spelled out inside each template below so that each
# query reads as the PromQL it is.
_SRC = 'reporter="source", destination_service_name=~"$services"$scope'
_DST = 'reporter="destination", destination_service_name=~"$services"$scope'
_BY_VERSION = "destination_service_name, destination_version"
_BY_EDGE = "source_workload, destination_workload, destination_service_name"

QUERIES: Mapping[str, str] = {
    # Requests per second per service and version, as the callers' proxies counted them.
    "request_rate": (f"sum by ({_BY_VERSION}) (rate(istio_requests_total{{{_SRC}}}[$window]))"),
    # Share of a service's requests that went to each version (0..1), like Kiali's graph.
    "request_share": (
        f"sum by ({_BY_VERSION}) (rate(istio_requests_total{{{_SRC}}}[$window]))"
        " / ignoring (destination_version) group_left"
        f" sum by (destination_service_name) (rate(istio_requests_total{{{_SRC}}}[$window]))"
    ),
    # Non-5xx share per service and version (0..1); source side, so injected aborts count.
    "success_rate": (
        f'(sum by ({_BY_VERSION}) (rate(istio_requests_total{{{_SRC}, response_code!~"5.."}}[$window]))'
        f" or 0 * sum by ({_BY_VERSION}) (rate(istio_requests_total{{{_SRC}}}[$window])))"
        f" / sum by ({_BY_VERSION}) (rate(istio_requests_total{{{_SRC}}}[$window]))"
    ),
    # Latency quantiles in milliseconds per service and version, as Flagger computes them.
    "latency_p50": (
        f"histogram_quantile(0.50, sum by (le, {_BY_VERSION})"
        f" (rate(istio_request_duration_milliseconds_bucket{{{_DST}}}[$window])))"
    ),
    "latency_p99": (
        f"histogram_quantile(0.99, sum by (le, {_BY_VERSION})"
        f" (rate(istio_request_duration_milliseconds_bucket{{{_DST}}}[$window])))"
    ),
    # Requests per second per edge (caller workload -> serving workload), source side.
    "edge_request_rate": (f"sum by ({_BY_EDGE}) (rate(istio_requests_total{{{_SRC}}}[$window]))"),
    # Share of an edge's requests the server accepted over mutual TLS (0..1).
    "edge_mtls_share": (
        f'(sum by ({_BY_EDGE}) (rate(istio_requests_total{{{_DST}, connection_security_policy="mutual_tls"}}[$window]))'
        f" or 0 * sum by ({_BY_EDGE}) (rate(istio_requests_total{{{_DST}}}[$window])))"
        f" / sum by ({_BY_EDGE}) (rate(istio_requests_total{{{_DST}}}[$window]))"
    ),
    # The same per service: what share of everything a service served was mutual TLS.
    "service_mtls_share": (
        f'(sum by (destination_service_name) (rate(istio_requests_total{{{_DST}, connection_security_policy="mutual_tls"}}[$window]))'
        f" or 0 * sum by (destination_service_name) (rate(istio_requests_total{{{_DST}}}[$window])))"
        f" / sum by (destination_service_name) (rate(istio_requests_total{{{_DST}}}[$window]))"
    ),
}

DEFAULT_WINDOW = "1m"


def render(
    name: str, services: tuple[str, ...] | list[str], window: str = DEFAULT_WINDOW, scope: str = ""
) -> str:
    """The PromQL of the named query for these services (a KeyError names an unknown query)."""
    regex = "|".join(sorted(services)) or ".+"
    return Template(QUERIES[name]).substitute(services=regex, window=window, scope=scope)


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and value; NaN/Inf read as None (no data)."""

    labels: Mapping[str, str]
    value: float | None


@dataclass(frozen=True)
class Series:
    """One series of a range query: (unix time, value or None) points."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float | None], ...]


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class PrometheusClient:
    """Runs PromQL against one Prometheus HTTP API with a hard deadline per request."""

    def __init__(self, base_url: str, *, timeout: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session (it is opened lazily, inside the caller's event loop)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=16),
            )
        return self._session

    async def _call(self, path: str, form: dict[str, str]) -> Any:
        url = f"{self.base_url}{path}"
        try:
            async with self._client().post(url, data=form) as response:
                try:
                    body = await response.json(content_type=None)
                except ValueError as exc:
                    raise PrometheusUnreachable(
                        f"Prometheus unreachable: {url} answered HTTP {response.status}, not the Prometheus API"
                    ) from exc
        except TimeoutError as exc:
            raise PrometheusUnreachable(
                f"Prometheus unreachable: no answer from {self.base_url} within {self.timeout:g}s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise PrometheusUnreachable(
                f"Prometheus unreachable: {self.base_url} ({exc.__class__.__name__}: {exc})"
            ) from exc
        if not isinstance(body, dict) or "status" not in body:
            raise PrometheusUnreachable(
                f"Prometheus unreachable: {url} did not answer as Prometheus"
            )
        if body["status"] != "success":
            raise PrometheusQueryError(
                f"Prometheus refused the query: {body.get('errorType', '?')}: {body.get('error', '')}",
                str(body.get("errorType", "")),
            )
        return body.get("data", {})

    async def query(self, promql: str) -> list[Sample]:
        """Evaluate an instant query now; an empty list means no data."""
        data = await self._call("/api/v1/query", {"query": promql})
        if data.get("resultType") == "scalar":
            return [Sample({}, _number(data["result"][1]))]
        return [
            Sample(dict(item.get("metric", {})), _number(item.get("value", (0, None))[1]))
            for item in data.get("result", [])
        ]

    async def query_range(self, promql: str, start: float, end: float, step: float) -> list[Series]:
        """Evaluate a range query; each series keeps its gaps as None."""
        data = await self._call(
            "/api/v1/query_range",
            {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"},
        )
        return [
            Series(
                dict(item.get("metric", {})),
                tuple((float(t), _number(v)) for t, v in item.get("values", [])),
            )
            for item in data.get("result", [])
        ]

    async def query_many(self, queries: Mapping[str, str]) -> dict[str, list[Sample]]:
        """Run several instant queries concurrently; the first failure is raised."""
        names = list(queries)
        results = await asyncio.gather(
            *(self.query(queries[n]) for n in names), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return dict(zip(names, results, strict=True))  # type: ignore[arg-type]


__all__ = [
    "DEFAULT_WINDOW",
    "QUERIES",
    "PrometheusClient",
    "PrometheusError",
    "Sample",
    "Series",
    "render",
]
