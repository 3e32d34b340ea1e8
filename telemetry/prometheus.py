"""The one Prometheus client of the project: PromQL over HTTP with a hard deadline.

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
from typing import Any

import aiohttp

from telemetry.errors import PrometheusQueryError, PrometheusUnreachable


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
