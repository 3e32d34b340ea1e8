"""A fixed, fake source for layout tests: the canary step with chosen numbers.

A canary rollout can ride along (``FixedSource(rollout=...)``): ``ROLLOUT_RUNNING`` and
``ROLLOUT_ROLLED_BACK`` are status JSON blocks as `voting rollout` reports them.

Only layout (snapshot) tests use it; behaviour is tested against the real local system,
a real Prometheus and a fake-but-real-HTTP Kubernetes API.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from observer.model import (
    EdgeMetrics,
    Event,
    MeshState,
    Metrics,
    Route,
    ServiceConfig,
    StepInfo,
    VersionMetrics,
    VoteReading,
    Votes,
    Workload,
)
from observer.rollout_progress import rollout_from_json

T0 = 1_800_000_000.0  # fixed event times: 2027-01-15 08:00:00 UTC

CANARY = MeshState(
    step=StepInfo(4, "canary"),
    services=(
        ServiceConfig(
            "voting-analytics",
            "STRICT",
            "ISTIO_MUTUAL",
            (
                Route("from app=voting-app,version=1.0", "v1-1", "1.1"),
                Route("from app=voting-app,version=2.0", "v2-0", "2.0"),
                Route("all", "v1-1", "1.1"),
            ),
        ),
        ServiceConfig(
            "voting-app",
            "STRICT",
            "ISTIO_MUTUAL",
            (Route("cookie featureflag=on", "v2-0", "2.0"), Route("all", "v1-0", "1.0")),
        ),
        ServiceConfig(
            "voting-storage",
            "STRICT",
            "ISTIO_MUTUAL",
            (
                Route(
                    "from app=voting-app,version=1.0 | from app=voting-analytics,version=1.1",
                    "v1-0",
                    "1.0",
                ),
                Route(
                    "from app=voting-app,version=2.0 | from app=voting-analytics,version=2.0",
                    "v2-0",
                    "2.0",
                ),
                Route("all", "v1-0", "1.0"),
            ),
        ),
    ),
    workloads=(
        Workload("voting-analytics", "1.0", 1, 1),
        Workload("voting-analytics", "1.1", 1, 1),
        Workload("voting-analytics", "2.0", 1, 1),
        Workload("voting-app", "1.0", 3, 3),
        Workload("voting-app", "2.0", 2, 3),
        Workload("voting-storage", "1.0", 1, 1),
        Workload("voting-storage", "2.0", 1, 1),
    ),
    events=(
        Event(T0, "applying step 4 (canary)"),
        Event(
            T0 + 2,
            "started 5 pod(s): voting-app-2-0-…, voting-analytics-2-0-…, voting-storage-2-0-…",
        ),
        Event(T0 + 3, "step 4 (canary) in force"),
    ),
    ingress_url="http://127.0.0.1:1/",
)

_RAMP = tuple(
    [None] * 12 + [0.0] * 6 + [0.1, 0.2, 0.24, 0.25, 0.26, 0.25, 0.25, 0.24, 0.25, 0.25, 0.26, 0.25]
)

METRICS = Metrics(
    state="up",
    url="http://127.0.0.1:9090",
    versions={
        ("voting-app", "1.0"): VersionMetrics(7.6, 0.752, 1.0, 8.2, 41.0),
        ("voting-app", "2.0"): VersionMetrics(2.5, 0.248, 0.996, 11.4, 88.0),
        ("voting-analytics", "1.1"): VersionMetrics(7.6, 0.75, 1.0, 2.1, 9.8),
        ("voting-analytics", "2.0"): VersionMetrics(2.5, 0.25, 1.0, 2.4, 12.0),
        ("voting-storage", "1.0"): VersionMetrics(15.2, 0.75, 1.0, 1.2, 4.9),
        ("voting-storage", "2.0"): VersionMetrics(5.0, 0.25, 0.92, 3.5, 1450.0),
    },
    service_mtls={"voting-app": 1.0, "voting-analytics": 1.0, "voting-storage": 1.0},
    edges=(
        EdgeMetrics("istio-ingressgateway", "voting-app-1-0", "voting-app", 7.6, 1.0),
        EdgeMetrics("istio-ingressgateway", "voting-app-2-0", "voting-app", 2.5, 1.0),
        EdgeMetrics("voting-app-1-0", "voting-analytics-1-1", "voting-analytics", 7.6, 1.0),
        EdgeMetrics("voting-app-2-0", "voting-analytics-2-0", "voting-analytics", 2.5, 1.0),
        EdgeMetrics("voting-app-1-0", "voting-storage-1-0", "voting-storage", 7.6, 1.0),
        EdgeMetrics("voting-analytics-1-1", "voting-storage-1-0", "voting-storage", 7.6, 1.0),
        EdgeMetrics("voting-app-2-0", "voting-storage-2-0", "voting-storage", 2.5, None),
    ),
    history={
        ("voting-app", "2.0"): _RAMP,
        ("voting-app", "1.0"): tuple(None if v is None else 1 - v for v in _RAMP),
    },
    fetched_at=T0 + 10,
)

VOTES = Votes(
    state="up",
    readings=(
        VoteReading(
            "no cookie",
            "1.0",
            "redis",
            "1.0",
            (("Cats", 12), ("Dogs", 9)),
            "Cats: 12/21 (57%) | Dogs: 9/21 (43%)",
        ),
        VoteReading(
            "featureflag=on",
            "2.0",
            "mysql",
            "2.0",
            (("Cats", 3), ("Dogs", 5)),
            "Cats: 3/8 (38%) | Dogs: 5/8 (62%)",
        ),
    ),
)


def _gate(name: str, bound: str, value: float | None, verdict: str, detail: str) -> dict[str, Any]:
    return {"name": name, "bound": bound, "value": value, "verdict": verdict, "detail": detail}


_PASSED_AT_10 = [
    _gate("canary-requests", ">= 20", 31.0, "pass", "enough"),
    _gate("success-rate", "success-rate >= 0.99", 1.0, "pass", "worst of 3 series"),
    _gate("latency-p99", "latency-p99 <= 500", 84.0, "pass", "worst of 3 series"),
    _gate("mtls-share", "mtls-share >= 1", 1.0, "pass", "worst of 5 series"),
]
_NO_MTLS_DATA_AT_25 = [
    _gate("canary-requests", ">= 20", 48.0, "pass", "enough"),
    _gate("success-rate", "success-rate >= 0.99", 0.996, "pass", "worst of 3 series"),
    _gate("latency-p99", "latency-p99 <= 500", 88.0, "pass", "worst of 3 series"),
    _gate("mtls-share", "mtls-share >= 1", None, "inconclusive", "no data"),
]
_FAILED_AT_25 = [
    _gate("canary-requests", ">= 20", 52.0, "pass", "enough"),
    _gate("success-rate", "success-rate >= 0.99", 0.912, "fail", "worst of 3 series"),
    _gate("latency-p99", "latency-p99 <= 500", 1450.0, "fail", "worst of 3 series"),
    _gate("mtls-share", "mtls-share >= 1", 1.0, "pass", "worst of 5 series"),
]


def _weight(weight: int) -> dict[str, Any]:
    """A judged interval's phase, as rollout.routing.Phase.to_json reports it."""
    return {"kind": "weight", "weight": weight, "iteration": 0}


