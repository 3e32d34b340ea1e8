"""Pods of the local mesh: a function process and its sidecar Envoy, started, probed, drained.

`PodLifecycle` is a part of `LocalMesh` (mesh/local/system.py), which holds the state it
uses (state dir, pid registry, Envoy binary, options, HTTP session, stores); kept apart so
that the system module holds the step changes and this one what a single pod goes through.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

import aiohttp

from mesh.local.envoy import MeshView
from mesh.local.envoy_proxy import EnvoyProxy
from mesh.local.errors import MeshError
from mesh.local.process import ManagedProcess
from mesh.local.topology import Pod
from mesh.model.workloads import Workload

_PROXY_ENV = (
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
)


@dataclass
class PodRuntime:
    """A running pod: its function process, its sidecar process and the sidecar's files."""

    pod: Pod
    function: ManagedProcess
    envoy: ManagedProcess
    proxy: EnvoyProxy
    ready: bool = False


def template_hash(workload: Workload, revision: int = 0) -> str:
    """Like Kubernetes' pod-template-hash: a changed pod spec (or new code) means new pods."""
    spec = json.dumps(
        [workload.labels, workload.env, workload.service_account, revision], sort_keys=True
    )
    return hashlib.sha256(spec.encode()).hexdigest()[:5]


_CALL_ORDER = {"vote": 0, "results": 1, "storage": 2}


def callers_first(runtimes: Iterable[PodRuntime]) -> list[list[PodRuntime]]:
    """Pods grouped by their place in the call chain: vote, then results, then storage."""
    tiers: dict[int, list[PodRuntime]] = {}
    for runtime in runtimes:
        tier = _CALL_ORDER.get(runtime.pod.workload.function or "", len(_CALL_ORDER))
        tiers.setdefault(tier, []).append(runtime)
    return [tiers[tier] for tier in sorted(tiers)]


class PodLifecycle:
    """Starting, probing, draining and stopping pods; mixed into `LocalMesh`."""

    def _function_env(self, pod: Pod) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _PROXY_ENV}
        env.update(dict(pod.workload.env))
        proxy = f"http://127.0.0.1:{pod.outbound_port}"
        env.update({"POD_NAME": pod.name, "HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": ""})
        env["VOTING_STATE_DIR"] = str(self.state_dir)  # marks the process as this system's
        if pod.workload.function == "storage" and self.redis and self.mysql:
            env["REDIS_URL"] = self.redis.url
            env.update(self.mysql.env())
        return env

    async def _start_pod(self, pod: Pod, view: MeshView) -> PodRuntime:
        directory = self.state_dir / "envoy" / pod.name
        proxy = EnvoyProxy(pod.name, directory, pod.admin_port, "outbound")
        proxy.write_all(self._sidecar_config(view, pod))
        logs = self.state_dir / "logs"
        logs.mkdir(exist_ok=True)
        envoy = ManagedProcess(
            f"{pod.name}/istio-proxy",
            proxy.command(self.envoy, logs / f"{pod.name}.envoy.log"),
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            log_path=logs / f"{pod.name}.envoy.out",
            registry=self.registry,
            on_event=self.event,
        )
        function = ManagedProcess(
            f"{pod.name}/{pod.workload.app}",
            [
                sys.executable,
                "-m",
                "voting",
                "function",
                pod.workload.function or "",
                "--version",
                pod.workload.version,
                "--host",
                "127.0.0.1",
                "--port",
                str(pod.app_port),
            ],
            env=self._function_env(pod),
            log_path=logs / f"{pod.name}.log",
            registry=self.registry,
            on_event=self.event,
            forked=self.options.function_processes == "forked",
        )
        runtime = PodRuntime(pod, function, envoy, proxy)
        await envoy.start()
        await function.start()
        try:
            await self._wait_ready(runtime, timeout=30)
        except BaseException:
            await self._stop_pod(runtime)
            raise
        return runtime

    async def _wait_ready(self, runtime: PodRuntime, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not runtime.function.running and runtime.function.restarts > 2:
                break
            if await runtime.proxy.ready(self.session) and await self._alive(runtime.pod):
                await runtime.proxy.check_accepted(self.session)
                runtime.ready = True
                return
            await asyncio.sleep(0.1)
        raise MeshError(
            f"pod {runtime.pod.name} did not start (see {self.state_dir}/logs/{runtime.pod.name}.log)"
        )

    async def _alive(self, pod: Pod, path: str = "/healthz") -> bool:
        try:
            async with self.session.get(
                f"http://127.0.0.1:{pod.app_port}{path}", timeout=aiohttp.ClientTimeout(total=1)
            ) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _stop_pod(self, runtime: PodRuntime) -> None:
        await runtime.function.stop()
        await runtime.envoy.stop(grace=2)

    async def _drain(self, runtimes: list[PodRuntime], timeout: float = 5.0) -> None:
        """Wait until no request is in flight through these pods' sidecars (at most `timeout`).

        A fixed pause is not enough on a loaded machine, where one request can take longer.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            active = await asyncio.gather(*(self._in_flight(rt) for rt in runtimes))
            if not any(active):
                return
            await asyncio.sleep(0.1)

    async def _in_flight(self, runtime: PodRuntime) -> int:
        url = (
            f"http://127.0.0.1:{runtime.pod.admin_port}/stats?format=json"
            "&filter=http\\.inbound_.*\\.downstream_rq_active$"
        )
        try:
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as response:
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return 0  # its Envoy is gone: nothing in flight through it
        return sum(int(s.get("value", 0)) for s in data.get("stats", []))
