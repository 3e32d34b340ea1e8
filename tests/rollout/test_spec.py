"""Rollout specs: defaults like Flagger's analysis, and clear errors for what cannot run."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from rollout.gates import FAIL, INCONCLUSIVE, PASS, judge
from rollout.spec import Gate, RolloutSpec, SpecError, parse_spec


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