_PLAN = {"service": "voting-app", "canary": "v2-0", "weights": [10, 25, 50, 100], "interval": 30}

ROLLOUT_RUNNING: dict[str, Any] = {
    "state": "running",
    "weight": 25,
    "reason": "",
    "history": [
        {"time": T0 + 40, "weight": 10, "phase": _weight(10), "gates": _PASSED_AT_10},
        {"time": T0 + 70, "weight": 25, "phase": _weight(25), "gates": _NO_MTLS_DATA_AT_25},
    ],
    "gates": _NO_MTLS_DATA_AT_25,
    "started": T0 + 10,
    "finished": None,
    **_PLAN,
}

ROLLOUT_ROLLED_BACK: dict[str, Any] = {
    **ROLLOUT_RUNNING,
    "state": "rolled-back",
    "reason": (
        "gate failed at weight 25%: success-rate 0.912 (needs success-rate >= 0.99);"
        " latency-p99 1.45e+03 (needs latency-p99 <= 500)"
    ),
    "history": [
        *ROLLOUT_RUNNING["history"],
        {"time": T0 + 100, "weight": 25, "phase": _weight(25), "gates": _FAILED_AT_25},
    ],
    "gates": _FAILED_AT_25,
    "finished": T0 + 102,
}


class FixedSource:
    """Always the same canary-step reading (with a rollout if given); steps are refused."""

    kind = "local"
    label = "fake"
    ingress_url = None

    def __init__(self, metrics: Metrics = METRICS, rollout: dict[str, Any] | None = None) -> None:
        self._metrics = metrics
        self.rollout = rollout

    async def state(self) -> MeshState:
        return replace(CANARY, rollout=rollout_from_json(self.rollout))

    async def metrics(self) -> Metrics:
        return self._metrics

    async def votes(self) -> Votes:
        return VOTES

    async def apply_step(self, step: int) -> MeshState:
        from observer.errors import StepNotApplied

        raise StepNotApplied("the fake source applies no steps")

    async def aclose(self) -> None:
        pass
