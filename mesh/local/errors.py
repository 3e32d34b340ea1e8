"""Errors of the local mesh (the whole tree is drawn in mesh.errors).

MeshError (mesh.errors)
├── InvalidResource, UnsupportedField, UnsupportedKind   (mesh.model.errors, re-exported)
├── BackendUnavailable     no Redis/MariaDB reachable and none can be started
├── ConfigRejected         an Envoy refused a configuration update (old one keeps serving)
└── NotRunning             no local system is running (for step/status/down)
"""

from __future__ import annotations

from mesh.errors import MeshError
from mesh.model.errors import InvalidResource, UnsupportedField, UnsupportedKind

__all__ = [
    "BackendUnavailable",
    "ConfigRejected",
    "InvalidResource",
    "MeshError",
    "NotRunning",
    "UnsupportedField",
    "UnsupportedKind",
]


class BackendUnavailable(MeshError):
    """No data store reachable and none could be started."""


class ConfigRejected(MeshError):
    """An Envoy rejected a pushed configuration; it keeps serving the previous one."""


class NotRunning(MeshError):
    """No local system is running."""
