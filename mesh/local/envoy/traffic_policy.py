"""A DestinationRule's connectionPool and outlierDetection on an outbound cluster.

Spec: pilot/pkg/networking/core/cluster_traffic_policy.go (applyConnectionPool,
getDefaultCircuitBreakerThresholds, applyOutlierDetection) with the subset's policy merged over
the rule's as pilot/pkg/model/destination_rule.go MergeTrafficPolicy does.

Which limit wins: the app's own admission limit (`admission_limit`, a circuit breaker on the
*inbound* clusters of the server sidecar) is untouched; a DestinationRule's connectionPool
sets the *outbound* cluster's thresholds of every client (sidecars and the ingress gateway).
Without a connectionPool an outbound cluster keeps `static_cluster`'s Istio defaults. Istio
also applies connectionPool to inbound clusters; the local mesh does not, its admission limit
stays the server's only one.
"""

from __future__ import annotations

from typing import Any

from mesh.local.envoy.common import UNLIMITED
from mesh.model.destination_rule import ConnectionPool, OutlierDetection


def _seconds(value: float) -> str:
    return f"{value:.3f}s"


def circuit_breakers(pool: ConnectionPool) -> dict[str, Any]:
    """applyConnectionPool: Istio's defaults (MaxUint32), replaced by each field set above 0."""
    threshold: dict[str, Any] = {
        "max_connections": UNLIMITED,
        "max_pending_requests": UNLIMITED,
        "max_requests": UNLIMITED,
        "max_retries": UNLIMITED,
        "track_remaining": True,  # !features.DisableTrackRemainingMetrics
    }
    for key, value in (
        ("max_requests", pool.http2_max_requests),
        ("max_pending_requests", pool.http1_max_pending_requests),
        ("max_retries", pool.max_retries),  # FIXME in Istio: an explicit 0 keeps the default
        ("max_connections", pool.max_connections),
    ):
        if value:
            threshold[key] = value
    return {"thresholds": [threshold]}


def outlier_detection(outlier: OutlierDetection) -> dict[str, Any]:
    """applyOutlierDetection: success-rate ejection off, consecutive errors enforced at 100%."""
    result: dict[str, Any] = {"enforcing_success_rate": 0}
    if outlier.consecutive_5xx_errors is not None:
        result["consecutive_5xx"] = outlier.consecutive_5xx_errors
        result["enforcing_consecutive_5xx"] = 100 if outlier.consecutive_5xx_errors > 0 else 0
    if outlier.consecutive_gateway_errors is not None:
        value = outlier.consecutive_gateway_errors
        result["consecutive_gateway_failure"] = value
        result["enforcing_consecutive_gateway_failure"] = 100 if value > 0 else 0
    if outlier.interval is not None:
        result["interval"] = _seconds(outlier.interval)
    if outlier.base_ejection_time is not None:
        result["base_ejection_time"] = _seconds(outlier.base_ejection_time)
    if outlier.max_ejection_percent > 0:
        result["max_ejection_percent"] = outlier.max_ejection_percent
    return result


def apply_traffic_policy(
    cluster: dict[str, Any], pool: ConnectionPool | None, outlier: OutlierDetection | None
) -> None:
    """Set what the merged policy says on an outbound cluster (in place)."""
    if pool is not None:
        cluster["circuit_breakers"] = circuit_breakers(pool)
        if pool.max_requests_per_connection:
            options = cluster["typed_extension_protocol_options"][
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
            ]
            options["common_http_protocol_options"]["max_requests_per_connection"] = (
                pool.max_requests_per_connection
            )
    if outlier is not None:
        cluster["outlier_detection"] = outlier_detection(outlier)
        # minHealthPercent unset (0) >= 0: the panic threshold is disabled.
        cluster.setdefault("common_lb_config", {})["healthy_panic_threshold"] = {"value": 0.0}
