"""`mirror`, `mirrorPercentage`, `mirrorPercent` and `mirrors`, as istiod compiles them.

Spec: pilot/pkg/networking/core/route/route.go (applyHTTPRouteDestination, MirrorPercent,
MirrorPercentByPolicy, translatePercentToFractionalPercent, translateIntegerToFractionalPercent,
TranslateRequestMirrorPolicy) and pkg/config/validation/virtualservice.go (validateHTTPRoute,
validateHTTPRouteConflict) / validation.go (validateHTTPMirrors), Istio 1.28.
"""

from __future__ import annotations

import re

import pytest

from mesh.local.ca import LocalCA
from mesh.local.telemetry import envoy_metric_relabels
from mesh.model.errors import InvalidResource
from tests.mesh.conformance.test_routing import ANALYTICS_VS, analytics_vs
from tests.support.mesh_view import documents, sidecar, view_of

SHADOW = "outbound_8080_v1-0_voting-analytics-shadow_v1-0"
ROUTE = "\n  - route: [{destination: {host: voting-analytics, subset: v1-1}}]\n"


def compiled(ca: LocalCA, mirror: str) -> tuple[dict, dict[str, dict]]:
    """voting-app 1.0's route to voting-analytics, and its clusters by name."""
    http = ROUTE.rstrip("\n") + f"\n    {mirror}\n"
    docs = documents("lock-down", analytics_vs(http), drop=(ANALYTICS_VS,))
    config = sidecar(view_of(docs, ca), "voting-app-1-0")
    assert config.route is not None
    host = next(
        v for v in config.route["virtual_hosts"] if v["name"].startswith("voting-analytics.")
    )
    return host["routes"][0], {c["name"]: c for c in config.clusters}


def policies(ca: LocalCA, mirror: str) -> list[dict]:
    route, _ = compiled(ca, mirror)
    return route["route"].get("request_mirror_policies", [])


def test_a_mirror_without_percentage_copies_every_request(ca):
    """route.go MirrorPercent: absent → 100 of HUNDRED; TranslateRequestMirrorPolicy: untraced."""
    assert policies(ca, "mirror: {host: voting-analytics, subset: v1-0}") == [
        {
            "cluster": SHADOW,
            "runtime_fraction": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}},
            "trace_sampled": False,
        }
    ]


def test_mirror_percentage_is_per_million_and_the_deprecated_integer_per_hundred(ca):
    """translatePercentToFractionalPercent (value * 10000 of MILLION) and
    translateIntegerToFractionalPercent (mirrorPercent of HUNDRED)."""
    (share,) = policies(
        ca, "mirror: {host: voting-analytics, subset: v1-0}\n    mirrorPercentage: {value: 12.5}"
    )
    assert share["runtime_fraction"]["default_value"] == {
        "numerator": 125_000,
        "denominator": "MILLION",
    }
    (whole,) = policies(ca, "mirror: {host: voting-analytics, subset: v1-0}\n    mirrorPercent: 30")
    assert whole["runtime_fraction"]["default_value"] == {"numerator": 30, "denominator": "HUNDRED"}


def test_an_explicit_zero_mirrors_nothing(ca):
    """route.go MirrorPercent: "If zero percent is provided explicitly, we should not mirror"."""
    route, clusters = compiled(
        ca, "mirror: {host: voting-analytics, subset: v1-0}\n    mirrorPercentage: {value: 0}"
    )
    assert "request_mirror_policies" not in route["route"]
    assert SHADOW not in clusters


def test_mirrors_give_one_policy_each(ca):
    """route.go applyHTTPRouteDestination: each of `mirrors` with MirrorPercentByPolicy."""
    found = policies(
        ca,
        """mirrors:
    - destination: {host: voting-analytics, subset: v1-0}
      percentage: {value: 50}
    - destination: {host: voting-analytics, subset: v1-1}""",
    )
    assert [(p["cluster"], p["runtime_fraction"]["default_value"]) for p in found] == [
        (SHADOW, {"numerator": 500_000, "denominator": "MILLION"}),
        (
            "outbound_8080_v1-1_voting-analytics-shadow_v1-1",
            {"numerator": 100, "denominator": "HUNDRED"},
        ),
    ]


def test_the_shadow_cluster_is_the_destinations_twin_and_counts_as_another_service(ca):
    """Same endpoints and mutual TLS as the served cluster; the telemetry's relabelling reads
    `voting-analytics-shadow` from its name, so copies never count as served traffic."""
    _, clusters = compiled(ca, "mirror: {host: voting-analytics, subset: v1-0}")
    served = clusters["outbound_8080_v1-0_voting-analytics_v1-0"]
    shadow = clusters[SHADOW]
    assert shadow["load_assignment"]["endpoints"] == served["load_assignment"]["endpoints"]
    assert shadow["transport_socket"] == served["transport_socket"]
    service_rule = next(
        r for r in envoy_metric_relabels() if r["target_label"] == "destination_service_name"
    )
    pattern = re.compile(service_rule["regex"])
    match = pattern.match(f"source;{SHADOW}")
    assert match is not None
    assert match.expand(service_rule["replacement"].replace("$", "\\")) == "voting-analytics-shadow"


@pytest.mark.parametrize(
    ("mirror", "message"),
    [
        (
            "mirror: {host: voting-analytics, subset: v1-0}\n"
            "    mirrors: [{destination: {host: voting-analytics, subset: v1-0}}]",
            "cannot contain both mirror and mirrors",
        ),
        (
            "mirror: {host: voting-analytics, subset: v1-0}\n    mirrorPercentage: {value: 101}",
            "between 0 and 100",
        ),
        ("mirrors: [{percentage: {value: 5}}]", "destination is required for mirrors"),
        ("mirror: {host: nowhere}", "destination host nowhere has no Service"),
        ("mirror: {host: voting-analytics, subset: v9}", "subset v9 of voting-analytics"),
        ("mirrorPercentage: {value: 5}", "mirrorPercentage: is for `mirror`"),
        ("mirror: {host: voting-analytics}", "name a subset"),
    ],
)
def test_invalid_mirrors_are_refused_naming_the_field(ca, mirror, message):
    """validation.go validateHTTPMirrors and validateDestination; the references checked like
    a route's; a mirror spanning versions needs a subset locally (one cluster per version)."""
    with pytest.raises(InvalidResource, match=message):
        compiled(ca, mirror)
