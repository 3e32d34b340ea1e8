"""Header manipulation, rewrite, redirect and direct response on the gateway, on real Envoy.

Checks pilot/pkg/networking/core/route/route.go as the local mesh compiles it
(tests/mesh/conformance/test_http_actions.py has the field-by-field translation): a
directResponse answers at the ingress without calling the app (ApplyDirectResponse), a
redirect answers 302 with its Location (ApplyRedirect), rewrite.uri serves /v1/ as /
(prefix_rewrite), and destination-level response headers name the version that answered
(processDestination) while a rule-level remove drops the gateway's own header, and the
corsPolicy answers an allowed origin's preflight at the gateway (TranslateCORSPolicy).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.local_system import COOKIE_ON, LocalSystem
from tests.e2e.tasks.support import Answer, envoy_counters, requests, task_applied, wait_for
from tests.support.tasks import task_path

pytestmark = pytest.mark.e2e

TASK = "http-actions"
TASK_FILE = "virtual-service-voting-app-http-actions.yaml"
ORIGIN = "https://vote.example"  # the task's corsPolicy allows it
PAGES = 12
TIMING = "x-envoy-upstream-service-time"  # added by the gateway's router to every proxied answer


def answers(system: LocalSystem, path: str = "/", **kwargs: object) -> list[Answer]:
    return requests(system, PAGES, path=path, **kwargs)  # type: ignore[arg-type]


def app_requests(system: LocalSystem) -> int:
    """Requests voting-app 1.0's sidecar has taken in (its inbound listener's counter)."""
    counters = envoy_counters(system, "downstream_rq_total", proxy="voting-app-1-0-")
    return sum(n for name, n in counters.items() if not name.startswith("http.admin."))


def test_the_gateway_answers_redirects_rewrites_and_labels_the_version_until_deleted(
    task_system: LocalSystem, tmp_path: Path
) -> None:
    before = answers(task_system, "/robots.txt")
    assert {a.status for a in before} == {404}, before[0]  # the app has no robots.txt

    with task_applied(task_system, TASK):
        wait_for(task_system, lambda a: a.status == 200, "robots.txt answered", path="/robots.txt")
        served = app_requests(task_system)
        robots = answers(task_system, "/robots.txt")
        assert Counter((a.status, a.body) for a in robots) == Counter(
            {(200, "User-agent: *\nDisallow: /\n"): PAGES}
        )
        assert app_requests(task_system) == served, "a direct response must not reach the app"

        moved = answers(task_system, "/vote")
        # Envoy writes the Location absolute: same scheme and host, the rule's path
        location = f"{task_system.url.rstrip('/')}/"
        assert {(a.status, a.headers.get("location")) for a in moved} == {(302, location)}

        versioned = answers(task_system, "/v1/", headers={"Cookie": COOKIE_ON})
        assert {(a.status, a.app_version) for a in versioned} == {(200, "1.0")}, versioned[0]

        stable = answers(task_system)
        assert {(a.status, a.app_version, a.headers.get("x-voting-version")) for a in stable} == {
            (200, "1.0", "1.0")
        }
        assert not any(TIMING in a.headers for a in stable), stable[0].headers
        canary = answers(task_system, headers={"Cookie": COOKIE_ON})
        assert {(a.status, a.app_version, a.headers.get("x-voting-version")) for a in canary} == {
            (200, "2.0", "2.0")
        }
        assert all(TIMING in a.headers for a in canary)  # only the v1-0 rule removes it

        # CORS (route.go TranslateCORSPolicy): the preflight of an allowed origin is answered
        # by the gateway's filter; an actual request gets the allow and expose headers.
        preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        (answer,) = requests(task_system, 1, method="OPTIONS", headers=preflight)
        assert answer.status == 200, answer
        assert answer.headers.get("access-control-allow-origin") == ORIGIN, answer.headers
        assert answer.headers.get("access-control-allow-methods") == "GET,POST"
        assert answer.headers.get("access-control-max-age") == "86400"
        (page,) = requests(task_system, 1, headers={"Origin": ORIGIN})
        assert page.headers.get("access-control-allow-origin") == ORIGIN, page.headers
        assert page.headers.get("access-control-expose-headers") == "x-voting-version"
        other = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
        (refused_preflight,) = requests(task_system, 1, method="OPTIONS", headers=other)
        assert "access-control-allow-origin" not in refused_preflight.headers

        # Bad input: a redirect code Envoy has no name for is refused whole, naming the field;
        # what was applied keeps serving.
        bad = tmp_path / "bad.yaml"
        bad.write_text(task_path(TASK).joinpath(TASK_FILE).read_text().replace("302", "305"))
        refused = task_system.cli("apply", "-f", str(bad))
        assert refused.returncode == 2, refused
        assert "redirect.redirectCode: 305 is not supported" in refused.stderr, refused.stderr
        assert {a.status for a in answers(task_system, "/vote")} == {302}

    wait_for(task_system, lambda a: a.status == 404, "robots.txt gone", path="/robots.txt")
    assert {a.status for a in answers(task_system, "/v1/")} == {404}
    after = answers(task_system)
    assert {(a.status, a.app_version) for a in after} == {(200, "1.0")}
    assert not any("x-voting-version" in a.headers for a in after)
