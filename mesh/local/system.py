"""The whole local system: pods (function + sidecar), the ingress gateway, and step changes.

A step change follows the order that keeps every request served:
  1. start the new pods and wait until they answer;
  2. give every Envoy the union of its old and new clusters (new settings win, so clients
     switch to mutual TLS before any server starts to require it);
  3. switch listeners and routes;
  4. drop the clusters no route uses any more;
  5. stop the pods the step no longer has, after in-flight requests finished.

About 400 lines because that order is one transaction over pods and proxies; the pods, the
status and the rollout's progress it holds live in their own modules.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from mesh.apply.documents import app_namespace, overlay
from mesh.local import backends as backends_mod
from mesh.local.ca import LocalCA
from mesh.local.envoy import MeshView, ProxyConfig, compile_ingress, compile_sidecar
from mesh.local.envoy_proxy import EnvoyProxy, envoy_binary
from mesh.local.errors import MeshError
from mesh.local.pods import PodLifecycle, PodRuntime, callers_first, template_hash
from mesh.local.process import ManagedProcess, PidRegistry
from mesh.local.status_report import StatusReport
from mesh.local.telemetry import Prometheus, prometheus_binary
from mesh.local.topology import (
    INGRESS_NAMESPACE,
    INGRESS_SERVICE_ACCOUNT,
    IngressGateway,
    Pod,
    PortAllocator,
)
from mesh.model.resources import MeshResources, parse_resources
from mesh.model.workloads import Workload
from mesh.steps import Step, StepError, render_step, resolve_step

log = logging.getLogger("voting.mesh")


@dataclass
class Options:
    """How `voting up` runs the system; every port and address can be changed."""

    state_dir: Path
    ingress_port: int = 8080
    ingress_https_port: int | None = None  # None: one of the pods' ports (`voting status`)
    control_port: int = 15000
    base_port: int = 20000
    auto_mtls: bool = True
    redis_url: str = "redis://127.0.0.1:6379/0"
    prometheus_port: int = 9090
    prometheus_bin: str | None = None
    telemetry: bool = True
    function_processes: str = "forked"  # or "exec": one Python interpreter per function
    mysql: backends_mod.MySQLTarget = field(
        default_factory=lambda: backends_mod.MySQLTarget("127.0.0.1", 3306, "root", "", "azurevote")
    )


class LocalMesh(PodLifecycle, StatusReport):
    """Runs the resources of one rollout step on this machine, and moves between steps."""

    def __init__(self, options: Options, on_event: Callable[[str], None] | None = None) -> None:
        self.options = options
        self.state_dir = options.state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.registry = PidRegistry(self.state_dir / "pids.json")
        self.ports = PortAllocator(options.base_port)
        self.ports.reserve(options.ingress_port)
        self.ports.reserve(options.control_port)
        self.backends = backends_mod.Backends(self.state_dir, self.ports, self.registry)
        self.ca = LocalCA(self.state_dir / "ca")
        self.envoy = envoy_binary()
        self.events: collections.deque[tuple[float, str]] = collections.deque(maxlen=200)
        self._on_event = on_event
        self.step: Step | None = None
        self.resources = MeshResources()
        self.generation = 0  # bumped by every apply: a stale reload can tell it was overtaken
        self.pods: dict[str, PodRuntime] = {}
        self.ingress: IngressGateway | None = None
        self.ingress_proxy: EnvoyProxy | None = None
        self.ingress_process: ManagedProcess | None = None
        self.redis: backends_mod.RedisTarget | None = None
        self.mysql: backends_mod.MySQLTarget | None = None
        self.lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None
        self._health_task: asyncio.Task[None] | None = None
        self.extra_processes: list[ManagedProcess] = []
        self.prometheus: Prometheus | None = None
        self.documents: list[dict[str, Any]] = []  # the resources in force, as applied
        self.rendered: dict[Step, list[dict[str, Any]]] = {}  # each step as last rendered
        self.applied: list[dict[str, str]] = []  # what `documents` change on top of the step
        self.rollout: dict[str, Any] | None = None  # progress a rollout reports, for the observer
        self.rollout_commands: list[dict[str, Any]] = []  # queued for the rollout's controller
        self.revisions: dict[str, int] = {}  # per app: bumped when its code changes (--watch)

    # ------------------------------------------------------------ events
    def event(self, message: str) -> None:
        self.events.append((time.time(), message))
        log.info(message)
        if self._on_event:
            self._on_event(message)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    # ------------------------------------------------------------ lifecycle
    async def start(self, step: str | int) -> None:
        target = resolve_step(step)
        _check_inotify_limit(self.event)
        self.event("finding Redis and MariaDB")
        self.redis = await self.backends.redis(self.options.redis_url)
        self.mysql = await self.backends.mysql(self.options.mysql)
        self.event(
            f"stores: redis {self.redis.url}, mysql {self.mysql.host}:{self.mysql.port}/{self.mysql.database}"
        )
        await self._start_prometheus()
        port = self.options.ingress_port
        https = self.options.ingress_https_port or self.ports.allocate()
        self.ingress = IngressGateway(port=port, admin_port=self.ports.allocate(), https_port=https)
        await self.apply_step(target)
        self._health_task = asyncio.create_task(self._health_loop(), name="health")

    async def _start_prometheus(self) -> None:
        if not self.options.telemetry:
            return
        binary = prometheus_binary(self.options.prometheus_bin)
        if binary is None:
            self.event(
                "Prometheus not found: install it (`apt-get install prometheus`) or pass "
                "--prometheus-bin; running without telemetry"
            )
            return
        self.ports.reserve(self.options.prometheus_port)
        self.prometheus = Prometheus(
            self.state_dir, self.options.prometheus_port, binary, self.registry
        )
        await self.prometheus.start()
        self.extra_processes.append(self.prometheus.process)
        self.event(f"telemetry: Prometheus at {self.prometheus.url}")

    def _update_targets(self) -> None:
        if self.prometheus is not None:
            self.prometheus.set_targets(
                [rt.pod for rt in self.pods.values()],
                self.ingress.admin_port if self.ingress else None,
            )

    async def stop(self) -> None:
        if self._health_task:
            self._health_task.cancel()
        stops = [runtime.function.stop() for runtime in self.pods.values()]
        stops += [runtime.envoy.stop(grace=2) for runtime in self.pods.values()]
        if self.ingress_process:
            stops.append(self.ingress_process.stop(grace=2))
        stops += [p.stop() for p in self.extra_processes]
        await asyncio.gather(*stops, return_exceptions=True)
        await self.backends.stop()
        if self._session:
            await self._session.close()
        self.event("stopped")

    # ------------------------------------------------------------ steps
    async def apply_step(self, step: str | int | Step) -> None:
        target = step if isinstance(step, Step) else resolve_step(step)
        documents = await asyncio.to_thread(render_step, target)
        await self.apply_documents(documents, target, rendered=documents)

    async def apply_documents(
        self,
        documents: list[dict[str, Any]],
        step: Step,
        rendered: list[dict[str, Any]] | None = None,
        if_generation: int | None = None,
    ) -> None:
        """Make the system match these resources (a rendered step, possibly edited).

        Invalid resources are refused before anything changes; the old routes keep serving.
        `rendered` is the step as rendered when the caller has it (else it is rendered once
        per step and cached): status shows what `documents` change on top of it.
        """
        resources = parse_resources(documents)
        base = rendered if rendered is not None else self.rendered.get(step)
        if base is None:
            try:
                base = await asyncio.to_thread(render_step, step)
            except StepError as exc:
                self.event(f"step {step.number} not rendered, overlay unknown: {exc}")
        async with self.lock:
            if if_generation is not None and if_generation != self.generation:
                self.event("manifest change superseded by a newer configuration: not applied")
                return
            self.generation += 1
            previous = (self.documents, self.applied, self.resources)
            self.documents = documents
            if base is not None:
                self.rendered[step] = base
            self.applied = overlay(base, documents, app_namespace(documents)) if base else []
            self.event(f"applying step {step.number} ({step.name})")
            try:
                await self._transition(resources)
            except MeshError:
                # Nothing half-applied: back to what was in force (its pods and routes).
                self.documents, self.applied = previous[0], previous[1]
                if previous[2] is not None:
                    try:
                        await self._transition(previous[2])
                    except MeshError as exc:
                        self.event(f"could not restore the previous configuration: {exc}")
                raise
            self._update_targets()
            self.step = step
            self.event(f"step {step.number} ({step.name}) in force")

    async def restart_apps(self, apps: set[str]) -> None:
        """Replace the pods of these apps with new ones running the current code.

        New pods start and become ready before routes move to them and the old ones stop,
        like a Deployment's rolling update with surge: no request is dropped.
        """
        async with self.lock:
            for app in apps:
                self.revisions[app] = self.revisions.get(app, 0) + 1
            self.event(f"code changed: rolling {', '.join(sorted(apps))}")
            await self._transition(self.resources)
            self._update_targets()
            self.event(f"rolled {', '.join(sorted(apps))} to the new code")

    async def reload_manifests(self) -> None:
        """Re-render the current step from the files and apply it; keep serving on errors.

        Rendering takes a while (kustomize): if anything else was applied meanwhile (a step
        change, an apply), that newer configuration wins and this stale rendering is dropped,
        else a slow reload would put an older step back in force.
        """
        step, generation = self.step, self.generation
        if step is None:
            return
        try:
            documents = await asyncio.to_thread(render_step, step)
            await self.apply_documents(
                documents, step, rendered=documents, if_generation=generation
            )
        except (MeshError, StepError) as exc:
            self.event(f"change rejected, previous routes keep serving: {exc}")

    async def _transition(self, resources: MeshResources) -> None:
        desired: dict[str, Workload] = {}
        for workload in resources.mesh_workloads():
            suffix = template_hash(workload, self.revisions.get(workload.app, 0))
            for index in range(workload.replicas):
                desired[f"{workload.name}-{suffix}-{index}"] = workload
        kept = {name: rt for name, rt in self.pods.items() if name in desired}
        removed = {name: rt for name, rt in self.pods.items() if name not in desired}
        new_pods = [
            Pod(name, workload, *(self.ports.allocate() for _ in range(4)))
            for name, workload in desired.items()
            if name not in self.pods
        ]
        all_pods = tuple([rt.pod for rt in kept.values()] + new_pods)
        view = self._view(resources, all_pods)

        # 1. new pods, configured for the new step, serving before anyone routes to them
        started = await asyncio.gather(
            *(self._start_pod(pod, view) for pod in new_pods), return_exceptions=True
        )
        failures = [r for r in started if isinstance(r, BaseException)]
        runtimes = [r for r in started if isinstance(r, PodRuntime)]
        for runtime in runtimes:
            self.pods[runtime.pod.name] = runtime
        if failures:
            for runtime in runtimes:
                await self._stop_pod(runtime)
                del self.pods[runtime.pod.name]
            raise MeshError(f"new pods did not become ready: {failures[0]}")
        if new_pods:
            self.event(f"started {len(new_pods)} pod(s): {', '.join(p.name for p in new_pods)}")

        # 2-4. existing proxies: union of clusters, then listeners and routes, then prune
        proxies = [(rt.proxy, self._sidecar_config(view, rt.pod)) for rt in kept.values()]
        if self.ingress is not None:
            ingress_config = compile_ingress(view, self.ingress, self._rds_dir(self.ingress.name))
            if self.ingress_proxy is None:
                await self._start_ingress(ingress_config)
            else:
                proxies.append((self.ingress_proxy, ingress_config))
        await self._push_all(
            [(proxy, _union(proxy.current, config)) for proxy, config in proxies], ("cds",)
        )
        await self._push_all(proxies, ("lds", "rds"))
        await self._push_all(proxies, ("cds",))
        self.resources = resources

        # 5. pods this step no longer has
        if removed:
            await asyncio.sleep(0.5)  # let requests already routed to them finish
            await self._drain(list(removed.values()))
            # Callers before callees: an old app pod still finishing a vote needs the old
            # storage pod until it has answered (stopping them together lost a vote to 503).
            for tier in callers_first(removed.values()):
                await asyncio.gather(*(self._stop_pod(rt) for rt in tier))
            for name in removed:
                del self.pods[name]
            self.event(f"stopped {len(removed)} pod(s): {', '.join(sorted(removed))}")

    async def _push_all(
        self, proxies: list[tuple[EnvoyProxy, ProxyConfig]], kinds: tuple[str, ...]
    ) -> None:
        await asyncio.gather(
            *(proxy.push(self.session, kinds, config) for proxy, config in proxies)
        )

    def _view(self, resources: MeshResources, pods: tuple[Pod, ...]) -> MeshView:
        certs = {
            pod.name: self.ca.issue(resources.namespace, pod.workload.service_account, pod.name)
            for pod in pods
        }
        if self.ingress is not None:
            certs[self.ingress.name] = self.ca.issue(
                INGRESS_NAMESPACE, INGRESS_SERVICE_ACCOUNT, self.ingress.name
            )
        return MeshView(resources, pods, certs, self.options.auto_mtls)

    def _rds_dir(self, name: str) -> str:
        return str(self.state_dir / "envoy" / name / "rds")

    def _sidecar_config(self, view: MeshView, pod: Pod) -> ProxyConfig:
        return compile_sidecar(view, pod, self._rds_dir(pod.name))

    async def _start_ingress(self, config: ProxyConfig) -> None:
        assert self.ingress is not None
        directory = self.state_dir / "envoy" / self.ingress.name
        self.ingress_proxy = EnvoyProxy(
            self.ingress.name, directory, self.ingress.admin_port, "ingress"
        )
        self.ingress_proxy.write_all(config)
        logs = self.state_dir / "logs"
        logs.mkdir(exist_ok=True)
        self.ingress_process = ManagedProcess(
            "istio-ingressgateway",
            self.ingress_proxy.command(self.envoy, logs / "istio-ingressgateway.envoy.log"),
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            log_path=logs / "istio-ingressgateway.out",
            registry=self.registry,
            on_event=self.event,
        )
        await self.ingress_process.start()
        deadline = time.monotonic() + 15
        while not await self.ingress_proxy.ready(self.session):
            if time.monotonic() > deadline:
                raise MeshError(
                    f"the ingress gateway did not start (see {logs}/istio-ingressgateway.envoy.log)"
                )
            await asyncio.sleep(0.1)
        await self.ingress_proxy.check_accepted(self.session)

    async def _health_loop(self) -> None:
        """Readiness of every pod, as a kubelet would probe it (`/readyz` every 5 s).

        A dead process is seen within a second; the HTTP probe runs less often because a
        function's readiness check calls its backends through the mesh, and that traffic
        shows up in telemetry like any other.
        """
        tick = 0
        while True:
            for runtime in list(self.pods.values()):
                if not runtime.function.running:
                    runtime.ready = False
                elif tick % 5 == 0 or not runtime.ready:
                    runtime.ready = await self._alive(runtime.pod, "/readyz")
            tick += 1
            await asyncio.sleep(1.0)


def _check_inotify_limit(event: Callable[[str], None]) -> None:
    """Each Envoy holds three inotify instances (its LDS, CDS and RDS files); say so early."""
    try:
        limit = int(Path("/proc/sys/fs/inotify/max_user_instances").read_text())
    except (OSError, ValueError):
        return
    if limit < 512:
        event(
            f"warning: fs.inotify.max_user_instances is {limit}; Envoys crash when it runs out "
            "(raise it: sysctl -w fs.inotify.max_user_instances=8192, or run scripts/setup.sh as root)"
        )


def _union(current: ProxyConfig, new: ProxyConfig) -> ProxyConfig:
    """Old clusters plus new ones; where both have a cluster, the new settings win."""
    clusters = {c["name"]: c for c in current.clusters}
    clusters.update({c["name"]: c for c in new.clusters})
    return ProxyConfig(
        listeners=current.listeners, clusters=list(clusters.values()), route=current.route
    )
