"""Rollout specs: defaults like Flagger's analysis, and clear errors for what cannot run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from rollout.gates import FAIL, INCONCLUSIVE, PASS, judge
from rollout.spec import Gate, RolloutSpec, SpecError, load_spec, parse_spec


def test_an_empty_spec_steps_10_25_50_100_with_the_three_default_gates() -> None:
    spec = parse_spec({})
    assert spec.weights == (10, 25, 50, 100)
    assert [g.name for g in spec.gates] == ["success-rate", "latency-p99", "mtls-share"]
    assert (spec.promote_step, spec.rollback_step) == ("finalize", "lock-down")


def test_a_spec_reads_durations_weights_and_gates() -> None:
    spec = parse_spec(
        {
            "interval": "45s",
            "weights": [20, 100],
            "gates": [{"name": "fast", "query": "latency_p50", "max": 50}],
        }
    )
    assert spec.interval == 45.0 and spec.weights == (20, 100)
    assert spec.gates == (Gate("fast", "latency_p50", max=50.0),)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"wieghts": [10]}, "unknown key 'wieghts'"),
        ({"weights": [50, 10]}, "rising whole percentages"),
        ({"gates": [{"name": "x", "query": "nope", "min": 1}]}, "no query named 'nope'"),
        ({"gates": [{"name": "x", "query": "success_rate"}]}, "give a min or a max"),
    ],
)
def test_a_spec_that_cannot_run_is_refused_naming_the_key(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(data)


def test_no_data_is_inconclusive_never_a_pass() -> None:
    gate = Gate("success-rate", "success_rate", min=0.99)
    assert judge(gate, []).verdict == INCONCLUSIVE
    assert judge(gate, [None, None]).verdict == INCONCLUSIVE


def test_the_worst_series_decides_a_gate() -> None:
    assert judge(Gate("s", "success_rate", min=0.99), [1.0, 0.98]).verdict == FAIL
    assert judge(Gate("p", "latency_p99", max=500), [120.0, 480.0]).verdict == PASS
    assert RolloutSpec(interval=2).window() == "5s"


def test_a_gate_whose_query_has_no_per_version_series_is_refused() -> None:
    gate = {"name": "mtls-share", "query": "service_mtls_share", "min": 1.0}
    with pytest.raises(SpecError, match="gives no per-version value"):
        parse_spec({"gates": [gate]})


def test_the_example_in_the_spec_modules_docstring_parses() -> None:
    import rollout.spec

    example = rollout.spec.__doc__.split("\n\n")[1]
    spec = parse_spec(yaml.safe_load(textwrap.dedent(example)))
    assert [g.query for g in spec.gates][-1] == "edge_mtls_share"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"stepWeight": 30, "maxWeight": 20}, "stepWeight: 30 is above maxWeight 20"),
        ({"maxWeight": 50}, "maxWeight: is for stepWeight"),
        ({"weights": [10], "stepWeights": [10]}, "give one of weights, stepWeights or stepWeight"),
        ({"threshold": 0}, "threshold: a whole number of at least 1"),
        ({"iterations": 3}, "iterations and match go together"),
        ({"iterations": 2, "match": [{"heders": {}}]}, "unsupported field match\\[0\\].heders"),
        ({"iterations": 2, "match": [], "stepWeights": [10]}, "match"),
        ({"mirrorWeight": 50}, "mirrorWeight: is for `mirror: true`"),
        ({"mirror": "yes"}, "mirror: true or false"),
        ({"sessionAffinity": {"cookie": "x"}}, "sessionAffinity: unknown key 'cookie'"),
        ({"metrics": [{"name": "errors", "thresholdRange": {"max": 1}}]}, "not a built-in"),
        (
            {"metrics": [{"name": "e", "templateRef": "nope", "thresholdRange": {"max": 1}}]},
            "templateRef: no template named 'nope'",
        ),
        ({"metrics": [{"name": "request-duration"}]}, "thresholdRange: give a min or a max"),
        (
            {"metricTemplates": {"t": {"query": 'sum(rate(istio_requests_total{app="x"}[1m]))'}}},
            "metricTemplates.t.query: cannot yield a per-version value",
        ),
        (
            {"metricTemplates": {"t": {"query": "{{ version }} {{ pod }}"}}},
            "unknown variable {{ pod }}",
        ),
        ({"webhooks": [{"name": "w", "url": "file:///etc/passwd"}]}, "webhooks\\[0\\] \\(w\\).url"),
        ({"interval": "0s"}, "interval: a duration above 0"),
        (
            {"webhooks": [{"name": "w", "url": "http://x/", "timeout": "0s"}]},
            "timeout: a duration above 0",
        ),
        (
            {"webhooks": [{"name": "w", "url": "http://[::1/"}]},
            "url: an http\\(s\\) URL with a host",
        ),
        (
            {"gates": [{"name": "g", "query": "success_rate", "min": "high"}]},
            "gate g.min: a number",
        ),
        ({"gates": [{"name": "g", "query": "success_rate", "min": None}]}, "gate g.min: a number"),
        ({"gates": [{"name": "g", "query": ["success_rate"], "min": 1}]}, "gate g: no query named"),
        (
            {"gates": [{"name": "g", "query": "success_rate", "min": 2, "max": 1}]},
            "min 2 is above max 1",
        ),
        (
            {"metrics": [{"name": "m", "templateRef": ["t"], "thresholdRange": {"max": 1}}]},
            "templateRef: no template named",
        ),
        ({"webhooks": [{"name": "w", "type": "event", "url": "http://x/"}]}, "'event' is not one"),
        ({"webhooks": [{"name": "w"}]}, "a rollout webhook needs a url"),
        (
            {"webhooks": [{"name": "w", "url": "http://x/"}, {"name": "w", "url": "http://y/"}]},
            "the name 'w' is used twice",
        ),
    ],
)
def test_flagger_keys_that_cannot_run_are_refused_naming_the_key(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(data)


def test_a_flagger_shaped_spec_reads_back_from_its_json_unchanged() -> None:
    spec = parse_spec(
        {
            "stepWeight": 25,
            "maxWeight": 75,
            "threshold": 2,
            "mirror": True,
            "mirrorWeight": 40,
            "sessionAffinity": {"cookieName": "canary", "maxAge": 60},
            "metricTemplates": {
                "errors": {
                    "query": 'sum(rate(istio_requests_total{destination_version="{{ version }}",'
                    ' response_code=~"5.."}[{{ interval }}]))'
                }
            },
            "metrics": [
                {"name": "request-success-rate", "thresholdRange": {"min": 99}},
                {"name": "errors", "templateRef": "errors", "thresholdRange": {"max": 1}},
            ],
            "webhooks": [
                {"name": "hold", "type": "confirm-promotion"},
                {
                    "name": "smoke",
                    "type": "pre-rollout",
                    "url": "http://127.0.0.1:9/",
                    "timeout": "2s",
                },
            ],
        }
    )
    assert spec.weights == (25, 50, 75) and spec.threshold == 2
    assert parse_spec(spec.to_json()) == spec


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).parents[2] / "rollout" / "examples").glob("*.yaml")), ids=str
)
def test_every_example_spec_parses(path: Path) -> None:
    spec = load_spec(path)
    assert spec.interval == 15.0


def test_a_range_with_both_bounds_fails_when_any_series_is_outside_it() -> None:
    """Flagger's thresholdRange {min, max}: a series above max fails even when another is
    at the minimum."""
    from rollout.metrics import Metric

    metric = Metric("m", "q {{ version }}", min=1.0, max=2.0)
    result = judge(metric, [1.5, 3.0])
    assert (result.verdict, result.value) == (FAIL, 3.0)
    assert judge(metric, [1.0, 2.0]).verdict == PASS
    assert judge(metric, [0.5, 1.5]).value == 0.5
