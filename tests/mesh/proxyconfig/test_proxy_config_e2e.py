"""`voting proxy-config` against a real running local system, through the real CLI.

One system for the module: step 1 first (the gateway's routes, clusters, secrets, raw JSON,
name errors), then the canary step, whose routes must show up in the Envoys themselves.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.local_system import (
    LocalSystem,
    module_ports_base,
    start_local_system,
    stop_local_system,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    running = start_local_system(
        tmp_path_factory.mktemp("proxyconfig"), module_ports_base(__name__)
    )
    yield running
    stop_local_system(running)


def pods(system: LocalSystem, workload: str) -> list[str]:
    status = system.status()
    return [p["name"] for w in status["workloads"] if w["name"] == workload for p in w["pods"]]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_ingress_routes_at_step_1_show_the_voting_app_virtual_service(system: LocalSystem) -> None:
    lines = ok(system.cli("proxy-config", "ingress", "routes")).splitlines()
    assert lines[0].split()[:3] == ["NAME", "VHOST", "NAME"]
    route = next(line for line in lines if line.startswith("ingress "))
    assert "voting-app-gateway/voting-app" in route
    assert "voting-app.voting" in route.split()  # the VIRTUAL SERVICE column
    assert route.rstrip().endswith("outbound_8080_-_voting-app_v1-0")


def test_clusters_are_istio_mutual_outbound(system: LocalSystem) -> None:
    pod = pods(system, "voting-app-1-0")[0]
    lines = ok(system.cli("proxy-config", pod, "clusters")).splitlines()
    outbound = [line.split() for line in lines if " outbound " in line]
    assert {row[0] for row in outbound} == {
        "voting-analytics.voting.svc.cluster.local",
        "voting-app.voting.svc.cluster.local",
        "voting-storage.voting.svc.cluster.local",
    }
    assert all(row[-1] == "ISTIO_MUTUAL" for row in outbound)  # auto mTLS from step 1


def test_secrets_show_a_valid_spiffe_certificate(system: LocalSystem) -> None:
    pod = pods(system, "voting-analytics-1-0")[0]
    lines = ok(system.cli("proxy-config", pod, "secrets")).splitlines()
    default = next(line.split() for line in lines if line.startswith("default "))
    assert default[1:5] == ["Cert", "Chain", "ACTIVE", "true"]
    assert default[-1] == "spiffe://cluster.local/ns/voting/sa/voting-analytics"
    assert any(line.startswith("ROOTCA ") and " true " in line for line in lines)


def test_json_output_is_the_raw_config_dump_section(system: LocalSystem) -> None:
    pod = pods(system, "voting-storage-1-0")[0]
    section = json.loads(ok(system.cli("proxy-config", pod, "listeners", "-o", "json")))
    assert section["@type"] == "type.googleapis.com/envoy.admin.v3.ListenersConfigDump"
    assert {entry["name"] for entry in section["dynamic_listeners"]} >= {"inbound", "outbound"}


def test_an_unknown_or_ambiguous_pod_exits_2_with_the_candidates(system: LocalSystem) -> None:
    unknown = system.cli("proxy-config", "no-such-pod", "routes")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert len(unknown.stderr.strip().splitlines()) == 1
    for pod in [*pods(system, "voting-app-1-0"), "istio-ingressgateway"]:
        assert pod in unknown.stderr
    ambiguous = system.cli("proxy-config", "voting-app-1-0", "routes")
    assert ambiguous.returncode == 2
    assert all(pod in ambiguous.stderr for pod in pods(system, "voting-app-1-0"))
    assert "voting-storage" not in ambiguous.stderr


def test_after_the_canary_step_the_envoys_route_by_the_cookie_to_v2_0(
    system: LocalSystem,
) -> None:
    system.step("canary")
    ingress: list[str] = []

    def ingress_has_canary() -> bool:
        ingress[:] = ok(system.cli("proxy-config", "ingress", "routes")).splitlines()
        return any("featureflag=on" in line for line in ingress)

    wait_until(ingress_has_canary, 60, "the cookie route in the gateway's Envoy", interval=1)
    canary = next(line for line in ingress if "featureflag=on" in line)
    assert "cookie=~" in canary and canary.rstrip().endswith("outbound_8080_v2-0_voting-app_v2-0")
    pod = pods(system, "voting-app-2-0")[0]
    sidecar = [line.split() for line in ok(system.cli("proxy-config", pod, "routes")).splitlines()]
    actions = {row[1].split(".")[0]: row[-1] for row in sidecar if row[0] == "outbound"}
    assert actions["voting-analytics"] == "outbound_8080_v2-0_voting-analytics_v2-0"
    assert actions["voting-storage"] == "outbound_8080_v2-0_voting-storage_v2-0"
