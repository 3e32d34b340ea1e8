"""DestinationRule connectionPool and outlierDetection on outbound clusters, as istiod builds them.

Spec: pilot/pkg/networking/core/cluster_traffic_policy.go (applyConnectionPool,
getDefaultCircuitBreakerThresholds, applyOutlierDetection), pilot/pkg/model/destination_rule.go
(MergeTrafficPolicy: a subset's block replaces the rule's), pkg/config/validation/validation.go
(validateConnectionPool, validateOutlierDetection), Istio 1.28.
"""

from __future__ import annotations

from typing import Any

import pytest

from mesh.local.ca import LocalCA
from mesh.local.envoy.common import UNLIMITED
from mesh.model.errors import InvalidResource, UnsupportedField
from mesh.model.resources import parse_resources
from tests.support.mesh_view import documents, ingress, listener, sidecar, view_of

ANALYTICS = "outbound_8080_v1-1_voting-analytics_v1-1"
POOL = """
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}"""
OUTLIER = """
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 3m
      maxEjectionPercent: 100"""


def rule(host: str, policy: str = "", subset_policy: str = "") -> str:
    subset = f"\n    trafficPolicy:{subset_policy}" if subset_policy else ""
    return f"""
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: {host}, namespace: voting}}
spec:
  host: {host}
  trafficPolicy:
    tls: {{mode: ISTIO_MUTUAL}}{policy}
  subsets:
  - name: v1-1
    labels: {{version: "1.1"}}{subset}
  - name: v2-0
    labels: {{version: "2.0"}}
"""


def analytics_docs(policy: str = "", subset_policy: str = "") -> list[dict[str, Any]]:
    return documents(
        "canary",
        rule("voting-analytics", policy, subset_policy),
        drop=("DestinationRule/voting-analytics",),
    )


def cluster(ca: LocalCA, docs: list[dict[str, Any]], name: str = ANALYTICS) -> dict[str, Any]:
    config = sidecar(view_of(docs, ca), "voting-app-1-0")
    return next(c for c in config.clusters if c["name"] == name)


