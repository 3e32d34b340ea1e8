"""VirtualService retries as istiod converts them.

Spec: pilot/pkg/networking/core/route/retry/retry.go (ConvertPolicy, parseRetryOn; the
default policy since Istio 1.24 retries no status code), Istio 1.28.
"""

from __future__ import annotations

from mesh.local.ca import LocalCA
from tests.support.mesh_view import documents, routes_for, view_of


def retry_of(ca: LocalCA, retries: str) -> dict | None:
    vs = f"""
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: voting-analytics, namespace: voting}}
spec:
  hosts: [voting-analytics]
  http:
  - route: [{{destination: {{host: voting-analytics, subset: v1-1}}}}]
    {retries}
"""
    docs = documents("lock-down", vs, drop=("VirtualService/voting-analytics",))
    (route,) = routes_for(view_of(docs, ca), "voting-app-1-0", "voting-analytics")
    return route["route"].get("retry_policy")


def test_the_default_policy_is_istios_and_retries_no_status_code(ca):
    policy = retry_of(ca, "")
    assert policy["num_retries"] == 2
    assert policy["retry_on"].startswith(
        "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
    )
    assert not policy.get("retriable_status_codes")
    assert policy["host_selection_retry_max_attempts"] == 5
    assert policy["retry_host_predicate"][0]["name"] == "envoy.retry_host_predicates.previous_hosts"


def test_zero_attempts_turn_retries_off(ca):
    assert retry_of(ca, "retries: {attempts: 0}") is None


def test_numbers_in_retry_on_are_retriable_status_codes(ca):
    policy = retry_of(ca, "retries: {attempts: 3, retryOn: '5xx,503,504'}")
    assert policy["retry_on"] == "5xx,retriable-status-codes"
    assert policy["retriable_status_codes"] == [503, 504]
    assert policy["num_retries"] == 3


def test_a_user_policy_has_no_local_additions(ca):
    policy = retry_of(ca, "retries: {attempts: 1, retryOn: connect-failure, perTryTimeout: 2s}")
    assert policy["retry_on"] == "connect-failure"
    assert policy["per_try_timeout"] == "2.000s"
    assert "retriable_headers" not in policy


def test_inbound_routes_retry_a_request_reset_before_it_reached_the_app(ca):
    # retry.go ConvertInboundPolicy: 2 retries on reset-before-request (never processed).
    from tests.support.mesh_view import listener, sidecar

    inbound = listener(sidecar(view_of(documents("lock-down"), ca), "voting-app-1-0"), "inbound")
    manager = inbound["filter_chains"][0]["filters"][0]["typed_config"]
    routes = manager["route_config"]["virtual_hosts"][0]["routes"]
    assert {str(r["route"]["retry_policy"]) for r in routes} == {
        str({"num_retries": 2, "retry_on": "reset-before-request"})
    }
