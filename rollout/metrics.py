"""Custom canary metrics: named PromQL templates judged against a `thresholdRange`.

After Flagger's `MetricTemplate` and `analysis.metrics` (pkg/metrics/providers/prometheus.go,
pkg/controller/scheduler_metrics.go): a template is a PromQL string with `{{ variable }}`
placeholders, rendered once per interval; a metric names a template (`templateRef`) or one
of Flagger's two built-ins and bounds its value with `thresholdRange: {min, max}`::

    metricTemplates:
      error-rate:
        query: |
          sum(rate(istio_requests_total{reporter="source", destination_service_name="{{ target }}",
              destination_version="{{ version }}", response_code=~"5.."}[{{ interval }}]))
    metrics:
      - {name: request-success-rate, thresholdRange: {min: 99}}   # percent, as Flagger's
      - {name: request-duration, thresholdRange: {max: 500}}      # p99 in ms, as Flagger's
      - {name: errors, templateRef: error-rate, thresholdRange: {max: 0.5}}

Variables: `target` (the rolled-out service), `namespace`, `interval` (the PromQL window),
`version` (the canary's version) and `services` (a regex of every service the gates judge).
A template must be able to give the canary's own value: it uses `{{ version }}` (then every
series it returns is the canary's), or groups `by` `destination_version` or
`destination_workload` (then the canary's series are picked). Anything else is refused at
parse time, as an unknown variable is: a metric that cannot say which version it measured
could only ever be inconclusive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rollout.errors import MetricError

VARIABLES = ("target", "namespace", "interval", "version", "services")
_PLACEHOLDER = re.compile(r"{{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*}}")

# Flagger's built-in metrics (pkg/metrics/observers/istio.go), in Flagger's units: the success
# rate in percent, the duration as the p99 in milliseconds. Reporter sides as telemetry/queries.py.
BUILTIN_TEMPLATES = {
    "request-success-rate": (
        '100 * (sum by (destination_version) (rate(istio_requests_total{reporter="source",'
        ' destination_service_name="{{ target }}", destination_version="{{ version }}",'
        ' response_code!~"5.."}[{{ interval }}])) or 0 * sum by (destination_version)'
        ' (rate(istio_requests_total{reporter="source", destination_service_name="{{ target }}",'
        ' destination_version="{{ version }}"}[{{ interval }}])))'
        ' / sum by (destination_version) (rate(istio_requests_total{reporter="source",'
        ' destination_service_name="{{ target }}", destination_version="{{ version }}"}[{{ interval }}]))'
    ),
    "request-duration": (
        "histogram_quantile(0.99, sum by (le, destination_version)"
        ' (rate(istio_request_duration_milliseconds_bucket{reporter="destination",'
        ' destination_service_name="{{ target }}", destination_version="{{ version }}"}[{{ interval }}])))'
    ),
}


def within(value: float, low: float | None, high: float | None) -> bool:
    """A check's value against its bounds (either may be absent), as gates and metrics judge."""
    return (low is None or value >= low) and (high is None or value <= high)


def describe_bounds(name: str, low: float | None, high: float | None) -> str:
    """'success-rate >= 0.99', 'latency-p99 <= 500', 'x >= 1 and <= 2'."""
    bounds = [f">= {low:g}" if low is not None else "", f"<= {high:g}" if high is not None else ""]
    return f"{name} {' and '.join(b for b in bounds if b)}"


@dataclass(frozen=True)
class Metric:
    """One custom check: a rendered template's canary value, within `[min, max]`."""

    name: str
    query: str  # the template text (a built-in's or a templateRef's)
    min: float | None = None
    max: float | None = None
    template_ref: str | None = None

    def verdict(self, value: float) -> bool:
        return within(value, self.min, self.max)

    def describe(self) -> str:
        return describe_bounds(self.name, self.min, self.max)

    @property
    def per_series(self) -> bool:
        """Whether the canary's series must be picked by label (the query does not pin it)."""
        return not re.search(r"{{\s*version\s*}}", self.query)

    def render(self, variables: dict[str, str]) -> str:
        return _PLACEHOLDER.sub(lambda m: variables[m.group(1)], self.query)


