"""A rollout's progress as reported to the running system: the one schema, its lease, resuming.

The controller reports (`PUT /rollout`) at least every `heartbeat_every(spec)` seconds::

    {"state": "running",            # running | promoted | rolled-back | aborted
     "weight": 25, "reason": "", "gates": [...], "history": [...],
     "started": t0, "finished": null,
     "service": "voting-app", "canary": "v2-0", "weights": [10, 25, 50, 100], "interval": 30,
     "passed": [10],                # weights whose gates all passed, in order
     "spec": {...},                 # the whole RolloutSpec, so `--resume` can go on with it
     "pid": 4242, "heartbeat": t,   # the controller and when it last reported (wall clock)
     "lease_expires_at": t + 2 * interval}

Whoever reads it (`LocalMesh.status()`) passes it through `mesh.rollout_lease.observe`: a
running rollout whose lease has expired is shown as `controller-lost`, with the state it last
reported kept in `reported_state` (the states and the lease's reading live in mesh, below
both the system that holds the progress and the controller that writes it). From there `plan_resume` says how `voting rollout --resume` goes on (from
the weight after the last one judged to pass), and `rolled_back` what `--rollback` reports.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from mesh.rollout_lease import CONTROLLER_LOST, FINAL_STATES, ROLLED_BACK, RUNNING, observe
from rollout.errors import ResumeError
from rollout.routing import WEIGHT, plan
from rollout.spec import RolloutSpec, SpecError, parse_spec

LEASE_INTERVALS = 2  # a controller silent for this many intervals is lost
MIN_LEASE_S = 5.0  # ... but never less than this, so a busy machine is not taken for a dead one


def lease_seconds(spec: RolloutSpec) -> float:
    return max(LEASE_INTERVALS * spec.interval, MIN_LEASE_S)


def heartbeat_every(spec: RolloutSpec) -> float:
    """How often a controller reports while waiting: four reports per lease."""
    return lease_seconds(spec) / 4


# ---------------------------------------------------------------- the spec, as JSON
def spec_to_json(spec: RolloutSpec) -> dict[str, Any]:
    """The spec in its YAML shape (`RolloutSpec.to_json`), so resuming parses it again."""
    return spec.to_json()


def spec_from_json(data: Any) -> RolloutSpec:
    if not isinstance(data, dict):
        raise ResumeError("the rollout's progress carries no spec to resume with")
    try:
        return parse_spec(data)
    except SpecError as exc:
        raise ResumeError(f"the rollout's spec in progress cannot be read: {exc}") from exc


# ---------------------------------------------------------------- writing progress
def progress_json(
    outcome: dict[str, Any],
    spec: RolloutSpec,
    *,
    passed: list[int],
    pid: int,
    now: float | None = None,
) -> dict[str, Any]:
    """What a controller reports: its outcome so far, its plan, and a lease while running."""
    now = time.time() if now is None else now
    data = {
        **outcome,
        "service": spec.service,
        "canary": spec.canary,
        "weights": [] if spec.ab_testing else list(spec.weights),
        "iterations": spec.iterations,
        "mirror": spec.mirror,
        "interval": spec.interval,
        "passed": list(passed),
        "spec": spec_to_json(spec),
        "pid": pid,
        "heartbeat": now,
        "lease_expires_at": now + lease_seconds(spec) if outcome["state"] == RUNNING else None,
    }
    return data


def rolled_back(
    progress: dict[str, Any] | None, reason: str, now: float | None = None
) -> dict[str, Any]:
    """The progress `voting rollout --rollback` reports once the routes are back on stable."""
    now = time.time() if now is None else now
    base = dict(progress or {"weight": 0, "history": [], "gates": [], "started": now})
    base.pop("reported_state", None)
    return {
        **base,
        "state": ROLLED_BACK,
        "reason": reason,
        "finished": now,
        "lease_expires_at": None,
    }


# ---------------------------------------------------------------- resuming
@dataclass(frozen=True)
class ResumePlan:
    """How `--resume` goes on: the spec, the weights still to run, what was seen before."""

    spec: RolloutSpec
    passed: tuple[int, ...] = ()
    history: tuple[dict[str, Any], ...] = ()
    started: float | None = None
    lost_pid: int | None = None
    last_weight: int = 0
    phases_done: int = 0  # how many phases of `rollout.routing.plan(spec)` passed
    cookie: str = ""  # the session-affinity cookie value users already carry
    notes: list[str] = field(default_factory=list)

    @property
    def weights(self) -> tuple[int, ...]:
        """The weight steps still to run (what `--resume` says it will do)."""
        return tuple(p.weight for p in plan(self.spec)[self.phases_done :] if p.kind == WEIGHT)


def plan_resume(progress: dict[str, Any] | None, now: float | None = None) -> ResumePlan:
    """The rest of a lost rollout: every planned weight above the last one judged to pass.

    Refused (ResumeError) when no rollout ran, when it has ended, or while its controller's
    lease is live (someone owns the routes)."""
    now = time.time() if now is None else now
    progress = observe(progress, now)
    if not isinstance(progress, dict) or "state" not in progress:
        raise ResumeError("no rollout to resume: status shows none")
    state = progress["state"]
    if state in FINAL_STATES:
        raise ResumeError(f"nothing to resume: the rollout has ended ({state})")
    if state == RUNNING:
        raise ResumeError(_owned(progress))
    if state != CONTROLLER_LOST:
        raise ResumeError(f"cannot resume a rollout in state {state!r}")
    spec = spec_from_json(progress.get("spec"))
    passed = tuple(int(w) for w in progress.get("passed") or ())
    last = max(passed, default=0)
    done = progress.get("phases_passed")
    if not isinstance(done, int) or isinstance(done, bool):
        done = len([w for w in spec.weights if w <= last])
    return ResumePlan(
        phases_done=done,
        cookie=str(progress.get("cookie") or ""),
        spec=spec,
        passed=passed,
        history=tuple(h for h in progress.get("history") or () if isinstance(h, dict)),
        started=progress.get("started"),
        lost_pid=progress.get("pid"),
        last_weight=int(progress.get("weight") or 0),
    )


def check_rollback(progress: dict[str, Any] | None, now: float | None = None) -> RolloutSpec:
    """The spec whose rollback step `--rollback` applies; refused while a live controller runs."""
    progress = observe(progress, time.time() if now is None else now)
    if isinstance(progress, dict) and progress.get("state") == RUNNING:
        raise ResumeError(_owned(progress) + " (stop it: SIGTERM rolls back)")
    if isinstance(progress, dict) and isinstance(progress.get("spec"), dict):
        return spec_from_json(progress["spec"])
    return RolloutSpec()


def _owned(progress: dict[str, Any]) -> str:
    expires = progress.get("lease_expires_at")
    until = time.strftime("%H:%M:%S", time.localtime(expires)) if expires else "?"
    return (
        f"the rollout is running: controller pid {progress.get('pid', '?')} holds its lease "
        f"until {until}"
    )
