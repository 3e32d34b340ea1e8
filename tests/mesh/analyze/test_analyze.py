"""`voting analyze`: each check finds what istioctl's analyzer finds, and the steps are clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesh.analyze.cli import FOUND_ISSUES_EXIT, analyze
from mesh.steps import STEPS
from tests.support.mesh_view import documents
from voting.cli import main


def codes(step: str, extra: str, drop: tuple[str, ...] = ()) -> list[str]:
    return [f"{m.kind.code} {m.resource}" for m in analyze(documents(step, extra, drop))]


@pytest.mark.parametrize("step", STEPS, ids=lambda s: s.name)
def test_the_projects_five_steps_analyze_clean(step):
    assert analyze(documents(step.name)) == []


def test_a_subset_no_destination_rule_defines_is_a_missing_reference():
    extra = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: voting-analytics, namespace: voting}
spec:
  hosts: [voting-analytics]
  http: [{route: [{destination: {host: voting-analytics, subset: v3}}]}]
"""
    findings = analyze(documents("lock-down", extra, drop=("VirtualService/voting-analytics",)))
    assert [str(f) for f in findings] == [
        "Error [IST0101] (VirtualService voting/voting-analytics) Referenced host+subset in "
        'destinationrule not found: "voting-analytics.voting.svc.cluster.local+v3"'
    ]


def test_an_unknown_host_and_gateway_are_missing_references():
    extra = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front, namespace: voting}
spec:
  hosts: ["*"]
  gateways: [no-such-gateway]
  http: [{route: [{destination: {host: voting-nowhere}}]}]
"""
    assert codes("deploy", extra) == [
        "IST0101 VirtualService voting/front",
        "IST0101 VirtualService voting/front",
    ]


def test_a_rule_after_a_catch_all_is_unreachable_and_a_repeated_match_ineffective():
    extra = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: voting-analytics, namespace: voting}
spec:
  hosts: [voting-analytics]
  http:
  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: voting-analytics, subset: v1-1}}]
  - match: [{uri: {prefix: /a}}, {uri: {prefix: /b}}]
    route: [{destination: {host: voting-analytics, subset: v1-0}}]
  - route: [{destination: {host: voting-analytics, subset: v1-1}}]
  - route: [{destination: {host: voting-analytics, subset: v1-0}}]
"""
    findings = analyze(documents("lock-down", extra, drop=("VirtualService/voting-analytics",)))
    assert [str(f).split(") ", 1)[1] for f in findings] == [
        "VirtualService rule 1 match 0 is not used (duplicate/overlapping match in rule 0).",
        "VirtualService rule 3 not used (only the last rule can have no matches).",
    ]


def test_a_subset_selecting_no_pods_and_a_plaintext_rule_against_strict_mtls():
    extra = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: voting-storage, namespace: voting}
spec:
  host: voting-storage
  trafficPolicy: {tls: {mode: DISABLE}}
  subsets: [{name: v1-0, labels: {version: "1.0"}}, {name: v9, labels: {version: "9.0"}}]
"""
    assert codes("lock-down", extra, drop=("DestinationRule/voting-storage",)) == [
        "IST0173 DestinationRule voting/voting-storage",
        "IST0113 DestinationRule voting/voting-storage",
    ]


def test_a_policy_selecting_no_workload_and_a_port_without_a_protocol_name():
    extra = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ghost, namespace: voting}
spec: {selector: {matchLabels: {app: ghost}}}
---
apiVersion: v1
kind: Service
metadata: {name: extra, namespace: voting}
spec: {selector: {app: voting-app}, ports: [{port: 9000, name: web}]}
"""
    assert codes("deploy", extra) == [
        "IST0127 AuthorizationPolicy voting/ghost",
        "IST0118 Service voting/extra",
    ]


def test_a_root_namespace_policy_may_select_the_ingress_gateway():
    extra = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: edge, namespace: istio-system}
spec: {selector: {matchLabels: {istio: ingressgateway}}, action: DENY, rules: [{to: [{operation: {paths: [/x]}}]}]}
"""
    assert codes("deploy", extra) == []


def test_a_virtual_service_host_its_gateway_does_not_serve():
    extra = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shop, namespace: voting}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [shop.example.com]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: voting}
spec:
  hosts: [votes.example.com]
  gateways: [shop]
  http: [{route: [{destination: {host: voting-app}}]}]
"""
    assert codes("deploy", extra) == ["IST0132 VirtualService voting/shop"]


def test_the_cli_exits_79_on_errors_and_0_when_clean(tmp_path: Path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\n"
        "spec: {hosts: [voting-app], htp: []}\n"
    )
    assert main(["analyze", "--step", "1", "-f", str(bad)]) == FOUND_ISSUES_EXIT
    assert (
        "Error [IST0106] (VirtualService x.voting) Schema validation error: unsupported field spec.htp"
        in capsys.readouterr().out
    )
    assert main(["analyze", "--step", "finalize"]) == 0
    assert "No validation issues found" in capsys.readouterr().out


def test_warnings_fail_only_below_the_failure_threshold(tmp_path: Path, capsys):
    policy = tmp_path / "ghost.yaml"
    policy.write_text(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
        "metadata: {name: ghost, namespace: voting}\nspec: {selector: {matchLabels: {app: ghost}}}\n"
    )
    assert main(["analyze", "--step", "1", "-f", str(policy)]) == 0
    assert (
        main(["analyze", "--step", "1", "-f", str(policy), "--failure-threshold", "Warning"])
        == FOUND_ISSUES_EXIT
    )


def test_unreadable_input_exits_2(tmp_path: Path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n")
    assert main(["analyze", "-f", str(broken)]) == 2
    assert "not YAML" in capsys.readouterr().err
