"""The proxy-config tables on a config_dump captured from real Envoys at the canary step.

The fixture is what `tests/mesh/proxyconfig/capture.py` saved from a running `voting up`:
the ingress gateway and a voting-app 2.0 sidecar, as Envoy reported them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from mesh.proxyconfig import dump as d
from mesh.proxyconfig import tables
from mesh.proxyconfig.certs import secret_rows

FIXTURE = json.loads(Path(__file__).with_name("canary_dump.json").read_text())


def proxy(key: str) -> dict[str, Any]:
    return FIXTURE["proxies"][key]


def columns(text: str) -> list[str]:
    return text.splitlines()[0].split("  ")


def read_cert(path: str) -> bytes:
    try:
        return FIXTURE["certs"][path].encode()
    except KeyError:
        raise FileNotFoundError(path) from None


def test_the_fixture_is_the_canary_step() -> None:
    assert FIXTURE["step"]["name"] == "canary"
    assert proxy("sidecar")["name"].startswith("voting-app-2-0-")


def test_ingress_routes_show_the_cookie_match_and_the_v2_0_subset() -> None:
    rows = d.route_rows(proxy("ingress")["config_dump"], d.virtual_services(FIXTURE["documents"]))
    canary = next(r for r in rows if "featureflag=on" in r.match)
    assert canary.name == "ingress"
    assert canary.vhost == "voting-app-gateway/voting-app"
    assert canary.virtual_service == "voting-app.voting"
    assert canary.match.startswith("/* cookie=~")
    assert canary.action == "outbound_8080_v2-0_voting-app_v2-0"
    default = rows[rows.index(canary) + 1]  # first match wins: the cookie rule comes first
    assert default.match == "/*" and default.action == "outbound_8080_v1-0_voting-app_v1-0"
    text = tables.routes_table(rows)
    assert [c.strip() for c in columns(text) if c.strip()] == [
        "NAME",
        "VHOST NAME",
        "DOMAINS",
        "MATCH",
        "VIRTUAL SERVICE",
        "ROUTE",
        "ACTION",
    ]
    assert "featureflag-v2-0" in text


def test_sidecar_routes_weights_domains_and_subsets() -> None:
    rows = d.route_rows(proxy("sidecar")["config_dump"], d.virtual_services(FIXTURE["documents"]))
    by_vhost = {r.vhost: r for r in rows if r.name == "outbound"}
    app = by_vhost["voting-app.voting.svc.cluster.local:8080"]
    # no VirtualService of voting-app is for the mesh: the default route over both versions
    assert app.virtual_service == "-"
    assert app.action == "outbound_8080_-_voting-app_v1-0 50%, outbound_8080_-_voting-app_v2-0 50%"
    assert app.domains == "voting-app, voting-app.voting +6 more"
    analytics = by_vhost["voting-analytics.voting.svc.cluster.local:8080"]
    assert analytics.virtual_service == "voting-analytics.voting"
    assert analytics.action == "outbound_8080_v2-0_voting-analytics_v2-0"
    inbound = [r for r in rows if r.name == "inbound_mtls"]
    assert inbound[-1].match == "/*"  # the catch-all closes the table
    assert any("x-mesh-source-workload=voting-app-2-0" in r.match for r in inbound)
    abort = next(r for r in rows if r.name == "mesh_abort")
    assert abort.action == "direct 503"


def test_listeners_show_transport_match_and_destination() -> None:
    rows = d.listener_rows(proxy("sidecar")["config_dump"])
    assert [(r.match, r.destination) for r in rows] == [
        ("Trans: tls", "Inline Route: inbound_mtls"),  # STRICT: the plaintext chain is gone
        ("ALL", "Route: outbound"),
        ("ALL", "Inline Route: mesh_abort"),
    ]
    assert rows[0].address.startswith("127.0.0.1:") and rows[2].address == "internal:mesh_abort"
    text = tables.listeners_table(rows)
    assert text.splitlines()[0].split() == ["ADDRESS:PORT", "MATCH", "DESTINATION"]


def test_clusters_are_istio_mutual_with_their_destination_rule() -> None:
    rules = d.destination_rules({"services": FIXTURE["services"]})
    rows = d.cluster_rows(proxy("sidecar")["config_dump"], rules)
    outbound = [r for r in rows if r.direction == "outbound"]
    assert outbound and all(r.tls == "ISTIO_MUTUAL" for r in outbound)
    storage = next(r for r in outbound if r.fqdn.startswith("voting-storage."))
    assert (storage.fqdn, storage.port, storage.subset, storage.destination_rule) == (
        "voting-storage.voting.svc.cluster.local",
        "8080",
        "v2-0",
        "voting-storage.voting",
    )
    inbound = [r for r in rows if r.direction == "inbound"]
    assert inbound and all(r.tls == "mtls" for r in inbound)
    assert "from istio-ingressgateway" in {r.fqdn for r in inbound}
    gateway = d.cluster_rows(proxy("ingress")["config_dump"], rules)
    assert {(r.subset, r.version) for r in gateway} == {("v1-0", "v1-0"), ("v2-0", "v2-0")}
    text = tables.clusters_table(rows)
    assert "DESTINATION RULE" in text.splitlines()[0]


def test_endpoints_are_healthy_and_name_their_cluster() -> None:
    rows = d.endpoint_rows(proxy("sidecar")["clusters"])
    assert rows and {(r.status, r.outlier_check) for r in rows} == {("HEALTHY", "OK")}
    clusters = {r.cluster for r in rows}
    assert "outbound_8080_-_voting-app_v2-0" in clusters
    assert sum(r.cluster == "outbound_8080_-_voting-app_v2-0" for r in rows) == 3  # 3 replicas
    text = tables.endpoints_table(rows)
    assert text.splitlines()[0].split("  ")[0] == "ENDPOINT"


def test_secrets_show_the_spiffe_identity_and_the_root() -> None:
    config = proxy("sidecar")["config_dump"]
    leaf = secret_rows(config, now=dt.datetime.now(dt.UTC), read=read_cert)[0]
    during = dt.datetime.fromisoformat(leaf.not_before.replace("Z", "+00:00")) + dt.timedelta(
        minutes=10
    )
    rows = secret_rows(config, now=during, read=read_cert)
    assert [(r.resource_name, r.type, r.status, r.valid) for r in rows] == [
        ("default", "Cert Chain", "ACTIVE", True),
        ("ROOTCA", "CA", "ACTIVE", True),
    ]
    assert rows[0].identity == "spiffe://cluster.local/ns/voting/sa/voting-app"
    assert int(rows[0].serial, 16) > 0
    after = dt.datetime.fromisoformat(rows[0].not_after.replace("Z", "+00:00"))
    expired = secret_rows(config, now=after + dt.timedelta(seconds=1), read=read_cert)
    assert not expired[0].valid and expired[1].valid  # the leaf lapses long before the root
    text = tables.secrets_table(rows)
    assert "SERIAL NUMBER" in text and "true" in text


def test_a_certificate_not_issued_by_the_root_beside_it_is_not_valid() -> None:
    config = proxy("sidecar")["config_dump"]
    root = next(p for p in FIXTURE["certs"] if p.endswith("root-cert.pem"))
    leaf = next(p for p in FIXTURE["certs"] if p.endswith(f"{proxy('sidecar')['name']}-cert.pem"))

    def swapped(path: str) -> bytes:  # the leaf presented as its own root: a foreign CA
        return read_cert(leaf if path == root else path)

    now = dt.datetime.fromisoformat(
        secret_rows(config, read=read_cert)[0].not_before.replace("Z", "+00:00")
    ) + dt.timedelta(minutes=10)
    assert not secret_rows(config, now=now, read=swapped)[0].valid


def test_a_missing_certificate_file_is_shown_missing() -> None:
    def nothing(path: str) -> bytes:
        raise FileNotFoundError(path)

    rows = secret_rows(proxy("ingress")["config_dump"], read=nothing)
    assert rows and {(r.status, r.valid) for r in rows} == {("MISSING", False)}


def test_columns_line_up() -> None:
    text = tables.table(("A", "LONGER"), [("wide cell", "x"), ("y", "z")])
    assert text.splitlines() == ["A          LONGER", "wide cell  x", "y          z"]


STATUS = {
    "workloads": [
        {
            "name": "voting-app-1-0",
            "pods": [
                {"name": "voting-app-1-0-aa-1", "admin_port": 2},
                {"name": "voting-app-1-0-aa-0", "admin_port": 1},
            ],
        },
        {
            "name": "voting-storage-1-0",
            "pods": [{"name": "voting-storage-1-0-bb-0", "admin_port": 3}],
        },
    ],
    "ingress_admin_port": 9,
}


@pytest.mark.parametrize(
    ("name", "port"),
    [
        ("ingress", 9),
        ("istio-ingressgateway", 9),
        ("voting-storage", 3),
        ("voting-app-1-0-aa-1", 2),
        ("voting-app-1-0-aa-1.voting", 2),
        ("deploy/voting-app-1-0", 1),  # a workload's first pod, as istioctl's deploy/ form
    ],
)
def test_a_pod_is_named_by_its_name_or_a_unique_prefix(name: str, port: int) -> None:
    assert d.resolve(STATUS, name).admin_port == port


def test_an_ambiguous_or_unknown_name_lists_the_candidates() -> None:
    with pytest.raises(
        d.UnknownProxy, match=r"several pods: voting-app-1-0-aa-1, voting-app-1-0-aa-0 \(deploy/"
    ):
        d.resolve(STATUS, "voting-app-1-0")
    with pytest.raises(d.UnknownProxy, match=r"no pod named 'nope'; pods: .*istio-ingressgateway"):
        d.resolve(STATUS, "nope")
    with pytest.raises(d.UnknownProxy, match=r"no workload 'nope' with a pod; workloads: voting-"):
        d.resolve(STATUS, "deploy/nope")
