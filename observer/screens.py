"""Modal screens: confirm a rollout step, and the help screen."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from observer.widgets.chrome import STEP_NAMES

HELP = """\
[b]voting observe[/b]: the voting mesh, configured vs observed

[b]Keys[/b] (footer entries and the step bar are clickable too)
  n    apply the next rollout step (asks first)
  1-5  apply that step (asks first):
       1 deploy  2 update-analytics  3 lock-down  4 canary  5 finalize
  t    demo traffic on/off: 10 req/s, 25% of users with featureflag=on
  r    refresh now
  ?    this help
  q    quit

[b]Services[/b]: ROUTE is what the VirtualService says (a weight, or the match that selects the version). SHARE is what Prometheus saw over the last minute from the callers' side (like Kiali), with REQ/S and OK (non-5xx share, also from the callers' side, so injected faults count); P50/P99 are measured by the serving side. "no data" means no requests were seen, which is not 0%; "-" means Prometheus is not answering.

[b]Mutual TLS[/b]: policy = PeerAuthentication mode / DestinationRule TLS mode in force; observed = share of requests the server accepted over mutual TLS.
  ■ locked (all)  ◧ mixed  □ unlocked (none)  · no data  ? no metrics

[b]Votes[/b]: the counts each group of users sees. At the canary step app 1.0 reads Redis (storage 1.0) and app 2.0 reads MySQL (storage 2.0), so the counts differ.

Escape closes this help."""


class ConfirmStep(ModalScreen[bool]):
    """Asks before a rollout step changes the mesh."""

    BINDINGS = [
        Binding("y", "confirm", "Apply"),
        Binding("n,escape", "cancel", "Cancel"),
    ]

    def __init__(self, step: int, current: int | None) -> None:
        super().__init__()
        self.step = step
        self.current = current

    def compose(self) -> ComposeResult:
        name = STEP_NAMES[self.step - 1]
        now = f" (now at step {self.current})" if self.current else ""
        with Vertical(id="confirm-dialog"):
            yield Static(f"Apply step {self.step} ({name}){now}?", id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button("Apply (y)", id="confirm", variant="primary")
                yield Button("Cancel (n)", id="cancel")

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        """Apply the step."""
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Keep the current step."""
        self.dismiss(False)


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
