"""The Kubernetes REST calls the router makes, over kubernetes-asyncio's `ApiClient`.

Five verbs, all by `Kind` (see `mesh.cluster.kinds`), all returning plain dicts::

    api = KubeApi.from_kubeconfig(context="aks-demo")     # connects on first use
    await api.apply(obj, force=True)      # PATCH application/apply-patch+yaml ?fieldManager=voting-mesh
    await api.get(DEPLOYMENT, "voting-app-1-0", "voting")           # None if absent
    await api.list(DEPLOYMENT, "voting", label_selector="app=voting-app")
    await api.delete(DEPLOYMENT, "voting-app-1-0", "voting")        # gone already is fine
    await api.served_resources(kind)      # plurals in the kind's group discovery document

`translate` is the one place where ApiException and connection errors become
`mesh.cluster.errors`, each naming the resource and, for 403, the verb RBAC refused.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.client.exceptions import ApiException

from mesh.cluster.errors import (
    ApiError,
    ClusterError,
    Conflict,
    Forbidden,
    Invalid,
    KubeconfigError,
    NotFound,
    NotServed,
    Unauthorized,
    Unreachable,
)
from mesh.cluster.kinds import MANAGER, Kind, kind_of

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
REQUEST_TIMEOUT_S = 30
_ANSWERS = {200: "object", 201: "object", 202: "object"}


class KubeApi:
    """A connection to one API server (lazily made from a kubeconfig, or given)."""

    def __init__(self, client: ApiClient | None = None, *, loader: Any = None) -> None:
        self._client = client
        self._loader = loader
        self._lock = asyncio.Lock()

    @classmethod
    def from_client(cls, client: ApiClient) -> KubeApi:
        return cls(client)

    @classmethod
    def from_kubeconfig(
        cls, context: str | None = None, kubeconfig: str | Path | None = None
    ) -> KubeApi:
        async def load() -> ApiClient:
            from kubernetes_asyncio.config import ConfigException, load_kube_config

            configuration = Configuration()
            try:
                await load_kube_config(
                    config_file=str(kubeconfig) if kubeconfig else None,
                    context=context,
                    client_configuration=configuration,
                    persist_config=False,
                )
            except (ConfigException, OSError, ValueError, TypeError) as exc:
                where = str(kubeconfig) if kubeconfig else "$KUBECONFIG or ~/.kube/config"
                what = f"context {context!r}" if context else "the current context"
                raise KubeconfigError(f"kubeconfig {where}: cannot use {what}: {exc}") from exc
            return ApiClient(configuration)

        return cls(loader=load)

    @property
    def host(self) -> str:
        return self._client.configuration.host if self._client else "(not connected)"

    async def client(self) -> ApiClient:
        async with self._lock:
            if self._client is None:
                self._client = await self._loader()
            return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    # ------------------------------------------------------------ verbs
    async def apply(self, obj: dict[str, Any], *, force: bool) -> tuple[dict[str, Any], bool]:
        """Server-side apply; returns the object in force and whether it was created."""
        kind = kind_of(obj)
        meta = obj["metadata"]
        query = [("fieldManager", MANAGER)] + ([("force", "true")] if force else [])
        data, status = await self._call(
            "PATCH",
            kind.path(meta["name"], meta.get("namespace")),
            kind=kind,
            verb="patch",
            what=kind.describe(meta["name"], meta.get("namespace")),
            namespace=meta.get("namespace"),
            query=query,
            body=obj,
            content_type=APPLY_CONTENT_TYPE,
        )
        return data, status == 201

    async def get(self, kind: Kind, name: str, namespace: str | None) -> dict[str, Any] | None:
        try:
            data, _ = await self._call(
                "GET",
                kind.path(name, namespace),
                kind=kind,
                verb="get",
                what=kind.describe(name, namespace),
                namespace=namespace,
            )
        except NotFound:
            return None
        return data

    async def list(
        self, kind: Kind, namespace: str | None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        where = f" in namespace {namespace}" if kind.namespaced else ""
        selected = f" labelled {label_selector}" if label_selector else ""
        data, _ = await self._call(
            "GET",
            kind.collection_path(namespace),
            kind=kind,
            verb="list",
            what=f"{kind.kind} objects{where}{selected}",
            namespace=namespace,
            query=[("labelSelector", label_selector)] if label_selector else None,
        )
        items = data.get("items") or []
        for item in items:  # list items carry no apiVersion/kind
            item.setdefault("apiVersion", kind.api_version)
            item.setdefault("kind", kind.kind)
        return items

    async def delete(self, kind: Kind, name: str, namespace: str | None) -> bool:
        """Delete, letting the garbage collector remove dependants; False if already gone."""
        try:
            await self._call(
                "DELETE",
                kind.path(name, namespace),
                kind=kind,
                verb="delete",
                what=kind.describe(name, namespace),
                namespace=namespace,
                body={
                    "apiVersion": "v1",
                    "kind": "DeleteOptions",
                    "propagationPolicy": "Background",
                },
            )
        except NotFound:
            return False
        return True

    async def served_resources(self, kind: Kind) -> set[str]:
        """The resource names (plurals) served in the kind's API group version; empty if
        the group version is not served at all (its discovery document is a 404)."""
        try:
            data, _ = await self._call(
                "GET", kind.group_path, kind=kind, verb="get", what=f"API {kind.api_version}"
            )
        except (NotFound, NotServed):
            return set()
        return {r.get("name") for r in data.get("resources") or [] if r.get("name")}

    # ------------------------------------------------------------ the one call site
    async def _call(
        self,
        method: str,
        path: str,
        *,
        kind: Kind,
        verb: str,
        what: str,
        namespace: str | None = None,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> tuple[dict[str, Any], int]:
        client = await self.client()
        try:
            data, status, _ = await client.call_api(
                path,
                method,
                query_params=query,
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                response_types_map=_ANSWERS,
                auth_settings=["BearerToken"],
                _return_http_data_only=False,
                _request_timeout=REQUEST_TIMEOUT_S,
            )
        except ApiException as exc:
            raise translate(exc, kind=kind, verb=verb, what=what, namespace=namespace) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise Unreachable(
                f"{what}: the API server at {client.configuration.host} does not answer "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        return (data if isinstance(data, dict) else {}), status


def not_served(kind: Kind, what: str, detail: str) -> NotServed:
    """The error for a type the cluster does not serve, with the likely cause for Istio's."""
    hint = (
        f" Is Istio installed? Istio 1.22 or later serves {kind.api_version}; "
        f"`kubectl get crd {kind.resource}` tells."
        if kind.group.endswith("istio.io")
        else ""
    )
    return NotServed(
        f"{what}: the cluster does not serve {kind.api_version} {kind.plural} ({detail}).{hint}"
    )


