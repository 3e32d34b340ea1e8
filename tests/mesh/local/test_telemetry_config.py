"""Which Envoy stats the local Prometheus scrapes: what the dashboard's series are made of."""

from __future__ import annotations

import re

import pytest

from mesh.local.telemetry import ENVOY_STATS_FILTER, envoy_metric_relabels

SCRAPED = [
    "cluster.outbound_8080_v1-1_voting-analytics_v1-1.upstream_rq_200",
    "cluster.inbound_8080_mtls_voting-app-1-0_voting-app_v1-0.upstream_rq_time",
    # a caller's circuit breaking and outlier detection (telemetry/queries.py PROXY_QUERIES)
    "cluster.outbound_8080_v1-1_voting-analytics_v1-1.upstream_rq_pending_overflow",
    "cluster.outbound_8080_v1-1_voting-analytics_v1-1.outlier_detection.ejections_active",
    "server.live",
]
NOT_SCRAPED = [
    "cluster.outbound_8080_v1-1_voting-analytics_v1-1.upstream_cx_total",
    "cluster.inbound_8080_mtls_x_y_v1-0.outlier_detection.ejections_active",
    "http.admin.downstream_rq_total",
]


@pytest.mark.parametrize("stat", SCRAPED)
def test_the_series_the_dashboard_reads_are_scraped(stat: str) -> None:
    assert re.search(ENVOY_STATS_FILTER, stat), stat  # Envoy's filter: a regex search


@pytest.mark.parametrize("stat", NOT_SCRAPED)
def test_the_rest_is_left_out_to_keep_scrapes_small(stat: str) -> None:
    assert not re.search(ENVOY_STATS_FILTER, stat), stat


def relabel(labels: dict[str, str]) -> dict[str, str]:
    """Prometheus's `replace` relabelling as the local config writes it (anchored RE2
    regexes over the `;`-joined source labels; an empty result drops the label)."""

    out = dict(labels)
    for rule in envoy_metric_relabels():
        joined = ";".join(out.get(name, "") for name in rule["source_labels"])
        match = re.fullmatch(rule["regex"], joined)
        if match is None:
            continue
        value = match.expand(rule["replacement"].replace("$", "\\"))
        if value:
            out[rule["target_label"]] = value
        else:
            out.pop(rule["target_label"], None)
    return out


@pytest.mark.parametrize(
    ("name", "cluster", "service", "version"),
    [
        (
            "envoy_cluster_upstream_rq_pending_overflow",
            "outbound_8080_v1-1_voting-analytics_v1-1",
            "voting-analytics",
            "1.1",
        ),
        (
            "envoy_cluster_outlier_detection_ejections_active",
            "outbound_8080_v2-0_voting-analytics-shadow_v2-0",
            "voting-analytics-shadow",
            "2.0",
        ),
        (
            "envoy_cluster_upstream_rq_pending_overflow",
            "outbound_8080_v1-1_x_v1-1~abort503",
            None,
            None,
        ),
    ],
)
def test_a_callers_circuit_breaker_stats_carry_the_destination_they_concern(
    name: str, cluster: str, service: str | None, version: str | None
) -> None:
    """So the dashboard reads overflow and ejections per version from labels, as it reads
    Istio's series, and never decodes cluster names itself."""
    labels = relabel({"__name__": name, "envoy_cluster_name": cluster})
    assert labels.get("destination_service_name") == service
    assert labels.get("destination_version") == version
