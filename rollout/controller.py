"""The canary loop: run each phase, judge each interval, then promote or roll back.

Phases (`rollout.routing.plan`): an optional mirror phase, then A/B iterations or weight
steps. Each interval the gates, metrics and `rollout` webhooks are judged: a failed check
counts towards `threshold` (in a row; the phase is judged again), `maxInconclusive`
inconclusive intervals in a row abort, a pass moves on. `confirm-*` webhooks hold the rollout
until they answer 2xx or `voting rollout confirm` arrives; `rollback` webhooks roll back when
they answer 2xx. Commands (`voting rollout pause|resume|promote|abort|confirm`) arrive
through `commands` and are acted on within a second (rollout/steering.py).

Cookie users (`featureflag=on`) reach the canary at every weight (the canary step's first
rule), so they stay on 2.0 throughout: the rollout's rules only move the other users.
Works on any `Router` (the local system or a cluster); it never knows which.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mesh.rollout_lease import ABORTED, PROMOTED, ROLLED_BACK, RUNNING
from mesh.router.base import Router
from rollout import steering as steering_module
from rollout.gates import FAIL, INCONCLUSIVE, PASS, GateResult, evaluate
from rollout.progress import ResumePlan, heartbeat_every, progress_json
from rollout.routing import AB, MIRROR, WEIGHT, Phase, phase_rules, plan
from rollout.spec import RolloutSpec
from rollout.steering import Commands, Steering, Stop
from rollout.webhooks import HookResult, Webhook, call_all
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
    phases_passed: int = 0
    phase: dict[str, Any] = field(default_factory=dict)
    paused: bool = False
    failed_checks: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    cookie: str = ""
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "weight": self.weight,
            "reason": self.reason,
            "history": self.history[-20:],
            "gates": self.history[-1]["gates"] if self.history else [],
            "phases_passed": self.phases_passed,
            "phase": self.phase,
            "paused": self.paused,
            "failed_checks": self.failed_checks,
            "events": self.events[-20:],
            "cookie": self.cookie,
            "started": self.started,
            "finished": self.finished,
        }


class Rollout:
    """One canary run against a router and a Prometheus.

    With a `report`, it reports its progress (`rollout.progress`) on every change and, while
    it waits, at least every `heartbeat_every(spec)` seconds, so that its lease stays live.
    `resume` goes on with a lost rollout from the phase after the last one that passed.
    Cancelled (the dashboard quitting, SIGTERM), it rolls back and reports `aborted`.
    """

    def __init__(
        self,
        spec: RolloutSpec,
        router: Router,
        prometheus: PrometheusClient,
        *,
        report: Reporter | None = None,
        commands: Commands | None = None,
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
        self.outcome = Outcome(cookie=secrets.token_hex(8))
        if resume is not None:
            self.outcome.history = list(resume.history)
            self.outcome.passed = list(resume.passed)
            self.outcome.weight = resume.last_weight
            self.outcome.phases_passed = resume.phases_done
            self.outcome.cookie = resume.cookie or self.outcome.cookie
            if resume.started:
                self.outcome.started = resume.started
        self._reporting = asyncio.Lock()
        self._base: list[dict[str, Any]] = []
        self._touched = resume is not None  # the rollout has changed routes (or took them over)
        self.steering = Steering(
            commands, self.outcome, lambda m, log: self._event(m, log=log), self._publish
        )

    # ------------------------------------------------------------ reporting
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

    def _event(self, message: str, *, log: bool = False) -> None:
        self.on_event(f"[rollout] {message}")
        if log:
            self.outcome.events.append({"time": time.time(), "message": message})

    def _set_phase(self, phase: Phase | None, kind: str | None = None, **extra: Any) -> None:
        data = phase.to_json() if phase else {}
        if kind:
            data["kind"] = kind
        data["detail"] = extra.pop("detail", phase.describe(self.spec) if phase else "")
        self.outcome.phase = {**data, **extra}

    # ------------------------------------------------------------ the run
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
        full = plan(spec)
        offset = self.resume.phases_done if self.resume is not None else 0
        phases = full[offset:]
        if self.resume is not None:
            if step != "canary":
                raise RuntimeError(
                    f"cannot resume: the step in force is {step}, not canary (the routes were "
                    "changed since); `voting rollout --rollback` or start a new rollout"
                )
            passed = ", ".join(f"{w}%" for w in self.resume.passed) or "none"
            self._event(
                f"resuming after controller pid {self.resume.lost_pid} was lost "
                f"(passed: {passed}; to run: {', '.join(p.describe(spec) for p in phases) or 'none'})"
            )
        try:
            if self.resume is None:
                await self._confirm("confirm-rollout", "Waiting", None)
            if step != "canary":
                self._event(f"applying the canary step (was {step})")
                self._touched = True
                status = await self.router.apply_step("canary")
            if self.resume is None and not await self._pre_rollout(step):
                return self.outcome
            canary_workloads = {
                w["name"]
                for w in status.get("workloads", [])
                if w.get("version") == spec.canary_version
            }
            self._base = await self.router.get_http(spec.service)
            for index, phase in enumerate(phases, start=offset):
                first_weight = index == 0 or full[index - 1].kind != WEIGHT
                if phase.kind == WEIGHT and not first_weight:
                    await self._confirm("confirm-traffic-increase", "Progressing", phase)
                if not await self._run_phase(phase, canary_workloads):
                    return self.outcome
            await self._confirm("confirm-promotion", "WaitingPromotion", None)
            await self._promote("every gate passed in every phase")
        except Stop as stop:
            if stop.verb == "promote":
                await self._promote(f"promoted by {stop.by} on request")
            else:
                await self._rollback(ABORTED, f"aborted by {stop.by} on request")
        except asyncio.CancelledError:
            await self._rollback(ABORTED, self.cancel_reason)
            raise
        return self.outcome

    async def _pre_rollout(self, step_before: str | None) -> bool:
        """Run the pre-rollout hooks once the canary is deployed (step 4), before any weight
        moves; on a failure, abort and put back the step that was in force before."""
        hooks = self.spec.hooks("pre-rollout")
        if not hooks:
            return True
        results = await self._hooks(hooks, "Progressing")
        failed = [r for r in results if not r.ok]
        if not failed:
            passed = ", ".join(f"{r.name} {r.detail}" for r in results)
            self._event(f"pre-rollout webhooks passed: {passed}", log=True)
            return True
        reason = "pre-rollout webhook failed: " + "; ".join(f"{r.name} {r.detail}" for r in failed)
        self._event(f"{ABORTED}: {reason}; no weight was moved", log=True)
        if step_before and step_before != "canary":
            self._event(f"putting back the step in force before ({step_before})")
            await self.router.apply_step(step_before)
        await self._end(ABORTED, reason)
        return False

    async def _run_phase(self, phase: Phase, canary_workloads: set[str]) -> bool:
        spec = self.spec
        self.outcome.weight = phase.weight
        self._set_phase(phase)
        rules = phase_rules(self._base, spec, phase, self.outcome.cookie)
        self._touched = True
        await self.router.set_http(spec.service, rules)
        self._event(phase.describe(spec))
        await self._publish()
        inconclusive = 0
        label = _label(phase)
        while True:
            # `rollout` hooks are called as each interval starts (a load test then feeds the
            # interval it is judged with, as Flagger's loadtester does) and judged at its end
            hooks = await self._hooks(spec.hooks("rollout"), "Progressing")
            await self.steering.wait(spec.interval)
            results = await self._judge(canary_workloads, phase.kind == MIRROR, hooks)
            self.outcome.history.append(
                {
                    "time": time.time(),
                    "weight": phase.weight,
                    "phase": phase.to_json(),
                    "gates": [r.to_json() for r in results],
                }
            )
            self._event(
                f"{label}: " + ", ".join(f"{r.name}={_shown(r)} {r.verdict}" for r in results)
            )
            if await self._rollback_requested():
                return False
            failed = [r for r in results if r.verdict == FAIL]
            if failed:
                inconclusive = 0  # "in a row": a failed check ends an inconclusive streak
                self.outcome.failed_checks += 1
                reasons = "; ".join(f"{r.name} {_shown(r)} (needs {r.bound})" for r in failed)
                if self.outcome.failed_checks >= spec.threshold:
                    await self._rollback(ROLLED_BACK, f"gate failed at {label}: {reasons}")
                    return False
                self._event(
                    f"failed check {self.outcome.failed_checks} of {spec.threshold} at {label} "
                    f"({reasons}); judging it again",
                    log=True,
                )
                await self._publish()
                continue
            if any(r.verdict == INCONCLUSIVE for r in results):
                inconclusive += 1
                await self._publish()
                if inconclusive >= spec.max_inconclusive:
                    details = "; ".join(
                        f"{r.name}: {r.detail}" for r in results if r.verdict == INCONCLUSIVE
                    )
                    await self._rollback(
                        ABORTED,
                        f"inconclusive at {label} for {inconclusive} intervals ({details})",
                    )
                    return False
                continue
            self.outcome.failed_checks = 0
            if phase.kind == WEIGHT:
                self.outcome.passed.append(phase.weight)
            self.outcome.phases_passed += 1
            await self._publish()
            return True

    async def _judge(
        self, canary_workloads: set[str], mirroring: bool, hooks: list[HookResult]
    ) -> list[GateResult]:
        try:
            results = list(await evaluate(self.prometheus, self.spec, canary_workloads, mirroring))
        except PrometheusError as exc:
            results = [GateResult("prometheus", "answers", None, INCONCLUSIVE, str(exc))]
        for hook in hooks:
            verdict = PASS if hook.ok else FAIL
            results.append(GateResult(f"webhook {hook.name}", "2xx", None, verdict, hook.detail))
        return results

    async def _rollback_requested(self) -> bool:
        hooks = self.spec.hooks("rollback")
        if not hooks:
            return False
        said = [r for r in await self._hooks(hooks, "Progressing") if r.ok]
        if not said:
            return False
        await self._rollback(ROLLED_BACK, f"rollback webhook {said[0].name} answered 2xx")
        return True

    # ------------------------------------------------------------ gates and commands
    async def _confirm(self, kind: str, flagger_phase: str, phase: Phase | None) -> None:
        """Wait until every `kind` webhook answers 2xx or `voting rollout confirm` arrives."""
        hooks = self.spec.hooks(kind)
        if not hooks:
            return
        names = ", ".join(h.name for h in hooks)
        before = self.outcome.phase
        self._set_phase(phase, kind="confirm", gate=kind, detail=f"waiting for {kind} ({names})")
        self._event(f"waiting for {kind} ({names}) or `voting rollout confirm`")
        await self._publish()
        self.steering.confirmed = None
        while True:
            callable_hooks = [h for h in hooks if h.url]
            if callable_hooks:
                results = await self._hooks(callable_hooks, flagger_phase)
                if all(r.ok for r in results) and len(callable_hooks) == len(hooks):
                    self._event(f"{kind} confirmed by webhook {names}", log=True)
                    break
            if await self._rollback_requested():
                raise Stop("abort", "a rollback webhook")
            await self.steering.wait(
                self.spec.interval if callable_hooks else steering_module.POLL_S
            )
            if self.steering.confirmed:
                self._event(f"{kind} confirmed by {self.steering.confirmed}", log=True)
                break
        self.steering.confirmed = None
        self.outcome.phase = before
        await self._publish()

    async def _hooks(self, hooks: list[Webhook], flagger_phase: str) -> list[HookResult]:
        if not hooks:
            return []
        payload = {
            "name": self.spec.service,
            "namespace": self.spec.namespace,
            "phase": flagger_phase,
        }
        results = await call_all(hooks, payload)
        for result in results:
            if not result.ok:
                self._event(f"webhook {result.name}: {result.detail}")
        return results

    # ------------------------------------------------------------ endings
    async def _promote(self, reason: str) -> None:
        self._set_phase(None, kind="promoting", detail=f"applying {self.spec.promote_step}")
        self._event(f"{reason}: promoting ({self.spec.promote_step})", log=True)
        await self.router.apply_step(self.spec.promote_step)
        await self._end(PROMOTED, reason)

    async def _rollback(self, state: str, reason: str) -> None:
        if self._touched:
            self._event(f"{state}: {reason}; rolling back ({self.spec.rollback_step})", log=True)
            await self.router.apply_step(self.spec.rollback_step)
        else:  # ended before it changed any route: nothing to put back
            self._event(f"{state}: {reason}; no route was changed", log=True)
        await self._end(state, reason)

    async def _end(self, state: str, reason: str) -> None:
        """Record how it ended, call the post-rollout hooks, and report it."""
        outcome = self.outcome
        outcome.state, outcome.reason, outcome.finished = state, reason, time.time()
        outcome.paused = False
        outcome.phase = {"kind": state, "detail": reason}
        flagger_phase = "Succeeded" if state == PROMOTED else "Failed"
        await self._hooks(self.spec.hooks("post-rollout"), flagger_phase)
        await self._publish()


def _label(phase: Phase) -> str:
    if phase.kind == MIRROR:
        return "mirror phase"
    if phase.kind == AB:
        return f"A/B iteration {phase.iteration}"
    return f"weight {phase.weight}%"


def _shown(result: GateResult) -> str:
    """A check's value for the event line; a webhook's is what it answered."""
    if result.value is None and result.name.startswith("webhook "):
        return result.detail
    return _show(result.value)


def _show(value: float | None) -> str:
    return "no-data" if value is None else f"{value:.3g}"
