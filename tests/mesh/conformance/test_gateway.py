"""Gateway servers as istiod turns them into the ingress's virtual hosts.

Spec: pilot/pkg/networking/core/gateway.go (pickMatchingGatewayHosts: a VirtualService host
is served when it matches a server host, `ns/host` limiting the VirtualService's namespace;
one virtual host per host, the routes of every VirtualService for it merged),
pkg/config/host/name.go (Name.Matches) and pkg/config/validation/validation.go
(validateServer), Istio 1.28.
"""

from __future__ import annotations

import pytest

from mesh.local.ca import LocalCA
from mesh.model.errors import InvalidResource, UnsupportedField
from tests.support.mesh_view import documents, ingress, view_of

APP_GATEWAY = ("Gateway/voting-app-gateway", "VirtualService/voting-app")


def gateway(hosts: str, protocol: str = "HTTP", port: int = 80, extra_server: str = "") -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: public, namespace: voting}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - {{port: {{number: {port}, name: web, protocol: {protocol}}}, hosts: {hosts}}}{extra_server}
---"""


def virtual_service(name: str, hosts: str, namespace: str = "voting") -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  hosts: {hosts}
  gateways: [voting/public]
  http: [{{route: [{{destination: {{host: voting-app.voting.svc.cluster.local}}}}]}}]
---"""


def vhosts(ca: LocalCA, extra: str) -> list[tuple[str, list[str], int]]:
    route = ingress(view_of(documents("deploy", extra, drop=APP_GATEWAY), ca)).route
    assert route is not None
    return [(v["name"], v["domains"], len(v["routes"])) for v in route["virtual_hosts"]]


def test_only_the_hosts_a_server_serves_become_domains(ca):
    extra = gateway("[votes.example.com]") + virtual_service(
        "front", "[votes.example.com, admin.example.com]"
    )
    assert vhosts(ca, extra) == [("public/front", ["votes.example.com", "votes.example.com:*"], 1)]


def test_a_wildcard_server_host_serves_the_hosts_it_covers(ca):
    extra = gateway("['*.example.com']") + virtual_service(
        "front", "[votes.example.com, other.org]"
    )
    assert [d for _, d, _ in vhosts(ca, extra)] == [["votes.example.com", "votes.example.com:*"]]


def test_a_virtual_service_no_server_host_matches_gets_no_virtual_host(ca):
    extra = gateway("[shop.example.com]") + virtual_service("front", "[votes.example.com]")
    assert vhosts(ca, extra) == []


def test_a_namespace_prefixed_server_host_serves_only_that_namespaces_virtual_services(ca):
    extra = gateway("['other/*']") + virtual_service("front", "['*']")
    assert vhosts(ca, extra) == []
    extra = gateway("['voting/*']") + virtual_service("front", "['*']")
    assert [n for n, _, _ in vhosts(ca, extra)] == ["public/front"]


def test_virtual_services_for_the_same_host_share_one_virtual_host(ca):
    # Envoy refuses two virtual hosts with the same domain; istiod merges their routes.
    extra = gateway("['*']") + virtual_service("a", "['*']") + virtual_service("b", "['*']")
    assert vhosts(ca, extra) == [("public/a", ["*"], 2)]


@pytest.mark.parametrize("protocol", ["TLS", "TCP"])
def test_a_server_protocol_the_local_ingress_does_not_serve_is_refused(ca, protocol):
    with pytest.raises(UnsupportedField, match=rf"spec\.servers\[0\]\.port\.protocol={protocol}"):
        vhosts(ca, gateway("['*']", protocol=protocol))


def test_servers_on_several_ports_are_refused(ca):
    extra_server = "\n  - {port: {number: 8080, name: alt, protocol: HTTP}, hosts: ['*']}"
    with pytest.raises(InvalidResource, match="serves one plain text port"):
        vhosts(ca, gateway("['*']", extra_server=extra_server))


def test_a_server_without_hosts_is_refused(ca):
    # validation.go validateServer: "server config must contain at least one host".
    with pytest.raises(InvalidResource, match="at least one host"):
        vhosts(ca, gateway("[]"))
