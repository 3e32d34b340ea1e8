"""VirtualService routing as istiod compiles it, judged on the compiled Envoy route tables.

Spec: pilot/pkg/networking/core/route/route.go (BuildSidecarVirtualHostWrapper,
BuildHTTPRoutesForVirtualService, sourceMatchHTTP, TranslateRoute, TranslateRouteMatch,
translateHeaderMatch, canBeConvertedToPresentMatch, applyHTTPRouteDestination, IsCatchAllRoute)
and pkg/config/validation/validation.go (validateHTTPRouteDestinations, validateWeight,
validateStringRegexp, validateGatewayNames), Istio 1.28.
"""

from __future__ import annotations

import pytest

from mesh.local.ca import LocalCA
from mesh.model.errors import InvalidResource
from tests.support.mesh_view import documents, ingress, routes_for, shares, view_of

ANALYTICS_VS = "VirtualService/voting-analytics"


def analytics_vs(http: str) -> str:
    """A VirtualService for voting-analytics at step 3 (lock-down), `http` indented as rules."""
    return f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: voting-analytics, namespace: voting}}
spec:
  hosts: [voting-analytics.voting.svc.cluster.local]
  http:
{http}
"""


def app_routes(ca: LocalCA, http: str) -> list[dict]:
    docs = documents("lock-down", analytics_vs(http), drop=(ANALYTICS_VS,))
    return routes_for(view_of(docs, ca), "voting-app-1-0", "voting-analytics")


def clusters(route: dict) -> set[str]:
    action = route["route"]
    if "cluster" in action:
        return {action["cluster"]}
    return {c["name"] for c in action["weighted_clusters"]["clusters"]}


# ---------------------------------------------------------------- which rules apply
def test_a_virtual_service_with_no_rule_for_this_proxy_falls_back_to_the_default_route(ca):
    # route.go buildSidecarVirtualHostsForVirtualService: no routes → VS dropped for the
    # proxy; BuildSidecarVirtualHostWrapper then builds the service's default virtual host.
    routes = app_routes(
        ca,
        """
  - match: [{sourceLabels: {app: somebody-else}}]
    route: [{destination: {host: voting-analytics, subset: v1-1}}]
""",
    )
    assert len(routes) == 1 and routes[0]["match"] == {"prefix": "/"}
    assert clusters(routes[0]) == {
        "outbound_8080_-_voting-analytics_v1-0",
        "outbound_8080_-_voting-analytics_v1-1",
    }


def test_match_gateways_decide_alone_and_source_labels_are_not_looked_at(ca):
    # route.go sourceMatchHTTP: with gateways set, only they count.
    routes = app_routes(
        ca,
        """
  - match: [{gateways: [mesh], sourceLabels: {app: somebody-else}, uri: {prefix: /x}}]
    route: [{destination: {host: voting-analytics, subset: v1-0}}]
  - route: [{destination: {host: voting-analytics, subset: v1-1}}]
""",
    )
    assert [r["match"].get("prefix") for r in routes] == ["/x", "/"]


def test_source_namespace_other_than_the_proxys_drops_the_entry(ca):
    # route.go sourceMatchHTTP: match.SourceNamespace must equal the proxy's namespace.
    routes = app_routes(
        ca,
        """
  - match: [{sourceNamespace: elsewhere, uri: {prefix: /x}}]
    route: [{destination: {host: voting-analytics, subset: v1-0}}]
  - match: [{sourceNamespace: voting, uri: {prefix: /y}}]
    route: [{destination: {host: voting-analytics, subset: v1-1}}]
""",
    )
    assert [r["match"].get("prefix") for r in routes] == ["/y"]


def test_a_catch_all_rule_ends_the_route_table(ca):
    # route.go BuildHTTPRoutesForVirtualService: nothing after a catch-all is reachable.
    routes = app_routes(
        ca,
        """
  - match: [{uri: {prefix: /}}]
    route: [{destination: {host: voting-analytics, subset: v1-1}}]
  - match: [{uri: {prefix: /never}}]
    route: [{destination: {host: voting-analytics, subset: v1-0}}]
""",
    )
    assert len(routes) == 1


def test_a_match_on_another_port_is_not_for_this_listener(ca):
    # route.go TranslateRoute: match.port must be the listener's port.
    routes = app_routes(
        ca,
        """
  - match: [{port: 9999, uri: {prefix: /x}}]
    route: [{destination: {host: voting-analytics, subset: v1-0}}]
  - match: [{port: 8080, uri: {prefix: /y}}]
    route: [{destination: {host: voting-analytics, subset: v1-1}}]
