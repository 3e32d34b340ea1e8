"""The frame around the panels: title, clickable step bar, source status line."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Click
from textual.widget import Widget
from textual.widgets import Static

from observer.messages import StepChosen
from observer.model import StepInfo

STEP_NAMES = ("deploy", "update-analytics", "lock-down", "canary", "finalize")


class StepChip(Static):
    """One rollout step; clicking it asks to apply that step."""

    def __init__(self, number: int, name: str) -> None:
        super().__init__(f" {number} {name} ", id=f"step-{number}", classes="step-chip")
        self.number = number

    def on_click(self, event: Click) -> None:
        event.stop()
        self.post_message(StepChosen(self.number))


class StepBar(Horizontal):
    """The five steps with the one in force highlighted."""

    DEFAULT_CSS = "StepBar { height: 1; }"

    def compose(self) -> ComposeResult:
        yield Static("step", classes="step-label")
        for number, name in enumerate(STEP_NAMES, start=1):
            yield StepChip(number, name)

    def show(self, step: StepInfo | None) -> None:
        for chip in self.query(StepChip):
            chip.set_class(step is not None and chip.number == step.number, "-current")


class StatusLine(Widget):
    """Which sources are up: control plane, Prometheus, ingress, demo traffic."""

    DEFAULT_CSS = "StatusLine { height: 1; }"
    STYLES = {
        "up": "green",
        "unreachable": "bold red",
        "error": "bold red",
        "unconfigured": "yellow",
        "off": "dim",
        "on": "bold cyan",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.parts: dict[str, tuple[str, str]] = {}

    def set_part(self, name: str, state: str, detail: str = "") -> None:
        self.parts[name] = (state, detail)
        self.refresh()

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        for i, (name, (state, detail)) in enumerate(self.parts.items()):
            if i:
                out.append("  ")
            out.append(f"{name} ")
            out.append(f"● {detail or state}", style=self.STYLES.get(state, ""))
        return out

    @property
    def plain(self) -> str:
        return self.render().plain
