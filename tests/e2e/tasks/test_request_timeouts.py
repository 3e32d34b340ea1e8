"""Istio task "Request timeouts", and `retries`: a slow dependency, then a gateway timeout
that answers 504 before it, then per-try timeouts retried.

Checks pilot/pkg/networking/core/route/route.go (setTimeout: `timeout` is the route's
timeout, none by default) and pilot/pkg/networking/core/route/retry/retry.go (ConvertPolicy:
`attempts`, `perTryTimeout`, `retryOn` as given, other hosts preferred) on real Envoy.
Times are only bounded (at least the timeout, well below the delay), never windowed.
"""

from __future__ import annotations

import pytest

from tests.e2e.local_system import LocalSystem
from tests.e2e.tasks.support import (
    envoy_counters,
    envoy_routes,
    request,
    requests,
    task_applied,
    wait_for,
)

pytestmark = pytest.mark.e2e

ANALYTICS_TIMEOUT_S = 1.5  # voting-app's own deadline for analytics (functions/vote/settings.py)
TIMEOUT_S = 0.5  # mesh/tasks/request-timeouts: timeout 0.5s; request-retries: perTryTimeout
# Envoy's timers are millisecond-grained and may fire a fraction of a millisecond before the
# client's clock says the bound has passed (a real run measured 0.4998 s for 0.5 s).
TIMER_SLACK_S = 0.01
UNAVAILABLE = "unavailable"  # the page's analytics-version when analytics did not answer
DELAY = "request-timeouts/virtual-service-voting-analytics-delay.yaml"
TIMEOUT = "request-timeouts/virtual-service-voting-app-timeout.yaml"


def test_a_slow_dependency_then_a_gateway_timeout_answers_504_first(
    task_system: LocalSystem,
) -> None:
    """route.go setTimeout: the gateway's route times out at `timeout`, 504 from Envoy."""
    with task_applied(task_system, DELAY) as task:
        # analytics held 2 s: voting-app gives up after 1.5 s and serves its page without
        wait_for(task_system, lambda a: a.analytics_version == UNAVAILABLE, "no results")
        for answer in requests(task_system, 4):
            assert (answer.status, answer.analytics_version) == (200, UNAVAILABLE), answer
            assert answer.elapsed >= ANALYTICS_TIMEOUT_S - TIMER_SLACK_S

        task.apply(TIMEOUT)
        route = envoy_routes(task_system)["v1-0"]
        assert route["route"]["timeout"] in ("0.5s", "0.500s")
        wait_for(task_system, lambda a: a.status == 504, "the gateway's 504")
        for answer in requests(task_system, 4):
            assert answer.status == 504, answer
            assert "upstream request timeout" in answer.body
            assert TIMEOUT_S - TIMER_SLACK_S <= answer.elapsed < ANALYTICS_TIMEOUT_S, answer.elapsed

    wait_for(task_system, lambda a: a.status == 200 and a.elapsed < TIMEOUT_S, "a quick page")
    assert envoy_routes(task_system)["v1-0"]["route"].get("timeout", "0s") in ("0s", "0.000s")


def test_per_try_timeouts_are_retried_as_compiled_then_504(task_system: LocalSystem) -> None:
    """retry.go ConvertPolicy: attempts 2, perTryTimeout 0.5s, retryOn as given → 3 tries."""
    with task_applied(task_system, "request-retries"):
        policy = envoy_routes(task_system)["v1-0"]["route"]["retry_policy"]
        assert policy["num_retries"] == 2
        assert policy["retry_on"] == "gateway-error,connect-failure,refused-stream"
        assert policy["per_try_timeout"] in ("0.5s", "0.500s")
        assert int(policy["host_selection_retry_max_attempts"]) == 5  # a uint64: JSON string
        assert [p["name"] for p in policy["retry_host_predicate"]] == [
            "envoy.retry_host_predicates.previous_hosts"
        ]
        wait_for(task_system, lambda a: a.status == 504, "the retried request's 504")

        before = retries_to_voting_app_1_0(task_system)
        answer = request(task_system)
        assert answer.status == 504 and "upstream request timeout" in answer.body, answer
        assert answer.elapsed >= 3 * (TIMEOUT_S - TIMER_SLACK_S), (
            answer.elapsed
        )  # three tries, each timed out
        assert retries_to_voting_app_1_0(task_system) - before == 2

    wait_for(task_system, lambda a: a.status == 200 and a.elapsed < TIMEOUT_S, "a quick page")


def retries_to_voting_app_1_0(system: LocalSystem) -> int:
    """The ingress's retry counter for voting-app's v1-0 subset (`upstream_rq_retry`)."""
    counters = envoy_counters(system, "upstream_rq_retry")
    found = {
        name: value
        for name, value in counters.items()
        if name.endswith(".upstream_rq_retry") and "v1-0" in name and "voting-app" in name
    }
    assert len(found) == 1, counters
    return next(iter(found.values()))
