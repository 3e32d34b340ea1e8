"""VirtualService `fault`: delays in Envoy's fault filter, aborts as counted abort clusters."""

from __future__ import annotations

from typing import Any

from mesh.local.envoy.common import T_CLUSTER, T_FAULT, T_LISTENER, hcm
from mesh.model.virtual_service import HTTPRoute


def fault_config(route: HTTPRoute) -> dict[str, Any] | None:
    """Delays use Envoy's fault filter; aborts are compiled as abort clusters (see route_action)."""
    fault = route.fault
    if fault is None or not fault.delay_percent:
        return None
    return {
        "@type": T_FAULT,
        "delay": {
            "fixed_delay": f"{fault.delay_seconds:.3f}s",
            "percentage": {
                "numerator": round(fault.delay_percent * 10000),
                "denominator": "MILLION",
            },
        },
    }


ABORT_LISTENER = "mesh_abort"
ABORT_HEADER = "x-mesh-abort"


def abort_cluster(of: str, status: int) -> dict[str, Any]:
    """A cluster answering `status` from an internal listener, counted under `of`'s stats.

    Istio aborts in the source proxy's fault filter, before the router, so Envoy's cluster
    stats never see the request. Compiled as a weighted share of the route that goes to this
    cluster instead, the abort is counted as a response of the destination it was meant for,
    which is what Istio's source-side telemetry reports and what a canary gate must see.
    """
    name = f"{of}~abort{status}"
    return {
        "@type": T_CLUSTER,
        "name": name,
        "alt_stat_name": of,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "envoy_internal_address": {
                                        "server_listener_name": ABORT_LISTENER
                                    }
                                }
                            }
                        }
                    ]
                }
            ],
        },
    }


def abort_listener(statuses: set[int]) -> dict[str, Any]:
    """The internal listener behind abort clusters: answers the status the route asked for."""
    routes = [
        {
            "match": {
                "prefix": "/",
                "headers": [{"name": ABORT_HEADER, "string_match": {"exact": str(status)}}],
            },
            "direct_response": {"status": status, "body": {"inline_string": "fault filter abort"}},
        }
        for status in sorted(statuses)
    ]
    routes.append({"match": {"prefix": "/"}, "direct_response": {"status": 503}})
    route_config = {
        "name": ABORT_LISTENER,
        "virtual_hosts": [{"name": "abort", "domains": ["*"], "routes": routes}],
    }
    return {
        "@type": T_LISTENER,
        "name": ABORT_LISTENER,
        "internal_listener": {},
        "filter_chains": [{"filters": [hcm(ABORT_LISTENER, {"route_config": route_config}, [])]}],
    }


FAULT_FILTER = {"name": "envoy.filters.http.fault", "typed_config": {"@type": T_FAULT}}