def test_the_tasks_connection_pool_sets_the_thresholds_and_keeps_istios_defaults(ca):
    """cluster_traffic_policy.go applyConnectionPool: set fields replace MaxUint32 defaults."""
    found = cluster(ca, analytics_docs(POOL))
    assert found["circuit_breakers"] == {
        "thresholds": [
            {
                "max_connections": 1,
                "max_pending_requests": 1,
                "max_requests": UNLIMITED,
                "max_retries": UNLIMITED,
                "track_remaining": True,
            }
        ]
    }
    options = found["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]
    assert options["common_http_protocol_options"]["max_requests_per_connection"] == 1


def test_http2_max_requests_and_max_retries_set_their_thresholds(ca):
    """cluster_traffic_policy.go applyConnectionPool: http2MaxRequests → max_requests."""
    pool = "\n    connectionPool: {http: {http2MaxRequests: 7, maxRetries: 2}}"
    (threshold,) = cluster(ca, analytics_docs(pool))["circuit_breakers"]["thresholds"]
    assert (threshold["max_requests"], threshold["max_retries"]) == (7, 2)
    assert threshold["max_connections"] == threshold["max_pending_requests"] == UNLIMITED


def test_zero_is_unset_and_keeps_the_default(ca):
    """cluster_traffic_policy.go applyConnectionPool FIXME: only values > 0 are applied."""
    pool = "\n    connectionPool: {tcp: {maxConnections: 0}, http: {maxRetries: 0}}"
    (threshold,) = cluster(ca, analytics_docs(pool))["circuit_breakers"]["thresholds"]
    assert threshold["max_connections"] == threshold["max_retries"] == UNLIMITED


def test_outlier_detection_is_built_as_apply_outlier_detection_does(ca):
    """cluster_traffic_policy.go applyOutlierDetection: success rate off, panic threshold 0."""
    found = cluster(ca, analytics_docs(OUTLIER))
    assert found["outlier_detection"] == {
        "enforcing_success_rate": 0,
        "consecutive_5xx": 1,
        "enforcing_consecutive_5xx": 100,
        "interval": "1.000s",
        "base_ejection_time": "180.000s",
        "max_ejection_percent": 100,
    }
    assert found["common_lb_config"] == {"healthy_panic_threshold": {"value": 0.0}}


def test_gateway_errors_at_zero_are_not_enforced(ca):
    """cluster_traffic_policy.go applyOutlierDetection: enforcing 100 only for a value > 0."""
    outlier = "\n    outlierDetection: {consecutiveGatewayErrors: 0, consecutive5xxErrors: 3}"
    found = cluster(ca, analytics_docs(outlier))["outlier_detection"]
    assert found["consecutive_gateway_failure"] == 0
    assert found["enforcing_consecutive_gateway_failure"] == 0
    assert (found["consecutive_5xx"], found["enforcing_consecutive_5xx"]) == (3, 100)
    assert "interval" not in found and "max_ejection_percent" not in found


def test_without_a_policy_the_cluster_is_as_before(ca):
    """cluster_traffic_policy.go: no connectionPool → defaults; no outlierDetection → none."""
    found = cluster(ca, analytics_docs())
    assert found["circuit_breakers"]["thresholds"][0]["max_connections"] == UNLIMITED
    assert "outlier_detection" not in found and "common_lb_config" not in found


def test_a_subset_block_replaces_the_rules_whole(ca):
    """pilot/pkg/model/destination_rule.go MergeTrafficPolicy: subset connectionPool wins."""
    subset_pool = "\n      connectionPool: {http: {http2MaxRequests: 5}}"
    docs = analytics_docs(POOL + OUTLIER, subset_pool)
    found = cluster(ca, docs)
    (threshold,) = found["circuit_breakers"]["thresholds"]
    # replaced whole: the rule's maxConnections 1 is not inherited
    assert (threshold["max_requests"], threshold["max_connections"]) == (5, UNLIMITED)
    options = found["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]
    assert "max_requests_per_connection" not in options["common_http_protocol_options"]
    # an unset block is inherited from the rule
    assert found["outlier_detection"]["consecutive_5xx"] == 1


def test_the_ingress_gateway_clusters_get_the_policy_too(ca):
    """cluster_traffic_policy.go applyTrafficPolicy: every outbound cluster, gateways' too."""
    docs = documents(
        "canary",
        rule("voting-app", POOL).replace('"1.1"', '"1.0"').replace("v1-1", "v1-0"),
        drop=("DestinationRule/voting-app",),
    )
    clusters = [c for c in ingress(view_of(docs, ca)).clusters if "voting-app" in c["name"]]
    limited = [c for c in clusters if "_v1-0_" in c["name"]]
    assert limited
    for found in limited:
        assert found["circuit_breakers"]["thresholds"][0]["max_connections"] == 1


def test_what_the_gateway_sheds_is_answered_503_with_retry_after(ca):
    """Local addition (not istiod's): overflow (response flag UO) at the gateway carries
    Retry-After, as the sidecars' admission-limit overflow does, so clients back off."""
    view = view_of(documents("canary"), ca)
    manager = listener(ingress(view), "ingress")["filter_chains"][0]["filters"][0]
    (mapper,) = manager["typed_config"]["local_reply_config"]["mappers"]
    assert mapper["filter"] == {"response_flag_filter": {"flags": ["UO"]}}
    assert mapper["headers_to_add"][0]["header"] == {"key": "Retry-After", "value": "1"}


def parse(policy: str, subset_policy: str = "") -> None:
    parse_resources(analytics_docs(policy, subset_policy))


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ("connectionPool: {tcp: {connectTimeout: 1s}}", "connectionPool.tcp.connectTimeout"),
        ("connectionPool: {tcp: {tcpKeepalive: {time: 1s}}}", "connectionPool.tcp.tcpKeepalive"),
        ("connectionPool: {http: {idleTimeout: 1s}}", "connectionPool.http.idleTimeout"),
        ("connectionPool: {http: {h2UpgradePolicy: UPGRADE}}", "connectionPool.http.h2Upgrade"),
        ("outlierDetection: {minHealthPercent: 10}", "outlierDetection.minHealthPercent"),
        (
            "outlierDetection: {splitExternalLocalOriginErrors: true}",
            "outlierDetection.splitExternalLocalOriginErrors",
        ),
        ("loadBalancer: {simple: ROUND_ROBIN}", "trafficPolicy.loadBalancer"),
        ("portLevelSettings: []", "trafficPolicy.portLevelSettings"),
    ],
)
def test_other_sub_fields_are_refused_by_name(policy: str, field: str):
    with pytest.raises(UnsupportedField, match=field.replace(".", r"\.")):
        parse("\n    " + policy)
    with pytest.raises(UnsupportedField, match=field.replace(".", r"\.")):
        parse("", "\n      " + policy)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("connectionPool: {tcp: {maxConnections: -1}}", "max connections must be non-negative"),
        ("connectionPool: {http: {maxRetries: -1}}", "max retries must be non-negative"),
        (
            "connectionPool: {http: {http1MaxPendingRequests: -2}}",
            "http1 max pending requests must be non-negative",
        ),
        ("connectionPool: {}", "connection pool must have at least one field"),
        ("outlierDetection: {interval: 0s}", "greater than 1ms"),
        ("outlierDetection: {baseEjectionTime: soon}", "invalid duration"),
        ("outlierDetection: {maxEjectionPercent: 101}", "not in range 0..100"),
        ("outlierDetection: {consecutive5xxErrors: -1}", "must be non-negative"),
    ],
)
def test_invalid_values_are_refused_as_istio_validation_does(policy: str, message: str):
    """pkg/config/validation/validation.go validateConnectionPool / validateOutlierDetection."""
    with pytest.raises(InvalidResource, match=message):
        parse("\n    " + policy)
