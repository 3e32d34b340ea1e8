"""Istio task "Mirroring": voting-app 1.0's analytics calls are copied to analytics 2.0.

Checks pilot/pkg/networking/core/route/route.go (applyHTTPRouteDestination's `mirror` with
`mirrorPercentage`, TranslateRequestMirrorPolicy) on real Envoy: every page is still served
by analytics 1.1 (the copies' answers are dropped), analytics 2.0's sidecar takes one copy
per page, and the copies go through the `-shadow` twin cluster, so the telemetry never counts
them as served traffic (tests/mesh/conformance/test_mirroring.py has the translation).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.e2e.local_system import LocalSystem
from tests.e2e.tasks.support import requests, task_applied, wait_for, workload_requests
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

PAGES = 20
SHADOW = "outbound_8080_v2-0_voting-analytics-shadow_v2-0.upstream_rq_total"
SERVED_2_0 = "outbound_8080_v2-0_voting-analytics_v2-0.upstream_rq_total"
INBOUND = "downstream_rq_total"  # on analytics 2.0's sidecar: every request it took in


def pages(system: LocalSystem) -> Counter[tuple[int, str | None, str | None]]:
    return Counter((a.status, a.app_version, a.analytics_version) for a in requests(system, PAGES))


def test_every_page_is_served_by_1_1_and_copied_to_2_0_until_deleted(
    task_system: LocalSystem,
) -> None:
    with task_applied(task_system, "mirroring"):
        wait_for(
            task_system,
            lambda _: workload_requests(task_system, "voting-app-1-0", SHADOW) > 0,
            "the first copy",
        )
        shadow = workload_requests(task_system, "voting-app-1-0", SHADOW)
        served = workload_requests(task_system, "voting-app-1-0", SERVED_2_0)
        copies_in = workload_requests(task_system, "voting-analytics-2-0", INBOUND)

        assert pages(task_system) == Counter({(200, "1.0", "1.1"): PAGES})

        # Copies are sent beside the served call, not before the page: wait for all of them.
        wait_until(
            lambda: workload_requests(task_system, "voting-app-1-0", SHADOW) >= shadow + PAGES,
            30,
            "one copy per page",
        )
        assert workload_requests(task_system, "voting-app-1-0", SHADOW) == shadow + PAGES
        wait_until(
            lambda: (
                workload_requests(task_system, "voting-analytics-2-0", INBOUND) >= copies_in + PAGES
            ),
            30,
            "analytics 2.0 took the copies in",
        )
        # nothing of it counts as served: voting-app 1.0 never called 2.0's served cluster
        assert workload_requests(task_system, "voting-app-1-0", SERVED_2_0) == served

        pod = next(w for w in task_system.status()["workloads"] if w["name"] == "voting-app-1-0")
        shown = task_system.cli("proxy-config", pod["pods"][0]["name"], "routes")
        assert shown.returncode == 0, shown.stderr
        mirror = "+ mirror outbound_8080_v2-0_voting-analytics-shadow_v2-0 100%"
        assert any("app-1-0" in line and mirror in line for line in shown.stdout.splitlines()), (
            shown.stdout
        )

    wait_for(
        task_system,
        lambda _: workload_requests(task_system, "voting-app-1-0", SHADOW) == 0,
        "the shadow cluster gone",
    )
    before = workload_requests(task_system, "voting-analytics-2-0", INBOUND)
    assert pages(task_system) == Counter({(200, "1.0", "1.1"): PAGES})
    assert workload_requests(task_system, "voting-analytics-2-0", INBOUND) == before
