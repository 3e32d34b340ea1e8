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
        "servers": [
            {
                "port": {"number": LEAF, "name": LEAF, "protocol": LEAF},
                "hosts": LEAF,
                "tls": {"mode": LEAF, "credentialName": LEAF, "httpsRedirect": LEAF},
            }
        ],
    }
}
"""Server TLS: SIMPLE with a credentialName (a kubernetes.io/tls Secret), and httpsRedirect;
file paths, MUTUAL, PASSTHROUGH and cipher/version knobs are refused by name."""


@dataclass(frozen=True)
class GatewayServer:
    port: int
    protocol: str
    hosts: tuple[str, ...]
    credential_name: str | None = None  # an HTTPS server's TLS Secret (tls.mode SIMPLE)
    https_redirect: bool = False  # an HTTP server that answers 301 to https

    @property
    def is_tls(self) -> bool:
        return self.protocol in TLS_PROTOCOLS


@dataclass(frozen=True)
class Gateway:
    name: str
    selector: tuple[tuple[str, str], ...]
    servers: tuple[GatewayServer, ...]
    namespace: str = "voting"


HTTP_PROTOCOLS = {"HTTP", "HTTP2", "GRPC"}
"""Gateway server protocols the local ingress serves (plaintext HTTP, HTTP/2 prior knowledge)."""
TLS_PROTOCOLS = {"HTTPS"}
"""Served on the ingress' TLS port (`voting up --https-port`), terminated with the Secret."""


def _tls(
    server: dict[str, Any], protocol: str, where: str, resource: str, index: int
) -> tuple[str | None, bool]:
    """validation.go validateServer / validateTLSOptions, for what the local ingress runs."""
    tls = server.get("tls")
    if protocol in TLS_PROTOCOLS:
        if tls is None:
            raise InvalidResource(f"{where}: server must have TLS settings for HTTPS/TLS protocols")
        mode = str(tls.get("mode", "PASSTHROUGH"))
        if mode != "SIMPLE":
            raise UnsupportedField(
                resource,
                f"spec.servers[{index}].tls.mode={mode}",
                f"{IMPLEMENTED['Gateway']} (the local ingress terminates SIMPLE TLS)",
            )
        name = tls.get("credentialName")
        if not isinstance(name, str) or not name:
            raise InvalidResource(
                f"{where}.tls.credentialName: SIMPLE TLS needs a credentialName locally "
                "(a kubernetes.io/tls Secret in the gateway's namespace)"
            )
        if tls.get("httpsRedirect"):
            raise InvalidResource(f"{where}.tls.httpsRedirect: is for plain text HTTP servers")
        return name, False
    if tls is not None:
        if set(tls) - {"httpsRedirect"}:
            raise InvalidResource(
                f"{where}: server cannot have TLS settings for plain text HTTP ports"
            )
        return None, bool(tls.get("httpsRedirect"))
    return None, False


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
        if protocol not in HTTP_PROTOCOLS | TLS_PROTOCOLS:
            raise UnsupportedField(
                resource,
                f"spec.servers[{index}].port.protocol={protocol or '(none)'}",
                f"{IMPLEMENTED['Gateway']} (the local ingress serves "
                f"{', '.join(sorted(HTTP_PROTOCOLS | TLS_PROTOCOLS))})",
            )
        credential, redirect = _tls(server, protocol, where, resource, index)
        servers.append(
            GatewayServer(
                port=int(port["number"]),
                protocol=protocol,
                hosts=hosts,
                credential_name=credential,
                https_redirect=redirect,
            )
        )
    for tls, what in ((False, "plain text"), (True, "TLS")):
        ports = sorted({s.port for s in servers if s.is_tls == tls})
        if len(ports) > 1:
            raise InvalidResource(
                f"{resource}: spec.servers: the local ingress gateway serves one {what} port "
                f"(`voting up --port` / `--https-port`); these servers use {ports}"
            )
    return Gateway(
        name=name,
        selector=labels(spec.get("selector")),
        servers=tuple(servers),
        namespace=namespace,
    )
