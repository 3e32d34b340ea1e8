"""The root of the rollout package's errors: every message names the key, hook or state
concerned, and fits the one line `voting rollout` prints::

    RolloutError
    ├── SpecError          (also a ValueError) a spec that cannot run; refused before any
    │   │                  route changes (rollout.spec)
    │   ├── MetricError    a metric or template that cannot be judged (rollout.metrics)
    │   └── WebhookError   a webhook entry that cannot be called (rollout.webhooks)
    └── ResumeError        (also a RuntimeError) nothing to resume or roll back, or a live
                           controller owns the rollout (rollout.progress)

A verb the rollout cannot act on now is the mesh's `CommandRefused` (mesh.rollout_lease),
since the running system refuses it.
"""

from __future__ import annotations


class RolloutError(Exception):
    """Base class: a rollout that cannot start, go on or be steered, said for the user."""


class SpecError(RolloutError, ValueError):
    """A rollout spec that cannot be run; the message names the key."""


class MetricError(SpecError):
    """A metric or template that cannot be judged; the message names it."""


class WebhookError(SpecError):
    """A webhook entry that cannot be called; the message names it."""


class ResumeError(RolloutError, RuntimeError):
    """There is nothing to resume or roll back, or a live controller still owns the rollout."""
