"""The canary loop: step the weights, judge each interval, then promote or roll back.

Cookie users (`featureflag=on`) reach the canary at every weight (the canary step's first
rule), so they stay on 2.0 throughout: weights only move the users without the cookie.
Works on any `Router` (the local system or a cluster); it never knows which.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mesh.rollout_lease import ABORTED, PROMOTED, ROLLED_BACK, RUNNING
from mesh.router.base import Route, Router
from rollout.gates import FAIL, INCONCLUSIVE, GateResult, evaluate
from rollout.progress import ResumePlan, heartbeat_every, progress_json
from rollout.spec import RolloutSpec
from telemetry.errors import PrometheusError
from telemetry.prometheus import PrometheusClient

Reporter = Callable[[dict[str, Any]], Awaitable[None]]

__all__ = ["ABORTED", "PROMOTED", "ROLLED_BACK", "RUNNING", "Outcome", "Rollout"]


@dataclass
class Outcome:
    """How the rollout ended, and what it saw on the way."""

    state: str = RUNNING
    weight: int = 0
    reason: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    passed: list[int] = field(default_factory=list)  # weights whose gates all passed
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "weight": self.weight,
            "reason": self.reason,
            "history": self.history[-20:],
            "gates": self.history[-1]["gates"] if self.history else [],
            "started": self.started,
            "finished": self.finished,
        }


class Rollout:
    """One canary run against a router and a Prometheus.

    With a `report`, it reports its progress (`rollout.progress`) on every change and, while
    it waits, at least every `heartbeat_every(spec)` seconds, so that its lease stays live.
    `resume` goes on with a lost rollout from the weight after the last one that passed.
    Cancelled (the dashboard quitting, SIGTERM), it rolls back and reports `aborted`.
    """

    def __init__(
        self,
        spec: RolloutSpec,
        router: Router,
        prometheus: PrometheusClient,
        *,
        report: Reporter | None = None,
        on_event: Callable[[str], None] = print,
        resume: ResumePlan | None = None,
        cancel_reason: str = "rollout cancelled",
    ) -> None:
        self.spec = spec
        self.router = router
        self.prometheus = prometheus
        self.report = report
        self.on_event = on_event
        self.resume = resume
        self.cancel_reason = cancel_reason
        self.outcome = Outcome()
        if resume is not None:
            self.outcome.history = list(resume.history)
            self.outcome.passed = list(resume.passed)
            self.outcome.weight = resume.last_weight
            if resume.started:
                self.outcome.started = resume.started
        self._reporting = asyncio.Lock()

    async def _publish(self) -> None:
        if self.report is None:
            return
        async with self._reporting:  # one report at a time, each built when it is sent
            payload = progress_json(
                self.outcome.to_json(), self.spec, passed=self.outcome.passed, pid=os.getpid()
            )
            try:
                await self.report(payload)
            except Exception as exc:  # progress reports must never stop a rollout
                self.on_event(f"could not report progress: {exc}")

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(heartbeat_every(self.spec))
            await self._publish()

    def _event(self, message: str) -> None:
        self.on_event(f"[rollout] {message}")

    async def run(self) -> Outcome:
        heartbeat = asyncio.create_task(self._heartbeat()) if self.report else None
        try:
            return await self._run()
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
                await asyncio.wait([heartbeat])

    async def _run(self) -> Outcome:
        spec = self.spec
        status = await self.router.status()
        step = (status.get("step") or {}).get("name")
        weights = spec.weights
        if self.resume is not None:
            if step != "canary":
                raise RuntimeError(
                    f"cannot resume: the step in force is {step}, not canary (the routes were "
                    "changed since); `voting rollout --rollback` or start a new rollout"
                )
            weights = self.resume.weights
            passed = ", ".join(f"{w}%" for w in self.resume.passed) or "none"
            self._event(
                f"resuming after controller pid {self.resume.lost_pid} was lost "
                f"(passed: {passed}; to run: {', '.join(f'{w}%' for w in weights) or 'none'})"
            )
        try:
            if step != "canary":
                self._event(f"applying the canary step (was {step})")
                status = await self.router.apply_step("canary")
            canary_workloads = {
                w["name"]
                for w in status.get("workloads", [])
                if w.get("version") == spec.canary_version
            }
            for weight in weights:
                if not await self._run_weight(weight, canary_workloads):
                    return self.outcome
            self._event(f"every gate passed at every weight: promoting ({spec.promote_step})")
            await self.router.apply_step(spec.promote_step)
            self._finish(PROMOTED, "every gate passed at every weight")
        except asyncio.CancelledError:
            await self._rollback(ABORTED, self.cancel_reason)
            raise
        await self._publish()
        return self.outcome

    async def _run_weight(self, weight: int, canary_workloads: set[str]) -> bool:
        spec = self.spec
        self.outcome.weight = weight
        routes = [Route(spec.primary, 100 - weight), Route(spec.canary, weight)]
        await self.router.set_routes(spec.service, routes)
        self._event(f"weight {weight}% to {spec.canary} ({100 - weight}% {spec.primary})")
        await self._publish()
        inconclusive = 0
        while True:
            await asyncio.sleep(spec.interval)
            results = await self._judge(canary_workloads)
            self.outcome.history.append(
                {"time": time.time(), "weight": weight, "gates": [r.to_json() for r in results]}
            )
            self._event(
                f"weight {weight}%: "
                + ", ".join(f"{r.name}={_show(r.value)} {r.verdict}" for r in results)
            )
            failed = [r for r in results if r.verdict == FAIL]
            if failed:
                reasons = "; ".join(f"{r.name} {_show(r.value)} (needs {r.bound})" for r in failed)
                await self._rollback(ROLLED_BACK, f"gate failed at weight {weight}%: {reasons}")
                return False
            if any(r.verdict == INCONCLUSIVE for r in results):
                inconclusive += 1
                await self._publish()
                if inconclusive >= spec.max_inconclusive:
                    details = "; ".join(
                        f"{r.name}: {r.detail}" for r in results if r.verdict == INCONCLUSIVE
                    )
                    await self._rollback(
                        ABORTED,
                        f"inconclusive at weight {weight}% for {inconclusive} intervals ({details})",
                    )
                    return False
                continue
            self.outcome.passed.append(weight)
            await self._publish()
            return True

    async def _judge(self, canary_workloads: set[str]) -> list[GateResult]:
        try:
            return await evaluate(self.prometheus, self.spec, canary_workloads)
        except PrometheusError as exc:
            return [GateResult("prometheus", "answers", None, INCONCLUSIVE, str(exc))]

    async def _rollback(self, state: str, reason: str) -> None:
        self._event(f"{state}: {reason}; rolling back ({self.spec.rollback_step})")
        await self.router.apply_step(self.spec.rollback_step)
        self._finish(state, reason)
        await self._publish()

    def _finish(self, state: str, reason: str) -> None:
        self.outcome.state = state
        self.outcome.reason = reason
        self.outcome.finished = time.time()


def _show(value: float | None) -> str:
    return "no-data" if value is None else f"{value:.3g}"
