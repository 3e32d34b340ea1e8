"""Istio task "Circuit breaking": voting-analytics behind one connection and one queued request.

Checks pilot/pkg/networking/core/cluster_traffic_policy.go (applyConnectionPool: maxConnections
and http1MaxPendingRequests become the cluster's circuit breaker thresholds) on real Envoy: in a
burst, voting-app 1.0's sidecar answers what overflows with 503 itself, so some pages say
"results unavailable" while others show analytics, and it counts upstream_rq_pending_overflow.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.local_system import LocalSystem
from tests.e2e.tasks.support import LIVE_DEADLINE_S, envoy_counters, requests, task_applied
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

CALLER = "voting-app-1-0"  # without the cookie, voting-app 1.0 calls analytics v1-1
CLUSTER = "outbound_8080_v1-1_voting-analytics_v1-1"
BURST = 60


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
