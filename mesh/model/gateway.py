"""Gateway: the servers (port, protocol, hosts) the ingress gateway serves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesh.model.errors import InvalidResource, UnsupportedField
from mesh.model.fields import LEAF, labels
from mesh.model.kinds import IMPLEMENTED

SCHEMA = {
    "spec": {
        "selector": LEAF,
        "servers": [{"port": {"number": LEAF, "name": LEAF, "protocol": LEAF}, "hosts": LEAF}],
    }
}


@dataclass(frozen=True)
class GatewayServer:
    port: int
    protocol: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Gateway:
    name: str
    selector: tuple[tuple[str, str], ...]
    servers: tuple[GatewayServer, ...]
    namespace: str = "voting"


HTTP_PROTOCOLS = {"HTTP", "HTTP2", "GRPC"}
"""Gateway server protocols the local ingress serves (plaintext HTTP, HTTP/2 prior knowledge)."""


def parse_gateway(name: str, spec: dict[str, Any], namespace: str, resource: str) -> Gateway:
    """Validated as validation.go validateServer does, for the servers the local mesh runs."""
    servers = []
    for index, server in enumerate(spec.get("servers") or []):
        where = f"{resource}: spec.servers[{index}]"
        hosts = tuple(server.get("hosts") or ())
        if not hosts:
            raise InvalidResource(f"{where}: server config must contain at least one host")
        for host in hosts:
            if host.count("/") > 1 or host.endswith("/") or (host.startswith("/")):
                raise InvalidResource(f"{where}.hosts: invalid host {host!r}")
        port = server.get("port") or {}
        if "number" not in port:
            raise InvalidResource(f"{where}.port: port is required")
        protocol = str(port.get("protocol", "")).upper()
        if protocol not in HTTP_PROTOCOLS:
            raise UnsupportedField(
                resource,
                f"spec.servers[{index}].port.protocol={protocol or '(none)'}",
                f"{IMPLEMENTED['Gateway']} (the local ingress serves "
                f"{', '.join(sorted(HTTP_PROTOCOLS))})",
            )
        servers.append(GatewayServer(port=int(port["number"]), protocol=protocol, hosts=hosts))
    if len({s.port for s in servers}) > 1:
        raise InvalidResource(
            f"{resource}: spec.servers: the local ingress gateway serves one port; "
            f"these servers use {sorted({s.port for s in servers})}"
        )
    return Gateway(
        name=name,
        selector=labels(spec.get("selector")),
        servers=tuple(servers),
        namespace=namespace,
    )