""",
    )
    assert [r["match"].get("prefix") for r in routes] == ["/y"]


def test_a_named_match_names_the_route_rule_dot_match(ca):
    # route.go TranslateRoute: routeName = in.Name + "." + match.Name.
    routes = app_routes(
        ca,
        """
  - name: pinned
    match: [{name: beta, uri: {prefix: /b}}]
    route: [{destination: {host: voting-analytics, subset: v1-0}}]
""",
    )
    assert routes[0]["name"] == "pinned.beta"


# ---------------------------------------------------------------- weights
def test_a_single_destination_takes_all_traffic_whatever_its_weight(ca):
    # route.go applyHTTPRouteDestination: len(in.Route) == 1 → processDestination, no weight.
    routes = app_routes(
        ca, "  - route: [{destination: {host: voting-analytics, subset: v1-1}, weight: 0}]"
    )
    assert routes[0]["route"]["cluster"] == "outbound_8080_v1-1_voting-analytics_v1-1"


def test_weights_are_relative_not_percentages(ca):
    # validation.go validateHTTPRouteDestinations: only a total of 0 is refused.
    routes = app_routes(
        ca,
        """
  - route:
    - {destination: {host: voting-analytics, subset: v1-0}, weight: 1}
    - {destination: {host: voting-analytics, subset: v1-1}, weight: 3}
""",
    )
    assert shares(routes[0]["route"]["weighted_clusters"]["clusters"]) == {
        "outbound_8080_v1-0_voting-analytics_v1-0": 0.25,
        "outbound_8080_v1-1_voting-analytics_v1-1": 0.75,
    }


def test_a_zero_weight_destination_among_several_is_left_out(ca):
    # route.go applyHTTPRouteDestination: "Ignore 0 weighted clusters".
    routes = app_routes(
        ca,
        """
  - route:
    - {destination: {host: voting-analytics, subset: v1-0}, weight: 0}
    - {destination: {host: voting-analytics, subset: v1-1}, weight: 5}
""",
    )
    assert clusters(routes[0]) == {"outbound_8080_v1-1_voting-analytics_v1-1"}


@pytest.mark.parametrize(
    ("weights", "message"),
    [((0, 0), "total destination weight = 0"), ((-1, 101), "must not be negative")],
)
def test_invalid_weights_are_refused(ca, weights, message):
    # validation.go validateWeight and validateHTTPRouteDestinations.
    with pytest.raises(InvalidResource, match=message):
        app_routes(
            ca,
            f"""
  - route:
    - {{destination: {{host: voting-analytics, subset: v1-0}}, weight: {weights[0]}}}
    - {{destination: {{host: voting-analytics, subset: v1-1}}, weight: {weights[1]}}}
""",
        )


# ---------------------------------------------------------------- matches
def match_of(ca: LocalCA, match: str) -> dict:
    routes = app_routes(
        ca,
        f"""
  - match: [{match}]
    route: [{{destination: {{host: voting-analytics, subset: v1-0}}}}]
