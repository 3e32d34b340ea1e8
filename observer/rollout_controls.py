"""The dashboard's rollout keys, composed into the app: start a canary here (R, the local
system), steer whoever's rollout is running (p, c, P, X; locally or on a cluster), and roll
a rollout started here back on quit.

The work runs as the app's workers (one rollout at a time, group "rollout"); like every
worker of the dashboard it reports through messages (`observer/messages.py`) or the app's
event log and notifications, never by touching widgets.
"""

from __future__ import annotations

import contextlib
import getpass
from pathlib import Path
from typing import Any, Protocol

from textual.worker import Worker, WorkerCancelled, WorkerFailed

from observer.messages import RolloutFailed, RolloutFinished, RolloutNoted
from observer.screens import ConfirmRollout
from observer.widgets.rollout import STATE_WORDS
from rollout.controller import Outcome
from rollout.runner import command_rollout, run_rollout, steer
from rollout.spec import RolloutSpec

CLUSTER_ROLLOUT = (
    "rollouts from the dashboard run on the local system only; use `voting rollout --context`"
)


class RolloutHost(Protocol):
    """What the controls use of the app they are composed into (`observer.app.ObserverApp`)."""

    source: Any
    state: Any
    traffic: Any

    def notify(self, message: str, **kwargs: Any) -> None: ...
    def push_screen(self, screen: Any, callback: Any = None) -> Any: ...
    def run_worker(self, work: Any, **kwargs: Any) -> Worker[Any]: ...
    def post_message(self, message: Any) -> bool: ...
    def exit(self) -> None: ...
    def action_refresh_now(self) -> None: ...
    def _event(self, message: str) -> None: ...


class RolloutControls:
    """One app's rollout keys and the rollout it started (if any)."""

    def __init__(self, app: RolloutHost, spec: RolloutSpec) -> None:
        self.app = app
        self.spec = spec
        self.worker: Worker[None] | None = None
        self._quitting = False

    @property
    def running(self) -> bool:
        """A rollout this dashboard started is still running (or rolling back)."""
        return self.worker is not None and not self.worker.is_finished

    def _local_state_dir(self) -> Path | None:
        """The local system's state dir, or None after saying why there is none."""
        app = self.app
        if app.source.kind != "local":
            app.notify(CLUSTER_ROLLOUT, severity="warning", timeout=8)
            return None
        state_dir: Path | None = getattr(app.source, "state_dir", None)
        if state_dir is None:
            app.notify("this source names no local system to roll out on", severity="error")
        return state_dir

    # ------------------------------------------------------------ R: start one here
    def start(self) -> None:
        """Start `voting rollout` (the app's spec) on the local system, once confirmed."""
        app = self.app
        if app.source.kind == "local" and self.running:
            progress = app.state.rollout if app.state else None
            at = f" (weight {progress.weight}%)" if progress and progress.running else ""
            app.notify(f"a rollout is already running{at}", severity="warning")
            return
        state_dir = self._local_state_dir()
        if state_dir is None:
            return
        elsewhere = bool(app.state and app.state.rollout and app.state.rollout.running)
        traffic = app.traffic is not None and app.traffic.running

        def confirmed(ok: bool | None) -> None:
            if ok and not self.running:
                app._event("rollout started from the dashboard")
                self.worker = app.run_worker(self._run(state_dir), group="rollout", exclusive=True)

        app.push_screen(ConfirmRollout(self.spec, traffic=traffic, elsewhere=elsewhere), confirmed)

    async def _run(self, state_dir: Path) -> None:
        app = self.app

        def noted(message: str) -> None:
            app.post_message(RolloutNoted(message))

        try:
            outcome = await run_rollout(self.spec, state_dir=state_dir, on_event=noted)
        except Exception as exc:  # like `voting rollout`: any failure is one line, not a crash
            app.post_message(RolloutFailed(f"rollout failed: {exc}"))
        else:
            app.post_message(RolloutFinished(outcome))

    def finished(self, outcome: Outcome) -> None:
        word = STATE_WORDS.get(outcome.state, outcome.state)
        self.app._event(f"rollout {word}: {outcome.reason}")
        severity = "information" if outcome.state == "promoted" else "warning"
        self.app.notify(f"rollout {word}", severity=severity)
        self.app.action_refresh_now()

    # ------------------------------------------------------------ p c P X: steer any
    def steer(self, verb: str) -> None:
        """pause (or resume, when paused), confirm, promote or abort the running rollout."""
        progress = self.app.state.rollout if self.app.state else None
        if verb == "pause" and progress is not None and progress.paused:
            verb = "resume"
        router = getattr(self.app.source, "router", None)
        if self.app.source.kind != "local" and router is not None:
            # a cluster: the verb goes to the rollout's ConfigMap through the source's router
            self.app.run_worker(self._send(verb, router=router), group="rollout-verb")
            return
        state_dir = self._local_state_dir()
        if state_dir is not None:
            self.app.run_worker(self._send(verb, state_dir=state_dir), group="rollout-verb")

    async def _send(self, verb: str, *, state_dir: Path | None = None, router: Any = None) -> None:
        app = self.app
        by = f"{getpass.getuser()} (dashboard)"
        try:
            if router is not None:  # the cluster source's own router
                await steer(router, verb, by)
            else:
                await command_rollout(verb, state_dir=state_dir or Path(), by=by)
        except Exception as exc:  # refused (it does not apply now) or no system: say why
            app.notify(f"rollout {verb}: {exc}", severity="warning", timeout=8)
            return
        app._event(f"rollout {verb} sent")
        app.action_refresh_now()

    # ------------------------------------------------------------ q: roll back first
    def quit_after_rollback(self) -> bool:
        """On quit: cancel a rollout started here (it rolls back), then exit; False when
        there is none (or q was pressed again), so the app exits at once."""
        worker = self.worker
        if worker is None or worker.is_finished or self._quitting:
            return False
        self._quitting = True
        self.app.notify("cancelling the rollout: rolling back, then quitting (q again: quit now)")
        worker.cancel()
        self.app.run_worker(self._exit_after(worker), group="quit")
        return True

    async def _exit_after(self, worker: Worker[None]) -> None:
        with contextlib.suppress(WorkerCancelled, WorkerFailed):
            await worker.wait()  # the rollout's rollback, however it ends
        self.app.exit()
