"""VirtualService `retries` (and Istio's default retry policy) as an Envoy route retry policy.

After pilot/pkg/networking/core/route/retry/retry.go ConvertPolicy (Istio >= 1.24):
- no `retries`: 2 retries on connect-failure, refused-stream, unavailable, cancelled and
  retriable-status-codes with no status code listed (so no status is retried), other hosts
  preferred (previous_hosts, 5 host selection attempts);
- `attempts: 0` turns retries off; numbers in `retryOn` are status codes and go to
  `retriable_status_codes` (adding `retriable-status-codes`); `perTryTimeout` as given.

One local addition to the default policy, `retriable-headers` on the header an inbound
sidecar sets on the 5xx it makes itself (LOCAL_REPLY_HEADER): a local pod's sidecar outlives
its app process while the app restarts, where Kubernetes would take the pod's endpoint away
and the caller would see a connect failure, which the default policy does retry. An app's own
503 (its dependency is down, with Retry-After) is never retried, as in Istio.
"""

from __future__ import annotations

from typing import Any

from mesh.local.envoy.common import LOCAL_REPLY_HEADER, T_PREVIOUS_HOSTS
from mesh.model.virtual_service import HTTPRoute

ISTIO_DEFAULT_RETRY_ON = (
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
)
DEFAULT_RETRIES = 2
# The policies that can only see a response from the router: an abort never reaches it.
_RESPONSE_CONDITIONS = ("retriable-status-codes", "retriable-headers", "5xx", "gateway-error")


def parse_retry_on(value: str) -> tuple[str, list[int]]:
    """`retryOn` as Istio splits it (retry.go parseRetryOn): conditions, then status codes."""
    conditions, codes = [], []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        if item.isdigit():
            codes.append(int(item))
        else:
            conditions.append(item)
    if codes and "retriable-status-codes" not in conditions:
        conditions.append("retriable-status-codes")
    return ",".join(conditions), codes


def retry_policy(route: HTTPRoute) -> dict[str, Any] | None:
    retries = route.retries
    attempts = DEFAULT_RETRIES if retries is None else retries.attempts
    if attempts <= 0:
        return None
    policy: dict[str, Any] = {
        "num_retries": attempts,
        "retry_host_predicate": [
            {
                "name": "envoy.retry_host_predicates.previous_hosts",
                "typed_config": {"@type": T_PREVIOUS_HOSTS},
            }
        ],
        "host_selection_retry_max_attempts": 5,
    }
    if retries is not None and retries.retry_on:
        policy["retry_on"], codes = parse_retry_on(retries.retry_on)
        if codes:
            policy["retriable_status_codes"] = codes
    else:
        policy["retry_on"] = ISTIO_DEFAULT_RETRY_ON + ",retriable-headers"
        policy["retriable_headers"] = [{"name": LOCAL_REPLY_HEADER, "present_match": True}]
    if route.fault and route.fault.abort_percent:  # Istio aborts before the router: no retry
        policy["retry_on"] = ",".join(
            c for c in policy["retry_on"].split(",") if c not in _RESPONSE_CONDITIONS
        )
    if retries is not None and retries.per_try_timeout:
        policy["per_try_timeout"] = f"{retries.per_try_timeout:.3f}s"
    return policy
