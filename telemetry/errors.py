"""Errors of reading telemetry, one tree so callers can tell "no data" from "source down".

TelemetryError                  base: every message says which Prometheus failed and how
└── PrometheusError             anything that kept a metric from being read
    ├── PrometheusUnreachable   no answer: refused, timed out, not HTTP/JSON ("Prometheus unreachable")
    └── PrometheusQueryError    Prometheus answered with an error (bad PromQL, overload)

An empty query result is not an error: it is "no data" (None), distinct from 0. aiohttp's
errors are translated in `telemetry/prometheus.py`, always with ``raise ... from exc``.
"""

from __future__ import annotations


class TelemetryError(Exception):
    """Base class: a failure with a message fit for a status line or a CLI."""


class PrometheusError(TelemetryError):
    """A metric could not be read."""


class PrometheusUnreachable(PrometheusError):
    """Prometheus did not answer (connection refused, timeout, not a Prometheus API)."""


class PrometheusQueryError(PrometheusError):
    """Prometheus answered but refused the query; `error_type` is its errorType."""

    def __init__(self, message: str, error_type: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type
