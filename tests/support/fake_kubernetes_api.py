"""A fake Kubernetes API server: the REST paths and server-side-apply semantics the router uses.

It is an aiohttp app run in its own thread and event loop on a free loopback port, so both
async tests (kubernetes-asyncio in the test's loop) and the CLI (its own `asyncio.run`) can
talk to it. It records every request. It lives in tests/support because the mesh's router
and apply tests and the observer's cluster-source tests all run against it.

What it implements, as the real API server does:

- discovery: `GET /api/v1`, `GET /apis/<group>/<version>` (APIResourceList), 404 when the
  group is not served, with the Status body a real server sends;
- objects under `/api/v1[/namespaces/<ns>]/<plural>[/<name>]` and
  `/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>]`: GET, list with
  equality-based `labelSelector`, `PATCH` with `application/apply-patch+yaml`
  (server-side apply: `fieldManager` required, create if absent, 201/200, conflicts with
  another manager's differing labels unless `force=true`, `metadata.generation` bumped when
  the spec changes), DELETE (404 when absent), 404 for a missing namespace;
- a Deployment controller: a Deployment becomes ready (`observedGeneration`, updated, ready
  and available replicas, and Pods with its template labels) after `ready_after_polls`
  reads of Deployments; `stall(name)` makes it report ProgressDeadlineExceeded;
- RBAC refusals (`forbid(verb, plural)`) and replayed responses (`replay(...)`), with the
  bodies a real server sends (recorded from kube-apiserver's Status format).
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml
from aiohttp import web

from tests.support.ports import free_port

# what a real API server serves with Istio installed: group path -> plural -> (Kind, namespaced)
SERVED: dict[str, dict[str, tuple[str, bool]]] = {
    "/api/v1": {
        "namespaces": ("Namespace", False),
        "serviceaccounts": ("ServiceAccount", True),
        "secrets": ("Secret", True),
        "configmaps": ("ConfigMap", True),
        "persistentvolumeclaims": ("PersistentVolumeClaim", True),
        "services": ("Service", True),
        "pods": ("Pod", True),
    },
    "/apis/apps/v1": {"deployments": ("Deployment", True)},
    "/apis/networking.istio.io/v1": {
        "gateways": ("Gateway", True),
        "virtualservices": ("VirtualService", True),
        "destinationrules": ("DestinationRule", True),
    },
    "/apis/security.istio.io/v1": {
        "authorizationpolicies": ("AuthorizationPolicy", True),
        "peerauthentications": ("PeerAuthentication", True),
    },
}

# Recorded from kube-apiserver: an unknown group/version or resource path (no CRD) ...
NOT_SERVED_BODY = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "the server could not find the requested resource",
    "reason": "NotFound",
    "details": {},
    "code": 404,
}


def forbidden_body(verb: str, group: str, plural: str, namespace: str | None, name: str | None):
    """... and an RBAC refusal, as kube-apiserver words it."""
    resource = f"{plural}.{group}" if group else plural
    subject = f'{resource} "{name}"' if name else resource
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    details: dict[str, Any] = {"group": group, "kind": plural}
    if name:
        details = {"name": name, **details}
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'{subject} is forbidden: User "system:serviceaccount:ci:deployer" cannot '
        f'{verb} resource "{plural}" in API group "{group}"{where}',
        "reason": "Forbidden",
        "details": details,
        "code": 403,
    }


def not_found_body(group: str, plural: str, name: str) -> dict[str, Any]:
    resource = f"{plural}.{group}" if group else plural
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'{resource} "{name}" not found',
        "reason": "NotFound",
        "details": details,
        "code": 404,
    }


@dataclass
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    body: Any
    authorization: str | None = None

    @property
    def field_manager(self) -> str | None:
        return self.query.get("fieldManager")

    @property
    def force(self) -> bool:
        return self.query.get("force", "").lower() == "true"


@dataclass
class _Target:
    group_path: str
    group: str
    plural: str
    kind: str
    namespaced: bool
    namespace: str | None
    name: str | None


@dataclass
class FakeKubernetesApi:
    """The state and handlers; `start()`/`stop()` run it in a thread."""

    ready_after_polls: int = 1
    honour_selectors: bool = True
    served: dict[str, dict[str, tuple[str, bool]]] = field(
        default_factory=lambda: copy.deepcopy(SERVED)
    )
    objects: dict[tuple[str, str, str | None, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    forbidden: set[tuple[str, str]] = field(default_factory=set)
    replays: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    _pending: dict[tuple[str, str | None, str], int] = field(default_factory=dict)
    _stalled: set[str] = field(default_factory=set)
    _owner: dict[tuple[str, str, str | None, str], str] = field(default_factory=dict)
    _pods: dict[tuple[str | None, str], list[tuple[str, str, str | None, str]]] = field(
        default_factory=dict
    )
    _version: int = 100
    url: str = ""

    # ------------------------------------------------------------ test controls
    def without_group(self, group_path: str) -> None:
        """Stop serving an API group, as a cluster without that CRD."""
        self.served.pop(group_path, None)

    def forbid(self, verb: str, plural: str) -> None:
        self.forbidden.add((verb, plural))

    def replay(self, method: str, path: str, status: int, body: Any) -> None:
        """Answer this method and path with a recorded response."""
        self.replays[(method, path)] = (status, body)

    def stall(self, deployment: str) -> None:
        self._stalled.add(deployment)

    def seed(self, obj: dict[str, Any], manager: str = "kubectl-client-side-apply") -> None:
        """Put an object in place as someone else made it (ready, if a Deployment)."""
        obj = copy.deepcopy(obj)
        group_path = _group_path(obj["apiVersion"])
        kind = obj["kind"]
        plural = next(p for p, (k, _) in self.served[group_path].items() if k == kind)
        meta = obj.setdefault("metadata", {})
        namespaced = self.served[group_path][plural][1]
        key = (group_path, plural, meta.get("namespace") if namespaced else None, meta["name"])
        self._stamp(obj, None)
        self.objects[key] = obj
        self._owner[key] = manager
        if kind == "Deployment":
            self._make_ready(key)

    def find(self, kind: str, name: str, namespace: str | None = "voting") -> dict | None:
        for (_, _, ns, n), obj in self.objects.items():
            if obj.get("kind") == kind and n == name and (ns == namespace or ns is None):
                return obj
        return None

    def clear_requests(self) -> None:
        self.requests.clear()

    # ------------------------------------------------------------ running it
    def start(self) -> str:
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-kubernetes-api", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake Kubernetes API did not start")
        if self._error:
            raise self._error
        return self.url

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _serve(self) -> None:
        self._error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()

        async def main() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            try:
                port = free_port()
                await web.TCPSite(runner, "127.0.0.1", port).start()
                self.url = f"http://127.0.0.1:{port}"
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                await runner.cleanup()
                return
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

        try:
            self._loop.run_until_complete(main())
        finally:
            self._loop.close()

    # ------------------------------------------------------------ handling
    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        content_type = request.headers.get("Content-Type")
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                try:
                    body = yaml.safe_load(raw.decode())  # an apply body may be YAML
                except yaml.YAMLError:
                    body = raw.decode(errors="replace")
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                content_type,
                body,
                request.headers.get("Authorization"),
            )
        )
        replay = self.replays.get((request.method, request.path))
        if replay is not None:
            return web.json_response(replay[1], status=replay[0])
        path = request.path.rstrip("/")
        parts = path.strip("/").split("/")
        if request.method == "GET" and (
            parts == ["api", "v1"] or (parts[0] == "apis" and len(parts) == 3)
        ):
            return self._discovery(path)
        target = self._route(path)
        if target is None:
            return web.json_response(NOT_SERVED_BODY, status=404)
        verb = {
            "GET": "get" if target.name else "list",
            "PATCH": "patch",
            "DELETE": "delete",
        }.get(request.method)
        if verb is None:
            return _status(405, "MethodNotAllowed", f"{request.method} is not supported here")
        if (verb, target.plural) in self.forbidden:
            return web.json_response(
                forbidden_body(verb, target.group, target.plural, target.namespace, target.name),
                status=403,
            )
        if verb == "list":
            return self._list(target, request.query.get("labelSelector"))
        if verb == "get":
            return self._get(target)
        if verb == "patch":
            return self._apply(target, request, content_type, body)
        return self._delete(target)

    def _discovery(self, path: str) -> web.Response:
        if path not in self.served:
            return web.json_response(NOT_SERVED_BODY, status=404)
        return web.json_response(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": path.removeprefix("/apis/").removeprefix("/api/"),
                "resources": [
                    {
                        "name": plural,
                        "singularName": kind.lower(),
                        "namespaced": namespaced,
                        "kind": kind,
                        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                    }
                    for plural, (kind, namespaced) in self.served[path].items()
                ],
            }
        )

    def _route(self, path: str) -> _Target | None:
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3:
            group_path, group, rest = "/api/v1", "", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group_path, group, rest = f"/apis/{parts[1]}/{parts[2]}", parts[1], parts[3:]
        else:
            return None
        resources = self.served.get(group_path)
        if resources is None:
            return None
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 2 or rest[0] not in resources:
            return None
        kind, namespaced = resources[rest[0]]
        if namespaced != (namespace is not None):
            return None
        return _Target(
            group_path,
            group,
            rest[0],
            kind,
            namespaced,
            namespace,
            rest[1] if len(rest) == 2 else None,
        )

    def _key(self, target: _Target) -> tuple[str, str, str | None, str]:
        assert target.name is not None
        return (target.group_path, target.plural, target.namespace, target.name)

    def _tick_controller(self) -> None:
        for key in list(self._pending):
            self._pending[key] -= 1
            if self._pending[key] <= 0:
                del self._pending[key]
                full = ("/apis/apps/v1", "deployments", key[1], key[2])
                if full in self.objects and key[2] not in self._stalled:
                    self._make_ready(full)

    def _list(self, target: _Target, selector: str | None) -> web.Response:
        if target.plural == "deployments":
            self._tick_controller()
        self._refresh_stalled()
        items = [
            _without_type(obj)
            for (group_path, plural, namespace, _), obj in sorted(self.objects.items())
            if group_path == target.group_path
            and plural == target.plural
            and namespace == target.namespace
            and (not self.honour_selectors or _matches(selector, obj))
        ]
        return web.json_response(
            {
                "kind": f"{target.kind}List",
                "apiVersion": target.group_path.removeprefix("/apis/").removeprefix("/api/"),
                "metadata": {"resourceVersion": str(self._version)},
                "items": items,
            }
        )

    def _get(self, target: _Target) -> web.Response:
        if target.plural == "deployments":
            self._tick_controller()
        self._refresh_stalled()
        obj = self.objects.get(self._key(target))
        if obj is None:
            return web.json_response(
                not_found_body(target.group, target.plural, target.name or ""), status=404
            )
        return web.json_response(obj)

    def _apply(
        self, target: _Target, request: web.Request, content_type: str | None, body: Any
    ) -> web.Response:
        if content_type != "application/apply-patch+yaml":
            return _status(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: {content_type}",
            )
        manager = request.query.get("fieldManager")
        if not manager:
            return _status(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
            )
        if not isinstance(body, dict) or target.name is None:
            return _status(400, "BadRequest", "apply needs an object body and a name")
        meta = body.get("metadata") or {}
        if body.get("kind") != target.kind or meta.get("name") != target.name:
            return _status(
                400,
                "BadRequest",
                f"the body names {body.get('kind')} {meta.get('name')}, the path {target.kind} {target.name}",
            )
        if target.namespaced and meta.get("namespace") not in (None, target.namespace):
            return _status(400, "BadRequest", "the namespace of the object does not match the path")
        if (
            target.namespaced
            and ("/api/v1", "namespaces", None, target.namespace) not in self.objects
        ):
            return web.json_response(
                not_found_body("", "namespaces", target.namespace or ""), status=404
            )
        key = self._key(target)
        live = self.objects.get(key)
        force = request.query.get("force", "").lower() == "true"
        if live is not None and self._owner.get(key) != manager and not force:
            conflicts = [
                f".metadata.labels.{label}"
                for label, value in (meta.get("labels") or {}).items()
                if label in ((live.get("metadata") or {}).get("labels") or {})
                and live["metadata"]["labels"][label] != value
            ]
            if conflicts:
                owner = self._owner.get(key)
                return _status(
                    409,
                    "Conflict",
                    f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: "
                    + "; ".join(f'conflict with "{owner}": {c}' for c in conflicts),
                )
        obj = copy.deepcopy(body)
        obj.setdefault("metadata", {})
        if target.namespaced:
            obj["metadata"]["namespace"] = target.namespace
        if live is not None and self._owner.get(key) != manager:
            merged = dict((live.get("metadata") or {}).get("labels") or {})
            merged.update(obj["metadata"].get("labels") or {})
            obj["metadata"]["labels"] = merged
        self._stamp(obj, live)
        self.objects[key] = obj
        self._owner[key] = manager
        if target.plural == "deployments":
            changed = live is None or live.get("spec") != obj.get("spec")
            if changed:
                self._pending[(target.plural, target.namespace, target.name)] = max(
                    self.ready_after_polls, 0
                )
                if self.ready_after_polls <= 0:
                    self._make_ready(key)
        return web.json_response(obj, status=201 if live is None else 200)

    def _delete(self, target: _Target) -> web.Response:
        key = self._key(target)
        obj = self.objects.pop(key, None)
        if obj is None:
            return web.json_response(
                not_found_body(target.group, target.plural, target.name or ""), status=404
            )
        if target.plural == "deployments":  # the garbage collector takes its pods
            self._remove_pods(target.namespace, target.name or "")
        return web.json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": target.name, "group": target.group, "kind": target.plural},
            }
        )

    # ------------------------------------------------------------ bookkeeping
    def _stamp(self, obj: dict[str, Any], live: dict[str, Any] | None) -> None:
        self._version += 1
        meta = obj["metadata"]
        old = (live or {}).get("metadata") or {}
        meta["uid"] = old.get("uid", str(uuid.uuid4()))
        meta["creationTimestamp"] = old.get("creationTimestamp", "2025-01-01T00:00:00Z")
        meta["resourceVersion"] = str(self._version)
        generation = old.get("generation", 0)
        if live is None or live.get("spec") != obj.get("spec"):
            generation += 1
        meta["generation"] = max(generation, 1)
        if live is not None and "status" in live:
            obj["status"] = live["status"]

    def _make_ready(self, key: tuple[str, str, str | None, str]) -> None:
        deployment = self.objects[key]
        spec = deployment.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        deployment["status"] = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            ],
        }
        name, namespace = key[3], key[2]
        self._remove_pods(namespace, name)
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        suffix = uuid.uuid4().hex[:5]
        for index in range(replicas):
            pod_name = f"{name}-{suffix}-{index}"
            pod_key = ("/api/v1", "pods", namespace, pod_name)
            self._pods.setdefault((namespace, name), []).append(pod_key)
            self.objects[pod_key] = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod_name,
                    "namespace": namespace,
                    "labels": dict(labels),
                    "ownerReferences": [{"kind": "ReplicaSet", "name": f"{name}-{suffix}"}],
                },
                "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [
                        {"name": labels.get("app", "app"), "ready": True, "restartCount": 0},
                        {"name": "istio-proxy", "ready": True, "restartCount": 0},
                    ],
                },
            }

    def _remove_pods(self, namespace: str | None, deployment: str) -> None:
        for pod_key in self._pods.pop((namespace, deployment), []):
            self.objects.pop(pod_key, None)

    def _refresh_stalled(self) -> None:
        for (group_path, plural, _, name), obj in self.objects.items():
            if plural == "deployments" and group_path == "/apis/apps/v1" and name in self._stalled:
                obj["status"] = {
                    "observedGeneration": obj["metadata"]["generation"],
                    "replicas": 1,
                    "updatedReplicas": 1,
                    "readyReplicas": 0,
                    "conditions": [
                        {
                            "type": "Progressing",
                            "status": "False",
                            "reason": "ProgressDeadlineExceeded",
                            "message": f'ReplicaSet "{name}-7d9f8" has timed out progressing.',
                        }
                    ],
                }


def _status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
        status=code,
    )


def _group_path(api_version: str) -> str:
    return f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"


def _without_type(obj: dict[str, Any]) -> dict[str, Any]:
    """List items of built-in kinds carry no apiVersion/kind; keep it simple: none do."""
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


def _matches(selector: str | None, obj: dict[str, Any]) -> bool:
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        term = term.strip()
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def kubeconfig_for(url: str, context: str = "fake", namespace: str = "voting") -> str:
    """A kubeconfig (YAML text) whose context `context` points at the fake."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": url}}],
            "users": [{"name": context, "user": {"token": "fake-token"}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": context, "user": context, "namespace": namespace},
                }
            ],
            "current-context": context,
        }
    )
