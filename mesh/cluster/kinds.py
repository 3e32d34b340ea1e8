"""The kinds a rollout step holds, and their REST paths: the only REST mapping this package uses.

Core (`/api/v1`), apps (`/apis/apps/v1`) and Istio's custom objects
(`/apis/networking.istio.io/v1`, `/apis/security.istio.io/v1`) all follow the same pattern,
so one table serves applying, listing and deleting::

    /api/v1/namespaces/voting/services/voting-app
    /apis/networking.istio.io/v1/namespaces/voting/virtualservices/voting-app
    /api/v1/namespaces/voting                   (a cluster-scoped Namespace)

`prune=False` marks kinds never deleted when a step no longer holds them: the Namespace
(deleting it deletes everything) and PersistentVolumeClaims (they hold the votes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesh.cluster.errors import UnknownKind

PART_OF = "app.kubernetes.io/part-of"
PROJECT = "voting-app"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "voting-mesh"
"""Field manager of every apply, and the value of the managed-by label it adds."""
OWNED_SELECTOR = f"{PART_OF}={PROJECT},{MANAGED_BY}={MANAGER}"
"""What `voting step` may delete: objects of this project that it applied itself."""
PROJECT_SELECTOR = f"{PART_OF}={PROJECT}"
STEP_ANNOTATION = "voting-mesh/step"
"""On the Namespace: the step last applied (`4-canary`), read back by `status`."""


@dataclass(frozen=True)
class Kind:
    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool = True
    prune: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def resource(self) -> str:
        """`deployments.apps`, `services`: how RBAC and kubectl name the type."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def collection_path(self, namespace: str | None) -> str:
        if self.namespaced:
            return f"{self.group_path}/namespaces/{namespace}/{self.plural}"
        return f"{self.group_path}/{self.plural}"

    def path(self, name: str, namespace: str | None) -> str:
        return f"{self.collection_path(namespace)}/{name}"

    def describe(self, name: str, namespace: str | None) -> str:
        """`VirtualService voting-app.voting`, `Namespace voting`."""
        return f"{self.kind} {name}.{namespace}" if self.namespaced else f"{self.kind} {name}"


NAMESPACE = Kind("Namespace", "", "v1", "namespaces", namespaced=False, prune=False)
DEPLOYMENT = Kind("Deployment", "apps", "v1", "deployments")
POD = Kind("Pod", "", "v1", "pods", prune=False)
SERVICE = Kind("Service", "", "v1", "services")
VIRTUAL_SERVICE = Kind("VirtualService", "networking.istio.io", "v1", "virtualservices")
DESTINATION_RULE = Kind("DestinationRule", "networking.istio.io", "v1", "destinationrules")
PEER_AUTHENTICATION = Kind("PeerAuthentication", "security.istio.io", "v1", "peerauthentications")
CONFIG_MAP = Kind("ConfigMap", "", "v1", "configmaps")

KINDS: tuple[Kind, ...] = (
    NAMESPACE,
    Kind("ServiceAccount", "", "v1", "serviceaccounts"),
    Kind("Secret", "", "v1", "secrets"),
    CONFIG_MAP,
    Kind("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", prune=False),
    SERVICE,
    DEPLOYMENT,
    Kind("Gateway", "networking.istio.io", "v1", "gateways"),
    VIRTUAL_SERVICE,
    DESTINATION_RULE,
    Kind("AuthorizationPolicy", "security.istio.io", "v1", "authorizationpolicies"),
    PEER_AUTHENTICATION,
)
"""Every kind a step may hold, in apply order (deletes go in reverse)."""

_BY_TYPE = {(k.api_version, k.kind): k for k in KINDS}


def kind_of(obj: dict[str, Any]) -> Kind:
    """The REST mapping of a rendered object."""
    found = _BY_TYPE.get((obj.get("apiVersion"), obj.get("kind")))
    if found is None:
        meta = obj.get("metadata") or {}
        raise UnknownKind(
            f"{obj.get('kind')} {meta.get('name')}: {obj.get('apiVersion')} {obj.get('kind')} "
            f"is not a kind a rollout step may hold ({', '.join(k.kind for k in KINDS)})"
        )
    return found


def describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return kind_of(obj).describe(meta.get("name", "?"), meta.get("namespace"))
