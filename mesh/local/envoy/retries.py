"""VirtualService `retries` (and Istio's default retry policy) as an Envoy route retry policy."""

from __future__ import annotations

from typing import Any

from mesh.local.envoy.common import LOCAL_REPLY_HEADER, T_PREVIOUS_HOSTS
from mesh.model.resources import HTTPRoute

# Istio's default retry policy for every HTTP route (istio/pilot/pkg/networking/core/route/retry),
# with one difference: Istio retries every 503, while here a 503 is retried only when a sidecar
# produced it itself (the app behind it is unreachable or reset: another replica may answer).
# A 503 the app sent (its own dependency is down, with Retry-After) is passed on: retrying it
# nests (the gateway x3 over the app's sidecar x3 = 9 storage calls, 3x the app's deadline),
# turning a quick "try again" into a multi-second hang during an outage.
DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-headers"
DEFAULT_RETRIES = 2


def retry_policy(route: HTTPRoute) -> dict[str, Any] | None:
    retries = route.retries
    attempts = DEFAULT_RETRIES if retries is None else retries.attempts
    if attempts <= 0:
        return None
    retry_on = retries.retry_on if retries and retries.retry_on else DEFAULT_RETRY_ON
    if route.fault and route.fault.abort_percent:  # Istio aborts before the router: no retry
        retry_on = ",".join(
            c
            for c in retry_on.split(",")
            if c not in ("retriable-status-codes", "retriable-headers", "5xx", "gateway-error")
        )
    policy: dict[str, Any] = {
        "retry_on": retry_on,
        "num_retries": attempts,
        "retry_host_predicate": [
            {
                "name": "envoy.retry_host_predicates.previous_hosts",
                "typed_config": {"@type": T_PREVIOUS_HOSTS},
            }
        ],
        "host_selection_retry_max_attempts": 5,
        "retriable_status_codes": [503],
        "retriable_headers": [{"name": LOCAL_REPLY_HEADER, "present_match": True}],
    }
    if retries is not None and retries.per_try_timeout:
        policy["per_try_timeout"] = f"{retries.per_try_timeout:.3f}s"
    return policy
