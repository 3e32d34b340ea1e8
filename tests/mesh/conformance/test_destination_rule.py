"""DestinationRule client TLS and host lookup as istiod applies them.

Spec: pilot/pkg/networking/core/cluster_tls.go (buildUpstreamTLSSettings: a subset's tls
replaces the rule's; none → auto mTLS), istio/api networking/v1alpha3/destination_rule.proto
(ClientTLSSettings.mode defaults to DISABLE), pilot/pkg/model/push_context.go (the most
specific host wins), Istio 1.28.
"""

from __future__ import annotations

from mesh.model.policy import client_tls_mode
from mesh.model.resources import parse_resources
from tests.support.mesh_view import documents, sidecar, view_of

DR = "DestinationRule/voting-analytics"


def rule(host: str, traffic_policy: str = "", subset_policy: str = "", name: str = "r") -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: {name}, namespace: voting}}
spec:
  host: "{host}"{traffic_policy}
  subsets:
  - {{name: v1-0, labels: {{version: "1.0"}}{subset_policy}}}
  - {{name: v1-1, labels: {{version: "1.1"}}}}
---"""


def tls_to_analytics(extra: str, subset: str | None = None) -> str:
    resources = parse_resources(documents("lock-down", extra, drop=(DR,)))
    return client_tls_mode(resources, "voting-analytics", subset, [{"app": "voting-analytics"}])


def test_an_empty_tls_block_means_disable_not_auto_mtls():
    # destination_rule.proto: ClientTLSSettings.mode's zero value is DISABLE.
    assert tls_to_analytics(rule("voting-analytics", "\n  trafficPolicy: {tls: {}}")) == "DISABLE"


def test_without_tls_auto_mtls_sends_istio_mutual():
    # cluster_tls.go: no tls settings → auto mTLS towards mTLS-capable endpoints.
    assert tls_to_analytics(rule("voting-analytics")) == "ISTIO_MUTUAL"


def test_a_subset_tls_replaces_the_rules():
    # cluster_tls.go: subset traffic policy merged over the rule's, tls replaced whole.
    extra = rule(
        "voting-analytics",
        "\n  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}",
        ", trafficPolicy: {tls: {mode: DISABLE}}",
    )
    assert tls_to_analytics(extra, "v1-0") == "DISABLE"
    assert tls_to_analytics(extra, "v1-1") == "ISTIO_MUTUAL"


def test_a_wildcard_host_rule_applies_to_the_namespaces_services():
    extra = rule("*.voting.svc.cluster.local", "\n  trafficPolicy: {tls: {mode: DISABLE}}")
    assert tls_to_analytics(extra) == "DISABLE"


def test_an_exact_host_rule_wins_over_a_wildcard_one():
    # push_context.go: the most specific host's DestinationRule is used.
    extra = rule(
        "*.voting.svc.cluster.local", "\n  trafficPolicy: {tls: {mode: DISABLE}}", name="w"
    )
    extra += rule(
        "voting-analytics.voting.svc.cluster.local",
        "\n  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}",
    )
    assert tls_to_analytics(extra) == "ISTIO_MUTUAL"


def test_disable_compiles_a_plaintext_cluster(ca):
    docs = documents(
        "lock-down",
        rule("voting-analytics", "\n  trafficPolicy: {tls: {mode: DISABLE}}"),
        drop=(DR,),
    )
    config = sidecar(view_of(docs, ca), "voting-app-1-0")
    analytics = [
        c for c in config.clusters if c["name"].startswith("outbound_8080_v1-1_voting-analytics")
    ]
    assert analytics and all("transport_socket" not in c for c in analytics)
