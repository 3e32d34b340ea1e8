"""Errors of the local mesh.

MeshError                  base: every message names the resource or process concerned
├── UnsupportedField       a resource uses a field the local mesh does not honour
├── InvalidResource        a resource is malformed or refers to something missing
├── BackendUnavailable     no Redis/MariaDB reachable and none can be started
├── ConfigRejected         an Envoy refused a configuration update (old one keeps serving)
└── NotRunning             no local system is running (for step/status/down)
"""

from __future__ import annotations


class MeshError(Exception):
    """Base class: a failure of the local mesh with a message fit for the user."""


class UnsupportedField(MeshError):
    """A resource field the local mesh would otherwise silently ignore."""

    def __init__(self, resource: str, path: str) -> None:
        super().__init__(f"{resource}: unsupported field {path}")
        self.resource = resource
        self.path = path


class InvalidResource(MeshError):
    """A resource that is malformed or names something that does not exist."""


class BackendUnavailable(MeshError):
    """No data store reachable and none could be started."""


class ConfigRejected(MeshError):
    """An Envoy rejected a pushed configuration; it keeps serving the previous one."""


class NotRunning(MeshError):
    """No local system is running."""
