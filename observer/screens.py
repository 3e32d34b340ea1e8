"""Modal screens: confirm a rollout step or a canary rollout, and the help screen."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from observer.format import gate_bound
from observer.widgets.chrome import STEP_NAMES
from rollout.spec import RolloutSpec

HELP = """\
[b]voting observe[/b]: the voting mesh, configured vs observed

[b]Keys[/b] (footer entries and the step bar are clickable too)
  n    apply the next rollout step (asks first)
  1-5  apply that step (asks first):
       1 deploy  2 update-analytics  3 lock-down  4 canary  5 finalize
  R    start `voting rollout` on the local system (asks first)
  p    pause / resume the running rollout (routes held, nothing judged)
  c    confirm the gate the rollout waits at (confirm-* webhooks without an answer yet)
  P    promote now, skipping what is left      X  abort now (rolls back)
  t    demo traffic on/off: 10 req/s, 25% of users with featureflag=on
  r    refresh now
  ?    this help
  q    quit

[b]Services[/b]: ROUTE is what the VirtualService says (a weight, or the match that selects the version). SHARE is what Prometheus saw over the last minute from the callers' side (like Kiali), with REQ/S and OK (non-5xx share, also from the callers' side, so injected faults count); P50/P99 are measured by the serving side. "no data" means no requests were seen, which is not 0%; "-" means Prometheus is not answering.

[b]Mutual TLS[/b]: policy = PeerAuthentication mode / DestinationRule TLS mode in force; observed = share of requests the server accepted over mutual TLS.
  ■ locked (all)  ◧ mixed  □ unlocked (none)  · no data  ? no metrics

[b]Rollout[/b] (shown while status has one): the canary's weight, each gate's last value against its bound with its verdict (✓ pass, ✗ fail, ? inconclusive: too little data, never a pass), and one line per judged interval. The summary says the phase (mirroring, A/B testing, a weight, waiting for confirmation), a pause, failed checks against the threshold, and the latest steering event (who paused or confirmed, and when). It ends promoted (step 5), rolled back (a gate failed) or aborted (inconclusive too long, cancelled, or X); both of these put all traffic back on 1.x. Quitting the dashboard rolls back a rollout it started.

[b]Votes[/b]: the counts each group of users sees. At the canary step app 1.0 reads Redis (storage 1.0) and app 2.0 reads MySQL (storage 2.0), so the counts differ.

Escape closes this help."""


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question before the mesh is changed: y (or the button) confirms, n cancels."""

    BINDINGS = [
        Binding("y", "confirm", "Yes"),
        Binding("n,escape", "cancel", "Cancel"),
    ]
    verb = "Apply"

    def question(self) -> str:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(self.question(), id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button(f"{self.verb} (y)", id="confirm", variant="primary")
                yield Button("Cancel (n)", id="cancel")

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        """Go ahead."""
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Change nothing."""
        self.dismiss(False)


class ConfirmStep(ConfirmScreen):
    """Asks before a rollout step changes the mesh."""

    def __init__(self, step: int, current: int | None) -> None:
        super().__init__()
        self.step = step
        self.current = current

    def question(self) -> str:
        name = STEP_NAMES[self.step - 1]
        now = f" (now at step {self.current})" if self.current else ""
        return f"Apply step {self.step} ({name}){now}?"


class ConfirmRollout(ConfirmScreen):
    """Asks before a canary rollout starts, saying what it will do and what it needs."""

    verb = "Start"

    def __init__(self, spec: RolloutSpec, *, traffic: bool, elsewhere: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.traffic = traffic
        self.elsewhere = elsewhere

    def question(self) -> str:
        spec = self.spec
        weights = " → ".join(f"{w}%" for w in spec.weights)
        gates = ", ".join(f"{g.name} {gate_bound(g.name, g.describe())}" for g in spec.gates)
        lines = [
            f"Start a canary rollout of {spec.service} ({spec.canary}) on the local system?",
            f"Weights {weights}, each judged after {spec.interval:g}s: {gates}.",
            f"Promotes ({spec.promote_step}) if every gate passes, else rolls back"
            f" ({spec.rollback_step}).",
        ]
        if not self.traffic:
            lines.append(
                "[yellow]Demo traffic is off (t): without other requests every gate is"
                " inconclusive and the rollout aborts.[/]"
            )
        if self.elsewhere:
            lines.append(
                "[yellow]Status already shows a running rollout (another `voting rollout`?).[/]"
            )
        return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """Keys, columns and marks explained."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog"):
            yield Static(HELP, id="help-text")
            yield Button("Close", id="help-close")

    @on(Button.Pressed, "#help-close")
    def action_close(self) -> None:
        """Back to the dashboard."""
        self.dismiss(None)
