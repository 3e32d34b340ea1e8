"""What a canary rollout does, read from a YAML spec (after Flagger's `analysis` block).

    service: voting-app          # whose default route gets the stepped weights
    primary: v1-0                # subsets of its DestinationRule
    canary: v2-0
    canaryVersion: "2.0"         # the gates judge the workloads of this version
    stepWeights: [10, 25, 50, 100]
    interval: 30s                # how long each weight runs before its gates are judged
    threshold: 1                 # failed checks in a row before the rollout rolls back
    minRequests: 20              # fewer canary requests than this in an interval: inconclusive
    maxInconclusive: 3           # inconclusive intervals in a row before the rollout aborts
    promoteStep: finalize        # applied when every weight passed
    rollbackStep: lock-down      # applied on a failed gate or an abort: all traffic on 1.x
    gates:
      - {name: success-rate, query: success_rate, min: 0.99}
      - {name: latency-p99, query: latency_p99, max: 500}
      - {name: mtls-share, query: edge_mtls_share, min: 1.0}

Every key is optional; an unknown key is an error naming it. Which Flagger (F) or Argo
Rollouts (A) field each key mirrors:

    interval, threshold, maxWeight, stepWeight,      F analysis.*: the same names and meaning,
    stepWeights, iterations, match, mirror,            except `threshold` counts failed checks
    mirrorWeight, sessionAffinity, webhooks            in a row (Flagger counts them in total)
    weights                                          F stepWeights (kept: the older name)
    metrics (name, templateRef, thresholdRange)      F analysis.metrics
    metricTemplates {name: {query}}                  F MetricTemplate spec.query (Prometheus)
    gates (named queries of telemetry/queries.py)    this project's own, judged with metrics
    minRequests                                      A analysis `count` floor / Flagger's
                                                       "no values found" check
    maxInconclusive                                  A AnalysisTemplate inconclusiveLimit
    promoteStep, rollbackStep                        the tutorial's steps in place of
                                                       Flagger's primary copy / scale-down

Phases, in order: `mirror: true` first sends `mirrorWeight` percent of the primary's traffic
as copies to the canary (answers dropped) for one judged interval, judged on the copies;
then either A/B (`iterations` with `match`: matching requests go to the canary, everyone else
to the primary, for `iterations` judged intervals) or the weights. `sessionAffinity`
(`{cookieName, maxAge}`) keeps a user who reached the canary on it with a cookie the route
sets, as Flagger's Istio router does. See rollout/metrics.py and rollout/webhooks.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import yaml

from functions.names import SERVICES
from mesh.errors import MeshError
from mesh.model.fields import parse_duration
from rollout.errors import SpecError
from rollout.metrics import (
    Metric,
    check_template,
    describe_bounds,
    metric_to_json,
    parse_bounds,
    parse_metric,
    within,
)
from rollout.webhooks import Webhook, parse_webhook
from telemetry.queries import QUERIES

CANARY_SERVICES = SERVICES  # the whole 2.0 stack is judged
DEFAULT_COOKIE = "flagger-cookie"


@dataclass(frozen=True)
class Gate:
    """One metric check: the named query's value for the canary version, against a bound."""

    name: str
    query: str
    min: float | None = None
    max: float | None = None

    def verdict(self, value: float) -> bool:
        return within(value, self.min, self.max)

    def describe(self) -> str:
        return describe_bounds(self.name, self.min, self.max)


DEFAULT_GATES = (
    Gate("success-rate", "success_rate", min=0.99),
    Gate("latency-p99", "latency_p99", max=500.0),
    Gate("mtls-share", "edge_mtls_share", min=1.0),
)


@dataclass(frozen=True)
class SessionAffinity:
    """Flagger's `sessionAffinity`: the cookie the canary's route sets, and how long it lives."""

    cookie_name: str = DEFAULT_COOKIE
    max_age: int = 86400


