"""A canary rollout's progress as the dashboard reads it (`voting rollout` reports it to the
control plane; `voting status` carries it): the weight, each judged interval's gates, the
lease, and the state, `controller-lost` included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesh.rollout_lease import CONTROLLER_LOST


@dataclass(frozen=True)
class GateReading:
    """One metric gate judged over one interval: its value against its bound, and the verdict."""

    name: str
    bound: str
    value: float | None
    verdict: str  # pass | fail | inconclusive
    detail: str = ""


@dataclass(frozen=True)
class RolloutInterval:
    """One judged interval of a canary: the weight it ran at and what its gates said."""

    time: float
    weight: int
    gates: tuple[GateReading, ...] = ()
    phase: str = "weight"  # mirror | ab | weight
    iteration: int = 0  # A/B: which iteration


@dataclass(frozen=True)
class RolloutPhase:
    """What the rollout is doing now: mirror, ab, weight, confirm (waiting at a gate), or
    its end; `detail` is its own words ("A/B iteration 1/3: matching users to v2-0")."""

    kind: str
    detail: str = ""
    gate: str = ""  # confirm: which gate (confirm-promotion, confirm-traffic-increase...)


@dataclass(frozen=True)
class RolloutProgress:
    """A canary rollout as it reports itself: state, weight, last gates, one line per interval.

    ``state`` is running, promoted, rolled-back or aborted, or controller-lost when the
    status read shows that the controller's lease expired (`mesh.rollout_lease.observe`);
    ``reason`` says why it ended. ``weights``, ``service`` and ``canary`` describe the plan
    when the rollout reports them; ``pid`` and ``lease_expires_at`` its controller's lease.
    """

    state: str
    weight: int
    reason: str = ""
    gates: tuple[GateReading, ...] = ()
    history: tuple[RolloutInterval, ...] = ()
    started: float | None = None
    finished: float | None = None
    weights: tuple[int, ...] = ()
    service: str | None = None
    canary: str | None = None
    interval: float | None = None
    passed: tuple[int, ...] = ()
    pid: int | None = None
    lease_expires_at: float | None = None
    phase: RolloutPhase | None = None
    paused: bool = False
    failed_checks: int = 0
    threshold: int = 1
    events: tuple[tuple[float, str], ...] = ()  # who paused, confirmed, aborted, and when
    iterations: int = 0  # A/B: how many judged intervals the matching users get
    mirror: bool = False  # a mirror phase comes first
    phases_passed: int = 0

    @property
    def waiting(self) -> bool:
        """Held at a confirm gate until a webhook says yes or someone confirms (c)."""
        return self.running and self.phase is not None and self.phase.kind == "confirm"

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def lost(self) -> bool:
        """Its controller stopped reporting while routes were mid-way: someone must act."""
        return self.state == CONTROLLER_LOST


def _gates(items: Any) -> tuple[GateReading, ...]:
    return tuple(
        GateReading(
            name=str(g.get("name", "?")),
            bound=str(g.get("bound", "")),
            value=_float(g.get("value")),
            verdict=str(g.get("verdict", "inconclusive")),
            detail=str(g.get("detail") or ""),
        )
        for g in items or ()
        if isinstance(g, dict)
    )


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def rollout_from_json(data: Any) -> RolloutProgress | None:
    """The status JSON's "rollout" block (null when none ran) as a RolloutProgress."""
    if not isinstance(data, dict) or "state" not in data:
        return None
    return RolloutProgress(
        state=str(data["state"]),
        weight=int(data.get("weight") or 0),
        reason=str(data.get("reason") or ""),
        gates=_gates(data.get("gates")),
        history=tuple(
            RolloutInterval(
                float(h.get("time", 0)),
                int(h.get("weight", 0)),
                _gates(h.get("gates")),
                phase=str((h.get("phase") or {}).get("kind") or "weight"),
                iteration=int((h.get("phase") or {}).get("iteration") or 0),
            )
            for h in data.get("history") or ()
            if isinstance(h, dict)
        ),
        started=_float(data.get("started")),
        finished=_float(data.get("finished")),
        weights=tuple(int(w) for w in data.get("weights") or ()),
        service=data.get("service"),
        canary=data.get("canary"),
        interval=_float(data.get("interval")),
        passed=tuple(int(w) for w in data.get("passed") or ()),
        pid=int(data["pid"]) if isinstance(data.get("pid"), int) else None,
        lease_expires_at=_float(data.get("lease_expires_at")),
        phase=_phase(data.get("phase")),
        paused=bool(data.get("paused")),
        failed_checks=int(data.get("failed_checks") or 0),
        threshold=int((data.get("spec") or {}).get("threshold") or 1),
        iterations=int(data.get("iterations") or 0),
        mirror=bool(data.get("mirror")),
        phases_passed=int(data.get("phases_passed") or 0),
        events=tuple(
            (float(e.get("time") or 0), str(e.get("message") or ""))
            for e in data.get("events") or ()
            if isinstance(e, dict)
        ),
    )


def _phase(data: Any) -> RolloutPhase | None:
    if not isinstance(data, dict) or not data.get("kind"):
        return None
    return RolloutPhase(
        kind=str(data["kind"]),
        detail=str(data.get("detail") or ""),
        gate=str(data.get("gate") or ""),
    )
