"""The Textual dashboard: what the mesh is configured to do next to what it does.

The app takes its data source through the constructor (local or cluster, or a fake in layout
tests) and never blocks: every read runs in a worker, posts a message from `messages.py`, and
the handlers redraw. The three reads (state, metrics, votes) are independent, so Prometheus
down or slow only blanks the numbers, and a control-plane error is retried with backoff.

A canary rollout shows (above the services) whenever the state has one, whoever started it;
`R` starts one on the local system in a worker, which the app rolls back before it quits.

Over 400 lines because it is the hub: layout, the three periodic reads and their results,
and one short handler per key and message, delegating to its composed parts (the rollout
keys in rollout_controls.py, demo traffic in traffic_controls.py, drawing in widgets/).
"""

from __future__ import annotations

import time
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Footer, Static

from observer.errors import ObserverError
from observer.messages import (
    MetricsRead,
    RolloutFailed,
    RolloutFinished,
    RolloutNoted,
    StateFailed,
    StateRead,
    StepApplied,
    StepChosen,
    StepFailed,
    TrafficFinished,
    VotesRead,
)
from observer.model import Event, MeshState, Metrics, Snapshot, Votes, build_snapshot
from observer.rollout_controls import RolloutControls
from observer.screens import ConfirmStep, HelpScreen
from observer.sources.base import ObserverSource
from observer.traffic import TrafficPlan, TrafficRunner
from observer.traffic_controls import DemoTraffic
from observer.widgets.chrome import StatusLine, StepBar
from observer.widgets.events import EventLog
from observer.widgets.mesh import HistoryPanel, MtlsPanel
from observer.widgets.rollout import STATE_WORDS, RolloutPanel
from observer.widgets.services import MetricsBanner, ServicesTable
from observer.widgets.votes import VotesPanel
from rollout.spec import RolloutSpec

DEMO_TRAFFIC = TrafficPlan(rate=10, duration=3600, cookie_share=0.25, vote_share=0.1)
MAX_BACKOFF_S = 30.0
METRICS_WORDS = {
    "unreachable": "Prometheus unreachable",
    "error": "Prometheus error",
    "unconfigured": "no Prometheus",
}
STATUS_WORDS = {"up": "up", "unreachable": "unreachable", "error": "error", "unconfigured": "none"}
ROLLOUT_STATES = ("running", "promoted", "rolled-back", "aborted", "controller-lost")


