"""Errors of the Kubernetes router. Every message names the resource concerned, Flagger-style
(`VirtualService voting-app.voting: ...`), and says what to do where there is something to do.

RouterError (mesh.router)        what callers catch, whichever router they hold
└── ClusterError                 a failure talking to a cluster
    ├── KubeconfigError          no kubeconfig, or no such context in it
    ├── Unreachable              the API server does not answer
    ├── Unauthorized             401: the credentials were refused
    ├── Forbidden                403: RBAC does not allow this verb on this resource
    ├── NotServed                404 on a type's path: the API (e.g. Istio's CRDs) is not installed
    ├── NotFound                 404 on an object the caller needs
    ├── Conflict                 409: another field manager owns a field we set
    ├── Invalid                  400/422: the API server refused the object
    ├── UnknownKind              a rendered object of a kind this package has no REST path for
    ├── RolloutFailed            a Deployment did not become ready in time, or stalled
    └── ApiError                 any other answer

`mesh.cluster.api.translate` turns kubernetes-asyncio's ApiException (and connection errors)
into these, in one place.
"""

from __future__ import annotations

from mesh.router.base import RouterError


class ClusterError(RouterError):
    """Base: a failure of the Kubernetes router."""


class KubeconfigError(ClusterError):
    """The kubeconfig is missing or unusable, or names no such context."""


class Unreachable(ClusterError):
    """The API server could not be reached."""


class Unauthorized(ClusterError):
    """HTTP 401."""


class Forbidden(ClusterError):
    """HTTP 403: an RBAC refusal."""


class NotServed(ClusterError):
    """A resource type the API server does not serve (a CRD not installed)."""


class NotFound(ClusterError):
    """An object that does not exist."""


class Conflict(ClusterError):
    """A server-side apply conflict with another field manager."""


class Invalid(ClusterError):
    """An object refused by validation or admission."""


class UnknownKind(ClusterError):
    """A rendered object whose kind has no REST mapping here."""


class RolloutFailed(ClusterError):
    """Deployments that did not become ready."""


class ApiError(ClusterError):
    """Any other failed call."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
