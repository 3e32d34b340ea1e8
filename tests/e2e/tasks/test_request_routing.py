"""Istio task "Request routing": a header match sends one user to another version.

Checks pilot/pkg/networking/core/route/route.go (TranslateRouteMatch: a `headers` exact
match becomes an Envoy header matcher; the first matching route wins) on real Envoy.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.e2e.local_system import COOKIE_ON, LocalSystem
from tests.e2e.tasks.support import requests, task_applied, wait_for

pytestmark = pytest.mark.e2e

JASON = {"end-user": "jason"}
PAGES = 20


def versions(system: LocalSystem, headers: dict[str, str]) -> Counter[tuple[int, str | None]]:
    return Counter((a.status, a.app_version) for a in requests(system, PAGES, headers))


def test_jason_gets_voting_app_2_0_and_everyone_else_1_0_until_deleted(
    task_system: LocalSystem,
) -> None:
    """route.go: `end-user: jason` exact → subset v2-0, the catch-all rule → v1-0."""
    with task_applied(task_system, "request-routing") as task:
        assert task.applied
        wait_for(task_system, lambda a: a.app_version == "2.0", "jason on 2.0", headers=JASON)
        assert versions(task_system, JASON) == Counter({(200, "2.0"): PAGES})
        assert versions(task_system, {}) == Counter({(200, "1.0"): PAGES})
        # the step's cookie canary is replaced: the cookie alone no longer picks 2.0
        assert versions(task_system, {"Cookie": COOKIE_ON}) == Counter({(200, "1.0"): PAGES})
        assert versions(task_system, {"end-user": "Jason"}) == Counter({(200, "1.0"): PAGES})

        routes = task_system.cli("proxy-config", "ingress", "routes")
        assert routes.returncode == 0, routes.stderr
        assert any("end-user=jason" in line and "end-user-jason" in line for line in
                   routes.stdout.splitlines()), routes.stdout  # fmt: skip

    # deleted: step 4's own VirtualService is back (the cookie canary), jason is nobody
    wait_for(task_system, lambda a: a.app_version == "1.0", "jason back on 1.0", headers=JASON)
    assert versions(task_system, {"Cookie": COOKIE_ON}) == Counter({(200, "2.0"): PAGES})
