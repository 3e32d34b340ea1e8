"""Errors of the Istio/Kubernetes model: a document the mesh cannot honour as written.

Each one names the document (`Kind name.namespace`), the field path and why, and where the
field or kind is documented by Istio, so that a user never believes a policy is in force when
it is not (see mesh.errors for the whole tree).
"""

from __future__ import annotations

from mesh.errors import MeshError


class InvalidResource(MeshError):
    """A resource that is malformed or names something that does not exist."""


class UnsupportedField(InvalidResource):
    """A resource field the local mesh would otherwise silently ignore."""

    def __init__(self, resource: str, path: str, docs: str | None = None) -> None:
        message = f"{resource}: unsupported field {path}"
        if docs:
            message += f" (not implemented by the local mesh; see {docs})"
        super().__init__(message)
        self.resource = resource
        self.path = path


class UnsupportedKind(InvalidResource):
    """An Istio kind the local mesh does not implement: refused, never ignored."""

    def __init__(self, resource: str, docs: str) -> None:
        super().__init__(
            f"{resource}: this kind is not implemented by the local mesh (see {docs}); "
            "remove it or run it on a cluster"
        )
        self.resource = resource
