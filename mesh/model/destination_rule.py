"""DestinationRule: subsets, the client TLS mode, connection pool and outlier detection.

networking/v1alpha3/destination_rule.proto; validation as pkg/config/validation/validation.go
(validateConnectionPool, validateOutlierDetection) and agent.ValidateDuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesh.model.errors import InvalidResource, UnsupportedField
from mesh.model.fields import LEAF, labels, parse_duration

TRAFFIC_POLICY_SCHEMA = {
    "tls": {"mode": LEAF},
    "connectionPool": {
        "tcp": {"maxConnections": LEAF},
        "http": {
            "http1MaxPendingRequests": LEAF,
            "http2MaxRequests": LEAF,
            "maxRequestsPerConnection": LEAF,
            "maxRetries": LEAF,
        },
    },
    "outlierDetection": {
        "consecutive5xxErrors": LEAF,
        "consecutiveGatewayErrors": LEAF,
        "interval": LEAF,
        "baseEjectionTime": LEAF,
        "maxEjectionPercent": LEAF,
    },
}

SCHEMA = {
    "spec": {
        "host": LEAF,
        "trafficPolicy": TRAFFIC_POLICY_SCHEMA,
        "subsets": [{"name": LEAF, "labels": LEAF, "trafficPolicy": TRAFFIC_POLICY_SCHEMA}],
    }
}


@dataclass(frozen=True)
class ConnectionPool:
    """ConnectionPoolSettings; None: unset (istiod then keeps its default, see the compiler)."""

    max_connections: int | None = None
    http1_max_pending_requests: int | None = None
    http2_max_requests: int | None = None
    max_requests_per_connection: int | None = None
    max_retries: int | None = None


@dataclass(frozen=True)
class OutlierDetection:
    """OutlierDetection; durations in seconds, None: unset."""

    consecutive_5xx_errors: int | None = None
    consecutive_gateway_errors: int | None = None
    interval: float | None = None
    base_ejection_time: float | None = None
    max_ejection_percent: int = 0


@dataclass(frozen=True)
class Subset:
    name: str
    labels: tuple[tuple[str, str], ...]
    tls_mode: str | None
    connection_pool: ConnectionPool | None = None
    outlier_detection: OutlierDetection | None = None


@dataclass(frozen=True)
class DestinationRule:
    name: str
    host: str
    tls_mode: str | None
    subsets: tuple[Subset, ...]
    namespace: str = "voting"
    connection_pool: ConnectionPool | None = None
    outlier_detection: OutlierDetection | None = None

    def subset(self, name: str) -> Subset | None:
        return next((s for s in self.subsets if s.name == name), None)

    def traffic_policy(
        self, subset: str | None
    ) -> tuple[ConnectionPool | None, OutlierDetection | None]:
        """The connection pool and outlier detection in force for a subset (or none).

        pilot/pkg/model/destination_rule.go MergeTrafficPolicy: a subset's connectionPool or
        outlierDetection replaces the rule's block whole; an unset one inherits it.
        """
        pool, outlier = self.connection_pool, self.outlier_detection
        subset_def = self.subset(subset) if subset else None
        if subset_def is not None:
            if subset_def.connection_pool is not None:
                pool = subset_def.connection_pool
            if subset_def.outlier_detection is not None:
                outlier = subset_def.outlier_detection
        return pool, outlier


_TLS_MODES = {"ISTIO_MUTUAL", "DISABLE"}


def _tls_mode(policy: dict[str, Any] | None, where: str) -> str | None:
    """`trafficPolicy.tls.mode`; None (auto mTLS) without `tls`, DISABLE for `tls: {}`.

    istio/api networking/v1alpha3/destination_rule.proto: ClientTLSSettings.mode defaults to
    DISABLE (enum 0), so a present `tls` without `mode` means plaintext, not auto mTLS.
    """
    if "tls" not in (policy or {}):
        return None
    mode = ((policy or {}).get("tls") or {}).get("mode", "DISABLE")
    if mode not in _TLS_MODES:
        raise UnsupportedField(where, f"trafficPolicy.tls.mode={mode}")
    return str(mode)


def _count(block: dict[str, Any], key: str, where: str, what: str) -> int | None:
    """An int32 field; negative refused (validateConnectionPool: "... must be non-negative")."""
    if key not in block or block[key] is None:
        return None
    value = block[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidResource(f"{where}: {what} must be an integer, not {value!r}")
    if value < 0:
        raise InvalidResource(f"{where}: {what} must be non-negative")
    return value


def _duration(block: dict[str, Any], key: str, where: str) -> float | None:
    """agent.ValidateDuration: at least 1ms."""
    if key not in block or block[key] is None:
        return None
    seconds = parse_duration(block[key], f"{where}.{key}")
    if seconds < 0.001:
        raise InvalidResource(f"{where}.{key}: duration must be greater than 1ms")
    return seconds


def _connection_pool(policy: dict[str, Any] | None, where: str) -> ConnectionPool | None:
    """validateConnectionPool: at least one of tcp, http; counts non-negative."""
    if "connectionPool" not in (policy or {}):
        return None
    where = f"{where}: trafficPolicy.connectionPool"
    settings = (policy or {}).get("connectionPool") or {}
    if settings.get("tcp") is None and settings.get("http") is None:
        raise InvalidResource(f"{where}: connection pool must have at least one field")
    tcp, http = settings.get("tcp") or {}, settings.get("http") or {}
    return ConnectionPool(
        max_connections=_count(tcp, "maxConnections", where, "max connections"),
        http1_max_pending_requests=_count(
            http, "http1MaxPendingRequests", where, "http1 max pending requests"
        ),
        http2_max_requests=_count(http, "http2MaxRequests", where, "http2 max requests"),
        max_requests_per_connection=_count(
            http, "maxRequestsPerConnection", where, "max requests per connection"
        ),
        max_retries=_count(http, "maxRetries", where, "max retries"),
    )


def _outlier_detection(policy: dict[str, Any] | None, where: str) -> OutlierDetection | None:
    """validateOutlierDetection: durations valid, maxEjectionPercent a percentage."""
    if "outlierDetection" not in (policy or {}):
        return None
    where = f"{where}: trafficPolicy.outlierDetection"
    outlier = (policy or {}).get("outlierDetection") or {}
    percent = _count(outlier, "maxEjectionPercent", where, "max ejection percent") or 0
    if percent > 100:
        raise InvalidResource(f"{where}: percentage {percent} is not in range 0..100")
    return OutlierDetection(
        consecutive_5xx_errors=_count(
            outlier, "consecutive5xxErrors", where, "consecutive5xxErrors"
        ),
        consecutive_gateway_errors=_count(
            outlier, "consecutiveGatewayErrors", where, "consecutiveGatewayErrors"
        ),
        interval=_duration(outlier, "interval", where),
        base_ejection_time=_duration(outlier, "baseEjectionTime", where),
        max_ejection_percent=percent,
    )


def parse_destination_rule(name: str, spec: dict[str, Any], namespace: str) -> DestinationRule:
    where = f"DestinationRule {name}.{namespace}"
    return DestinationRule(
        name=name,
        host=spec["host"],
        tls_mode=_tls_mode(spec.get("trafficPolicy"), where),
        subsets=tuple(
            Subset(
                name=s["name"],
                labels=labels(s.get("labels")),
                tls_mode=_tls_mode(s.get("trafficPolicy"), where),
                connection_pool=_connection_pool(
                    s.get("trafficPolicy"), f"{where} subset {s['name']}"
                ),
                outlier_detection=_outlier_detection(
                    s.get("trafficPolicy"), f"{where} subset {s['name']}"
                ),
            )
            for s in spec.get("subsets") or []
        ),
        namespace=namespace,
        connection_pool=_connection_pool(spec.get("trafficPolicy"), where),
        outlier_detection=_outlier_detection(spec.get("trafficPolicy"), where),
    )
