"""Unit tests of the query layer against a REAL Prometheus scraping a tiny text exposition.

The exposition serves Istio-standard series (names and labels exactly as Istio emits them)
whose counters grow at chosen rates, so every expected share, success rate, quantile and
mTLS share is known in advance. Nothing here is mocked: Prometheus parses, scrapes, stores and
evaluates the same PromQL strings the dashboard sends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

from observer.metrics import MetricsReader
from observer.model import Metrics, mtls_mark
from telemetry.prometheus import PrometheusClient
from telemetry.queries import QUERIES, render
from tests.support.observer_env import Counter, Exposition, PrometheusServer, needs_prometheus
from tests.support.ports import free_port

pytestmark = [needs_prometheus, pytest.mark.e2e]
T = TypeVar("T")


def _req(
    reporter: str, src: str, dst_service: str, dst_version: str, code: str, policy: str, rate: float
) -> Counter:
    labels = {
        "reporter": reporter,
        "source_workload": src,
        "source_app": src,
        "source_version": "unknown",
        "destination_service_name": dst_service,
        "destination_workload": f"{dst_service}-{dst_version.replace('.', '-')}",
        "destination_app": dst_service,
        "destination_version": dst_version,
        "response_code": code,
        "connection_security_policy": policy,
    }
    return Counter("istio_requests_total", labels, rate)


def _buckets(service: str, version: str, cumulative: dict[str, float]) -> list[Counter]:
    base = {
        "reporter": "destination",
        "source_workload": "istio-ingressgateway",
        "destination_service_name": service,
        "destination_workload": f"{service}-{version.replace('.', '-')}",
        "destination_app": service,
        "destination_version": version,
        "response_code": "200",
        "connection_security_policy": "mutual_tls",
    }
    return [
        Counter("istio_request_duration_milliseconds_bucket", {**base, "le": le}, rate)
        for le, rate in cumulative.items()
    ]


_ANALYTICS_1_1 = {
    "envoy_cluster_name": "outbound_8080_v1-1_voting-analytics_v1-1",
    "destination_service_name": "voting-analytics",
    "destination_version": "1.1",
}

SERIES = [
    # voting-app: 75% to 1.0, 25% to 2.0, all fine (source side, from the ingress).
    _req("source", "istio-ingressgateway", "voting-app", "1.0", "200", "unknown", 7.5),
    _req("source", "istio-ingressgateway", "voting-app", "2.0", "200", "unknown", 2.5),
    # voting-analytics 1.1: 10% 503 (an injected abort: only the source side sees it).
    _req("source", "voting-app-1-0", "voting-analytics", "1.1", "200", "unknown", 9.0),
    _req("source", "voting-app-1-0", "voting-analytics", "1.1", "503", "unknown", 1.0),
    # voting-analytics 2.0: every request fails -> success 0, which is data, not "no data".
    _req("source", "voting-app-2-0", "voting-analytics", "2.0", "503", "unknown", 2.0),
    # voting-analytics 2.0 also takes mirrored copies of 1.0's calls (the `-shadow` twin).
    _req("source", "voting-app-1-0", "voting-analytics-shadow", "2.0", "200", "unknown", 3.0),
    # Envoy's own stats of two callers' sidecars, labelled as the local telemetry relabels
    # them (mesh/local/telemetry.py): analytics 1.1's connection pool sheds 1.5/s in all, and
    # both callers have ejected its host; the fault injector's cluster carries no destination.
    *(
        Counter("envoy_cluster_upstream_rq_pending_overflow", {**labels, "pod": pod}, rate)
        for labels, pod, rate in (
            (_ANALYTICS_1_1, "voting-app-1-0-a", 1.0),
            (_ANALYTICS_1_1, "voting-app-1-0-b", 0.5),
            (
                {"envoy_cluster_name": "outbound_8080_v1-1_voting-analytics_v1-1~abort503"},
                "voting-app-1-0-a",
                9.0,
            ),
        )
    ),
    *(
        Counter(
            "envoy_cluster_outlier_detection_ejections_active",
            {**_ANALYTICS_1_1, "pod": pod},
            0.0,
            value=1.0,
        )
        for pod in ("voting-app-1-0-a", "voting-app-1-0-b")
    ),
    # voting-storage: counters exist but nothing moves -> no data in the window.
    _req("source", "voting-app-1-0", "voting-storage", "1.0", "200", "unknown", 0.0),
    # Destination side: what each server accepted, by connection security.
    _req("destination", "istio-ingressgateway", "voting-app", "1.0", "200", "mutual_tls", 7.5),
    _req("destination", "voting-app-1-0", "voting-analytics", "1.1", "200", "mutual_tls", 4.5),
    _req("destination", "voting-app-1-0", "voting-analytics", "1.1", "200", "none", 4.5),
    _req("destination", "voting-app-2-0", "voting-analytics", "2.0", "200", "none", 2.0),
    # Latency of voting-app 1.0: half the requests within 10 ms, 99% within 50 ms.
    *_buckets(
        "voting-app",
        "1.0",
        {"1": 0.0, "5": 2.0, "10": 5.0, "25": 9.0, "50": 9.9, "100": 10.0, "+Inf": 10.0},
    ),
]


@pytest.fixture(scope="module")
def prometheus(
    prometheus_factory: Callable[[list[str]], PrometheusServer],
) -> Iterator[PrometheusServer]:
    exposition = Exposition(list(SERIES))
    target = exposition.start()
    try:
        yield prometheus_factory([target])
    finally:
        exposition.stop()


async def eventually(
    read: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 60.0
) -> T:
    """Poll until Prometheus has scraped enough for `ok`; return the last value read.

    Usually a few seconds (scrapes every second); the deadline is for a busy machine.
    """
    deadline = time.monotonic() + timeout
    value = await read()
    while not ok(value) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        value = await read()
    return value


def _version(metrics: Metrics, service: str, version: str):
    return metrics.versions.get((service, version))


async def _metrics(prometheus: PrometheusServer, window: str = "1m") -> Metrics:
    async with PrometheusClient(prometheus.url) as client:
        return await MetricsReader(client, window=window).read()


class TestQueryTemplates:
    def test_every_template_renders_to_promql_with_istio_standard_names_only(self) -> None:
        for name in QUERIES:
            promql = render(name, ("voting-app",))
            assert "$" not in promql
            assert "istio_request" in promql
            assert 'destination_service_name=~"voting-app"' in promql

    def test_cluster_scope_only_adds_a_label_matcher_to_the_same_template(self) -> None:
        local = render("request_share", ("voting-app",))
        cluster = render(
            "request_share", ("voting-app",), scope=',destination_service_namespace="voting"'
        )
        assert cluster.replace(',destination_service_namespace="voting"', "") == local


class TestAgainstRealPrometheus:
    async def test_request_share_per_version_matches_the_exposed_rates(
        self, prometheus: PrometheusServer
    ) -> None:
        metrics = await eventually(
            lambda: _metrics(prometheus),
            lambda m: (
                _version(m, "voting-app", "2.0") is not None
                and _version(m, "voting-app", "2.0").share is not None
            ),
        )
        assert _version(metrics, "voting-app", "2.0").share == pytest.approx(0.25, abs=0.01)
        assert _version(metrics, "voting-app", "1.0").share == pytest.approx(0.75, abs=0.01)

    async def test_mirrored_copies_are_read_apart_and_never_counted_as_served(
        self, prometheus: PrometheusServer
    ) -> None:
        def near(m: Metrics) -> bool:
            copies = m.mirrored.get(("voting-analytics", "2.0"))
            return copies is not None and abs(copies - 3.0) < 0.3

        metrics = await eventually(lambda: _metrics(prometheus, window="10s"), near)
        assert metrics.mirrored[("voting-analytics", "2.0")] == pytest.approx(3.0, abs=0.3)
        assert not any(s.endswith("-shadow") for s, _ in metrics.versions)
        served = _version(metrics, "voting-analytics", "2.0")
        assert served is not None and served.rps == pytest.approx(2.0, abs=0.2)  # not 5

    async def test_callers_overflow_and_ejections_are_read_per_version(
        self, prometheus: PrometheusServer
    ) -> None:
        def near(m: Metrics) -> bool:
            shed = m.overflow.get(("voting-analytics", "1.1"))
            return shed is not None and abs(shed - 1.5) < 0.15

        metrics = await eventually(lambda: _metrics(prometheus, window="10s"), near)
        assert metrics.overflow == {("voting-analytics", "1.1"): pytest.approx(1.5, abs=0.15)}
        assert metrics.ejected == {("voting-analytics", "1.1"): 2.0}

    async def test_request_rate_is_requests_per_second(self, prometheus: PrometheusServer) -> None:
        def near(m: Metrics) -> bool:
            v = _version(m, "voting-app", "1.0")
            return v is not None and v.rps is not None and abs(v.rps - 7.5) < 0.75

        metrics = await eventually(lambda: _metrics(prometheus, window="10s"), near)
        assert _version(metrics, "voting-app", "1.0").rps == pytest.approx(7.5, rel=0.1)

    async def test_success_rate_counts_5xx_reported_by_the_source_side(
        self, prometheus: PrometheusServer
    ) -> None:
        metrics = await eventually(
            lambda: _metrics(prometheus),
            lambda m: (
                _version(m, "voting-analytics", "1.1") is not None
                and _version(m, "voting-analytics", "1.1").success is not None
            ),
        )
        assert _version(metrics, "voting-analytics", "1.1").success == pytest.approx(0.9, abs=0.01)

    async def test_success_rate_is_zero_not_no_data_when_every_request_failed(
        self, prometheus: PrometheusServer
    ) -> None:
        metrics = await eventually(
            lambda: _metrics(prometheus),
            lambda m: (
                _version(m, "voting-analytics", "2.0") is not None
                and _version(m, "voting-analytics", "2.0").success is not None
            ),
        )
        assert _version(metrics, "voting-analytics", "2.0").success == 0.0

    async def test_service_without_requests_in_the_window_is_no_data_not_zero(
        self, prometheus: PrometheusServer
    ) -> None:
        metrics = await eventually(
            lambda: _metrics(prometheus), lambda m: m.state == "up" and bool(m.versions)
        )
        storage = _version(metrics, "voting-storage", "1.0")
        assert storage is None or (storage.share is None and storage.success is None)

    async def test_latency_quantiles_come_from_the_destination_side_buckets(
        self, prometheus: PrometheusServer
    ) -> None:
        metrics = await eventually(
            lambda: _metrics(prometheus),
            lambda m: (
                _version(m, "voting-app", "1.0") is not None
                and _version(m, "voting-app", "1.0").p99_ms is not None
            ),
        )
        app = _version(metrics, "voting-app", "1.0")
        assert app.p50_ms == pytest.approx(10.0, abs=0.5)
        assert app.p99_ms == pytest.approx(50.0, abs=2.5)
        assert _version(metrics, "voting-app", "2.0").p50_ms is None

    async def test_mtls_share_per_edge_tells_locked_mixed_and_unlocked_apart(
        self, prometheus: PrometheusServer
    ) -> None:
        metrics = await eventually(lambda: _metrics(prometheus), lambda m: len(m.edges) >= 3)
        marks = {
            (e.source, e.destination): mtls_mark(e.mtls_share)
            for e in metrics.edges
            if e.mtls_share is not None
        }
        assert marks[("istio-ingressgateway", "voting-app-1-0")] == "locked"
        assert marks[("voting-app-1-0", "voting-analytics-1-1")] == "mixed"
        assert marks[("voting-app-2-0", "voting-analytics-2-0")] == "unlocked"

    async def test_mtls_share_per_service_is_computed_from_the_destination_side(
        self, prometheus: PrometheusServer
    ) -> None:
        metrics = await eventually(
            lambda: _metrics(prometheus),
            lambda m: m.service_mtls.get("voting-analytics") is not None,
        )
        assert metrics.service_mtls["voting-app"] == pytest.approx(1.0)
        assert metrics.service_mtls["voting-analytics"] == pytest.approx(4.5 / 11, abs=0.01)

    async def test_history_holds_the_share_over_the_last_minutes(
        self, prometheus: PrometheusServer
    ) -> None:
        metrics = await eventually(
            lambda: _metrics(prometheus),
            lambda m: any(v is not None for v in m.history.get(("voting-app", "2.0"), ())),
        )
        points = [v for v in metrics.history[("voting-app", "2.0")] if v is not None]
        assert points and points[-1] == pytest.approx(0.25, abs=0.02)
        assert len(metrics.history[("voting-app", "2.0")]) == 30

    async def test_an_unreachable_prometheus_is_its_own_state_not_no_data(self) -> None:
        async with PrometheusClient(f"http://127.0.0.1:{free_port()}", timeout=1) as client:
            metrics = await MetricsReader(client).read()
        assert metrics.state == "unreachable"
        assert "Prometheus unreachable" in metrics.detail
        assert metrics.versions == {}

    async def test_a_refused_query_is_an_error_not_unreachable(
        self, prometheus: PrometheusServer
    ) -> None:
        from telemetry.errors import PrometheusQueryError

        async with PrometheusClient(prometheus.url) as client:
            with pytest.raises(PrometheusQueryError, match="bad_data"):
                await client.query("sum(rate(istio_requests_total[1m])")
