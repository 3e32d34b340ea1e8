"""Rollout gates for tests that judge the canary loop, not the machine they run on."""

from __future__ import annotations

import copy
from typing import Any

from rollout.spec import Gate

# The gates as shipped (rollout/spec.py DEFAULT_GATES), but with a p99 bound no busy CI
# machine breaks: those tests judge the loop (weights, rollback, abort, lease, the dashboard's
# key); the gates themselves, with the shipped bounds, are tested in tests/rollout.
SPEED_INDEPENDENT_GATES = (
    Gate("success-rate", "success_rate", min=0.99),
    Gate("latency-p99", "latency_p99", max=30_000.0),
    Gate("mtls-share", "edge_mtls_share", min=1.0),
)

# The same gates as YAML, for specs handed to `voting rollout --spec`.
GATES_YAML = "\n".join(
    [
        "gates:",
        *(
            f"  - {{name: {g.name}, query: {g.query}, "
            + (f"min: {g.min}}}" if g.min is not None else f"max: {g.max}}}")
            for g in SPEED_INDEPENDENT_GATES
        ),
    ]
)


def with_canary_fault(documents: list[dict[str, Any]], percent: float) -> list[dict[str, Any]]:
    """An abort on the rule that sends voting-app 2.0 to voting-analytics v2-0."""
    edited = copy.deepcopy(documents)
    vs = next(
        d
        for d in edited
        if d["kind"] == "VirtualService" and d["metadata"]["name"] == "voting-analytics"
    )
    rule = next(
        r
        for r in vs["spec"]["http"]
        if any(d["destination"].get("subset") == "v2-0" for d in r["route"])
    )
    rule["fault"] = {"abort": {"percentage": {"value": percent}, "httpStatus": 503}}
    return edited
