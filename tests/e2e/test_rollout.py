"""Automated canary analysis on the local mesh: real Envoy, real Prometheus, real traffic."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import pytest

from mesh.router import router_for
from mesh.steps import render_step
from observer.queries import PrometheusClient
from observer.traffic import TrafficPlan, TrafficResult, TrafficRunner
from rollout.controller import ABORTED, PROMOTED, ROLLED_BACK, Outcome, Rollout
from rollout.spec import RolloutSpec
from tests.e2e.local_system import (
    LocalSystem,
    module_ports_base,
    start_local_system,
    stop_local_system,
)
from tests.support.waiting import binomial_tolerance

pytestmark = pytest.mark.e2e

FAST = RolloutSpec(interval=6.0, min_requests=5, max_inconclusive=2)


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalSystem]:
    started = start_local_system(
        tmp_path_factory.mktemp("rollout"),
        module_ports_base(request.module.__name__),
        extra=("--step", "canary"),
        telemetry=True,
    )
    yield started
    stop_local_system(started)


def run_rollout(
    system: LocalSystem, spec: RolloutSpec, rate: float | None
) -> tuple[Outcome, TrafficResult | None]:
    """A rollout with (or without) `voting traffic` running beside it."""

    async def go() -> tuple[Outcome, TrafficResult | None]:
        runner = None
        if rate:
            plan = TrafficPlan(url=system.url, rate=rate, duration=600, cookie_share=0.1)
            runner = TrafficRunner(plan)
            runner.start()
        router = router_for(state_dir=system.state_dir)
        try:
            async with PrometheusClient(system.prometheus_url, timeout=5) as client:
                report = system.control.report_rollout
                outcome = await Rollout(spec, router, client, report=report).run()
        finally:
            await router.close()
            sent = await runner.stop() if runner else None
        return outcome, sent

    return asyncio.run(go())


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


def test_a_healthy_canary_is_promoted_through_every_weight(system: LocalSystem) -> None:
    system.step("canary")
    outcome, sent = run_rollout(system, FAST, rate=20)
    assert outcome.state == PROMOTED, outcome.reason
    judged = [h["weight"] for h in outcome.history]  # an inconclusive interval repeats a weight
    assert sorted(set(judged)) == [10, 25, 50, 100] and judged == sorted(judged), judged
    status = system.status()
    assert status["step"]["name"] == "finalize"
    assert status["rollout"]["state"] == PROMOTED
    assert sent is not None and sent.statuses[200] > 0


CANARY_ABORT = 0.5
"""Half the canary's analytics calls fail: the first gate's ~18 requests all succeeding is then
a 1-in-250,000 event (at 20 %, 0.8^18 ≈ 2 %: the gate could pass at 10 % by chance)."""


def test_a_canary_with_a_50_percent_abort_is_rolled_back_at_the_first_gate(
    system: LocalSystem,
) -> None:
    system.step("canary")
    system.apply("canary", with_canary_fault(render_step("canary"), CANARY_ABORT * 100))
    outcome, sent = run_rollout(system, FAST, rate=20)
    assert outcome.state == ROLLED_BACK, outcome.reason
    assert outcome.weight == 10 and "success-rate" in outcome.reason
    assert system.status()["step"]["name"] == "lock-down"
    assert sent is not None
    failed = sum(n for code, n in sent.statuses.items() if code >= 500) + sent.timeouts
    # On 2.0 at most: the cookie users plus 10 % of the others; half of their pages fail.
    expected = (0.1 + 0.9 * 0.10) * CANARY_ABORT
    bound = expected + binomial_tolerance(expected, sent.completed, margin=0.02)
    assert failed / sent.completed <= bound, sent.summary()


def test_without_traffic_a_canary_is_aborted_as_inconclusive_never_promoted(
    system: LocalSystem,
) -> None:
    system.step("canary")
    outcome, _ = run_rollout(system, FAST, rate=None)
    assert outcome.state == ABORTED
    assert "inconclusive" in outcome.reason
    assert system.status()["step"]["name"] == "lock-down"
