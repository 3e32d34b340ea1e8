"""The Kubernetes implementation of `mesh.router.base.Router`: a rollout step through the API server.

`apply_step` renders the step (`mesh.steps.render_step`) and then, in this order:

1. checks the cluster serves every type the step holds (one discovery GET per API group),
   so a missing Istio fails before anything changes;
2. applies every object with server-side apply (`PATCH`, `application/apply-patch+yaml`,
   `fieldManager=voting-mesh`; `force=true` except on the Namespace, which others may
   label too), the Namespace first, then in kustomize's order (step 5 moves the
   VirtualServices before it drops the DestinationRules' 1.x subsets), each labelled
   `app.kubernetes.io/managed-by: voting-mesh`;
3. waits until every Deployment of the step is ready: the controller has seen the applied
   generation, all replicas are updated and ready, no old ones are left;
4. prunes: deletes the objects labelled both `app.kubernetes.io/part-of: voting-app` and
   `app.kubernetes.io/managed-by: voting-mesh` that the step no longer holds (never the
   Namespace or a PersistentVolumeClaim). Pruning after the wait retires the old workloads
   only once the new ones serve.

Every call goes through `mesh.cluster.api.KubeApi`; every error names the resource.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mesh.cluster import kinds as k
from mesh.cluster.api import KubeApi, not_served
from mesh.cluster.errors import Forbidden, NotFound, NotServed, RolloutFailed
from mesh.cluster.status import cluster_status
from mesh.model.kinds import ROOT_NAMESPACE
from mesh.router.base import Progress, Route, RouterError
from mesh.router.kubernetes_objects import prepare
from mesh.router.kubernetes_rollout import RolloutChannel
from mesh.router.routes import default_route, http_rules, with_default_route, with_http_rules
from mesh.steps import Step, StepError, render_step, resolve_step

INGRESS_SERVICE = ("istio-system", "istio-ingressgateway")


def owned(obj: dict[str, Any]) -> bool:
    """Whether `voting step` may delete this object: it carries both of our labels."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(k.PART_OF) == k.PROJECT and labels.get(k.MANAGED_BY) == k.MANAGER


def deployment_progress(deployment: dict[str, Any], generation: int) -> tuple[bool, str]:
    """Whether a Deployment finished rolling out `generation`, and where it is if not
    (`1/3 ready`, `1/3 updated`, `old pods terminating`, `change not yet seen`)."""
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    desired = int(spec.get("replicas", 1))
    observed = int(status.get("observedGeneration", 0))
    updated = int(status.get("updatedReplicas", 0))
    replicas = int(status.get("replicas", 0))
    ready = int(status.get("readyReplicas", 0))
    done = (
        observed >= generation and updated >= desired and replicas <= desired and ready >= desired
    )
    if 0 < observed < generation:
        where = "change not yet seen"
    elif updated < desired and ready >= desired:
        where = f"{updated}/{desired} updated"  # the old pods still serve
    elif replicas > desired and ready >= desired:
        where = "old pods terminating"
    else:
        where = f"{ready}/{desired} ready"
    return done, where


def _stalled(deployment: dict[str, Any]) -> str | None:
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == (
            "ProgressDeadlineExceeded"
        ):
            return condition.get("message") or "progress deadline exceeded"
    return None


