"""Pods of the local mesh: which processes exist and on which loopback ports.

A pod here is one function process plus its Envoy sidecar, like a Kubernetes pod with an
injected istio-proxy. Ports are allocated once per pod and kept across restarts, so a
restarted replica comes back at the same endpoint (as a pod IP would stay with a pod).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from mesh.model.workloads import Workload

INGRESS_WORKLOAD = "istio-ingressgateway"
INGRESS_NAMESPACE = "istio-system"
INGRESS_SERVICE_ACCOUNT = "istio-ingressgateway-service-account"


@dataclass(frozen=True)
class Pod:
    """One replica of a mesh workload and the loopback ports of its processes."""

    name: str
    workload: Workload
    app_port: int
    inbound_port: int
    outbound_port: int
    admin_port: int

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.workload.labels)


@dataclass(frozen=True)
class IngressGateway:
    """The ingress gateway proxy: an Envoy of its own, like istio-ingressgateway."""

    port: int
    admin_port: int
    labels: tuple[tuple[str, str], ...] = (("app", INGRESS_WORKLOAD), ("istio", "ingressgateway"))
    https_port: int | None = None  # where HTTPS Gateway servers are served (`--https-port`)
    name: str = INGRESS_WORKLOAD


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux default 32768-60999)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


class PortAllocator:
    """Hands out free loopback ports from a base upwards, never the same one twice.

    Ports in the ephemeral range are skipped: a port free now could be taken as the local
    port of some outgoing connection before the pod restarts on it. A base chosen inside
    that range is taken as a deliberate choice (e.g. tests confined to a port range) and
    honoured: ports are then handed out from it upwards like any other.
    """

    def __init__(self, base: int) -> None:
        self._next = base
        self._taken: set[int] = set()
        low, high = ephemeral_range()
        self._ephemeral = (0, -1) if low <= base <= high else (low, high)

    def reserve(self, port: int) -> None:
        self._taken.add(port)

    def allocate(self) -> int:
        while True:
            port = self._next
            self._next += 1
            low, high = self._ephemeral
            if low <= port <= high:
                self._next = high + 1
                continue
            if port in self._taken or port > 65535:
                if port > 65535:
                    raise RuntimeError("no free loopback port left")
                continue
            if port_is_free(port):
                self._taken.add(port)
                return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
