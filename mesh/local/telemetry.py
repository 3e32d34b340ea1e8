"""A real Prometheus for the local mesh, producing Istio's standard series from Envoy's stats.

Istio's sidecars export `istio_requests_total` and `istio_request_duration_milliseconds` from
their own stats filter. Plain Envoy has cluster stats instead; the compiler names clusters so
that each carries the other side of the request (see mesh.local.envoy.common's docstring), and the
relabelling below turns them into Istio's series and labels:

  outbound_<port>_<subset>_<service>_v<version>  →  reporter="source", destination_* from the
      name, source_* from the scraped sidecar's own pod labels
  inbound_<port>_<mtls|plain>_<workload>_<app>_v<version>  →  reporter="destination",
      source_* from the name, destination_* from the scraped sidecar, and
      connection_security_policy mutual_tls / none from the filter chain that took the request

So the same PromQL (telemetry/queries.py) reads the local mesh and a cluster's Istio Prometheus.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from mesh.local.process import ManagedProcess, PidRegistry
from mesh.local.topology import INGRESS_WORKLOAD

SCRAPE_INTERVAL = "1s"
# Only the stats the series need: keeps each scrape small on a 2-core machine.
ENVOY_STATS_FILTER = (
    r"^cluster\.(in|out)bound_[^.]*\.upstream_rq(_[0-9]+|_time)$|^server\.(live|memory_allocated)$"
    # a caller's circuit breaking and outlier detection (telemetry/queries.py PROXY_QUERIES)
    r"|^cluster\.outbound_[^.]*\.(upstream_rq_pending_overflow|outlier_detection\.ejections_active)$"
)

_VERSION = r"v(\d+)-(\d+)"


def _rule(sources: list[str], regex: str, target: str, replacement: str) -> dict[str, Any]:
    return {
        "source_labels": sources,
        "regex": regex,
        "target_label": target,
        "replacement": replacement,
    }


def envoy_metric_relabels() -> list[dict[str, Any]]:
    """Envoy cluster stats → istio_requests_total / istio_request_duration_milliseconds."""
    rq = "envoy_cluster_upstream_rq(_time_bucket|_time_sum|_time_count)?"
    out = r"source;outbound_\d+_[^_]*_([^_]+)_"
    inn = r"destination;inbound_\d+_(mtls|plain)_([^_]+)_([^_]+)_"
    proxy = (
        r"envoy_cluster_(upstream_rq_pending_overflow|outlier_detection_ejections_active)"
        r";outbound_\d+_[^_]*_([^_]+)_"
    )
    rules = [
        _rule(["__name__", "envoy_cluster_name"], rq + ";outbound_.*", "reporter", "source"),
        _rule(["__name__", "envoy_cluster_name"], rq + ";inbound_.*", "reporter", "destination"),
        # source side: the destination comes from the cluster name
        _rule(["reporter", "envoy_cluster_name"], out + "v.*", "destination_service_name", "$1"),
        _rule(["reporter", "envoy_cluster_name"], out + "v.*", "destination_app", "$1"),
        _rule(["reporter", "envoy_cluster_name"], out + _VERSION, "destination_version", "$2.$3"),
        _rule(
            ["reporter", "envoy_cluster_name"], out + _VERSION, "destination_workload", "$1-$2-$3"
        ),
        _rule(
            ["reporter", "envoy_cluster_name"], out + "vunknown", "destination_version", "unknown"
        ),
        _rule(
            ["reporter", "envoy_cluster_name"], out + "vunknown", "destination_workload", "unknown"
        ),
        _rule(["reporter", "workload"], "source;(.*)", "source_workload", "$1"),
        _rule(["reporter", "app"], "source;(.*)", "source_app", "$1"),
        _rule(["reporter", "version"], "source;(.*)", "source_version", "$1"),
        _rule(["reporter"], "source", "connection_security_policy", "unknown"),
        # destination side: the source comes from the cluster name
        _rule(["reporter", "envoy_cluster_name"], inn + "v.*", "source_workload", "$2"),
        _rule(["reporter", "envoy_cluster_name"], inn + "v.*", "source_app", "$3"),
        _rule(["reporter", "envoy_cluster_name"], inn + _VERSION, "source_version", "$4.$5"),
        _rule(["reporter", "envoy_cluster_name"], inn + "vunknown", "source_version", "unknown"),
        _rule(
            ["reporter", "envoy_cluster_name"],
            r"destination;inbound_\d+_mtls_.*",
            "connection_security_policy",
            "mutual_tls",
        ),
        _rule(
            ["reporter", "envoy_cluster_name"],
            r"destination;inbound_\d+_plain_.*",
            "connection_security_policy",
            "none",
        ),
        _rule(["reporter", "workload"], "destination;(.*)", "destination_workload", "$1"),
        _rule(["reporter", "app"], "destination;(.*)", "destination_app", "$1"),
        _rule(["reporter", "app"], "destination;(.*)", "destination_service_name", "$1"),
        _rule(["reporter", "version"], "destination;(.*)", "destination_version", "$1"),
        # both sides
        _rule(
            ["reporter", "destination_service_name"],
            ".+;(.+)",
            "destination_service",
            "$1.voting.svc.cluster.local",
        ),
        _rule(["reporter"], ".+", "destination_service_namespace", "voting"),
        _rule(["reporter", "envoy_response_code"], ".+;(.+)", "response_code", "$1"),
        _rule(
            ["reporter", "__name__"],
            ".+;envoy_cluster_upstream_rq",
            "__name__",
            "istio_requests_total",
        ),
        _rule(
            ["reporter", "__name__"],
            ".+;envoy_cluster_upstream_rq_time_(bucket|sum|count)",
            "__name__",
            "istio_request_duration_milliseconds_$1",
        ),
        _rule(["reporter"], ".+", "envoy_cluster_name", ""),
        _rule(["reporter"], ".+", "envoy_response_code", ""),
        # a caller's circuit breaking and outlier detection: the destination from the
        # outbound cluster name too (mirror twins keep their `-shadow` service name; the
        # fault injector's `~abort` clusters match nothing), so readers never decode names
        _rule(
            ["__name__", "envoy_cluster_name"], proxy + _VERSION, "destination_service_name", "$2"
        ),
        _rule(["__name__", "envoy_cluster_name"], proxy + _VERSION, "destination_version", "$3.$4"),
    ]
    return rules


def prometheus_config(state_dir: Path) -> dict[str, Any]:
    directory = state_dir / "prometheus"
    return {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "evaluation_interval": SCRAPE_INTERVAL,
            "scrape_timeout": SCRAPE_INTERVAL,
        },
        "scrape_configs": [
            {
                "job_name": "envoy",
                "metrics_path": "/stats/prometheus",
                "params": {"usedonly": [""], "filter": [ENVOY_STATS_FILTER]},
                "file_sd_configs": [
                    {"files": [str(directory / "targets-envoy.json")], "refresh_interval": "1s"}
                ],
                "metric_relabel_configs": envoy_metric_relabels(),
            },
            {
                "job_name": "functions",
                "metrics_path": "/metrics",
                "file_sd_configs": [
                    {"files": [str(directory / "targets-functions.json")], "refresh_interval": "1s"}
                ],
            },
        ],
    }


def prometheus_binary(explicit: str | None = None) -> str | None:
    return explicit or shutil.which("prometheus")


class Prometheus:
    """The Prometheus process and the scrape targets it reads from file_sd files."""

    def __init__(self, state_dir: Path, port: int, binary: str, registry: PidRegistry) -> None:
        self.directory = state_dir / "prometheus"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        config = self.directory / "prometheus.yml"
        config.write_text(yaml.safe_dump(prometheus_config(state_dir), sort_keys=False))
        for name in ("targets-envoy.json", "targets-functions.json"):
            if not (self.directory / name).exists():
                (self.directory / name).write_text("[]")
        self.process = ManagedProcess(
            "prometheus",
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=6h",
                "--log.level=warn",
            ],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            log_path=self.directory / "prometheus.log",
            registry=registry,
        )

    async def start(self) -> None:
        await self.process.start()

    def set_targets(self, pods: list[Any], ingress_admin_port: int | None) -> None:
        """Rewrite the targets (atomically): every sidecar, the gateway, every function."""

        def target(port: int, pod: Any) -> dict[str, Any]:
            workload = pod.workload
            labels = {
                "pod": pod.name,
                "workload": workload.name,
                "app": workload.app,
                "version": workload.version,
                "namespace": "voting",
            }
            return {"targets": [f"127.0.0.1:{port}"], "labels": labels}

        envoys = [target(pod.admin_port, pod) for pod in pods]
        if ingress_admin_port:
            envoys.append(
                {
                    "targets": [f"127.0.0.1:{ingress_admin_port}"],
                    "labels": {
                        "pod": INGRESS_WORKLOAD,
                        "workload": INGRESS_WORKLOAD,
                        "app": INGRESS_WORKLOAD,
                        "version": "unknown",
                        "namespace": "istio-system",
                    },
                }
            )
        functions = [target(pod.app_port, pod) for pod in pods]
        for name, targets in (
            ("targets-envoy.json", envoys),
            ("targets-functions.json", functions),
        ):
            tmp = self.directory / f".{name}.tmp"
            tmp.write_text(json.dumps(targets))
            os.replace(tmp, self.directory / name)

    async def stop(self) -> None:
        await self.process.stop()
