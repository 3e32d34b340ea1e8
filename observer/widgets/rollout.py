"""A canary rollout as it goes: weight, each gate's last value and verdict, one line per interval."""

from __future__ import annotations

import textwrap
import time

from rich.text import Text
from textual.widget import Widget

from mesh.rollout_lease import LOST_HINT
from observer.format import VERDICT_GLYPH, VERDICT_STYLE, fit, gate_bound, gate_value
from observer.rollout_progress import GateReading, RolloutInterval, RolloutProgress

STATE_WORDS = {
    "running": "running",
    "promoted": "promoted",
    "rolled-back": "rolled back",
    "aborted": "aborted",
    "controller-lost": "controller lost",
}
STATE_GLYPH = {
    "running": "●",
    "promoted": "✓",
    "rolled-back": "↩",
    "aborted": "■",
    "controller-lost": "⚠",
}
STATE_STYLE = {
    "running": "bold cyan",
    "controller-lost": "bold magenta",
    "promoted": "bold green",
    "rolled-back": "bold red",
    "aborted": "bold yellow",
}
PHASE_WORDS = {"mirror": "mirroring", "ab": "A/B testing", "confirm": "waiting for confirmation"}
HISTORY_LINES = 4  # the latest judged intervals shown (the panel must leave room at 80x24)


def _clock(when: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when)) if when else "--:--:--"


def _phase_ladder(progress: RolloutProgress) -> Text:
    """A mirror phase and A/B iterations: passed ticked, the current one marked."""
    steps = (["mirror"] if progress.mirror else []) + [
        f"A/B {i}" for i in range(1, progress.iterations + 1)
    ]
    out = Text()
    for i, name in enumerate(steps):
        if i:
            out.append(" → ", style="dim")
        if i < progress.phases_passed:
            out.append(f"{name} ✓", style="green")
        elif i == progress.phases_passed and progress.running:
            out.append(f"{name} ●", style="bold cyan")
        elif i == progress.phases_passed and progress.state != "promoted":
            glyph = "✗" if progress.state == "rolled-back" else "?"
            out.append(f"{name} {glyph}", style=STATE_STYLE.get(progress.state, "bold"))
        else:
            out.append(name, style="dim")
    return out


def _ladder(progress: RolloutProgress) -> Text:
    """The planned weights, the ones passed ticked, the current one marked."""
    if progress.iterations:
        return _phase_ladder(progress)
    if progress.mirror and progress.phases_passed == 0:  # still mirroring: no weight yet
        return _phase_ladder(progress).append(
            " → " + " → ".join(f"{w}%" for w in progress.weights), style="dim"
        )
    weights = progress.weights or tuple(
        dict.fromkeys([*(h.weight for h in progress.history), progress.weight])
    )
    out = Text()
    for i, weight in enumerate(weights):
        if i:
            out.append(" → ", style="dim")
        if weight < progress.weight or (weight == progress.weight and progress.state == "promoted"):
            out.append(f"{weight}% ✓", style="green")
        elif weight == progress.weight and progress.running:
            out.append(f"{weight}% ●", style="bold cyan")
        elif weight == progress.weight:
            glyph = "✗" if progress.state == "rolled-back" else "?"
            out.append(f"{weight}% {glyph}", style=STATE_STYLE.get(progress.state, "bold"))
        else:
            out.append(f"{weight}%", style="dim")
    return out


def _summary(progress: RolloutProgress) -> Text:
    state = progress.state
    out = Text()
    out.append(
        f"{STATE_GLYPH.get(state, '?')} {STATE_WORDS.get(state, state)}",
        style=STATE_STYLE.get(state, "bold"),
    )
    phase = progress.phase
    if progress.running and phase is not None and phase.kind in ("mirror", "ab", "confirm"):
        out.append(f"  {PHASE_WORDS[phase.kind]}  ", style="bold")
    elif progress.running:
        to = f" → {progress.canary}" if progress.canary else ""
        out.append(f"  weight {progress.weight}%{to}  ", style="bold")
    else:
        out.append(f" at {progress.weight}%  ", style="bold")
    out.append_text(_ladder(progress))
    if progress.running or progress.lost:
        out.append(f"  since {_clock(progress.started)}", style="dim")
    else:
        out.append(f"  {_clock(progress.started)}-{_clock(progress.finished)}", style="dim")
    return out


def _now(progress: RolloutProgress, width: int) -> list[Text]:
    """While running: the phase in the rollout's words, a pause, failed checks, and what the
    keys can do now; then the latest steering event (who paused or confirmed, and when)."""
    if not progress.running:
        return []
    lines = []
    phase = progress.phase
    words = []
    if phase is not None and phase.detail:
        words.append(phase.detail)
    if progress.failed_checks:
        words.append(f"failed checks {progress.failed_checks}/{progress.threshold}")
    if words:
        lines.append(Text(fit(" · ".join(words), max(20, width)), style="cyan"))
    if progress.paused:
        lines.append(Text("⏸ PAUSED: routes held, nothing judged; p resumes", style="bold yellow"))
    elif progress.waiting:
        lines.append(Text("c confirms the gate · P promotes now · X aborts", style="bold yellow"))
    if progress.events:
        when, message = progress.events[-1]
        lines.append(Text(fit(f"{_clock(when)} {message}", max(20, width)), style="dim"))
    return lines


