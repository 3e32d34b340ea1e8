"""A rollout's lease, how a lost one is shown, and how `--resume` / `--rollback` go on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mesh.rollout_lease import CONTROLLER_LOST, RUNNING, describe, lease_expired, observe
from rollout import controller as controller_mod
from rollout.controller import ABORTED, PROMOTED, Rollout
from rollout.gates import PASS, GateResult
from rollout.progress import (
    ResumeError,
    check_rollback,
    plan_resume,
    progress_json,
    spec_from_json,
    spec_to_json,
)
from rollout.spec import Gate, RolloutSpec, parse_spec
from tests.support.fake_router import FakeRouter

SPEC = RolloutSpec(interval=10.0, weights=(10, 25, 50, 100))
NOW = 1_000_000.0


def running(passed: list[int], weight: int, now: float = NOW) -> dict[str, Any]:
    outcome = {"state": RUNNING, "weight": weight, "reason": "", "history": [], "gates": []}
    return progress_json(outcome, SPEC, passed=passed, pid=4242, now=now)


def test_a_running_rollout_holds_a_lease_of_two_intervals() -> None:
    progress = running([10], 25)
    assert progress["lease_expires_at"] == NOW + 20 and progress["pid"] == 4242
    assert not lease_expired(progress, NOW + 19.9)
    assert lease_expired(progress, NOW + 20.1)


def test_a_short_interval_still_gets_a_lease_a_busy_machine_can_keep() -> None:
    spec = RolloutSpec(interval=1.0)
    outcome = {"state": RUNNING, "weight": 10}
    progress = progress_json(outcome, spec, passed=[], pid=1, now=NOW)
    assert progress["lease_expires_at"] - NOW >= 5


def test_an_ended_rollout_has_no_lease_and_is_never_lost() -> None:
    outcome = {"state": PROMOTED, "weight": 100, "reason": "ok"}
    progress = progress_json(outcome, SPEC, passed=[10, 25, 50, 100], pid=1, now=NOW)
    assert progress["lease_expires_at"] is None
    assert observe(progress, NOW + 10_000)["state"] == PROMOTED


def test_an_expired_lease_is_shown_as_controller_lost_with_what_to_do() -> None:
    progress = running([10], 25)
    assert observe(progress, NOW + 5) is progress
    lost = observe(progress, NOW + 21)
    assert lost["state"] == CONTROLLER_LOST and lost["reported_state"] == RUNNING
    assert "4242" in lost["reason"] and "--resume" in lost["reason"]
    line = describe(lost)
    assert line is not None and line.startswith("rollout CONTROLLER-LOST at 25%")
    assert "lease until" in (describe(progress) or "")
    assert observe(None) is None and describe(None) is None


def test_the_spec_survives_the_trip_through_status() -> None:
    spec = RolloutSpec(interval=3.0, weights=(20, 100), gates=(Gate("fast", "latency_p50", max=9),))
    assert spec_from_json(spec_to_json(spec)) == spec
    with pytest.raises(ResumeError):
        spec_from_json(None)


def test_resume_goes_on_after_the_last_weight_that_passed() -> None:
    plan = plan_resume(running([10, 25], 50), NOW + 30)
    assert plan.weights == (50, 100) and plan.passed == (10, 25)
    assert plan.spec == SPEC and plan.lost_pid == 4242 and plan.last_weight == 50


def test_resume_before_any_weight_passed_starts_from_the_first() -> None:
    assert plan_resume(running([], 10), NOW + 30).weights == SPEC.weights


def test_resume_after_every_weight_passed_only_promotes() -> None:
    assert plan_resume(running([10, 25, 50, 100], 100), NOW + 30).weights == ()


@pytest.mark.parametrize(
    ("progress", "message"),
    [
        (None, "no rollout"),
        ({"state": "promoted", "weight": 100}, "has ended"),
        ("live", "holds its lease"),
    ],
)
def test_resume_is_refused_without_a_lost_rollout(progress: Any, message: str) -> None:
    if progress == "live":
        progress = running([10], 25)
    with pytest.raises(ResumeError, match=message):
        plan_resume(progress, NOW + 1)


def test_rollback_is_refused_while_the_controller_is_alive_and_uses_its_spec_after() -> None:
    with pytest.raises(ResumeError, match="SIGTERM"):
        check_rollback(running([10], 25), NOW + 1)
    assert check_rollback(running([10], 25), NOW + 30) == SPEC
    assert check_rollback(None) == RolloutSpec()


# ---------------------------------------------------------------- the controller, faked
@pytest.fixture
def gates_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    async def evaluate(*_: Any) -> list[GateResult]:
        return [GateResult("canary-requests", ">= 1", 9.0, PASS, "enough")]

    monkeypatch.setattr(controller_mod, "evaluate", evaluate)


def test_a_resumed_rollout_runs_only_the_rest_and_keeps_reporting(gates_pass: None) -> None:
    spec = RolloutSpec(interval=0.01, weights=(10, 25, 50, 100))
    outcome = {"state": RUNNING, "weight": 25, "history": [{"weight": 10, "gates": []}]}
    lost = progress_json(outcome, spec, passed=[10], pid=7, now=NOW)
    plan = plan_resume(lost, NOW + 100)
    router, reports = FakeRouter(), []

    async def report(progress: dict[str, Any]) -> None:
        reports.append(progress)

    result = asyncio.run(
        Rollout(spec, router, None, report=report, on_event=lambda _: None, resume=plan).run()  # type: ignore[arg-type]
    )
    assert result.state == PROMOTED and result.passed == [10, 25, 50, 100]
    assert [r[1].weight for r in router.routes] == [25, 50, 100]
    assert router.steps == ["finalize"]
    assert reports[-1]["state"] == PROMOTED and reports[-1]["lease_expires_at"] is None
    assert all(r["lease_expires_at"] for r in reports if r["state"] == RUNNING)


def test_resume_refuses_when_the_step_in_force_changed(gates_pass: None) -> None:
    plan = plan_resume(running([10], 25), NOW + 30)
    rollout = Rollout(SPEC, FakeRouter("lock-down"), None, resume=plan, on_event=lambda _: None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="not canary"):
        asyncio.run(rollout.run())


def test_a_cancelled_rollout_rolls_back_and_reports_aborted_with_its_reason(
    gates_pass: None,
) -> None:
    spec = RolloutSpec(interval=30.0)
    router, reports = FakeRouter(), []

    async def report(progress: dict[str, Any]) -> None:
        reports.append(progress)

    async def go() -> None:
        rollout = Rollout(
            spec, router, None, report=report, on_event=lambda _: None,  # type: ignore[arg-type]
            cancel_reason="interrupted",
        )  # fmt: skip
        task = asyncio.create_task(rollout.run())
        while not reports:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert router.steps == ["lock-down"]
    assert reports[-1]["state"] == ABORTED and reports[-1]["reason"] == "interrupted"
    assert reports[-1]["lease_expires_at"] is None


def test_a_lost_ab_rollout_resumes_from_the_iteration_after_the_last_that_passed(
    gates_pass: None,
) -> None:
    """Phases, not weights, are what a resumed rollout counts: an A/B rollout with one of
    three iterations passed runs the other two, and a session cookie users hold is kept."""
    match = [{"headers": {"x-canary": {"exact": "insider"}}}]
    spec = parse_spec({"iterations": 3, "match": match, "interval": "10ms"})
    outcome = {"state": RUNNING, "weight": 0, "phases_passed": 1, "cookie": "c0ffee"}
    plan = plan_resume(progress_json(outcome, spec, passed=[], pid=7, now=NOW), NOW + 100)
    assert (plan.phases_done, plan.cookie) == (1, "c0ffee")
    router = FakeRouter()
    result = asyncio.run(
        Rollout(spec, router, None, on_event=lambda _: None, resume=plan).run()  # type: ignore[arg-type]
    )
    assert result.state == PROMOTED and result.phases_passed == 3
    assert len(router.http) == 2 and result.cookie == "c0ffee"
