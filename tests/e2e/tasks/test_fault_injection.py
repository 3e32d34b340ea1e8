"""Istio task "Fault injection": a fixed delay and an HTTP abort, each on a share of jason's
requests at the gateway.

Checks pilot/pkg/networking/core/route/route.go (TranslateFault: `fixedDelay` and
`httpStatus` with `percentage` become Envoy's HTTP fault filter, per route) on real Envoy:
the share of delayed and of aborted requests is within a binomial tolerance of the
percentage, and only the matching route is affected.
"""

from __future__ import annotations

import statistics

import pytest

from tests.e2e.local_system import LocalSystem
from tests.e2e.tasks.support import requests, task_applied, wait_for
from tests.support.waiting import binomial_tolerance

pytestmark = pytest.mark.e2e

JASON = {"end-user": "jason"}
DELAY_S = 1.0  # mesh/tasks/fault-injection/delay: fixedDelay 1s for 50 % of jason's requests
HELD_S = DELAY_S - 0.01  # held at least this long: Envoy's ms-grained timers may fire early
ABORTED = 0.30  # mesh/tasks/fault-injection/abort: httpStatus 500 for 30 %


def test_half_of_jasons_pages_wait_the_fixed_delay(task_system: LocalSystem) -> None:
    """route.go TranslateFault delay: a request held `fixedDelay` with `percentage` chance."""
    count = 80
    with task_applied(task_system, "fault-injection/delay"):
        wait_for(task_system, lambda a: a.elapsed >= HELD_S, "a delayed page", headers=JASON)
        answers = requests(task_system, count, headers=JASON, concurrency=16)
        assert {a.status for a in answers} == {200}
        delayed = [a for a in answers if a.elapsed >= HELD_S]
        share = len(delayed) / count
        # margin: on a busy machine an undelayed page may itself take a second
        tolerance = binomial_tolerance(0.5, count, margin=0.05)
        assert abs(share - 0.5) <= tolerance, f"delayed share {share:.3f}, 0.5 ± {tolerance:.3f}"
        assert statistics.median(a.elapsed for a in delayed) < DELAY_S * 3
        others = requests(task_system, 20, concurrency=4)
        assert {a.status for a in others} == {200}
        assert statistics.median(a.elapsed for a in others) < DELAY_S / 2, "others delayed"


def test_thirty_percent_of_jasons_requests_are_aborted_with_500(task_system: LocalSystem) -> None:
    """route.go TranslateFault abort: answered `httpStatus` by the proxy, app never called."""
    count = 200
    with task_applied(task_system, "fault-injection/abort"):
        wait_for(task_system, lambda a: a.status == 500, "a first abort", headers=JASON)
        answers = requests(task_system, count, headers=JASON, concurrency=8)
        statuses = {a.status for a in answers}
        assert statuses == {200, 500}, statuses
        aborted = [a for a in answers if a.status == 500]
        assert all(a.app_version is None and "fault filter abort" in a.body for a in aborted)
        share = len(aborted) / count
        tolerance = binomial_tolerance(ABORTED, count, margin=0.0)
        assert abs(share - ABORTED) <= tolerance, (
            f"aborted share {share:.3f}, {ABORTED} ± {tolerance:.3f}"
        )
        assert {a.status for a in requests(task_system, 40, concurrency=8)} == {200}

    assert {a.status for a in requests(task_system, 40, headers=JASON, concurrency=8)} == {200}
