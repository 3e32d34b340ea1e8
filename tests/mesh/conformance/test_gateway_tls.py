"""HTTPS Gateway servers and httpsRedirect, as istiod compiles them for the ingress.

Spec: pilot/pkg/networking/core/gateway.go (a TLS filter chain per HTTPS server, SNI on its
hosts, the credentialName Secret's certificate; an httpsRedirect server's virtual hosts
require TLS: 301 to https) and pkg/config/validation/validation.go (validateServer,
validateTLSOptions), Istio 1.28. Locally the certificate is inline and the redirect names
the ingress' HTTPS port (mesh/local/envoy/gateway_tls.py).
"""

from __future__ import annotations

import base64

import pytest
import yaml

from mesh.local.ca import LocalCA
from mesh.local.envoy import compile_ingress
from mesh.local.topology import IngressGateway
from mesh.model.errors import InvalidResource, UnsupportedField
from tests.support.mesh_view import documents, listener, view_of
from tests.support.tasks import tls_secret

HTTPS_PORT = 8443


def gateway(servers: str) -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: voting-app-gateway, namespace: voting}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
{servers}
"""


HTTPS = """  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["voting.example"]
    tls: {mode: SIMPLE, credentialName: voting-credential}"""
REDIRECT = """  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
    tls: {httpsRedirect: true}"""


def ingress(ca: LocalCA, servers: str, secret: dict | None = None):
    extra = gateway(servers) + "---\n" + yaml.safe_dump(secret or tls_secret())
    view = view_of(documents("canary", extra, drop=("Gateway/voting-app-gateway",)), ca)
    return compile_ingress(view, IngressGateway(8080, 8081, https_port=HTTPS_PORT), "/tmp/rds")


def test_an_https_server_is_a_tls_chain_with_the_secrets_certificate_matched_by_sni(ca):
    secret = tls_secret()
    config = ingress(ca, HTTPS + "\n" + REDIRECT, secret)
    https = listener(config, "ingress-https")
    assert https["address"]["socket_address"]["port_value"] == HTTPS_PORT
    (chain,) = https["filter_chains"]
    assert chain["filter_chain_match"] == {"server_names": ["voting.example"]}
    context = chain["transport_socket"]["typed_config"]["common_tls_context"]
    (certificate,) = context["tls_certificates"]
    assert (
        certificate["certificate_chain"]["inline_string"]
        == base64.b64decode(secret["data"]["tls.crt"]).decode()
    )
    # the same HTTP filters and route table as the plain listener (one gateway, two ports)
    plain = listener(config, "ingress")["filter_chains"][0]["filters"][0]
    assert chain["filters"][0] == plain


def test_https_redirect_answers_plain_http_301_to_the_https_port(ca):
    config = ingress(ca, HTTPS + "\n" + REDIRECT)
    assert config.route is not None
    for vhost in config.route["virtual_hosts"]:
        first = vhost["routes"][0]
        assert first["match"]["headers"] == [{"name": ":scheme", "string_match": {"exact": "http"}}]
        assert first["redirect"] == {"https_redirect": True, "port_redirect": HTTPS_PORT}


def test_without_an_https_server_there_is_no_tls_listener(ca):
    config = ingress(ca, REDIRECT.replace("\n    tls: {httpsRedirect: true}", ""))
    assert all(item["name"] != "ingress-https" for item in config.listeners)


@pytest.mark.parametrize(
    ("servers", "error", "message"),
    [
        (HTTPS.replace("mode: SIMPLE", "mode: MUTUAL"), UnsupportedField, r"tls\.mode=MUTUAL"),
        (
            HTTPS.replace(", credentialName: voting-credential", ""),
            InvalidResource,
            "needs a credentialName",
        ),
        (
            HTTPS.replace("\n    tls: {mode: SIMPLE, credentialName: voting-credential}", ""),
            InvalidResource,
            "must have TLS settings for HTTPS",
        ),
        (
            REDIRECT.replace("httpsRedirect: true", "mode: SIMPLE"),
            InvalidResource,
            "cannot have TLS settings for plain text HTTP ports",
        ),
        (
            HTTPS.replace("voting-credential", "nowhere"),
            InvalidResource,
            "no kubernetes.io/tls Secret 'nowhere' in namespace istio-system",
        ),
    ],
)
def test_what_istio_or_the_local_ingress_refuses_names_the_field(ca, servers, error, message):
    """validation.go validateServer / validateTLSOptions, and the Secret it must name."""
    with pytest.raises(error, match=message):
        ingress(ca, servers)


def test_a_secret_without_its_key_is_refused(ca):
    secret = tls_secret()
    del secret["data"]["tls.key"]
    with pytest.raises(InvalidResource, match=r"Secret 'voting-credential' has no tls\.key"):
        ingress(ca, HTTPS, secret)
