"""`corsPolicy` as istiod compiles it: the CORS filter on every HTTP chain, a policy per route.

Spec: pilot/pkg/networking/core/route/route.go (TranslateRoute: the policy in the route's
typed_per_filter_config whatever its action; TranslateCORSPolicy; forwardNotMatchingPreflights),
pilot/pkg/networking/core/listener_builder.go (filters: fault, then CORS, then the router) and
pkg/config/validation/validation.go (validateCORSPolicy), Istio 1.28.
"""

from __future__ import annotations

import pytest

from mesh.local.ca import LocalCA
from mesh.local.envoy.http_actions import T_CORS
from mesh.model.errors import InvalidResource
from tests.mesh.conformance.test_routing import ANALYTICS_VS, analytics_vs
from tests.support.mesh_view import (
    documents,
    http_filters,
    ingress,
    listener,
    routes_for,
    sidecar,
    view_of,
)

CORS = "envoy.filters.http.cors"
ROUTE = "    route: [{destination: {host: voting-analytics, subset: v1-1}}]"


def policy(ca: LocalCA, cors: str, rest: str = ROUTE) -> dict:
    docs = documents(
        "lock-down", analytics_vs(f"  - corsPolicy: {cors}\n{rest}"), drop=(ANALYTICS_VS,)
    )
    (route,) = routes_for(view_of(docs, ca), "voting-app-1-0", "voting-analytics")
    return route["typed_per_filter_config"][CORS]


def test_the_policy_is_translated_field_by_field(ca):
    """route.go TranslateCORSPolicy: matchers, comma-joined lists, seconds, always enabled."""
    found = policy(
        ca,
        """
      allowOrigins: [{exact: "https://vote.example"}, {regex: "https://.*[.]example"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-voter, content-type]
      exposeHeaders: [x-voting-version]
      maxAge: 24h
      allowCredentials: true""",
    )
    assert found == {
        "@type": T_CORS,
        "allow_origin_string_match": [
            {"exact": "https://vote.example"},
            {"safe_regex": {"regex": "https://.*[.]example"}},
        ],
        "allow_methods": "GET,POST",
        "allow_headers": "x-voter,content-type",
        "expose_headers": "x-voting-version",
        "max_age": "86400",
        "allow_credentials": True,
        "filter_enabled": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}},
        "forward_not_matching_preflights": True,
    }


def test_unmatched_preflights_ignore_stops_forwarding_and_allow_origin_is_exact(ca):
    """forwardNotMatchingPreflights: only IGNORE gives false; allowOrigin: exact strings."""
    found = policy(ca, "{allowOrigin: ['https://a.example'], unmatchedPreflights: IGNORE}")
    assert found["forward_not_matching_preflights"] is False
    assert found["allow_origin_string_match"] == [{"exact": "https://a.example"}]


def test_a_redirect_rule_carries_its_policy_too(ca):
    found = policy(ca, "{allowOrigins: [{exact: 'https://a.example'}]}", "    redirect: {uri: /}")
    assert found["allow_origin_string_match"] == [{"exact": "https://a.example"}]


def test_every_http_chain_has_the_cors_filter_after_the_fault_filter(ca):
    """listener_builder.go: `filters = append(filters, xdsfilters.Fault, xdsfilters.Cors)`."""
    view = view_of(documents("lock-down"), ca)
    chains = [
        listener(ingress(view), "ingress"),
        listener(sidecar(view, "voting-app-1-0"), "outbound"),
    ]
    for chain in chains:
        for names in http_filters(chain):
            assert names[-3:] == ["envoy.filters.http.fault", CORS, "envoy.filters.http.router"]


@pytest.mark.parametrize(
    ("cors", "message"),
    [
        ("{allowOrigins: [{exact: ''}]}", "not a valid match type for CORS allow origins"),
        ("{allowMethods: [FETCH]}", "'FETCH' is not a supported HTTP method"),
        ("{allowHeaders: ['x y']}", "not a valid header name"),
        ("{maxAge: 1.5s}", "accurate only to seconds"),
        ("{unmatchedPreflights: DROP}", "not UNSPECIFIED, FORWARD or IGNORE"),
        ("{allowOrigins: [{regex: '('}]}", "regex"),
    ],
)
def test_invalid_policies_are_refused_naming_the_field(ca, cors, message):
    """validation.go validateCORSPolicy, validateAllowOrigins, validateCORSHTTPMethod."""
    with pytest.raises(InvalidResource, match=message):
        policy(ca, cors)