""",
    )
    return routes[0]["match"]


def test_an_empty_header_match_is_a_presence_match(ca):
    # route.go canBeConvertedToPresentMatch: a StringMatch without a match type.
    assert match_of(ca, "{headers: {x-canary: {}}}")["headers"] == [
        {"name": "x-canary", "present_match": True}
    ]


def test_the_regex_star_on_a_header_is_a_presence_match(ca):
    # route.go canBeConvertedToPresentMatch: `*` is not RE2, Istio reads it as "present".
    assert match_of(ca, "{headers: {x-canary: {regex: '*'}}}")["headers"] == [
        {"name": "x-canary", "present_match": True}
    ]


def test_without_headers_inverts_and_treats_a_missing_header_as_empty(ca):
    # route.go TranslateRouteMatch: WithoutHeaders → InvertMatch, TreatMissingHeaderAsEmpty.
    assert match_of(ca, "{withoutHeaders: {x-beta: {exact: 'yes'}}}")["headers"] == [
        {
            "name": "x-beta",
            "string_match": {"exact": "yes"},
            "treat_missing_header_as_empty": True,
            "invert_match": True,
        }
    ]


def test_header_matchers_are_ordered_by_name(ca):
    # route.go TranslateRouteMatch: "guarantee ordering of headers".
    match = match_of(ca, "{headers: {zz: {exact: '1'}, aa: {prefix: '2'}}}")
    assert [h["name"] for h in match["headers"]] == ["aa", "zz"]


def test_ignore_uri_case_turns_case_sensitivity_off(ca):
    # route.go TranslateRouteMatch: CaseSensitive = !IgnoreUriCase.
    assert match_of(ca, "{uri: {exact: /Results}, ignoreUriCase: true}") == {
        "path": "/Results",
        "case_sensitive": False,
    }


def test_method_authority_and_scheme_match_pseudo_headers(ca):
    # route.go TranslateRouteMatch: :method, :authority, :scheme header matchers.
    match = match_of(
        ca, "{method: {exact: GET}, authority: {prefix: voting}, scheme: {exact: http}}"
    )
    assert match["headers"] == [
        {"name": ":method", "string_match": {"exact": "GET"}},
        {"name": ":authority", "string_match": {"prefix": "voting"}},
        {"name": ":scheme", "string_match": {"exact": "http"}},
    ]


def test_query_params_match_query_parameters(ca):
    # route.go translateQueryParamMatch.
    match = match_of(ca, "{queryParams: {debug: {exact: '1'}, trace: {}}}")
    assert match["query_parameters"] == [
        {"name": "debug", "string_match": {"exact": "1"}},
        {"name": "trace", "present_match": True},
    ]


def test_a_valid_re2_regex_that_python_re_refuses_is_accepted(ca):
    # validation.go validateStringRegexp compiles RE2 (Go regexp); \pL is RE2, not Python re.
    match = match_of(ca, r"{headers: {x-name: {regex: '\pL+'}}}")
    assert match["headers"] == [
        {"name": "x-name", "string_match": {"safe_regex": {"regex": r"\pL+"}}}
    ]


@pytest.mark.parametrize("regex", [r"(a)\1", "a" * 1025, ""])
def test_regexes_rejected_by_re2_or_over_1024_characters_are_refused(ca, regex):
    # validation.go validateStringRegexp: RE2 syntax (no back-references), length <= 1024.
    with pytest.raises(InvalidResource, match=r"regex"):
        match_of(ca, f"{{uri: {{regex: '{regex}'}}}}")


# ---------------------------------------------------------------- gateways
GATEWAY_IN_ROOT = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
"""


def ingress_hosts(ca: LocalCA, extra: str, drop: tuple[str, ...] = ()) -> list[str]:
    view = view_of(documents("deploy", extra, drop=drop), ca)
    route = ingress(view).route
    assert route is not None
    return [v["name"] for v in route["virtual_hosts"]]


def test_a_namespace_slash_name_gateway_reference_binds_a_gateway_of_another_namespace(ca):
    # model/virtualservice.go resolveGatewayName: `ns/name` names the Gateway in ns.
    vs = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front, namespace: voting}
spec:
  hosts: ["*"]
  gateways: [istio-system/public]
  http: [{route: [{destination: {host: voting-app}}]}]
"""
    hosts = ingress_hosts(ca, GATEWAY_IN_ROOT + "---" + vs, drop=("VirtualService/voting-app",))
    assert hosts == ["public/front"]


def test_a_bare_gateway_name_is_looked_up_in_the_virtual_services_namespace(ca):
    # model/virtualservice.go resolveGatewayName: a bare name is in the VS's own namespace.
    vs = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front, namespace: voting}
spec:
  hosts: ["*"]
  gateways: [public]
  http: [{route: [{destination: {host: voting-app}}]}]
"""
    hosts = ingress_hosts(ca, GATEWAY_IN_ROOT + "---" + vs, drop=("VirtualService/voting-app",))
    assert "public/front" not in hosts


def test_a_gateway_virtual_service_with_no_rule_for_this_gateway_is_dropped(ca):
    # route.go sourceMatchHTTP with gatewayNames = the server's gateway; no route → no vhost.
    vs = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front, namespace: voting}
spec:
  hosts: ["*"]
  gateways: [istio-system/public, mesh]
  http:
  - match: [{gateways: [mesh]}]
    route: [{destination: {host: voting-app}}]
"""
    assert ingress_hosts(ca, GATEWAY_IN_ROOT + "---" + vs) == ["voting-app-gateway/voting-app"]


def test_an_invalid_gateway_name_is_refused(ca):
    # validation.go validateGatewayNames.
    with pytest.raises(InvalidResource, match="invalid gateway name"):
        match_of(ca, "{gateways: [a/b/c]}")
