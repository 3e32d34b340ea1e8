"""Header operations, rewrite, redirect and direct response, as istiod compiles them.

Spec: pilot/pkg/networking/core/route/route.go (TranslateRoute, applyHTTPRouteDestination,
processDestination, processWeightedDestination, TranslateHeadersOperations,
translateAppendHeaders, ApplyRedirect, ApplyDirectResponse, DefaultMaxDirectResponseBodySize);
pkg/config/validation/virtualservice.go (validateHTTPRoute, validateHTTPRouteConflict,
validateAuthorityRewrite) and pkg/config/validation/validation.go (validateHTTPRedirect,
validateHTTPDirectResponse, validateHTTPRewrite, ValidateHTTPHeaderValue), Istio 1.28.
"""

from __future__ import annotations

import pytest

from mesh.local.ca import LocalCA
from mesh.local.envoy.http_actions import MAX_DIRECT_RESPONSE_BODY_BYTES
from mesh.model.errors import InvalidResource
from tests.mesh.conformance.test_routing import ANALYTICS_VS, analytics_vs
from tests.support.mesh_view import documents, ingress, routes_for, view_of

V1_1 = "outbound_8080_v1-1_voting-analytics_v1-1"
V1_0 = "outbound_8080_v1-0_voting-analytics_v1-0"


def compiled(ca: LocalCA, http: str) -> list[dict]:
    docs = documents("lock-down", analytics_vs(http), drop=(ANALYTICS_VS,))
    return routes_for(view_of(docs, ca), "voting-app-1-0", "voting-analytics")


def refused(ca: LocalCA, http: str, message: str) -> None:
    with pytest.raises(InvalidResource, match=message):
        compiled(ca, http)