@dataclass(frozen=True)
class RolloutSpec:
    service: str = "voting-app"
    primary: str = "v1-0"
    canary: str = "v2-0"
    canary_version: str = "2.0"
    weights: tuple[int, ...] = (10, 25, 50, 100)
    interval: float = 30.0
    threshold: int = 1
    min_requests: int = 20
    max_inconclusive: int = 3
    promote_step: str = "finalize"
    rollback_step: str = "lock-down"
    gates: tuple[Gate, ...] = DEFAULT_GATES
    services: tuple[str, ...] = field(default=CANARY_SERVICES)
    namespace: str = "voting"
    iterations: int = 0
    match: tuple[dict[str, Any], ...] = ()
    mirror: bool = False
    mirror_weight: int = 100
    session_affinity: SessionAffinity | None = None
    metrics: tuple[Metric, ...] = ()
    templates: tuple[tuple[str, str], ...] = ()
    webhooks: tuple[Webhook, ...] = ()

    def window(self) -> str:
        """The PromQL range that covers one interval."""
        return f"{max(int(self.interval), 5)}s"

    @property
    def ab_testing(self) -> bool:
        return bool(self.match)

    def hooks(self, kind: str) -> list[Webhook]:
        return [h for h in self.webhooks if h.type == kind]

    def to_json(self) -> dict[str, Any]:
        """The spec as a mapping `parse_spec` reads back (progress keeps it for `--resume`)."""
        data: dict[str, Any] = {
            "service": self.service,
            "primary": self.primary,
            "canary": self.canary,
            "canaryVersion": self.canary_version,
            "stepWeights": list(self.weights),
            "interval": f"{self.interval:g}s",
            "threshold": self.threshold,
            "minRequests": self.min_requests,
            "maxInconclusive": self.max_inconclusive,
            "promoteStep": self.promote_step,
            "rollbackStep": self.rollback_step,
            "gates": [{k: v for k, v in vars(g).items() if v is not None} for g in self.gates],
            "services": list(self.services),
            "namespace": self.namespace,
        }
        if self.iterations:
            del data["stepWeights"]
            data["iterations"] = self.iterations
            data["match"] = [dict(m) for m in self.match]
        if self.mirror:
            data["mirror"] = True
            data["mirrorWeight"] = self.mirror_weight
        if self.session_affinity:
            data["sessionAffinity"] = {
                "cookieName": self.session_affinity.cookie_name,
                "maxAge": self.session_affinity.max_age,
            }
        if self.templates:
            data["metricTemplates"] = {name: {"query": q} for name, q in self.templates}
        if self.metrics:
            data["metrics"] = [metric_to_json(m) for m in self.metrics]
        if self.webhooks:
            data["webhooks"] = [h.to_json() for h in self.webhooks]
        return data


_SIMPLE = {
    "service": "service",
    "primary": "primary",
    "canary": "canary",
    "canaryVersion": "canary_version",
    "promoteStep": "promote_step",
    "rollbackStep": "rollback_step",
    "namespace": "namespace",
}
_COUNTS = {  # key: (field, least value)
    "threshold": ("threshold", 1),
    "minRequests": ("min_requests", 0),
    "maxInconclusive": ("max_inconclusive", 1),
    "iterations": ("iterations", 1),
}
_OTHER = (
    "weights",
    "stepWeights",
    "stepWeight",
    "maxWeight",
    "interval",
    "gates",
    "services",
    "match",
    "mirror",
    "mirrorWeight",
    "sessionAffinity",
    "metrics",
    "metricTemplates",
    "webhooks",
)
KEYS = (*_SIMPLE, *_COUNTS, *_OTHER)


