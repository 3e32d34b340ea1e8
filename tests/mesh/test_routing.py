"""What each step means for traffic: subsets, routes, mutual TLS, who may call whom."""

from __future__ import annotations

import re

import pytest

from mesh.steps import STEPS
from tests.mesh.objects import named, of_kind, pod_labels, ref, selects

# Istio's protocol selection by port name: `<protocol>[-<suffix>]`.
ISTIO_PROTOCOLS = {
    "http", "http2", "https", "grpc", "grpc-web", "tcp", "tls", "udp", "mongo", "mysql", "redis",
}  # fmt: skip
INGRESS_GATEWAY = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"


def destinations(vs):
    """Every route destination of a VirtualService."""
    return [d["destination"] for rule in vs["spec"]["http"] for d in rule["route"]]


def subsets(rule):
    """A DestinationRule's subsets by name."""
    return {s["name"]: s["labels"] for s in rule["spec"].get("subsets", [])}


def voting_app_rules(objs):
    """The http rules of the gateway's VirtualService voting-app."""
    return named(objs, "VirtualService", "voting-app")["spec"]["http"]


@pytest.fixture(scope="module")
def cookie_regex(rendered):
    rule = voting_app_rules(rendered["4-canary"])[0]
    return rule["match"][0]["headers"]["cookie"]["regex"]


# ----------------------------------------------------------------- consistency per step
def test_every_subset_a_virtual_service_names_exists_in_its_destination_rule(objs):
    for vs in of_kind(objs, "VirtualService"):
        for dest in destinations(vs):
            if "subset" in dest:
                rule = named(objs, "DestinationRule", dest["host"])
                assert rule is not None, f"{ref(vs)}: no DestinationRule for {dest['host']}"
                assert dest["subset"] in subsets(rule), f"{ref(vs)}: {dest}"


def test_every_destination_rule_subset_selects_a_deployment_of_the_step(objs):
    deployments = of_kind(objs, "Deployment")
    for rule in of_kind(objs, "DestinationRule"):
        service = named(objs, "Service", rule["spec"]["host"])
        assert service is not None, f"{ref(rule)}: host has no Service"
        for name, labels in subsets(rule).items():
            wanted = {**service["spec"]["selector"], **labels}
            assert any(selects(wanted, pod_labels(d)) for d in deployments), f"{ref(rule)} {name}"


def test_every_route_destination_is_a_service_of_the_step_on_its_port(objs):
    for vs in of_kind(objs, "VirtualService"):
        for dest in destinations(vs):
            service = named(objs, "Service", dest["host"])
            assert service is not None, f"{ref(vs)}: {dest['host']}"
            ports = {p["port"] for p in service["spec"]["ports"]}
            assert dest.get("port", {}).get("number", 8080) in ports


def test_every_source_label_match_names_a_deployment_of_the_step(objs):
    deployments = of_kind(objs, "Deployment")
    for vs in of_kind(objs, "VirtualService"):
        for rule in vs["spec"]["http"]:
            for match in rule.get("match", []):
                if "sourceLabels" in match:
                    wanted = match["sourceLabels"]
                    assert any(selects(wanted, pod_labels(d)) for d in deployments), wanted


def test_in_mesh_rules_end_with_a_catch_all(objs):
    for vs in of_kind(objs, "VirtualService"):
        if "gateways" not in vs["spec"]:
            assert "match" not in vs["spec"]["http"][-1], ref(vs)


def test_every_service_port_is_named_for_istio_protocol_selection(objs):
    for service in of_kind(objs, "Service"):
        for port in service["spec"]["ports"]:
            protocol = port.get("name", "").split("-")[0]
            assert protocol in ISTIO_PROTOCOLS, f"{ref(service)}: port {port}"


def test_function_services_serve_http_on_8080_selecting_on_app_only(objs):
    for name in ("voting-app", "voting-analytics", "voting-storage"):
        service = named(objs, "Service", name)
        assert service["spec"]["selector"] == {"app": name}
        assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http"}]


def test_every_destination_rule_requires_istio_mutual_tls(objs):
    for rule in of_kind(objs, "DestinationRule"):
        assert rule["spec"]["trafficPolicy"]["tls"]["mode"] == "ISTIO_MUTUAL", ref(rule)


