"""Istio task "Traffic shifting": 50 % of requests to voting-app 2.0, then 100 %.

Checks pilot/pkg/networking/core/route/route.go (applyHTTPRouteDestination: several
destinations become Envoy weighted clusters, relative weights; one takes everything) on
real Envoy: the observed share of 2.0 pages is within a binomial tolerance of the weight.
"""

from __future__ import annotations

import pytest

from tests.e2e.local_system import COOKIE_ON, LocalSystem
from tests.e2e.tasks.support import requests, task_applied, wait_for
from tests.support.waiting import binomial_tolerance

pytestmark = pytest.mark.e2e

PAGES = 200


def test_half_then_all_of_the_requests_go_to_2_0(task_system: LocalSystem) -> None:
    """route.go weighted clusters: 50/50 observed as a binomial share, then 100 → 2.0 only."""
    with task_applied(task_system, "traffic-shifting/50-50") as task:
        wait_for(task_system, lambda a: a.app_version == "2.0", "a first 2.0 page")
        answers = requests(task_system, PAGES, concurrency=8)
        assert {a.status for a in answers} == {200}
        share = sum(a.app_version == "2.0" for a in answers) / PAGES
        tolerance = binomial_tolerance(0.5, PAGES, margin=0.0)
        assert abs(share - 0.5) <= tolerance, f"2.0 share {share:.3f}, 0.5 ± {tolerance:.3f}"

        done = task.apply("traffic-shifting/100")
        assert done.stdout == "virtualservice.networking.istio.io/voting-app configured\n"
        wait_for(task_system, lambda a: a.app_version == "2.0", "2.0")
        # an old 1.0 page may still be in flight for a moment: wait until 20 in a row are 2.0
        wait_for(
            task_system,
            lambda _: all(a.app_version == "2.0" for a in requests(task_system, 20)),
            "20 pages in a row on 2.0",
        )
        answers = requests(task_system, 50, concurrency=8)
        answers += requests(task_system, 50, headers={"Cookie": "featureflag=off"})
        assert {(a.status, a.app_version) for a in answers} == {(200, "2.0")}

    # deleted (100, then 50-50): step 4's cookie canary again
    wait_for(task_system, lambda a: a.app_version == "1.0", "1.0 without the cookie")
    assert {a.app_version for a in requests(task_system, 20, headers={"Cookie": COOKIE_ON})} == {
        "2.0"
    }
    assert {a.app_version for a in requests(task_system, 20)} == {"1.0"}
