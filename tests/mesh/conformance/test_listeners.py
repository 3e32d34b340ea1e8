"""What istiod sets on every HTTP listener, and where it puts authorization.

Spec: pilot/pkg/networking/core/listener_builder.go (buildHTTPConnectionManager:
NormalizePath from meshConfig.pathNormalization, DEFAULT = BASE; the filter order: authz
(RBAC) before fault before router) and pilot/pkg/model/authorization.go
ListAuthorizationPolicies (a gateway is selected like any workload, in its own namespace and
the root namespace), Istio 1.28.
"""

from __future__ import annotations

import pytest

from tests.support.mesh_view import documents, http_filters, ingress, listener, sidecar, view_of

GATEWAY_POLICY = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ingress-deny-admin, namespace: %s}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules: [{to: [{operation: {paths: [/admin*]}}]}]
"""


def managers(config) -> list[dict]:
    return [
        chain["filters"][0]["typed_config"]
        for item in config.listeners
        if "internal_listener" not in item
        for chain in item["filter_chains"]
    ]


@pytest.mark.parametrize("step", ["deploy", "lock-down", "finalize"])
def test_every_http_listener_normalizes_paths_as_istios_base_default(ca, step):
    view = view_of(documents(step), ca)
    configs = [ingress(view), *(sidecar(view, p.workload.name) for p in view.pods[:3])]
    for config in configs:
        for manager in managers(config):
            assert manager["normalize_path"] is True
            assert "merge_slashes" not in manager  # BASE leaves slashes alone


def test_a_root_namespace_policy_selecting_the_gateway_puts_rbac_on_the_ingress(ca):
    view = view_of(documents("finalize", GATEWAY_POLICY % "istio-system"), ca)
    (filters,) = http_filters(listener(ingress(view), "ingress"))
    assert filters.index("envoy.filters.http.rbac") < filters.index("envoy.filters.http.fault")
    assert filters[-1] == "envoy.filters.http.router"


def test_a_policy_in_the_application_namespace_does_not_reach_the_gateway(ca):
    view = view_of(documents("finalize", GATEWAY_POLICY % "voting"), ca)
    (filters,) = http_filters(listener(ingress(view), "ingress"))
    assert "envoy.filters.http.rbac" not in filters


def test_the_tutorial_steps_put_no_rbac_on_the_gateway(ca):
    # Their policies live in namespace voting and select the app workloads only.
    (filters,) = http_filters(listener(ingress(view_of(documents("finalize"), ca)), "ingress"))
    assert "envoy.filters.http.rbac" not in filters
