"""The PromQL the dashboard and the rollout gates run, as named templates.

After Flagger's metric observers: the queries are data, kept here and nowhere else, written
against Istio's standard metric names and labels only (``istio_requests_total``,
``istio_request_duration_milliseconds_bucket``; ``reporter``, ``destination_service_name``,
``destination_version``, ``source_workload``, ``destination_workload``, ``response_code``,
``connection_security_policy``), so the same strings work against the local mesh's
Prometheus and against a real Istio Prometheus in a cluster.

Which side reports what, and why:

- Request share, request rate and success rate use ``reporter="source"`` (as Kiali does):
  the caller's proxy sees every request it routed, including the ones its own fault
  injection aborted. Istio injects faults in the SOURCE proxy, so an injected abort never
  reaches the destination and only the source side counts it as a 5xx.
- Latency uses ``reporter="destination"`` (as Flagger does): the time the serving
  workload's proxy measured, without the caller's network or retries.
- Mutual-TLS share uses ``reporter="destination"``: only the server side knows whether the
  connection it accepted was mutual TLS (``connection_security_policy="mutual_tls"``).

Templates use ``string.Template`` placeholders (PromQL's own braces stay untouched):
``$services`` a regex of service names, ``$window`` the rate window (``1m``), ``$scope``
extra label matchers starting with a comma (e.g. ``,destination_service_namespace="voting"``
in a cluster; empty locally).

Ratios keep "no data" apart from 0: a numerator that has no series is replaced by
``0 * denominator`` (``or``), so traffic with no successful/mTLS request reads 0, while no
traffic at all gives no series or NaN, which the client returns as None.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Template

# Label matchers shared by every query; spelled out inside each template below so that each
# query reads as the PromQL it is.
_SRC = 'reporter="source", destination_service_name=~"$services"$scope'
_DST = 'reporter="destination", destination_service_name=~"$services"$scope'
_BY_VERSION = "destination_service_name, destination_version"
_BY_EDGE = "source_workload, destination_workload, destination_service_name"

QUERIES: Mapping[str, str] = {
    # Requests per second per service and version, as the callers' proxies counted them.
    "request_rate": (f"sum by ({_BY_VERSION}) (rate(istio_requests_total{{{_SRC}}}[$window]))"),
    # Share of a service's requests that went to each version (0..1), like Kiali's graph.
    "request_share": (
        f"sum by ({_BY_VERSION}) (rate(istio_requests_total{{{_SRC}}}[$window]))"
        " / ignoring (destination_version) group_left"
        f" sum by (destination_service_name) (rate(istio_requests_total{{{_SRC}}}[$window]))"
    ),
    # Non-5xx share per service and version (0..1); source side, so injected aborts count.
    "success_rate": (
        f'(sum by ({_BY_VERSION}) (rate(istio_requests_total{{{_SRC}, response_code!~"5.."}}[$window]))'
        f" or 0 * sum by ({_BY_VERSION}) (rate(istio_requests_total{{{_SRC}}}[$window])))"
        f" / sum by ({_BY_VERSION}) (rate(istio_requests_total{{{_SRC}}}[$window]))"
    ),
    # Latency quantiles in milliseconds per service and version, as Flagger computes them.
    "latency_p50": (
        f"histogram_quantile(0.50, sum by (le, {_BY_VERSION})"
        f" (rate(istio_request_duration_milliseconds_bucket{{{_DST}}}[$window])))"
    ),
    "latency_p99": (
        f"histogram_quantile(0.99, sum by (le, {_BY_VERSION})"
        f" (rate(istio_request_duration_milliseconds_bucket{{{_DST}}}[$window])))"
    ),
    # Requests per second per edge (caller workload -> serving workload), source side.
    "edge_request_rate": (f"sum by ({_BY_EDGE}) (rate(istio_requests_total{{{_SRC}}}[$window]))"),
    # Share of an edge's requests the server accepted over mutual TLS (0..1).
    "edge_mtls_share": (
        f'(sum by ({_BY_EDGE}) (rate(istio_requests_total{{{_DST}, connection_security_policy="mutual_tls"}}[$window]))'
        f" or 0 * sum by ({_BY_EDGE}) (rate(istio_requests_total{{{_DST}}}[$window])))"
        f" / sum by ({_BY_EDGE}) (rate(istio_requests_total{{{_DST}}}[$window]))"
    ),
    # The same per service: what share of everything a service served was mutual TLS.
    "service_mtls_share": (
        f'(sum by (destination_service_name) (rate(istio_requests_total{{{_DST}, connection_security_policy="mutual_tls"}}[$window]))'
        f" or 0 * sum by (destination_service_name) (rate(istio_requests_total{{{_DST}}}[$window])))"
        f" / sum by (destination_service_name) (rate(istio_requests_total{{{_DST}}}[$window]))"
    ),
}

DEFAULT_WINDOW = "1m"


SHADOW_SUFFIX = "-shadow"
"""A mirror's copies count under `<service>-shadow` (Istio's mark of a mirrored request's
host): the local mesh names its mirror clusters so (mesh/local/envoy/outbound.py) and the
observer reads them apart (observer/metrics.py), never as served traffic."""

PROXY_QUERIES: Mapping[str, str] = {
    # What callers shed: requests their circuit breaker (connectionPool) answered 503 itself,
    # per second, by the destination service and version the local telemetry labels them with.
    "overflow_rate": (
        f"sum by ({_BY_VERSION}) (rate(envoy_cluster_upstream_rq_pending_overflow"
        '{destination_service_name!=""}[$window]))'
    ),
    # Hosts outlier detection has ejected right now, by destination service and version.
    "ejections_active": (
        f"sum by ({_BY_VERSION}) (envoy_cluster_outlier_detection_ejections_active"
        '{destination_service_name!=""})'
    ),
}
"""Envoy's own cluster stats, not Istio's standard metrics: the local mesh's Prometheus scrapes
them (mesh/local/telemetry.py); a cluster's Istio proxies expose them only when
`proxyStatsMatcher` includes them, and the dashboard then shows no such line."""


def render_proxy(name: str, window: str = DEFAULT_WINDOW) -> str:
    """The PromQL of a named PROXY_QUERIES query."""
    return Template(PROXY_QUERIES[name]).substitute(window=window)


def render(
    name: str, services: tuple[str, ...] | list[str], window: str = DEFAULT_WINDOW, scope: str = ""
) -> str:
    """The PromQL of the named query for these services (a KeyError names an unknown query)."""
    regex = "|".join(sorted(services)) or ".+"
    return Template(QUERIES[name]).substitute(services=regex, window=window, scope=scope)