# ---------------------------------------------------------------- headers
def test_set_overwrites_add_appends_each_sorted_and_removes_are_kept(ca):
    """route.go translateAppendHeaders: set → OVERWRITE_IF_EXISTS_OR_ADD, add → APPEND_IF_EXISTS
    _OR_ADD, sorted by name, sets first; TranslateHeadersOperations keeps the removes."""
    (route,) = compiled(
        ca,
        """
  - headers:
      request:
        set: {x-b: "2", x-a: "1"}
        add: {x-c: "3"}
        remove: [x-gone]
      response:
        set: {x-served-by: analytics}
        remove: [x-envoy-upstream-service-time]
    route:
    - destination: {host: voting-analytics, subset: v1-1}
""",
    )
    assert route["request_headers_to_add"] == [
        {"header": {"key": "x-a", "value": "1"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
        {"header": {"key": "x-b", "value": "2"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
        {"header": {"key": "x-c", "value": "3"}, "append_action": "APPEND_IF_EXISTS_OR_ADD"},
    ]
    assert route["request_headers_to_remove"] == ["x-gone"]
    assert route["response_headers_to_add"] == [
        {
            "header": {"key": "x-served-by", "value": "analytics"},
            "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
        }
    ]
    assert route["response_headers_to_remove"] == ["x-envoy-upstream-service-time"]
    assert route["route"]["cluster"] == V1_1


def test_a_single_destinations_headers_follow_the_rules_on_the_route(ca):
    """route.go processDestination: appended to the route's own operations."""
    (route,) = compiled(
        ca,
        """
  - headers:
      response: {set: {x-rule: "1"}}
    route:
    - destination: {host: voting-analytics, subset: v1-1}
      headers:
        response: {set: {x-destination: "1"}}
""",
    )
    keys = [h["header"]["key"] for h in route["response_headers_to_add"]]
    assert keys == ["x-rule", "x-destination"]


def test_weighted_destinations_carry_their_headers_on_their_cluster_weight(ca):
    """route.go processWeightedDestination: each ClusterWeight gets its destination's headers."""
    (route,) = compiled(
        ca,
        """
  - route:
    - destination: {host: voting-analytics, subset: v1-1}
      weight: 50
      headers:
        response: {set: {x-version: "1.1"}}
    - destination: {host: voting-analytics, subset: v1-0}
      weight: 50
      headers:
        response: {set: {x-version: "1.0"}}
        request: {remove: [cookie]}
""",
    )
    weights = {c["name"]: c for c in route["route"]["weighted_clusters"]["clusters"]}
    assert weights[V1_1]["response_headers_to_add"][0]["header"] == {
        "key": "x-version",
        "value": "1.1",
    }
    assert weights[V1_0]["response_headers_to_add"][0]["header"]["value"] == "1.0"
    assert weights[V1_0]["request_headers_to_remove"] == ["cookie"]
    assert "response_headers_to_add" not in route


def test_authority_in_headers_becomes_a_host_rewrite_and_is_not_a_header(ca):
    """route.go translateAppendHeaders / isInternalHeader: `:authority` and `host` are never
    added as headers; the authority becomes host_rewrite_literal (set wins over add)."""
    (route,) = compiled(
        ca,
        """
  - headers:
      request:
        set: {host: analytics.example}
    route:
    - destination: {host: voting-analytics, subset: v1-1}
""",
    )
    assert "request_headers_to_add" not in route
    assert route["route"]["host_rewrite_literal"] == "analytics.example"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ("request: {set: {':path': /x}}", 'header cannot have ":" prefix'),
        ("request: {remove: [host]}", "cannot set Host header"),
        ("response: {set: {host: x}}", "cannot set Host header"),
        ("response: {set: {x-a: '50%'}}", "un-escaped %"),
        ('response: {set: {x-a: "a\\u0001b"}}', "is invalid"),
        ("request: {set: {'': x}}", "header name cannot be empty"),
    ],
)
def test_invalid_header_operations_are_refused_naming_the_field(ca, headers, message):
    """validation.go ValidateHTTPHeader(WithAuthority)OperationName and ValidateHTTPHeaderValue."""
    refused(
        ca,
        f"""
  - headers:
      {headers}
    route:
    - destination: {{host: voting-analytics, subset: v1-1}}
""",
        message,
    )


def test_escaped_percent_and_envoy_variables_are_valid_header_values(ca):
    """header_value_validator.go: `%%` and `%VARIABLE%` are what Envoy's header parser takes."""
    (route,) = compiled(
        ca,
        """
  - headers:
      response: {set: {x-a: "100%%", x-b: "%HOSTNAME%"}}
    route:
    - destination: {host: voting-analytics, subset: v1-1}
""",
    )
    assert [h["header"]["value"] for h in route["response_headers_to_add"]] == [
        "100%%",
        "%HOSTNAME%",
    ]


def test_authority_set_twice_is_refused(ca):
    """virtualservice.go validateAuthorityRewrite: one place only."""
    refused(
        ca,
        """
  - headers:
      request: {set: {":authority": a.example}}
    rewrite: {authority: b.example}
    route:
    - destination: {host: voting-analytics, subset: v1-1}
""",
        "authority header cannot be set multiple times",
    )


# ---------------------------------------------------------------- rewrite
def test_uri_rewrite_is_a_prefix_rewrite_and_authority_a_host_rewrite(ca):
    """route.go applyHTTPRouteDestination: rewrite.uri → prefix_rewrite, authority → literal."""
    (route, _) = compiled(
        ca,
        """
  - match: [{uri: {prefix: /v1/}}]
    rewrite: {uri: /, authority: analytics.example}
    route:
    - destination: {host: voting-analytics, subset: v1-1}
  - route:
    - destination: {host: voting-analytics, subset: v1-1}
""",
    )
    assert route["route"]["prefix_rewrite"] == "/"
    assert route["route"]["host_rewrite_literal"] == "analytics.example"


def test_uri_regex_rewrite_is_an_re2_substitution(ca):
    (route,) = compiled(
        ca,
        """
  - rewrite:
      uriRegexRewrite: {match: "^/service/([^/]+)(/.*)$", rewrite: "\\\\2/instance/\\\\1"}
    route:
    - destination: {host: voting-analytics, subset: v1-1}
""",
    )
    assert route["route"]["regex_rewrite"] == {
        "pattern": {"regex": "^/service/([^/]+)(/.*)$"},
        "substitution": "\\2/instance/\\1",
    }


@pytest.mark.parametrize(
    ("rewrite", "message"),
    [
        ("{}", "at least one of uri, uriRegexRewrite, or authority"),
        ("{uri: /a, uriRegexRewrite: {match: a, rewrite: b}}", "only contain one of uri"),
        ("{uriRegexRewrite: {match: a}}", "requires both rewrite and match"),
        ("{uriRegexRewrite: {match: '(', rewrite: b}}", "regex"),
    ],
)
def test_invalid_rewrites_are_refused(ca, rewrite, message):
    """validation.go validateHTTPRewrite / validateURIRegexRewrite."""
    refused(
        ca,
        f"""
  - rewrite: {rewrite}
    route:
    - destination: {{host: voting-analytics, subset: v1-1}}
""",
        message,
    )


# ---------------------------------------------------------------- redirect
def test_a_redirect_replaces_the_route_and_defaults_to_301(ca):
    """route.go ApplyRedirect: path_redirect, host_redirect, MOVED_PERMANENTLY when no code."""
    (route,) = compiled(
        ca,
        """
  - redirect: {uri: /results, authority: voting.example}
""",
    )
    assert "route" not in route
    assert route["redirect"] == {
        "host_redirect": "voting.example",
        "path_redirect": "/results",
        "response_code": "MOVED_PERMANENTLY",
    }


@pytest.mark.parametrize(
    ("redirect", "expected"),
    [
        ("{uri: /a, redirectCode: 302}", {"path_redirect": "/a", "response_code": "FOUND"}),
        (
            "{prefixRewrite: /new/, redirectCode: 308}",
            {"prefix_rewrite": "/new/", "response_code": "PERMANENT_REDIRECT"},
        ),
        (
            "{scheme: https, port: 443}",
            {"scheme_redirect": "https", "response_code": "MOVED_PERMANENTLY"},
        ),
        (
            "{scheme: https, port: 8443}",
            {
                "scheme_redirect": "https",
                "port_redirect": 8443,
                "response_code": "MOVED_PERMANENTLY",
            },
        ),
        (
            "{derivePort: FROM_REQUEST_PORT, uri: /a}",
            {"path_redirect": "/a", "port_redirect": 8080, "response_code": "MOVED_PERMANENTLY"},
        ),
    ],
)
def test_redirect_codes_prefixes_schemes_and_ports(ca, redirect, expected):
    """route.go ApplyRedirect: no :443 for https (nor :80 for http); FROM_REQUEST_PORT writes
    the listener's port (here voting-analytics' 8080)."""
    (route,) = compiled(ca, f"\n  - redirect: {redirect}\n")
    assert route["redirect"] == expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("redirect: {uri: /a, prefixRewrite: /b}", "only specify one of uri or prefixRewrite"),
        ("redirect: {redirectCode: 301}", "must specify uri, authority, scheme, or port"),
        ("redirect: {uri: /a, redirectCode: 404}", "must be 3xx"),
        ("redirect: {uri: /a, redirectCode: 305}", "not supported by Envoy"),
        ("redirect: {scheme: ftp}", 'must be "http" or "https"'),
        (
            "match: [{uri: {exact: /a}}]\n    redirect: {prefixRewrite: /b}",
            "requires all URI matches to use prefix",
        ),
        (
            "redirect: {uri: /a}\n    route: [{destination: {host: voting-analytics}}]",
            "both route and redirect",
        ),
        ("redirect: {uri: /a}\n    directResponse: {status: 200}", "both redirect and direct"),
        ("redirect: {uri: /a}\n    rewrite: {uri: /b}", "both rewrite and redirect"),
    ],
)
def test_invalid_redirects_are_refused(ca, rule, message):
    """validation.go validateHTTPRedirect and virtualservice.go validateHTTPRouteConflict."""
    refused(ca, f"\n  - {rule}\n", message)