class ObserverApp(App[None]):
    """Routes, shares, success, latency and mutual TLS of the voting mesh, live."""

    CSS_PATH = "app.tcss"
    TITLE = "voting observe"
    AUTO_FOCUS = "#body"  # arrows and PageDown scroll the dashboard at 80x24
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (144, "-wide")]  # side by side from 144 columns
    BINDINGS = [
        Binding("n", "next_step", "Next step"),
        Binding("1", "choose_step(1)", "Step", key_display="1-5"),
        Binding("2", "choose_step(2)", "Step 2", show=False),
        Binding("3", "choose_step(3)", "Step 3", show=False),
        Binding("4", "choose_step(4)", "Step 4", show=False),
        Binding("5", "choose_step(5)", "Step 5", show=False),
        Binding("R", "start_rollout", "Rollout"),
        Binding("p", "rollout_verb('pause')", "Pause/resume", show=False),
        Binding("c", "rollout_verb('confirm')", "Confirm gate", show=False),
        Binding("P", "rollout_verb('promote')", "Promote now", show=False),
        Binding("X", "rollout_verb('abort')", "Abort", show=False),
        Binding("t", "toggle_traffic", "Traffic"),
        Binding("r", "refresh_now", "Refresh", show=False),  # in the help; keeps 80 columns
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    metrics_state: reactive[str] = reactive("unconfigured")
    rollout_state: reactive[str] = reactive("")  # "" while status has no rollout

    def __init__(
        self,
        source: ObserverSource,
        *,
        refresh_s: float = 1.0,
        votes_every_s: float = 5.0,
        demo_traffic: TrafficPlan = DEMO_TRAFFIC,
        rollout_spec: RolloutSpec | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.refresh_s = refresh_s
        self.votes_every_s = votes_every_s
        self.demo_traffic = demo_traffic
        self.state: MeshState | None = None
        self.metrics = Metrics.unavailable("unconfigured", "waiting for the first reading")
        self.votes = Votes(state="unconfigured", detail="waiting for the first reading")
        self.snapshot: Snapshot | None = None
        self.rollout_spec = rollout_spec or RolloutSpec()
        self.rollouts = RolloutControls(self, self.rollout_spec)
        self.demo = DemoTraffic(self, demo_traffic, self.rollout_spec)
        self.local_events: list[Event] = []
        self._busy: set[str] = set()
        self._state_backoff = 0.0
        self._state_retry_at = 0.0
        self._votes_at = 0.0

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static(f"voting observe · {self.source.label}", id="title")
        yield StepBar(id="steps")
        with VerticalScroll(id="body"):
            with Horizontal(id="top"):
                with Vertical(id="main"):
                    with Vertical(id="rollout-box", classes="box"):
                        yield RolloutPanel(id="rollout")
                    with Vertical(id="services-box", classes="box"):
                        yield MetricsBanner(id="metrics-banner")
                        yield ServicesTable(id="services")
                with Vertical(id="side"):
                    with Vertical(id="mtls-box", classes="box"):
                        yield MtlsPanel(id="mtls")
                    with Vertical(id="votes-box", classes="box"):
                        yield VotesPanel(id="votes")
                    with Vertical(id="history-box", classes="box"):
                        yield HistoryPanel(id="history")
            with Vertical(id="events-box", classes="box"):
                yield EventLog(id="events")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        titles = {
            "#rollout-box": "rollout",
            "#services-box": "services · configured route vs observed",
            "#mtls-box": "mutual TLS",
            "#votes-box": "votes per storage backend",
            "#history-box": "share history (5 min)",
            "#events-box": "events",
        }
        for selector, title in titles.items():
            self.query_one(selector).border_title = title
        # Kept once: messages that arrive while the app shuts down must not query a torn-down DOM.
        self.status_line = status = self.query_one(StatusLine)
        self.services_table = self.query_one(ServicesTable)
        self.event_log = self.query_one(EventLog)
        self.votes_panel = self.query_one(VotesPanel)
        self.step_bar = self.query_one(StepBar)
        self.title_bar = self.query_one("#title", Static)
        self.metrics_banner = self.query_one(MetricsBanner)
        self.mtls_panel = self.query_one(MtlsPanel)
        self.history_panel = self.query_one(HistoryPanel)
        self.services_box = self.query_one("#services-box")
        self.rollout_panel = self.query_one(RolloutPanel)
        self.rollout_box = self.query_one("#rollout-box")
        status.set_part(self._control_name, "unconfigured", "connecting")
        status.set_part("prometheus", "unconfigured", "waiting")
        status.set_part("ingress", "unconfigured", "waiting")
        status.set_part("traffic", "off", "off")
        self.set_interval(self.refresh_s, self.tick)
        self.tick()

    @property
    def _control_title(self) -> str:
        return "control API" if self.source.kind == "local" else "Kubernetes API"

    @property
    def _control_name(self) -> str:
        return "control" if self.source.kind == "local" else "kubernetes"

    def watch_metrics_state(self, state: str) -> None:
        if not self.screen_stack:  # a read that lands while the app quits: nothing to show
            return
        self.screen.set_class(state != "up", "-metrics-down")

    def watch_rollout_state(self, state: str) -> None:
        self.rollout_box.set_class(bool(state), "-shown")
        for name in ROLLOUT_STATES:
            self.rollout_box.set_class(state == name, f"-{name}")

    # ------------------------------------------------------------ periodic reads
    def tick(self) -> None:
        """Start each read that is due and not still running (slow sources never pile up)."""
        now = time.monotonic()
        if "state" not in self._busy and now >= self._state_retry_at:
            self._busy.add("state")
            self.read_state()
        if "metrics" not in self._busy:
            self._busy.add("metrics")
            self.read_metrics()
        if "votes" not in self._busy and now >= self._votes_at:
            self._votes_at = now + self.votes_every_s
            self._busy.add("votes")
            self.read_votes()
        self._show_traffic()

    @work(group="state")
    async def read_state(self) -> None:
        try:
            self.post_message(StateRead(await self.source.state()))
        except ObserverError as exc:
            self.post_message(StateFailed(str(exc)))
        finally:
            self._busy.discard("state")

    @work(group="metrics")
    async def read_metrics(self) -> None:
        try:
            self.post_message(MetricsRead(await self.source.metrics()))
        finally:
            self._busy.discard("metrics")

    @work(group="votes")
    async def read_votes(self) -> None:
        try:
            self.post_message(VotesRead(await self.source.votes()))
        finally:
            self._busy.discard("votes")

    # ------------------------------------------------------------ results
    def on_state_read(self, message: StateRead) -> None:
        if self._state_backoff:
            self._event(f"{self._control_title} answers again")
        self._state_backoff = 0.0
        old, self.state = self.state, message.state
        if self.votes.state == "unconfigured":
            self._votes_at = 0.0  # the ingress URL is known now: read votes at the next tick
        self.status_line.set_part(self._control_name, "up", "up")
        self._redraw()  # the source's own events first, then what this app noticed
        self._note_route_changes(old, message.state)

    def on_state_failed(self, message: StateFailed) -> None:
        first = not self._state_backoff
        self._state_backoff = min(MAX_BACKOFF_S, max(1.0, self._state_backoff * 2))
        self._state_retry_at = time.monotonic() + self._state_backoff
        if first:
            self._event(message.error)
        self.status_line.set_part(
            self._control_name, "error", f"{message.error} (retry in {self._state_backoff:.0f}s)"
        )

    def on_metrics_read(self, message: MetricsRead) -> None:
        metrics = message.metrics
        failed = ("unreachable", "error")
        if metrics.state != self.metrics.state:
            if metrics.state in failed:
                self._event(metrics.detail)
            elif metrics.state == "up" and self.metrics.state in failed:
                self._event("Prometheus answers again")
        self.metrics = metrics
        self.metrics_state = metrics.state
        self.status_line.set_part(
            "prometheus", metrics.state, STATUS_WORDS.get(metrics.state, metrics.state)
        )
        self._redraw()

    def on_votes_read(self, message: VotesRead) -> None:
        self.votes = message.votes
        state = message.votes.state
        self.status_line.set_part("ingress", state, STATUS_WORDS.get(state, state))
        self.votes_panel.show(message.votes)

    def _redraw(self) -> None:
        snapshot = build_snapshot(self.source.kind, self.state, self.metrics, self.votes)
        self.snapshot = snapshot
        self.step_bar.show(snapshot.step)
        step = f"step {snapshot.step.number} ({snapshot.step.name})" if snapshot.step else "step ?"
        self.title_bar.update(f"voting observe · {self.source.label} · {step}")
        banner = ""
        if self.metrics.state != "up":
            word, detail = METRICS_WORDS.get(self.metrics.state, ""), self.metrics.detail
            banner = detail if detail.startswith("Prometheus") else f"{word}: {detail}"
        self.metrics_banner.show(banner)
        window = self.metrics.window
        self.services_box.border_title = f"services · configured route vs observed (last {window})"
        for widget in (
            self.services_table,
            self.mtls_panel,
            self.history_panel,
        ):
            widget.show(snapshot)
        self._show_rollout(snapshot)
        self.event_log.add_events([*snapshot.events, *self.local_events])

    def _show_rollout(self, snapshot: Snapshot) -> None:
        progress = snapshot.rollout
        self.rollout_panel.show(progress)
        self.rollout_state = progress.state if progress else ""
        if progress is not None:
            what = f"{progress.service or 'canary'} → {progress.canary}" if progress.canary else ""
            word = STATE_WORDS.get(progress.state, progress.state)
            self.rollout_box.border_title = " · ".join(p for p in ("rollout", what, word) if p)

    def _event(self, message: str) -> None:
        self.local_events.append(Event(time.time(), message))
        del self.local_events[:-100]
        self.event_log.add_events(self.local_events)

    def _note_route_changes(self, old: MeshState | None, new: MeshState) -> None:
        if old is None:
            return
        for service in new.services:
            before = old.service(service.name)
            if before is not None and before.routes != service.routes:
                routes = "; ".join(
                    f"{r.match} → {r.subset or 'any'}"
                    + (f" {r.weight}%" if r.weight != 100 else "")
                    for r in service.routes
                )
                self._event(f"routes changed: {service.name}: {routes}")
            if before is not None and before.peer_authentication != service.peer_authentication:
                self._event(
                    f"mTLS policy of {service.name}: {before.peer_authentication} → {service.peer_authentication}"
                )

    # ------------------------------------------------------------ steps
    def _current_step(self) -> int | None:
        return self.state.step.number if self.state and self.state.step else None

    def action_next_step(self) -> None:
        """Apply the rollout step after the current one (asks first)."""
        current = self._current_step() or 0
        if current >= 5:
            self.notify("already at the last step (5 finalize)", severity="warning")
            return
        self.action_choose_step(current + 1)

    def action_choose_step(self, step: int) -> None:
        """Apply a chosen rollout step 1-5 (asks first)."""

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.notify(f"applying step {step}…")
                self.apply_step(step)

        self.push_screen(ConfirmStep(step, self._current_step()), confirmed)

    @on(StepChosen)
    def step_clicked(self, message: StepChosen) -> None:
        self.action_choose_step(message.step)

    @work(group="step", exclusive=True)
    async def apply_step(self, step: int) -> None:
        try:
            state = await self.source.apply_step(step)
        except ObserverError as exc:
            self.post_message(StepFailed(step, str(exc)))
        else:
            self.post_message(StepApplied(step, state))

    def on_step_applied(self, message: StepApplied) -> None:
        old, self.state = self.state, message.state
        self.notify(f"step {message.step} in force")
        self._redraw()
        self._note_route_changes(old, message.state)

    def on_step_failed(self, message: StepFailed) -> None:
        self._event(message.error)
        self.notify(message.error, severity="error", timeout=8)

    # ------------------------------------------------------------ demo traffic
    @property
    def traffic(self) -> TrafficRunner | None:
        """The demo traffic's run (the last one), if any was started."""
        return self.demo.runner

    def action_toggle_traffic(self) -> None:
        """Start or stop demo traffic through the ingress."""
        self.demo.toggle(self.status_line)

    def on_traffic_finished(self, message: TrafficFinished) -> None:
        self.demo.finished(message.result, self.status_line)

    def _show_traffic(self) -> None:
        self.demo.show(self.status_line)

    # ------------------------------------------------------------ canary rollout
    @property
    def rollout_running(self) -> bool:
        """A rollout this dashboard started is still running (or rolling back)."""
        return self.rollouts.running

    def action_start_rollout(self) -> None:
        """Start `voting rollout` (the default spec) on the local system (asks first)."""
        self.rollouts.start()

    def action_rollout_verb(self, verb: str) -> None:
        """Steer the running rollout, whoever started it: p pauses or resumes, c confirms
        the gate it waits at, P promotes now, X aborts (rolls back)."""
        self.rollouts.steer(verb)

    def on_rollout_noted(self, message: RolloutNoted) -> None:
        self._event(message.message)

    def on_rollout_finished(self, message: RolloutFinished) -> None:
        self.rollouts.finished(message.outcome)

    def on_rollout_failed(self, message: RolloutFailed) -> None:
        self._event(message.error)
        self.notify(message.error, severity="error", timeout=8)

    async def action_quit(self) -> None:
        """Quit (a rollout started here is rolled back first; q again quits at once)."""
        if not self.rollouts.quit_after_rollback():
            self.exit()

    # ------------------------------------------------------------ misc
    def action_refresh_now(self) -> None:
        """Read everything now (and retry a failed control plane at once)."""
        self._state_retry_at = 0.0
        self._votes_at = 0.0
        self.tick()

    def action_help(self) -> None:
        """Show keys, columns and marks."""
        self.push_screen(HelpScreen())

    def on_unmount(self) -> None:
        self.demo.stop()


async def run_local_dashboard(state_dir: Path, rollout_spec: RolloutSpec | None = None) -> None:
    """What `voting up` opens in a terminal; returning means the user quit."""
    from observer.sources.local import LocalSource

    source = LocalSource(state_dir)
    try:
        await ObserverApp(source, rollout_spec=rollout_spec).run_async()
    finally:
        await source.aclose()