def _reason(progress: RolloutProgress, width: int) -> list[Text]:
    if progress.lost:  # routes mid-way and nobody judging them: say what to do
        who = f"pid {progress.pid}" if progress.pid else "its controller"
        lines = textwrap.wrap(
            f"controller lost ({who} stopped reporting) — {LOST_HINT}",
            width=max(20, width),
            subsequent_indent="  ",
        )[:2]
        return [Text(line, style=STATE_STYLE["controller-lost"]) for line in lines]
    if progress.running or not progress.reason:
        return []
    lines = textwrap.wrap(
        f"reason: {progress.reason}", width=max(20, width), subsequent_indent="        "
    )[:2]
    return [Text(line, style=STATE_STYLE.get(progress.state, "")) for line in lines]


def _gates(progress: RolloutProgress) -> list[Text]:
    if not progress.gates:
        every = f" (every {progress.interval:g}s)" if progress.interval else ""
        note = f"no interval judged yet{every}" if progress.running else "no interval was judged"
        return [Text(note, style="dim")]
    name_width = max(15, min(18, max(len(g.name) for g in progress.gates)))
    lines = [
        Text(
            fit("GATE", name_width) + " " + f"{'LAST':>9} " + fit("BOUND", 10) + " VERDICT",
            style="bold dim",
        )
    ]
    for gate in progress.gates:
        line = Text(fit(gate.name, name_width) + " ")
        line.append(f"{gate_value(gate.name, gate.value):>9} ", style="" if gate.value else "dim")
        line.append(fit(gate_bound(gate.name, gate.bound), 10) + " ", style="dim")
        line.append(
            fit(f"{VERDICT_GLYPH.get(gate.verdict, '?')} {gate.verdict}", 14),
            style=VERDICT_STYLE.get(gate.verdict, "bold"),
        )
        if gate.verdict != "pass" and gate.detail:
            line.append(" " + gate.detail, style="dim")
        lines.append(line)
    return lines


def _not_passed(gates: tuple[GateReading, ...]) -> str:
    return ", ".join(
        f"{g.name} {gate_value(g.name, g.value)}" for g in gates if g.verdict != "pass"
    )


def _interval(interval: RolloutInterval) -> Text:
    """'08:00:36  25%  ✓✓✗✓ fail: success-rate 80.0%'"""
    verdicts = [g.verdict for g in interval.gates]
    verdict = (
        "fail" if "fail" in verdicts else "inconclusive" if "inconclusive" in verdicts else "pass"
    )
    line = Text(f"{_clock(interval.time)} ", style="dim")
    if interval.phase == "mirror":
        line.append("mirror ", style="bold")
    elif interval.phase == "ab":
        line.append(f"A/B {interval.iteration:<2} ", style="bold")
    else:
        line.append(f"{interval.weight:>4}%  ", style="bold")
    for gate in interval.gates:
        line.append(VERDICT_GLYPH.get(gate.verdict, "?"), style=VERDICT_STYLE.get(gate.verdict, ""))
    line.append(f"  {verdict}", style=VERDICT_STYLE[verdict])
    if verdict != "pass":
        line.append(f": {_not_passed(interval.gates)}")
    return line


def _history(progress: RolloutProgress, keep: int) -> list[Text]:
    total = len(progress.history)
    shown = progress.history[-keep:] if keep else ()
    title = "HISTORY  one line per judged interval, gates in table order"
    if len(shown) < total:
        title = f"HISTORY  last {len(shown)} of {total} judged intervals, gates in table order"
    lines = [Text(title, style="bold dim")]
    if not total:
        lines.append(Text("no interval judged yet", style="dim"))
    lines.extend(_interval(i) for i in shown)
    return lines


def rollout_text(progress: RolloutProgress | None, width: int = 76) -> Text:
    """Summary (and reason once ended), the last gates, then the latest judged intervals."""
    if progress is None:
        return Text("no rollout", style="dim")
    lines = [
        _summary(progress),
        *_now(progress, width),
        *_reason(progress, width),
        *_gates(progress),
        *_history(progress, HISTORY_LINES),
    ]
    return Text("\n", no_wrap=True, overflow="ellipsis").join(lines)


class RolloutPanel(Widget):
    """The canary in progress or just ended (hidden by the app while status has no rollout)."""

    DEFAULT_CSS = "RolloutPanel { height: auto; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.progress: RolloutProgress | None = None

    def show(self, progress: RolloutProgress | None) -> None:
        if progress != self.progress:
            self.progress = progress
            self.refresh(layout=True)

    def render(self) -> Text:
        return self.text(self.size.width or 76)

    def text(self, width: int = 76) -> Text:
        """The panel as text for a given width (also what tests read)."""
        return rollout_text(self.progress, width)
