"""Judging one interval of a canary: each gate passes, fails, or is inconclusive.

Inconclusive is its own verdict, never a pass: no data, or fewer canary requests than the
spec's minimum, means nothing was learnt (the most common way canaries go wrong elsewhere is
to read "no values" as success or as failure).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rollout.metrics import Metric
from rollout.spec import Gate, RolloutSpec
from telemetry.prometheus import PrometheusClient, Sample
from telemetry.queries import SHADOW_SUFFIX, render

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


@dataclass(frozen=True)
class GateResult:
    name: str
    bound: str
    value: float | None
    verdict: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _canary_values(
    samples: list[Sample], spec: RolloutSpec, workloads: set[str]
) -> list[float | None]:
    """The values that concern the canary: its version, or edges into its workloads."""
    values = []
    for sample in samples:
        labels = sample.labels
        if "destination_version" in labels:
            if labels["destination_version"] == spec.canary_version:
                values.append(sample.value)
        elif labels.get("destination_workload") in workloads:
            values.append(sample.value)
    return values


def judge(gate: Gate | Metric, values: list[float | None]) -> GateResult:
    known = [v for v in values if v is not None]
    if not known:
        return GateResult(gate.name, gate.describe(), None, INCONCLUSIVE, "no data")
    below = [v for v in known if gate.min is not None and v < gate.min]
    above = [v for v in known if gate.max is not None and v > gate.max]
    if below or above:  # any series outside the range fails it (both bounds: either side)
        worst = min(below) if below else max(above)
    else:
        worst = min(known) if gate.min is not None else max(known)
    verdict = PASS if gate.verdict(worst) else FAIL
    return GateResult(gate.name, gate.describe(), worst, verdict, f"worst of {len(known)} series")


def judged_services(spec: RolloutSpec, mirroring: bool) -> tuple[str, ...]:
    """The services whose canary series the gates read; while mirroring, also the rolled-out
    service's `-shadow` twin, where Istio counts the copies (its only canary traffic then)."""
    return (*spec.services, spec.service + SHADOW_SUFFIX) if mirroring else spec.services


async def canary_requests(
    client: PrometheusClient, spec: RolloutSpec, mirroring: bool = False
) -> float | None:
    """How many requests the canary version of the rolled-out service served in the window
    (while mirroring: how many copies it was sent)."""
    target = spec.service + SHADOW_SUFFIX if mirroring else spec.service
    samples = await client.query(render("request_rate", (target,), spec.window()))
    rates = [s.value for s in samples if s.labels.get("destination_version") == spec.canary_version]
    known = [r for r in rates if r is not None]
    return sum(known) * spec.interval if known else None


async def evaluate(
    client: PrometheusClient,
    spec: RolloutSpec,
    canary_workloads: set[str],
    mirroring: bool = False,
) -> list[GateResult]:
    """Every gate and metric of the spec over the last interval, plus the minimum-traffic
    check; while mirroring they judge the copies sent to the canary."""
    requests = await canary_requests(client, spec, mirroring)
    volume = GateResult(
        "mirrored-requests" if mirroring else "canary-requests",
        f">= {spec.min_requests}",
        requests,
        PASS if requests is not None and requests >= spec.min_requests else INCONCLUSIVE,
        "too few canary requests to judge"
        if not requests or requests < spec.min_requests
        else "enough",
    )
    services = judged_services(spec, mirroring)
    results = [volume]
    for gate in spec.gates:
        samples = await client.query(render(gate.query, services, spec.window()))
        results.append(judge(gate, _canary_values(samples, spec, canary_workloads)))
    variables = {
        "target": spec.service + SHADOW_SUFFIX if mirroring else spec.service,
        "namespace": spec.namespace,
        "interval": spec.window(),
        "version": spec.canary_version,
        "services": "|".join(services),
    }
    for metric in spec.metrics:
        samples = await client.query(metric.render(variables))
        values = (
            _canary_values(samples, spec, canary_workloads)
            if metric.per_series
            else [s.value for s in samples]
        )
        results.append(judge(metric, values))
    if volume.verdict == INCONCLUSIVE:
        results[1:] = [
            GateResult(r.name, r.bound, r.value, INCONCLUSIVE, "too few requests")
            if r.verdict == PASS
            else r
            for r in results[1:]
        ]
    return results