def parse_spec(data: dict[str, Any] | None) -> RolloutSpec:
    data = data or {}
    if not isinstance(data, dict):
        raise SpecError("a rollout spec is a mapping")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise SpecError(f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    try:
        return _parse(data)
    except MeshError as exc:  # a duration or match the mesh's model refused
        raise SpecError(str(exc)) from exc


def _parse(data: dict[str, Any]) -> RolloutSpec:
    values: dict[str, Any] = {}
    for key, name in _SIMPLE.items():
        if key in data:
            values[name] = str(data[key])
    for key, (name, least) in _COUNTS.items():
        if key in data:
            values[name] = _count(data[key], key, least)
    if "interval" in data:
        values["interval"] = parse_duration(data["interval"], "rollout spec interval")
        if values["interval"] <= 0:
            raise SpecError(f"interval: a duration above 0, got {data['interval']!r}")
    weights = _weights(data)
    if weights is not None:
        values["weights"] = weights
    if "gates" in data:
        values["gates"] = tuple(_gate(g) for g in _list(data["gates"], "gates"))
    if "services" in data:
        values["services"] = tuple(str(s) for s in _list(data["services"], "services"))
    if ("iterations" in data) != ("match" in data):
        raise SpecError(
            "iterations and match go together: A/B testing sends the requests that `match` "
            "to the canary for `iterations` intervals"
        )
    if "match" in data:
        values["match"] = _match(data["match"])
        if weights is not None:
            raise SpecError("match: A/B testing uses no weights; drop stepWeights/stepWeight")
    if "mirror" in data:
        if not isinstance(data["mirror"], bool):
            raise SpecError(f"mirror: true or false, got {data['mirror']!r}")
        values["mirror"] = data["mirror"]
    if "mirrorWeight" in data:
        if not values.get("mirror"):
            raise SpecError("mirrorWeight: is for `mirror: true`, which this spec does not set")
        values["mirror_weight"] = _percent(data["mirrorWeight"], "mirrorWeight")
    if "sessionAffinity" in data:
        values["session_affinity"] = _affinity(data["sessionAffinity"])
        if "match" in data:
            raise SpecError("sessionAffinity: is for weighted canaries, not A/B (match)")
    templates = _templates(data.get("metricTemplates"))
    values["templates"] = tuple(templates.items())
    if "metrics" in data:
        values["metrics"] = tuple(
            parse_metric(m, templates, f"metrics[{i}]")
            for i, m in enumerate(_list(data["metrics"], "metrics"))
        )
    if "webhooks" in data:
        values["webhooks"] = tuple(
            parse_webhook(h, f"webhooks[{i}]")
            for i, h in enumerate(_list(data["webhooks"], "webhooks"))
        )
        names = [h.name for h in values["webhooks"]]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise SpecError(f"webhooks: the name {twice[0]!r} is used twice")
    return RolloutSpec(**values)


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise SpecError(f"{key}: a list, got {value!r}")
    return value


def _count(value: Any, key: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise SpecError(f"{key}: a whole number of at least {least}, got {value!r}")
    return value


def _percent(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 100:
        raise SpecError(f"{key}: a whole percentage in 1..100, got {value!r}")
    return value


def _weights(data: dict[str, Any]) -> tuple[int, ...] | None:
    """`weights`/`stepWeights` as given, or `stepWeight` up to `maxWeight` (Flagger's)."""
    given = [k for k in ("weights", "stepWeights", "stepWeight") if k in data]
    if len(given) > 1:
        raise SpecError(f"{given[1]}: give one of weights, stepWeights or stepWeight")
    if "maxWeight" in data and given != ["stepWeight"]:
        raise SpecError("maxWeight: is for stepWeight, which this spec does not set")
    if not given:
        return None
    key = given[0]
    if key == "stepWeight":
        step = _percent(data["stepWeight"], "stepWeight")
        top = _percent(data.get("maxWeight", 100), "maxWeight")
        if step > top:
            raise SpecError(f"stepWeight: {step} is above maxWeight {top}")
        return tuple(range(step, top + 1, step))
    weights = tuple(_percent(w, key) for w in _list(data[key], key))
    if not weights or any(a >= b for a, b in pairwise(weights)):
        raise SpecError(f"{key}: rising whole percentages in 1..100, e.g. [10, 25, 50, 100]")
    return weights


def _match(value: Any) -> tuple[dict[str, Any], ...]:
    """Istio HTTPMatchRequests, checked as the mesh checks a VirtualService's."""
    from mesh.model.fields import check_fields
    from mesh.model.virtual_service import SCHEMA, parse_virtual_service

    entries = _list(value, "match")
    if not entries:
        raise SpecError("match: at least one HTTPMatchRequest (headers, uri, sourceLabels...)")
    rule = {"match": entries, "route": [{"destination": {"host": "canary"}}]}
    spec = {"hosts": ["canary"], "http": [rule]}
    try:
        check_fields(entries, SCHEMA["spec"]["http"][0]["match"], "rollout spec", "match")
        parse_virtual_service("rollout-spec", spec, "voting")
    except MeshError as exc:  # said as the spec's key, not the synthetic VirtualService's
        text = str(exc).replace("VirtualService rollout-spec.voting: spec.http[0].", "")
        raise SpecError(text.replace("rollout spec: ", "")) from exc
    return tuple(dict(e) for e in entries)


def _affinity(value: Any) -> SessionAffinity:
    if not isinstance(value, dict):
        raise SpecError("sessionAffinity: a mapping {cookieName, maxAge}")
    unknown = sorted(set(value) - {"cookieName", "maxAge"})
    if unknown:
        raise SpecError(f"sessionAffinity: unknown key {unknown[0]!r}")
    name = str(value.get("cookieName", DEFAULT_COOKIE))
    if not name.replace("-", "").replace("_", "").isalnum():
        raise SpecError(f"sessionAffinity.cookieName: letters, digits, - and _, got {name!r}")
    return SessionAffinity(name, _count(value.get("maxAge", 86400), "sessionAffinity.maxAge", 1))


def _templates(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError("metricTemplates: a mapping of name to {query}")
    templates = {}
    for name, body in value.items():
        if not isinstance(body, dict) or set(body) != {"query"}:
            raise SpecError(f"metricTemplates.{name}: a mapping with one key, query")
        templates[str(name)] = check_template(str(name), body["query"])
    return templates


def per_version(query: str) -> bool:
    """Whether a named query's series say which version or workload they are about
    (rollout.gates picks the canary's series by destination_version or destination_workload)."""
    by = QUERIES[query].split(" by (", 1)[-1].split(")", 1)[0] if " by (" in QUERIES[query] else ""
    return "destination_version" in by or "destination_workload" in by


def _gate(data: Any) -> Gate:
    if not isinstance(data, dict) or "name" not in data or "query" not in data:
        raise SpecError(f"a gate needs a name and a query: {data!r}")
    unknown = sorted(set(data) - {"name", "query", "min", "max"})
    if unknown:
        raise SpecError(f"gate {data['name']}: unknown key {unknown[0]!r}")
    if not isinstance(data["query"], str) or data["query"] not in QUERIES:
        raise SpecError(
            f"gate {data['name']}: no query named {data['query']!r} (known: {', '.join(QUERIES)})"
        )
    if not per_version(data["query"]):
        raise SpecError(
            f"gate {data['name']}: query {data['query']!r} gives no per-version value (its "
            "series carry neither destination_version nor destination_workload, so the canary "
            f"cannot be judged); use one of {', '.join(q for q in QUERIES if per_version(q))}"
        )
    if "min" not in data and "max" not in data:
        raise SpecError(f"gate {data['name']}: give a min or a max")
    low, high = parse_bounds(data, f"gate {data['name']}")
    return Gate(name=str(data["name"]), query=data["query"], min=low, max=high)


def load_spec(path: Any) -> RolloutSpec:
    if path is None:
        return RolloutSpec()
    try:
        return parse_spec(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: {exc}") from exc
