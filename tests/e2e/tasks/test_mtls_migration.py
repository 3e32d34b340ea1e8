"""Istio task "Mutual TLS Migration": a plaintext client, PERMISSIVE, then STRICT.

Checks pilot/pkg/security/authn (a workload's PeerAuthentication over the namespace's; PERMISSIVE
gives the inbound listener a plaintext filter chain beside the mutual-TLS one, STRICT only the
latter) on real Envoy, with the client of Istio's task: `voting traffic --plaintext-to`, no
sidecar and no certificate, straight to voting-analytics' sidecar. Mesh traffic (pages through
the ingress, whose analytics calls are mutual TLS) is served throughout.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.e2e.local_system import LocalSystem
from tests.e2e.tasks.support import requests, task_applied
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

PERMISSIVE = "mtls-migration/1-permissive.yaml"
STRICT = "mtls-migration/2-strict.yaml"


def plaintext(system: LocalSystem) -> dict[str, Any]:
    """`voting traffic --plaintext-to voting-analytics` for a moment, as its JSON result."""
    done = system.cli(
        "traffic", "--plaintext-to", "voting-analytics", "--rate", "10", "--duration", "1.5",
        "--timeout", "5", "--json",
    )  # fmt: skip
    assert done.stdout, done.stderr
    return json.loads(done.stdout)


def accepted(result: dict[str, Any]) -> bool:
    return result["sent"] > 0 and result["statuses"] == {"200": result["sent"]}


def refused(result: dict[str, Any]) -> bool:
    return result["sent"] > 0 and not result["statuses"] and result["connection_errors"] > 0


def pages_served(system: LocalSystem) -> bool:
    answers = requests(system, 10)
    return Counter(a.status for a in answers) == Counter({200: 10}) and all(
        a.analytics_version not in (None, "unavailable") for a in answers
    )


def test_plaintext_is_taken_while_permissive_and_refused_once_strict(
    task_system: LocalSystem,
) -> None:
    before = plaintext(task_system)
    assert refused(before), before  # step 4: the namespace is STRICT
    with task_applied(task_system, PERMISSIVE) as task:
        wait_until(lambda: accepted(plaintext(task_system)), 30, "plaintext taken (PERMISSIVE)")
        assert accepted(plaintext(task_system))
        assert pages_served(task_system)
        shown = task_system.cli("tls-check", "voting-analytics")  # SERVER: what it accepts
        assert shown.returncode == 0 and "HTTP/mTLS" in shown.stdout, shown.stdout

        task.apply(STRICT)
        wait_until(lambda: refused(plaintext(task_system)), 30, "plaintext refused (STRICT)")
        result = plaintext(task_system)
        assert refused(result) and result["connection_errors"] == result["sent"], result
        assert pages_served(task_system)
        shown = task_system.cli("tls-check", "voting-analytics")
        assert shown.returncode == 0 and "HTTP/mTLS" not in shown.stdout, shown.stdout
    assert refused(plaintext(task_system))
    assert pages_served(task_system)
