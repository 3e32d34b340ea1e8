"""HTTPS Gateway servers on the ingress: a TLS listener with each server's Secret, and the
plain listener's `httpsRedirect`.

After pilot/pkg/networking/core/gateway.go (a filter chain per TLS server, matched by SNI on
its hosts, its certificate from the credentialName Secret through SDS; an HTTP server with
`tls.httpsRedirect` gives its virtual hosts `require_tls: ALL`, a 301 to https). Locally the
certificate is inline (no SDS), and the redirect names the ingress' HTTPS port, which is not
443 on one machine: a route for plain-HTTP requests (`:scheme` http) that redirects to it.
"""

from __future__ import annotations

from typing import Any

from mesh.local.envoy.common import T_DOWNSTREAM_TLS, T_LISTENER, address
from mesh.local.topology import IngressGateway
from mesh.model.gateway import Gateway
from mesh.model.kinds import ROOT_NAMESPACE
from mesh.model.resources import MeshResources


def tls_listener(
    resources: MeshResources,
    bound: list[Gateway],
    ingress: IngressGateway,
    manager: dict[str, Any],
) -> dict[str, Any] | None:
    """The ingress' HTTPS listener, one filter chain per HTTPS server, or None without one."""
    chains = []
    for gw in bound:
        for server in gw.servers:
            if server.credential_name is None:
                continue
            secret = resources.tls_secrets[(ROOT_NAMESPACE, server.credential_name)]
            chain: dict[str, Any] = {
                "filters": [manager],
                "transport_socket": {
                    "name": "envoy.transport_sockets.tls",
                    "typed_config": {
                        "@type": T_DOWNSTREAM_TLS,
                        "common_tls_context": {
                            "alpn_protocols": ["h2", "http/1.1"],
                            "tls_certificates": [
                                {
                                    "certificate_chain": {"inline_string": secret["tls.crt"]},
                                    "private_key": {"inline_string": secret["tls.key"]},
                                }
                            ],
                        },
                    },
                },
            }
            names = [h.split("/")[-1] for h in server.hosts if h.split("/")[-1] != "*"]
            if names:  # gateway.go: SNI picks the server's chain
                chain["filter_chain_match"] = {"server_names": names}
            chains.append(chain)
    if not chains or ingress.https_port is None:
        return None
    return {
        "@type": T_LISTENER,
        "name": "ingress-https",
        "address": address(ingress.https_port),
        "listener_filters": [
            {
                "name": "envoy.filters.listener.tls_inspector",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
                },
            }
        ],
        "filter_chains": chains,
    }


def https_redirect_route(bound: list[Gateway], ingress: IngressGateway) -> dict[str, Any] | None:
    """A plain-HTTP request to a gateway with an `httpsRedirect` server: 301 to the HTTPS port."""
    redirects = any(s.https_redirect for gw in bound for s in gw.servers)
    if not redirects or ingress.https_port is None:
        return None
    redirect: dict[str, Any] = {"https_redirect": True}
    if ingress.https_port != 443:
        redirect["port_redirect"] = ingress.https_port
    return {
        "name": "https-redirect",
        "match": {
            "prefix": "/",
            "headers": [{"name": ":scheme", "string_match": {"exact": "http"}}],
        },
        "redirect": redirect,
    }