class KubernetesRouter:
    """Routes of one namespace of a Kubernetes cluster with Istio."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str = "voting",
        *,
        context: str | None = None,
        timeout: float = 300.0,
        poll_interval: float = 2.0,
        images: Mapping[str, str] | None = None,
    ) -> None:
        self.api = api
        self.images = dict(images or {})
        self.namespace = namespace
        self.context = context
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.target = f"cluster context {context or '(current)'}, namespace {namespace}"
        self.rollouts = RolloutChannel(api, namespace)

    @classmethod
    def from_kubeconfig(
        cls,
        context: str | None = None,
        kubeconfig: str | Path | None = None,
        namespace: str = "voting",
        **options: Any,
    ) -> KubernetesRouter:
        return cls(
            KubeApi.from_kubeconfig(context, kubeconfig), namespace, context=context, **options
        )

    async def close(self) -> None:
        await self.api.close()

    # ------------------------------------------------------------ steps
    async def apply_step(
        self, step: str | int | Step, on_progress: Progress | None = None
    ) -> dict[str, Any]:
        say = on_progress or (lambda _message: None)
        try:
            target = resolve_step(step)
            documents = await asyncio.to_thread(render_step, target)
        except StepError as exc:
            raise RouterError(str(exc)) from exc
        objects = prepare(documents, self.namespace, target, self.images)
        say(f"step {target.number} ({target.name}): {len(objects)} objects to {self.target}")
        await self._check_served(objects)
        generations = await self._apply(objects, say)
        await self._wait(generations, say)
        await self._prune(objects, say)
        say(f"step {target.number} ({target.name}) in force")
        return await self.status()

    async def _check_served(self, objects: list[dict[str, Any]]) -> None:
        served: dict[str, set[str]] = {}
        for obj in objects:
            kind = k.kind_of(obj)
            if not kind.group:
                continue  # the core API is always there
            if kind.group_path not in served:
                served[kind.group_path] = await self.api.served_resources(kind)
            if kind.plural not in served[kind.group_path]:
                detail = (
                    f"no {kind.plural} in {kind.group_path}"
                    if served[kind.group_path]
                    else f"404 on {kind.group_path}"
                )
                raise not_served(kind, k.describe(obj), detail)

    async def _apply(self, objects: list[dict[str, Any]], say: Progress) -> dict[str, int]:
        generations = {}
        for obj in objects:
            kind = k.kind_of(obj)
            live, created = await self.api.apply(obj, force=kind is not k.NAMESPACE)
            say(f"{'created' if created else 'applied'} {k.describe(obj)}")
            if kind is k.DEPLOYMENT:
                meta = live.get("metadata") or {}
                generations[obj["metadata"]["name"]] = int(meta.get("generation", 1))
        return generations

    async def _wait(self, generations: dict[str, int], say: Progress) -> None:
        if not generations:
            return
        deadline = time.monotonic() + self.timeout
        last = ""
        while True:
            live = {
                d["metadata"]["name"]: d
                for d in await self.api.list(k.DEPLOYMENT, self.namespace, k.PROJECT_SELECTOR)
            }
            pending = {}
            for name, generation in generations.items():
                if name not in live:
                    pending[name] = "gone"
                    continue
                stalled = _stalled(live[name])
                if stalled:
                    raise RolloutFailed(
                        f"{k.DEPLOYMENT.describe(name, self.namespace)}: stalled: {stalled} "
                        f"(kubectl -n {self.namespace} describe deployment {name})"
                    )
                done, where = deployment_progress(live[name], generation)
                if not done:
                    pending[name] = where
            if not pending:
                say(f"{len(generations)} Deployment(s) ready")
                return
            summary = ", ".join(f"{name} {where}" for name, where in sorted(pending.items()))
            if summary != last:
                say(f"waiting for Deployments: {summary}")
                last = summary
            if time.monotonic() >= deadline:
                names = "; ".join(
                    f"{k.DEPLOYMENT.describe(name, self.namespace)} {where}"
                    for name, where in sorted(pending.items())
                )
                raise RolloutFailed(
                    f"not ready after {self.timeout:g}s: {names} "
                    f"(kubectl -n {self.namespace} get pods)"
                )
            await asyncio.sleep(self.poll_interval)

    async def _prune(self, objects: list[dict[str, Any]], say: Progress) -> None:
        desired = {(o["kind"], o["metadata"]["name"]) for o in objects}
        for kind in reversed(k.KINDS):
            if not kind.prune:
                continue
            try:
                items = await self.api.list(kind, self.namespace, k.OWNED_SELECTOR)
            except NotServed:
                continue  # e.g. no security.istio.io: nothing of that kind to remove
            for item in items:
                name = item["metadata"]["name"]
                if (kind.kind, name) in desired or not owned(item):
                    continue
                if await self.api.delete(kind, name, self.namespace):
                    say(f"deleted {kind.describe(name, self.namespace)}")

    # ------------------------------------------------------------ status
    async def status(self) -> dict[str, Any]:
        ns = self.namespace
        (
            namespace,
            deployments,
            pods,
            services,
            virtual_services,
            destination_rules,
            peer_authentications,
            ingress,
        ) = await asyncio.gather(
            self.api.get(k.NAMESPACE, ns, None),
            self.api.list(k.DEPLOYMENT, ns, k.PROJECT_SELECTOR),
            self.api.list(k.POD, ns, k.PROJECT_SELECTOR),
            self.api.list(k.SERVICE, ns, k.PROJECT_SELECTOR),
            self.api.list(k.VIRTUAL_SERVICE, ns),
            self.api.list(k.DESTINATION_RULE, ns),
            self.api.list(k.PEER_AUTHENTICATION, ns),
            self._ingress(),
        )
        peer_authentications = [*peer_authentications, *await self._mesh_peer_authentications()]
        status = cluster_status(
            target={"kind": "kubernetes", "context": self.context, "namespace": ns},
            namespace=ns,
            step=_step_of(namespace),
            ingress=ingress,
            deployments=deployments,
            pods=pods,
            services=services,
            virtual_services=virtual_services,
            destination_rules=destination_rules,
            peer_authentications=peer_authentications,
        )
        status["rollout"] = await self.rollouts.progress()
        return status

    # ------------------------------------------------------------ a rollout's progress and verbs
    async def report_rollout(self, progress: dict[str, Any]) -> None:
        await self.rollouts.report(progress)

    async def take_rollout_commands(self) -> list[dict[str, Any]]:
        return await self.rollouts.take_commands()

    async def rollout_command(self, verb: str, by: str) -> None:
        await self.rollouts.send(verb, by)

    async def _mesh_peer_authentications(self) -> list[dict[str, Any]]:
        """Mesh-wide PeerAuthentications (Istio's root namespace), if we may read them."""
        if self.namespace == ROOT_NAMESPACE:
            return []
        try:
            return await self.api.list(k.PEER_AUTHENTICATION, ROOT_NAMESPACE)
        except (Forbidden, NotServed, NotFound):
            return []  # without the permission, status shows the namespace's policies only

    async def _ingress(self) -> str | None:
        """The Istio ingress gateway's load-balancer address, if it has one we may read."""
        namespace, name = INGRESS_SERVICE
        try:
            service = await self.api.get(k.SERVICE, name, namespace)
        except (Forbidden, NotServed):
            return None
        points = (((service or {}).get("status") or {}).get("loadBalancer") or {}).get(
            "ingress"
        ) or []
        if not points:
            return None
        address = points[0].get("ip") or points[0].get("hostname")
        return f"http://{address}/" if address else None

    async def tls_check(self, service: str) -> list[dict[str, Any]]:
        from mesh.cluster.status import tls_rows

        return tls_rows(await self.status(), service)

    # ------------------------------------------------------------ routes
    async def get_routes(self, service: str) -> list[Route]:
        return default_route(await self._virtual_service(service))

    async def set_routes(self, service: str, routes: Sequence[Route]) -> None:
        live = await self._virtual_service(service)
        wanted = [Route(*r) for r in routes]
        if default_route(live) == wanted:
            return
        await self._put_virtual_service(live, with_default_route(live, service, wanted))

    async def get_http(self, service: str) -> list[dict[str, Any]]:
        return http_rules(await self._virtual_service(service))

    async def set_http(self, service: str, rules: Sequence[dict[str, Any]]) -> None:
        live = await self._virtual_service(service)
        edited = with_http_rules(live, rules)
        if edited["spec"] == live.get("spec"):
            return
        await self._put_virtual_service(live, edited)

    async def _put_virtual_service(self, live: dict[str, Any], edited: dict[str, Any]) -> None:
        meta = live["metadata"]
        await self.api.apply(
            {
                "apiVersion": k.VIRTUAL_SERVICE.api_version,
                "kind": k.VIRTUAL_SERVICE.kind,
                "metadata": {
                    "name": meta["name"],
                    "namespace": self.namespace,
                    "labels": dict(meta.get("labels") or {}),
                },
                "spec": edited["spec"],
            },
            force=True,
        )

    async def _virtual_service(self, service: str) -> dict[str, Any]:
        found = await self.api.get(k.VIRTUAL_SERVICE, service, self.namespace)
        if found is None:
            raise NotFound(
                f"{k.VIRTUAL_SERVICE.describe(service, self.namespace)}: not found; "
                "apply a step that routes it first (voting cluster step lock-down)"
            )
        return found


def _step_of(namespace: dict[str, Any] | None) -> Step | None:
    annotations = ((namespace or {}).get("metadata") or {}).get("annotations") or {}
    try:
        return resolve_step(annotations[k.STEP_ANNOTATION])
    except (KeyError, StepError):
        return None
