"""Telemetry: a real Prometheus sees the local mesh through Istio's standard series.

The queries are the observer's own (telemetry/queries.py), the traffic is `voting traffic`'s
generator, and the series come from what the Envoys counted, never from the functions.
"""

from __future__ import annotations

import copy
import math
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mesh.steps import render_step
from observer.traffic import TrafficPlan
from telemetry.prometheus import Sample
from tests.e2e.local_system import (
    LocalSystem,
    module_ports_base,
    start_local_system,
    stop_local_system,
)
from tests.e2e.telemetry import Seen, query, raw_query, wait_until_scraped
from tests.e2e.telemetry import traffic as run_seen
from tests.support.waiting import binomial_tolerance

pytestmark = pytest.mark.e2e

# Between a step change and a test's traffic: the query window reaches a second before the
# traffic, so it holds nothing that the previous step served.
GAP_S = 2.0


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalSystem]:
    started = start_local_system(
        tmp_path_factory.mktemp("telemetry"),
        module_ports_base(request.module.__name__),
        telemetry=True,
    )
    yield started
    stop_local_system(started)


def traffic(
    system: LocalSystem, seconds: float, rate: float = 20, cookie_share: float = 0.0
) -> Seen:
    """`voting traffic` for `seconds`, then until Prometheus has scraped all of it."""
    return run_seen(
        system, TrafficPlan(url=system.url, rate=rate, duration=seconds, cookie_share=cookie_share)
    )


def by_version(samples: list[Sample], service: str) -> dict[str, float | None]:
    return {
        s.labels.get("destination_version", "?"): s.value
        for s in samples
        if s.labels.get("destination_service_name") == service
    }


def test_no_traffic_reads_as_no_data_not_zero(system: LocalSystem) -> None:
    system.step("deploy")
    time.sleep(7)  # nothing reaches voting-app (only the ingress calls it) for a 5 s window
    for name in ("request_share", "success_rate", "latency_p99"):
        values = [s.value for s in query(system, name, ("voting-app",), "5s")]
        assert all(v is None for v in values), (name, values)


def test_canary_share_follows_the_cookie_users_on_every_service(system: LocalSystem) -> None:
    system.step("canary")
    time.sleep(GAP_S)
    seen = traffic(system, 12, rate=40, cookie_share=0.25)
    sent = seen.result
    assert sent.statuses[200] >= 0.99 * sent.sent, sent.summary()
    shares = query(
        system, "request_share", ("voting-app", "voting-analytics", "voting-storage"), seen.window()
    )
    # No sampling noise: the cookie users are exactly every fourth request (sticky, evenly
    # spread), so the tolerance only covers Prometheus extrapolating rates to the window.
    for service in ("voting-app", "voting-analytics", "voting-storage"):
        share = by_version(shares, service).get("2.0")
        assert share is not None and abs(share - 0.25) <= 0.07, (
            service,
            by_version(shares, service),
        )


def test_lock_down_shows_mutual_tls_on_every_edge(system: LocalSystem) -> None:
    system.step("lock-down")
    time.sleep(GAP_S)
    seen = traffic(system, 10)
    edges = query(
        system,
        "edge_mtls_share",
        ("voting-app", "voting-analytics", "voting-storage"),
        seen.window(),
    )
    observed = {
        (s.labels["source_workload"], s.labels["destination_workload"]): s.value for s in edges
    }
    for edge in (
        ("istio-ingressgateway", "voting-app-1-0"),
        ("voting-app-1-0", "voting-analytics-1-1"),
        ("voting-analytics-1-1", "voting-storage-1-0"),
    ):
        assert observed.get(edge) == 1.0, (edge, observed)
    # edges that carried nothing in the window read "no data", never a made-up share
    assert all(value in (1.0, None) for value in observed.values()), observed


def plaintext_get(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: voting-analytics\r\nConnection: close\r\n\r\n"
        )
        assert sock.recv(16).startswith(b"HTTP/1.1 200")


def test_permissive_step_2_carries_auto_mtls_and_counts_plaintext_as_none(
    system: LocalSystem,
) -> None:
    status = system.step("update-analytics")
    time.sleep(GAP_S)
    seen = traffic(system, 8)
    edges = query(system, "edge_mtls_share", ("voting-analytics",), seen.window())
    assert edges and all(s.value == 1.0 for s in edges), edges
    port = next(
        p["inbound_port"]
        for w in status["workloads"]
        if w["name"] == "voting-analytics-1-1"
        for p in w["pods"]
    )
    first = time.time()
    plaintext_get(port)  # a counter's first scrape only starts its series: rate() needs a second
    wait_until_scraped(system, time.time())
    for _ in range(5):
        plaintext_get(port)
    wait_until_scraped(system, time.time())
    since_first = f"{math.ceil(time.time() - first) + 1}s"
    plain = raw_query(
        system,
        'sum(increase(istio_requests_total{reporter="destination",destination_workload="voting-analytics-1-1",'
        f'connection_security_policy="none",source_workload="unknown"}}[{since_first}]))',
    )
    assert plain and plain[0].value is not None and plain[0].value >= 4, plain


def with_abort(
    documents: list[dict[str, Any]], service: str, percent: float
) -> list[dict[str, Any]]:
    edited = copy.deepcopy(documents)
    for doc in edited:
        if doc["kind"] == "VirtualService" and doc["metadata"]["name"] == service:
            for rule in doc["spec"]["http"]:
                rule["fault"] = {"abort": {"percentage": {"value": percent}, "httpStatus": 503}}
    return edited


def test_an_injected_10_percent_abort_on_analytics_reads_as_90_percent_success(
    system: LocalSystem,
) -> None:
    system.apply("lock-down", with_abort(render_step("lock-down"), "voting-analytics", 10))
    try:
        time.sleep(GAP_S)
        seen = traffic(system, 12, rate=40)  # about 480 page views: the tolerance says how many
        success = by_version(
            query(system, "success_rate", ("voting-analytics",), seen.window()), "voting-analytics"
        )
        # Envoy aborts each call on its own draw; every page view calls analytics once.
        tolerance = binomial_tolerance(0.90, seen.answered, margin=0.02)
        assert success.get("1.1") is not None, success
        assert abs(success["1.1"] - 0.90) <= tolerance, (success, seen.answered, tolerance)
    finally:
        system.step("lock-down")


@pytest.fixture(scope="module")
def legacy_system(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalSystem]:
    started = start_local_system(
        tmp_path_factory.mktemp("legacy"),
        module_ports_base(request.module.__name__) + 250,
        extra=("--no-auto-mtls", "--step", "update-analytics"),
        telemetry=True,
    )
    yield started
    stop_local_system(started)


def test_without_auto_mtls_step_2_traffic_is_plaintext(legacy_system: LocalSystem) -> None:
    time.sleep(GAP_S)
    seen = traffic(legacy_system, 8)
    edges = query(
        legacy_system, "edge_mtls_share", ("voting-analytics", "voting-storage"), seen.window()
    )
    assert edges and all(s.value == 0.0 for s in edges), edges
