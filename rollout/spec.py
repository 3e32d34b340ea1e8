"""What a canary rollout does, read from a YAML spec (after Flagger's `analysis` block).

    service: voting-app          # whose default route gets the stepped weights
    primary: v1-0                # subsets of its DestinationRule
    canary: v2-0
    canaryVersion: "2.0"         # the gates judge the workloads of this version
    weights: [10, 25, 50, 100]
    interval: 30s                # how long each weight runs before its gates are judged
    minRequests: 20              # fewer canary requests than this in an interval: inconclusive
    maxInconclusive: 3           # inconclusive intervals in a row before the rollout aborts
    promoteStep: finalize        # applied when every weight passed
    rollbackStep: lock-down      # applied on a failed gate or an abort: all traffic on 1.x
    gates:
      - {name: success-rate, query: success_rate, min: 0.99}
      - {name: latency-p99, query: latency_p99, max: 500}
      - {name: mtls-share, query: edge_mtls_share, min: 1.0}

Every key is optional; an unknown key is an error naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mesh.model.fields import parse_duration
from telemetry.queries import QUERIES

CANARY_SERVICES = ("voting-app", "voting-analytics", "voting-storage")


class SpecError(ValueError):
    """A rollout spec that cannot be run; the message names the key."""


@dataclass(frozen=True)
class Gate:
    """One metric check: the named query's value for the canary version, against a bound."""

    name: str
    query: str
    min: float | None = None
    max: float | None = None

    def verdict(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        bounds = [
            f">= {self.min:g}" if self.min is not None else "",
            f"<= {self.max:g}" if self.max is not None else "",
        ]
        return f"{self.name} {' and '.join(b for b in bounds if b)}"


DEFAULT_GATES = (
    Gate("success-rate", "success_rate", min=0.99),
    Gate("latency-p99", "latency_p99", max=500.0),
    Gate("mtls-share", "edge_mtls_share", min=1.0),
)


@dataclass(frozen=True)
class RolloutSpec:
    service: str = "voting-app"
    primary: str = "v1-0"
    canary: str = "v2-0"
    canary_version: str = "2.0"
    weights: tuple[int, ...] = (10, 25, 50, 100)
    interval: float = 30.0
    min_requests: int = 20
    max_inconclusive: int = 3
    promote_step: str = "finalize"
    rollback_step: str = "lock-down"
    gates: tuple[Gate, ...] = DEFAULT_GATES
    services: tuple[str, ...] = field(default=CANARY_SERVICES)

    def window(self) -> str:
        """The PromQL range that covers one interval."""
        return f"{max(int(self.interval), 5)}s"


_KEYS = {
    "service": "service",
    "primary": "primary",
    "canary": "canary",
    "canaryVersion": "canary_version",
    "weights": "weights",
    "interval": "interval",
    "minRequests": "min_requests",
    "maxInconclusive": "max_inconclusive",
    "promoteStep": "promote_step",
    "rollbackStep": "rollback_step",
    "gates": "gates",
}


def parse_spec(data: dict[str, Any] | None) -> RolloutSpec:
    data = data or {}
    if not isinstance(data, dict):
        raise SpecError("a rollout spec is a mapping")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise SpecError(f"unknown key {unknown[0]!r} (known: {', '.join(_KEYS)})")
    values: dict[str, Any] = {}
    for key, name in _KEYS.items():
        if key not in data:
            continue
        value = data[key]
        if key == "interval":
            value = parse_duration(value, "rollout spec interval")
        elif key == "weights":
            value = tuple(int(w) for w in value)
            if not value or any(not 0 < w <= 100 for w in value) or list(value) != sorted(value):
                raise SpecError(
                    "weights: rising whole percentages in 1..100, e.g. [10, 25, 50, 100]"
                )
        elif key == "gates":
            value = tuple(_gate(g) for g in value)
        elif key in ("minRequests", "maxInconclusive"):
            value = int(value)
        else:
            value = str(value)
        values[name] = value
    return RolloutSpec(**values)


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
    if data["query"] not in QUERIES:
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
    return Gate(
        name=str(data["name"]),
        query=str(data["query"]),
        min=float(data["min"]) if "min" in data else None,
        max=float(data["max"]) if "max" in data else None,
    )


def load_spec(path: Path | None) -> RolloutSpec:
    if path is None:
        return RolloutSpec()
    try:
        return parse_spec(yaml.safe_load(path.read_text()))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: {exc}") from exc
