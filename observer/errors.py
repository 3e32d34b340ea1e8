"""Errors of the observer, one tree so callers can tell "no data" from "source down".

ObserverError                   base: every message says which source failed and how
├── PrometheusError             anything that kept a metric from being read
│   ├── PrometheusUnreachable   no answer: refused, timed out, not HTTP/JSON ("Prometheus unreachable")
│   └── PrometheusQueryError    Prometheus answered with an error (bad PromQL, overload)
├── SourceUnavailable           the mesh state could not be read (control API or Kubernetes API)
└── StepNotApplied              a rollout step was refused or is not supported by the source

An empty query result is not an error: it is "no data" (None), distinct from 0.
Lower-layer errors (aiohttp, kubernetes-asyncio, mesh.local) are translated in the module
that talks to them, always with ``raise ... from exc``.
"""

from __future__ import annotations


class ObserverError(Exception):
    """Base class: a failure with a message fit for the status line."""


class PrometheusError(ObserverError):
    """A metric could not be read."""


class PrometheusUnreachable(PrometheusError):
    """Prometheus did not answer (connection refused, timeout, not a Prometheus API)."""


class PrometheusQueryError(PrometheusError):
    """Prometheus answered but refused the query; `error_type` is its errorType."""

    def __init__(self, message: str, error_type: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type


class SourceUnavailable(ObserverError):
    """The mesh state (routes, workloads, policies) could not be read."""


class StepNotApplied(ObserverError):
    """A rollout step was refused, failed, or cannot be applied through this source."""
