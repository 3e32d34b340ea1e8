"""How the mesh shows a rollout's progress: its states, the controller's lease, one line.

A rollout controller (`rollout/`) writes its progress to the running system (`PUT /rollout`,
schema in `rollout/progress.py`); the system holds it and hands it to every reader. Reading
it (has the lease expired? what does `voting status` say?) lives here, below both the
system and the controller, so neither package imports the other's insides.
"""

from __future__ import annotations

import time
from typing import Any

from mesh.errors import MeshError

RUNNING, PROMOTED, ROLLED_BACK, ABORTED = "running", "promoted", "rolled-back", "aborted"
CONTROLLER_LOST = "controller-lost"
FINAL_STATES = (PROMOTED, ROLLED_BACK, ABORTED)

LOST_HINT = "run `voting rollout --resume` or `voting rollout --rollback`"


def lease_expired(progress: dict[str, Any], now: float) -> bool:
    expires = progress.get("lease_expires_at")
    return (
        progress.get("state") == RUNNING
        and isinstance(expires, int | float)
        and not isinstance(expires, bool)
        and expires < now
    )


def observe(progress: dict[str, Any] | None, now: float | None = None) -> dict[str, Any] | None:
    """The progress as a reader should show it: `controller-lost` once a running lease expired."""
    if not isinstance(progress, dict):
        return progress
    now = time.time() if now is None else now
    if not lease_expired(progress, now):
        return progress
    seen = progress.get("heartbeat")
    when = time.strftime("%H:%M:%S", time.localtime(seen)) if seen else "?"
    return {
        **progress,
        "state": CONTROLLER_LOST,
        "reported_state": progress.get("state"),
        "reason": f"controller pid {progress.get('pid', '?')} silent since {when}, routes left "
        f"at {progress.get('weight', '?')}% to {progress.get('canary', 'the canary')}; {LOST_HINT}",
    }


def describe(progress: dict[str, Any] | None) -> str | None:
    """One line for `voting status` (None when no rollout ran)."""
    if not isinstance(progress, dict) or "state" not in progress:
        return None
    state, weight = progress["state"], progress.get("weight", 0)
    canary = progress.get("canary") or "canary"
    if state == RUNNING:
        expires = progress.get("lease_expires_at")
        until = time.strftime("%H:%M:%S", time.localtime(expires)) if expires else "?"
        phase = progress.get("phase") or {}
        doing = (
            phase["detail"]
            if phase.get("kind") in ("mirror", "ab", "confirm") and phase.get("detail")
            else f"weight {weight}% to {canary}"
        )
        paused = " (PAUSED: `voting rollout resume`)" if progress.get("paused") else ""
        return (
            f"rollout running: {doing}{paused}, passed {_weights(progress)}; "
            f"controller pid {progress.get('pid', '?')}, lease until {until}"
        )
    if state == CONTROLLER_LOST:
        return f"rollout CONTROLLER-LOST at {weight}% to {canary}: {progress.get('reason')}"
    return f"rollout {state} at {weight}%: {progress.get('reason') or ''}".rstrip(": ")


def _weights(progress: dict[str, Any]) -> str:
    passed = progress.get("passed") or []
    return ", ".join(f"{w}%" for w in passed) if passed else "none yet"


VERBS = ("pause", "resume", "promote", "abort", "confirm")


def check_command(progress: dict[str, Any] | None, verb: str, now: float | None = None) -> None:
    """Refuse (CommandRefused) a command the rollout in progress cannot act on, saying why."""
    if verb not in VERBS:
        raise CommandRefused(f"unknown verb {verb!r} (one of {', '.join(VERBS)})")
    progress = observe(progress, now)
    state = progress.get("state") if isinstance(progress, dict) else None
    if state is None:
        raise CommandRefused(f"no rollout to {verb}: status shows none")
    if state == CONTROLLER_LOST:
        raise CommandRefused(f"the rollout's controller is lost; {LOST_HINT}")
    if state != RUNNING:
        raise CommandRefused(f"nothing to {verb}: the rollout has ended ({state})")
    paused = bool(progress.get("paused"))
    if verb == "pause" and paused:
        raise CommandRefused("the rollout is paused already")
    if verb == "resume" and not paused:
        raise CommandRefused("the rollout is not paused")
    if verb == "confirm" and (progress.get("phase") or {}).get("kind") != "confirm":
        raise CommandRefused("the rollout is not waiting at a confirm gate")


class CommandRefused(MeshError):
    """A rollout command that does not apply now; the message says why."""