def check_template(name: str, query: Any) -> str:
    """The template's text, refused when it uses an unknown variable or cannot pin a version."""
    if not isinstance(query, str) or not query.strip():
        raise MetricError(f"metricTemplates.{name}.query: a PromQL string")
    unknown = sorted({m.group(1) for m in _PLACEHOLDER.finditer(query)} - set(VARIABLES))
    if unknown:
        raise MetricError(
            f"metricTemplates.{name}.query: unknown variable {{{{ {unknown[0]} }}}} "
            f"(known: {', '.join(VARIABLES)})"
        )
    grouped = re.findall(r"\bby\s*\(([^)]*)\)", query)
    by_version = any(
        "destination_version" in group or "destination_workload" in group for group in grouped
    )
    if not re.search(r"{{\s*version\s*}}", query) and not by_version:
        raise MetricError(
            f"metricTemplates.{name}.query: cannot yield a per-version value: use "
            "{{ version }} in a matcher or group by destination_version/destination_workload"
        )
    return query


def parse_metric(data: Any, templates: dict[str, str], where: str) -> Metric:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise MetricError(f"{where}: a metric needs a name")
    name = data["name"]
    unknown = sorted(set(data) - {"name", "templateRef", "thresholdRange", "interval"})
    if unknown:
        raise MetricError(f"{where} ({name}): unknown key {unknown[0]!r}")
    if "interval" in data:
        raise MetricError(
            f"{where} ({name}).interval: per-metric intervals are not supported; every "
            "metric is judged over the spec's interval"
        )
    ref = data.get("templateRef")
    if ref is None:
        if name not in BUILTIN_TEMPLATES:
            raise MetricError(
                f"{where} ({name}): not a built-in ({', '.join(BUILTIN_TEMPLATES)}); "
                "give a templateRef to one of metricTemplates"
            )
        query = BUILTIN_TEMPLATES[name]
    else:
        ref = ref.get("name") if isinstance(ref, dict) else ref
        if not isinstance(ref, str) or ref not in templates:
            raise MetricError(
                f"{where} ({name}).templateRef: no template named {ref!r} "
                f"(known: {', '.join(templates) or 'none'})"
            )
        query = templates[ref]
    bounds = data.get("thresholdRange")
    if not isinstance(bounds, dict) or not ({"min", "max"} & set(bounds)):
        raise MetricError(f"{where} ({name}).thresholdRange: give a min or a max")
    extra = sorted(set(bounds) - {"min", "max"})
    if extra:
        raise MetricError(f"{where} ({name}).thresholdRange: unknown key {extra[0]!r}")
    low, high = parse_bounds(bounds, f"{where} ({name}).thresholdRange")
    return Metric(name=name, query=query, min=low, max=high, template_ref=ref)


def parse_bounds(data: dict[str, Any], where: str) -> tuple[float | None, float | None]:
    """A check's `min` and `max` (either may be absent), as numbers, min not above max."""
    bounds: dict[str, float | None] = {"min": None, "max": None}
    for key in bounds:
        if key in data:
            try:
                bounds[key] = float(data[key])
            except (TypeError, ValueError) as exc:
                raise MetricError(f"{where}.{key}: a number, got {data[key]!r}") from exc
    low, high = bounds["min"], bounds["max"]
    if low is not None and high is not None and low > high:
        raise MetricError(f"{where}: min {low:g} is above max {high:g}")
    return low, high


def metric_to_json(metric: Metric) -> dict[str, Any]:
    data: dict[str, Any] = {"name": metric.name, "thresholdRange": {}}
    if metric.template_ref:
        data["templateRef"] = metric.template_ref
    if metric.min is not None:
        data["thresholdRange"]["min"] = metric.min
    if metric.max is not None:
        data["thresholdRange"]["max"] = metric.max
    return data