# ---------------------------------------------------------------- direct response
def test_a_direct_response_answers_at_the_proxy_with_its_body(ca):
    """route.go ApplyDirectResponse; the route table allows 1 MB bodies like istiod's."""
    docs = documents(
        "lock-down",
        analytics_vs("  - directResponse: {status: 503, body: {string: closed for maintenance}}"),
        drop=(ANALYTICS_VS,),
    )
    view = view_of(docs, ca)
    (route,) = routes_for(view, "voting-app-1-0", "voting-analytics")
    assert route["direct_response"] == {
        "status": 503,
        "body": {"inline_string": "closed for maintenance"},
    }
    assert "route" not in route
    gateway = ingress(view).route
    assert gateway is not None
    assert gateway["max_direct_response_body_size_bytes"] == MAX_DIRECT_RESPONSE_BODY_BYTES


def test_a_bytes_body_is_base64_in_and_out(ca):
    (route,) = compiled(ca, "\n  - directResponse: {status: 200, body: {bytes: b2s=}}\n")
    assert route["direct_response"]["body"] == {"inline_bytes": "b2s="}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("directResponse: {status: 700}", "not in range 200-599"),
        ("directResponse: {status: 200, body: {bytes: '!!'}}", "not base64"),
        ("directResponse: {status: 200}\n    fault: {abort: {httpStatus: 500}}", "both fault"),
        ("{}", "HTTP route, redirect or directResponse is required"),
    ],
)
def test_invalid_direct_responses_are_refused(ca, rule, message):
    """validation.go validateHTTPDirectResponse / validateHTTPStatus; validateHTTPRouteConflict."""
    refused(ca, f"\n  - {rule}\n", message)


def test_a_direct_response_over_1_mb_is_refused(ca):
    body = "x" * (MAX_DIRECT_RESPONSE_BODY_BYTES + 1)
    refused(ca, f"\n  - directResponse: {{status: 200, body: {{string: {body}}}}}\n", "1MB")
