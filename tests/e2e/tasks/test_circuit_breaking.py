"""Istio task "Circuit breaking": voting-analytics behind one connection and one queued request.

Checks pilot/pkg/networking/core/cluster_traffic_policy.go (applyConnectionPool: maxConnections
and http1MaxPendingRequests become the cluster's circuit breaker thresholds) on real Envoy: in a
burst, voting-app 1.0's sidecar answers what overflows with 503 itself, so some pages say
"results unavailable" while others show analytics, and it counts upstream_rq_pending_overflow.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.local_system import LocalSystem
from tests.e2e.tasks.support import (
    LIVE_DEADLINE_S,
    envoy_counters,
    requests,
    task_applied,
    wait_for,
    workload_requests,
)
from tests.support.tasks import task_path
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

CALLER = "voting-app-1-0"  # without the cookie, voting-app 1.0 calls analytics v1-1
CLUSTER = "outbound_8080_v1-1_voting-analytics_v1-1"
BURST = 60
RULE = "circuit-breaking/destination-rule-voting-analytics-circuit-breaker.yaml"


def caller_pods(system: LocalSystem) -> list[str]:
    pods = [pod["name"] for w in system.status()["workloads"] for pod in w["pods"]]
    return sorted(p for p in pods if p.startswith(CALLER + "-"))


def overflows(system: LocalSystem) -> int:
    """upstream_rq_pending_overflow of the analytics cluster, over every caller sidecar."""
    return sum(
        sum(envoy_counters(system, f"{CLUSTER}.upstream_rq_pending_overflow", proxy=p).values())
        for p in caller_pods(system)
    )


def _clusters(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("name") == CLUSTER and "circuit_breakers" in node else []
        return found + [c for v in node.values() for c in _clusters(v)]
    if isinstance(node, list):
        return [c for v in node for c in _clusters(v)]
    return []


def max_connections(system: LocalSystem) -> set[int]:
    """The analytics cluster's max_connections in every caller's Envoy (proxy-config)."""
    result = set()
    for pod in caller_pods(system):
        done = system.cli("proxy-config", pod, "clusters", "-o", "json")
        assert done.returncode == 0, done.stderr
        for found in _clusters(json.loads(done.stdout)):
            result.add(int(found["circuit_breakers"]["thresholds"][0]["max_connections"]))
    return result


def test_a_burst_overflows_the_connection_pool_then_all_pass_once_deleted(
    task_system: LocalSystem,
) -> None:
    """cluster_traffic_policy.go applyConnectionPool: overflow answered 503 by the caller."""
    with task_applied(task_system, "circuit-breaking"):
        wait_until(lambda: max_connections(task_system) == {1}, LIVE_DEADLINE_S, "the limit")
        before = overflows(task_system)
        answers = requests(task_system, BURST, concurrency=20)
        assert {a.status for a in answers} == {200}  # the page itself is served either way
        versions = {a.analytics_version for a in answers}
        assert "unavailable" in versions, versions  # the sidecar's 503 to voting-app
        assert "1.1" in versions, versions  # ... while others went through
        assert overflows(task_system) > before

    wait_until(lambda: 1 not in max_connections(task_system), LIVE_DEADLINE_S, "no limit")
    answers = requests(task_system, BURST, concurrency=20)
    assert {(a.status, a.analytics_version) for a in answers} == {(200, "1.1")}


def ejections(system: LocalSystem, stat: str) -> int:
    """An outlier-detection stat of the analytics 1.1 cluster, over every caller sidecar."""
    return workload_requests(system, CALLER, f"{CLUSTER}.outlier_detection.{stat}")


def test_a_failing_analytics_is_ejected_then_comes_back(
    task_system: LocalSystem, tmp_path: Path
) -> None:
    """cluster_traffic_policy.go applyOutlierDetection (consecutive5xxErrors, interval,
    baseEjectionTime, maxEjectionPercent; panic threshold 0) on real Envoy: analytics 1.1's
    function is killed, its sidecar answers 5xx while it is down, each caller ejects it; once
    the function is back and baseEjectionTime has passed, pages show analytics 1.1 again."""
    # The task's rule with its outlier detection alone (a connection pool would also shed the
    # burst at the caller), ejecting for 5 s instead of the task's 3 minutes.
    rule = yaml.safe_load(task_path(RULE).read_text())
    del rule["spec"]["trafficPolicy"]["connectionPool"]
    rule["spec"]["trafficPolicy"]["outlierDetection"]["baseEjectionTime"] = "5s"
    quick = tmp_path / "outlier-only.yaml"
    quick.write_text(yaml.safe_dump(rule))
    applied = task_system.cli("apply", "-f", str(quick))
    assert applied.returncode == 0, applied.stderr
    try:
        wait_for(task_system, lambda a: a.analytics_version == "1.1", "analytics 1.1")
        before = ejections(task_system, "ejections_enforced_total")
        status = task_system.status()
        analytics = next(w for w in status["workloads"] if w["name"] == "voting-analytics-1-1")
        pids = json.loads((task_system.state_dir / "pids.json").read_text())
        os.kill(int(pids[f"{analytics['pods'][0]['name']}/voting-analytics"]), signal.SIGKILL)

        def pages_then_ejected() -> bool:
            """Pages while the function is down (its sidecar answers 5xx): any caller ejects."""
            requests(task_system, 8, concurrency=8)
            return ejections(task_system, "ejections_enforced_total") > before

        wait_until(pages_then_ejected, LIVE_DEADLINE_S, "a caller ejected analytics 1.1", 0.1)
        # back: the function restarted and the ejection ran out (5 s), on every caller
        wait_until(lambda: ejections(task_system, "ejections_active") == 0, 60, "ejection over")
        wait_for(task_system, lambda a: a.analytics_version == "1.1", "analytics 1.1 again")
        pages = requests(task_system, 12)
        assert {(a.status, a.analytics_version) for a in pages} == {(200, "1.1")}
    finally:
        deleted = task_system.cli("delete", "-f", str(quick))
        assert deleted.returncode == 0, deleted.stderr
