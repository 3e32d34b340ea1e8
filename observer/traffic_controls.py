"""The dashboard's demo traffic (t), composed into the app: start and stop `voting traffic`
through the ingress, with A/B users when the rollout spec tests by header, and its part of
the status line. The run is one of the app's workers; its end comes back as a message."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from observer.messages import TrafficFinished
from observer.traffic import TrafficPlan, TrafficResult, TrafficRunner, ab_users
from observer.widgets.chrome import StatusLine


class TrafficHost(Protocol):
    """What the demo traffic uses of the app it is composed into."""

    source: Any

    def notify(self, message: str, **kwargs: Any) -> None: ...
    def run_worker(self, work: Any, **kwargs: Any) -> Any: ...
    def post_message(self, message: Any) -> bool: ...
    def _event(self, message: str) -> None: ...


class DemoTraffic:
    """One app's demo traffic: at most one run, stopped when the app goes."""

    def __init__(self, app: TrafficHost, plan: TrafficPlan, rollout_spec: Any) -> None:
        self.app = app
        self.plan = plan
        self.rollout_spec = rollout_spec
        self.runner: TrafficRunner | None = None

    @property
    def running(self) -> bool:
        return self.runner is not None and self.runner.running

    def toggle(self, status: StatusLine) -> None:
        """Start demo traffic through the ingress, or stop the run in progress."""
        if self.runner is not None and self.runner.running:
            self.runner.request_stop()
            return
        url = self.app.source.ingress_url
        if not url:
            self.app.notify("no ingress URL known: cannot send traffic", severity="error")
            return
        self.runner = TrafficRunner(ab_users(replace(self.plan, url=url), self.rollout_spec))
        plan = self.runner.plan
        ab = (
            f", {plan.header_share:.0%} A/B users ({plan.header[0]}: {plan.header[1]})"
            if plan.header
            else ""
        )
        self.app._event(
            f"demo traffic started: {plan.rate:g} req/s, {plan.cookie_share:.0%} cookie users"
            f"{ab}, to {url}"
        )
        self.app.run_worker(self._run(self.runner), group="traffic", exclusive=True)
        self.show(status)

    async def _run(self, runner: TrafficRunner) -> None:
        self.app.post_message(TrafficFinished(await runner.run()))

    def finished(self, result: TrafficResult, status: StatusLine) -> None:
        self.app._event(f"demo traffic stopped: {result.summary().splitlines()[0]}")
        self.show(status)

    def show(self, status: StatusLine) -> None:
        """The status line's traffic part: off, or the rate, what was sent and errors."""
        runner = self.runner
        if runner is None or not runner.running:
            status.set_part("traffic", "off", "off")
            return
        result = runner.result
        errors = result.failed
        ab = ""
        if runner.plan.header is not None:  # A/B users counted apart: how many reached 2.0
            judged = sum(n for v, n in result.header_versions.items() if v != "unknown")
            on_canary = result.header_versions.get("2.0", 0)
            ab = f" A/B {on_canary}/{judged}→2.0" if judged else " A/B 0"
        status.set_part(
            "traffic",
            "on",
            f"{runner.plan.rate:g}/s sent {result.sent}"
            + (f" err {errors}" if errors else "")
            + ab,
        )

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.request_stop()
