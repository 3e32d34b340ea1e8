"""Istio task "Authorization on HTTP traffic", at the ingress gateway, one policy at a time.

Checks pilot/pkg/security/authz/builder/builder.go on real Envoy: an ALLOW policy without
rules matches nothing, so its workload refuses every request (403 "RBAC: access denied");
ALLOW policies add up (a request passes when any rule matches: methods, paths, a `when`
on a request header); a DENY policy is evaluated before every ALLOW and wins.
"""

from __future__ import annotations

import pytest

from tests.e2e.local_system import LocalSystem
from tests.e2e.tasks.support import Answer, request, task_applied, wait_for

pytestmark = pytest.mark.e2e

TASK = "authorization-http"
VOTER = {"x-voter": "registered"}
VOTE = {"vote": "Cats"}
VOTED = 303  # the vote page answers an accepted vote with See Other (Post/Redirect/Get)


def _vote(system: LocalSystem, headers: dict[str, str] | None = None) -> Answer:
    return request(system, method="POST", path="/", data=VOTE, headers=headers)


def _flag(system: LocalSystem, headers: dict[str, str] | None = None) -> Answer:
    return request(system, method="POST", path="/featureflag/set", headers=headers)


def test_policies_open_the_gateway_step_by_step_and_deny_wins(task_system: LocalSystem) -> None:
    with task_applied(task_system, f"{TASK}/1-allow-nothing.yaml") as task:
        # builder.go: an ALLOW policy with no rules is an RBAC filter that allows nothing
        wait_for(task_system, lambda a: a.status == 403, "the gateway refusing every request")
        refused = request(task_system)
        assert refused.body == "RBAC: access denied"
        assert _vote(task_system).status == 403

        task.apply(f"{TASK}/2-allow-reading.yaml")
        wait_for(task_system, lambda a: a.status == 200, "GET / allowed")
        assert request(task_system, method="HEAD").status == 200
        assert _vote(task_system).status == 403, "POST is in no ALLOW rule yet"
        assert request(task_system, path="/healthz").status == 403, "only the path `/`"

        task.apply(f"{TASK}/3-allow-voters.yaml")
        wait_for(
            task_system,
            lambda a: a.status == VOTED,
            "a registered voter's vote allowed",
            method="POST",
            data=VOTE,
            headers=VOTER,
        )
        assert _vote(task_system).status == 403, "`when` request.headers[x-voter] unmet"
        assert _vote(task_system, {"x-voter": "guest"}).status == 403
        assert _flag(task_system, VOTER).status == 303, "/featureflag/* allowed"

        task.apply(f"{TASK}/4-deny-other-posts.yaml")
        wait_for(
            task_system,
            lambda a: a.status == 403,
            "the DENY policy refusing the feature-flag form",
            method="POST",
            path="/featureflag/set",
            headers=VOTER,
        )
        assert _vote(task_system, VOTER).status == VOTED, "DENY's notPaths leaves votes alone"
        assert request(task_system).status == 200

    # every policy deleted: the gateway admits everyone again
    wait_for(task_system, lambda a: a.status == 200, "the gateway open to everyone again")
    assert _vote(task_system).status == VOTED