def _status_body(exc: ApiException) -> dict[str, Any]:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        parsed = json.loads(body or "")
    except ValueError:
        return {"message": (body or "").strip() or exc.reason}
    return parsed if isinstance(parsed, dict) else {"message": str(parsed)}


def translate(
    exc: ApiException, *, kind: Kind, verb: str, what: str, namespace: str | None = None
) -> ClusterError:
    """An ApiException as the error naming `what` (a resource or a collection)."""
    status = _status_body(exc)
    message = status.get("message") or exc.reason or "no message"
    code = exc.status
    if code == 401:
        return Unauthorized(f"{what}: the API server refused the credentials (401): {message}")
    if code == 403:
        scope = f" in namespace {namespace}" if kind.namespaced and namespace else ""
        return Forbidden(
            f"{what}: RBAC forbids '{verb}' on {kind.resource}{scope}: {message}. "
            f"Ask for a Role granting {verb} on {kind.resource}."
        )
    if code == 404:
        details = status.get("details") or {}
        if not details.get("name"):
            return not_served(kind, what, f"404 on {kind.group_path}: {message}")
        return NotFound(f"{what}: not found ({message})")
    if code == 409:
        return Conflict(f"{what}: {verb} conflicts with another field manager: {message}")
    if code in (400, 422):
        return Invalid(f"{what}: refused by the API server ({code}): {message}")
    return ApiError(f"{what}: {verb} failed: HTTP {code} {message}", code)
