"""The root of the mesh package's errors: every message names the resource or process concerned.

MeshError                      (mesh.errors)
├── InvalidResource            (mesh.model.errors) malformed, or refers to something missing
│   ├── UnsupportedField       a field the local mesh does not honour
│   └── UnsupportedKind        an Istio kind the local mesh does not honour
├── BackendUnavailable         (mesh.local.errors) no Redis/MariaDB reachable, none can start
├── ConfigRejected             (mesh.local.errors) an Envoy refused an update (old one serves)
├── NotRunning                 (mesh.local.errors) no local system is running
└── CommandRefused             (mesh.rollout_lease) a rollout verb that does not apply now
"""

from __future__ import annotations


class MeshError(Exception):
    """Base class: a failure of the mesh with a message fit for the user."""
