"""Automated canary analysis on the local mesh: real Envoy, real Prometheus, real traffic."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mesh.router.factory import router_for
from mesh.steps import render_step
from observer.traffic import TrafficPlan, TrafficResult, TrafficRunner
from rollout.controller import ABORTED, PROMOTED, ROLLED_BACK, Outcome, Rollout
from rollout.spec import RolloutSpec
from telemetry.prometheus import PrometheusClient
from tests.e2e.local_system import (
    LocalSystem,
    SteadyLoad,
    canary_system_with_telemetry,
    cli_rollout,
)
from tests.support.rollout import GATES_YAML, SPEED_INDEPENDENT_GATES, with_canary_fault
from tests.support.waiting import binomial_tolerance, wait_until

pytestmark = pytest.mark.e2e

# 6 s: Prometheus (1 s scrapes) needs a few samples in the window for rate() and the p99;
# a 4 s window read "no data" for the p99 in a real run.
FAST = RolloutSpec(
    weights=(10, 50, 100),  # three weights are a canary's whole path: first, middle, full
    interval=6.0,
    min_requests=5,
    max_inconclusive=3,
    gates=SPEED_INDEPENDENT_GATES,
)


@pytest.fixture(scope="module")
def system(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LocalSystem]:
    yield from canary_system_with_telemetry(tmp_path_factory, request, "rollout")


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


def test_a_healthy_canary_is_promoted_through_every_weight(system: LocalSystem) -> None:
    system.step("canary")
    outcome, sent = run_rollout(system, FAST, rate=20)
    assert outcome.state == PROMOTED, outcome.reason
    judged = [h["weight"] for h in outcome.history]  # an inconclusive interval repeats a weight
    assert sorted(set(judged)) == list(FAST.weights) and judged == sorted(judged), judged
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
    outcome, _ = run_rollout(system, replace(FAST, max_inconclusive=2), rate=None)
    assert outcome.state == ABORTED
    assert "inconclusive" in outcome.reason
    assert system.status()["step"]["name"] == "lock-down"


# ---------------------------------------------------------------- a controller that dies
# `voting rollout` as a real process, killed on the way: its lease runs out and status says
# `controller-lost`; `--resume` promotes from where it was, `--rollback` goes back to 1.x.
# A 3 s interval keeps these short (lease 6 s); every wait is on a condition, with a deadline.
LEASED_SPEC = "\n".join(
    [
        "interval: 3s",
        "weights: [10, 50, 100]",
        "minRequests: 5",
        "maxInconclusive: 6",
        GATES_YAML,
        "",
    ]
)


def start_cli_rollout(system: LocalSystem, tmp_path: Path) -> subprocess.Popen[str]:
    return cli_rollout(system, tmp_path, LEASED_SPEC)


def stop_cli_rollout(process: subprocess.Popen[str] | None) -> None:
    if process is not None and process.poll() is None:
        process.kill()
    if process is not None:
        process.wait(30)
        if process.stdout:
            process.stdout.close()


def rollout_of(system: LocalSystem) -> dict[str, Any]:
    return system.status().get("rollout") or {}


def on_stable(status: dict[str, Any]) -> bool:
    """voting-app's routes all go to 1.x (lock-down)."""
    app = next(s for s in status["services"] if s["name"] == "voting-app")
    return status["step"]["name"] == "lock-down" and {r["subset"] for r in app["routes"]} == {
        "v1-0"
    }


def kill_after_first_judged_weight(
    system: LocalSystem, tmp_path: Path
) -> tuple[dict[str, Any], str]:
    """Start `voting rollout`, SIGKILL it once a weight passed, wait for `controller-lost`.

    Returns the lost progress and `voting status` as printed then."""
    process = start_cli_rollout(system, tmp_path)
    try:

        def judged() -> bool:
            progress = rollout_of(system)
            return process.poll() is not None or (
                progress.get("pid") == process.pid and bool(progress.get("passed"))
            )

        wait_until(judged, 120, "the rollout's first judged weight")
        assert process.poll() is None, (tmp_path / "rollout.log").read_text()
        refused = system.cli("rollout", "--rollback")  # its owner is alive: refused
        assert refused.returncode == 1 and "holds its lease" in refused.stderr, refused
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        stop_cli_rollout(process)
    wait_until(lambda: rollout_of(system).get("state") == "controller-lost", 60, "controller-lost")
    printed = system.cli("status")
    print(f"$ voting status\n{printed.stdout}")
    return rollout_of(system), printed.stdout


def test_a_killed_rollout_is_shown_lost_and_resume_promotes_from_the_last_passed_weight(
    system: LocalSystem, tmp_path: Path
) -> None:
    system.step("canary")
    load = SteadyLoad(system.url, rate=20)
    load.start()
    try:
        lost, printed = kill_after_first_judged_weight(system, tmp_path)
        assert "rollout CONTROLLER-LOST" in printed and "--resume" in printed, printed
        assert lost["passed"] and lost["reported_state"] == "running"
        resumed = system.cli("rollout", "--resume")
        print(f"$ voting rollout --resume\n{resumed.stdout}{resumed.stderr}")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "resuming after controller pid" in resumed.stdout
    finally:
        load.stop()
    status = system.status()
    assert status["step"]["name"] == "finalize"
    assert status["rollout"]["state"] == PROMOTED
    assert status["rollout"]["passed"] == [10, 50, 100]


def test_a_killed_rollout_can_be_rolled_back_on_request(
    system: LocalSystem, tmp_path: Path
) -> None:
    system.step("canary")
    load = SteadyLoad(system.url, rate=20)
    load.start()
    try:
        kill_after_first_judged_weight(system, tmp_path)
    finally:
        load.stop()
    rolled = system.cli("rollout", "--rollback")
    print(f"$ voting rollout --rollback\n{rolled.stdout}{rolled.stderr}")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    status = system.status()
    assert on_stable(status), status["services"]
    assert status["rollout"]["state"] == ROLLED_BACK
    assert "on request" in status["rollout"]["reason"]


def test_sigterm_rolls_back_and_leaves_the_rollout_aborted_interrupted(
    system: LocalSystem, tmp_path: Path
) -> None:
    system.step("canary")
    process = start_cli_rollout(system, tmp_path)
    try:
        wait_until(
            lambda: (
                process.poll() is not None
                or (rollout_of(system).get("pid") == process.pid and rollout_of(system)["weight"])
            ),
            60,
            "the rollout's first weight",
        )
        assert process.poll() is None, (tmp_path / "rollout.log").read_text()
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(60)
    finally:
        stop_cli_rollout(process)
    log = (tmp_path / "rollout.log").read_text()
    assert returncode == 3 and "rollout aborted: interrupted" in log, log
    status = system.status()
    assert status["rollout"]["state"] == ABORTED, status["rollout"]
    assert status["rollout"]["reason"] == "interrupted"
    assert status["rollout"]["lease_expires_at"] is None
    assert on_stable(status), status["services"]
