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
                float(h.get("time", 0)), int(h.get("weight", 0)), _gates(h.get("gates"))
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
    )
