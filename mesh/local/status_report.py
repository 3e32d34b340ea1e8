"""What `voting status` reports of the local system: workloads, services, memory, events.

`StatusReport` is a part of `LocalMesh` (mesh/local/system.py), kept apart from the step
changes: it only reads the state the system holds.
"""

from __future__ import annotations

import os
from typing import Any

from mesh.local.process import ManagedProcess, pss_of
from mesh.model.describe import service_status
from mesh.rollout_lease import observe as observe_rollout


class StatusReport:
    """The status document and the system's memory; mixed into `LocalMesh`."""

    def status(self) -> dict[str, Any]:
        """Workloads, routes and mutual-TLS modes in force: what `voting status` prints."""
        resources = self.resources
        pods = tuple(rt.pod for rt in self.pods.values())
        workloads = []
        for workload in resources.mesh_workloads():
            members = [rt for rt in self.pods.values() if rt.pod.workload == workload]
            workloads.append(
                {
                    "name": workload.name,
                    "app": workload.app,
                    "version": workload.version,
                    "desired": workload.replicas,
                    "ready": sum(1 for rt in members if rt.ready),
                    "restarts": sum(rt.function.restarts for rt in members),
                    "pods": [
                        {
                            "name": rt.pod.name,
                            "app_port": rt.pod.app_port,
                            "inbound_port": rt.pod.inbound_port,
                            "admin_port": rt.pod.admin_port,
                            "ready": rt.ready,
                        }
                        for rt in members
                    ],
                }
            )
        services = []
        for service in resources.services:
            if service.name not in {w.app for w in resources.mesh_workloads()}:
                continue
            endpoints = [p.labels for p in pods if service.selects(p.labels)]
            services.append(
                service_status(
                    resources,
                    service.name,
                    dict(service.selector),
                    endpoints,
                    self.options.auto_mtls,
                )
            )
        return {
            "step": {"number": self.step.number, "name": self.step.name} if self.step else None,
            "applied": self.applied,
            "ingress": f"http://127.0.0.1:{self.options.ingress_port}/",
            "ingress_https": (  # only while a Gateway has an HTTPS server to serve there
                f"https://127.0.0.1:{self.ingress.https_port}/"
                if self.ingress
                and self.ingress.https_port
                and any(s.is_tls for g in resources.gateways for s in g.servers)
                else None
            ),
            "ingress_admin_port": self.ingress.admin_port if self.ingress else None,
            "prometheus": self.prometheus.url if self.prometheus else None,
            "auto_mtls": self.options.auto_mtls,
            "workloads": workloads,
            "services": services,
            "stores": {
                "redis": self.redis.url if self.redis else None,
                "mysql": f"{self.mysql.host}:{self.mysql.port}/{self.mysql.database}"
                if self.mysql
                else None,
            },
            "rss_bytes": self.rss_bytes(),
            "pss_bytes": self.pss_bytes(),
            "rollout": observe_rollout(self.rollout),  # `controller-lost` once its lease expired
            "events": [{"time": t, "message": m} for t, m in list(self.events)[-50:]],
        }

    def _processes(self) -> list[ManagedProcess]:
        processes = [rt.function for rt in self.pods.values()]
        processes += [rt.envoy for rt in self.pods.values()]
        processes += [p for p in (self.ingress_process,) if p]
        return processes + self.backends.private + self.extra_processes

    def pss_bytes(self) -> int:
        """Memory of the whole system, shared pages counted once (this supervisor included)."""
        processes = self._processes()
        hosts = {pid for p in processes if p.running for pid in p.host_pids}
        return (
            pss_of(os.getpid())
            + sum(p.pss_bytes() for p in processes)
            + sum(pss_of(pid) for pid in hosts)
        )

    def rss_bytes(self) -> int:
        """Sum of every process's RSS: counts shared pages (the Envoy binary) once per process."""
        return sum(p.rss_bytes() for p in self._processes())