def test_the_gateway_accepts_http_on_port_80_for_any_host(objs):
    gateway = named(objs, "Gateway", "voting-app-gateway")
    assert gateway["spec"]["selector"] == {"istio": "ingressgateway"}
    [server] = gateway["spec"]["servers"]
    assert (server["port"]["number"], server["port"]["protocol"]) == (80, "HTTP")
    assert server["hosts"] == ["*"]


def test_voting_app_is_routed_from_the_gateway_only(objs):
    vs = named(objs, "VirtualService", "voting-app")
    assert vs["spec"]["hosts"] == ["*"]
    assert vs["spec"]["gateways"] == ["voting-app-gateway"]
    for rule in vs["spec"]["http"]:
        assert {"uri": {"prefix": "/"}} in [
            {k: v for k, v in m.items() if k == "uri"} for m in rule["match"]
        ]


# ----------------------------------------------------------------- the rollout, step by step
def test_steps_1_and_2_route_without_subsets_or_policies(rendered):
    for directory in ("1-deploy", "2-update-analytics"):
        objs = rendered[directory]
        assert [o["kind"] for o in objs if "istio.io" in o["apiVersion"]] == [
            "Gateway",
            "VirtualService",
        ]
        [dest] = destinations(named(objs, "VirtualService", "voting-app"))
        assert dest == {"host": "voting-app", "port": {"number": 8080}}


def test_analytics_1_1_joins_1_0_in_step_2(rendered):
    def versions(objs):
        return sorted(
            pod_labels(d)["version"]
            for d in of_kind(objs, "Deployment")
            if pod_labels(d)["app"] == "voting-analytics"
        )

    assert versions(rendered["1-deploy"]) == ["1.0"]
    assert versions(rendered["2-update-analytics"]) == ["1.0", "1.1"]


def test_lock_down_routes_app_1_0_to_analytics_1_1_and_storage_1_0(rendered):
    objs = rendered["3-lock-down"]
    app_1_0 = {"app": "voting-app", "version": "1.0"}
    analytics_1_1 = {"app": "voting-analytics", "version": "1.1"}
    assert _route_for(objs, "voting-app", None) == "v1-0"
    assert _route_for(objs, "voting-analytics", app_1_0) == "v1-1"
    assert _route_for(objs, "voting-storage", app_1_0) == "v1-0"
    assert _route_for(objs, "voting-storage", analytics_1_1) == "v1-0"


def test_canary_keeps_each_stack_on_its_own_versions(rendered):
    objs = rendered["4-canary"]
    expected = {
        ("voting-analytics", "voting-app", "1.0"): "v1-1",
        ("voting-analytics", "voting-app", "2.0"): "v2-0",
        ("voting-storage", "voting-app", "1.0"): "v1-0",
        ("voting-storage", "voting-analytics", "1.1"): "v1-0",
        ("voting-storage", "voting-app", "2.0"): "v2-0",
        ("voting-storage", "voting-analytics", "2.0"): "v2-0",
    }
    for (host, app, version), subset in expected.items():
        assert _route_for(objs, host, {"app": app, "version": version}) == subset


def test_callers_no_rule_names_get_the_stable_version_never_the_canary(rendered):
    analytics_1_0 = {"app": "voting-analytics", "version": "1.0"}
    assert _route_for(rendered["4-canary"], "voting-analytics", analytics_1_0) == "v1-1"
    assert _route_for(rendered["4-canary"], "voting-storage", analytics_1_0) == "v1-0"


def test_canary_routes_the_cookie_to_2_0_before_everyone_else_to_1_0(rendered):
    flagged, rest = voting_app_rules(rendered["4-canary"])
    assert flagged["match"][0]["uri"] == {"prefix": "/"}
    assert "cookie" in flagged["match"][0]["headers"]
    assert destinations({"spec": {"http": [flagged]}})[0]["subset"] == "v2-0"
    assert rest["match"] == [{"uri": {"prefix": "/"}}]
    assert destinations({"spec": {"http": [rest]}})[0]["subset"] == "v1-0"


@pytest.mark.parametrize(
    "cookie", ["featureflag=on", "a=b; featureflag=on", "featureflag=on; a=b", "a=b;featureflag=on"]
)
def test_cookie_regex_matches_the_feature_flag_cookie(cookie_regex, cookie):
    assert re.fullmatch(cookie_regex, cookie)


