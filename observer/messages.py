"""Messages the dashboard's workers post back to the app, gathered in one place.

Workers never touch widgets; they post one of these and the app's handlers update the
screen. Periodic results replace a pending one of the same kind (``can_replace``) so a slow
UI never works through a backlog of stale ticks.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from observer.model import MeshState, Metrics, Votes
from observer.traffic import TrafficResult
from rollout.controller import Outcome


@dataclass
class StateRead(Message):
    """The control plane answered with the state in force."""

    state: MeshState

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateRead)


@dataclass
class StateFailed(Message):
    """The control plane could not be read; the app retries with backoff."""

    error: str


@dataclass
class MetricsRead(Message):
    """One round of Prometheus queries (its state may say unreachable)."""

    metrics: Metrics

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, MetricsRead)


@dataclass
class VotesRead(Message):
    """Vote counts read through the ingress."""

    votes: Votes

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, VotesRead)


@dataclass
class StepApplied(Message):
    """A rollout step is in force."""

    step: int
    state: MeshState


@dataclass
class StepFailed(Message):
    """A rollout step was refused; the previous configuration stays."""

    step: int
    error: str


@dataclass
class StepChosen(Message):
    """The user picked a step (click on the step bar); the app asks for confirmation."""

    step: int


@dataclass
class TrafficFinished(Message):
    """A demo traffic run ended (stopped or done)."""

    result: TrafficResult


@dataclass
class RolloutNoted(Message):
    """A rollout started from the dashboard said something (a weight, gates, the end)."""

    message: str


@dataclass
class RolloutFinished(Message):
    """A rollout started from the dashboard ended: promoted, rolled back or aborted."""

    outcome: Outcome


@dataclass
class RolloutFailed(Message):
    """A rollout started from the dashboard could not run (no system, no Prometheus, ...)."""

    error: str
