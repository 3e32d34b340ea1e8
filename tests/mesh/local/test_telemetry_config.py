"""Which Envoy stats the local Prometheus scrapes: what the dashboard's series are made of."""

from __future__ import annotations

import re

import pytest

from mesh.local.telemetry import ENVOY_STATS_FILTER

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
