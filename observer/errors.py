"""Errors of the observer, one tree so callers can tell "no data" from "source down".

ObserverError                   base: every message says which source failed and how
├── SourceUnavailable           the mesh state could not be read (control API or Kubernetes API)
└── StepNotApplied              a rollout step was refused or is not supported by the source

Metrics that cannot be read raise `telemetry.errors.PrometheusError` (its own tree); the
dashboard shows both kinds in its status line. Lower-layer errors (kubernetes-asyncio,
mesh.local) are translated in the module that talks to them, with ``raise ... from exc``.
"""

from __future__ import annotations


class ObserverError(Exception):
    """Base class: a failure with a message fit for the status line."""


class SourceUnavailable(ObserverError):
    """The mesh state (routes, workloads, policies) could not be read."""


class StepNotApplied(ObserverError):
    """A rollout step was refused, failed, or cannot be applied through this source."""