@pytest.mark.parametrize(
    "cookie", ["featureflag=off", "xfeatureflag=on", "featureflag=onx", "a=featureflag=on", ""]
)
def test_cookie_regex_ignores_other_cookies(cookie_regex, cookie):
    assert not re.fullmatch(cookie_regex, cookie)


def test_finalize_runs_no_1x_deployment_and_no_redis(rendered):
    objs = rendered["5-finalize"]
    versions = {pod_labels(d)["app"]: pod_labels(d)["version"] for d in of_kind(objs, "Deployment")}
    assert not [v for v in versions.values() if v.startswith("1.")]
    assert "voting-redis" not in versions
    assert not [o for o in objs if o["metadata"]["name"] == "voting-redis"]


def test_finalize_names_no_1x_subset(rendered):
    objs = rendered["5-finalize"]
    for rule in of_kind(objs, "DestinationRule"):
        assert list(subsets(rule)) == ["v2-0"], ref(rule)
    for vs in of_kind(objs, "VirtualService"):
        assert {d["subset"] for d in destinations(vs)} == {"v2-0"}, ref(vs)


def test_new_subsets_are_applied_before_the_routes_that_use_them(rendered):
    for directory in ("3-lock-down", "4-canary"):
        kinds = [o["kind"] for o in rendered[directory]]
        assert _last(kinds, "DestinationRule") < kinds.index("VirtualService"), directory


def test_routes_leave_old_subsets_before_those_subsets_are_removed(rendered):
    kinds = [o["kind"] for o in rendered["5-finalize"]]
    assert _last(kinds, "VirtualService") < kinds.index("DestinationRule")


# ----------------------------------------------------------------- security
def test_strict_mutual_tls_is_in_force_from_step_3_on(rendered):
    for step in STEPS:
        policies = of_kind(rendered[step.directory], "PeerAuthentication")
        if step.number < 3:
            assert not policies
        else:
            [policy] = policies
            assert policy["metadata"]["name"] == "default"
            assert "selector" not in policy["spec"]
            assert policy["spec"]["mtls"] == {"mode": "STRICT"}


@pytest.mark.parametrize("step", [s for s in STEPS if s.number >= 3], ids=lambda s: s.directory)
def test_each_workload_admits_only_its_callers(rendered, step):
    objs = rendered[step.directory]
    allowed = {
        p["spec"]["selector"]["matchLabels"]["app"]: sorted(
            principal
            for rule in p["spec"]["rules"]
            for source in rule["from"]
            for principal in source["source"]["principals"]
        )
        for p in of_kind(objs, "AuthorizationPolicy")
        if p["spec"]["action"] == "ALLOW"
    }
    sa = "cluster.local/ns/voting/sa/"
    expected = {
        "voting-app": [INGRESS_GATEWAY],
        "voting-analytics": [sa + "voting-app"],
        "voting-storage": [sa + "voting-analytics", sa + "voting-app"],
    }
    if named(objs, "Deployment", "voting-redis"):
        expected["voting-redis"] = [sa + "voting-storage"]
    if named(objs, "Deployment", "voting-mysql"):
        expected["voting-mysql"] = [sa + "voting-storage"]
    assert allowed == expected


def test_every_principal_allowed_in_the_namespace_is_a_service_account_of_the_step(objs):
    accounts = {o["metadata"]["name"] for o in of_kind(objs, "ServiceAccount")}
    for policy in of_kind(objs, "AuthorizationPolicy"):
        for rule in policy["spec"]["rules"]:
            for source in rule["from"]:
                for principal in source["source"]["principals"]:
                    if principal.startswith("cluster.local/ns/voting/sa/"):
                        assert principal.rpartition("/")[2] in accounts, principal


# ----------------------------------------------------------------- helpers
def _route_for(objs, host, source_labels):
    """The subset the first matching rule of host's VirtualService picks for a caller."""
    vs = named(objs, "VirtualService", host)
    for rule in vs["spec"]["http"]:
        matches = rule.get("match") or [{}]
        for match in matches:
            wanted = match.get("sourceLabels", {})
            if source_labels is None or selects(wanted, source_labels):
                return rule["route"][0]["destination"]["subset"]
    raise AssertionError(f"no rule of {host} matches {source_labels}")


def _last(items, value):
    return len(items) - 1 - items[::-1].index(value)
