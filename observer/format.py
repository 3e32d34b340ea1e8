"""Numbers as the dashboard and the CLI print them; None always reads "no data", never 0."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

NO_DATA = "no data"
SPARKS = "▁▂▃▄▅▆▇█"
MARK_GLYPH = {"locked": "■", "unlocked": "□", "mixed": "◧", "no data": "·", "no metrics": "?"}
MARK_STYLE = {
    "locked": "bold green",
    "unlocked": "bold red",
    "mixed": "bold yellow",
    "no data": "dim",
    "no metrics": "dim",
}


def pct(share: float | None, empty: str = "-") -> str:
    """0.254 -> '25%'; None -> the placeholder."""
    return empty if share is None else f"{share * 100:.0f}%"


def rate(value: float | None) -> str:
    """Requests per second with one decimal below 100."""
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def millis(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value / 1000:.1f}s"
    return f"{value:.0f}ms" if value >= 10 else f"{value:.1f}ms"


def bar(share: float | None, width: int) -> str:
    """A horizontal bar in eighths; None gives an empty track."""
    if share is None:
        return " " * width
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return ("█" * full + partial).ljust(width, "░")[:width]


def sparkline(values: Sequence[float | None], width: int) -> str:
    """The last `width` shares (0..1) as block characters; gaps as spaces."""
    tail = list(values)[-width:]
    out = []
    for value in tail:
        if value is None:
            out.append(" ")
        else:
            out.append(SPARKS[min(len(SPARKS) - 1, int(max(0.0, min(1.0, value)) * len(SPARKS)))])
    return "".join(out).rjust(width)


def mark(name: str, share: float | None) -> str:
    """'■ locked 100%' / '· no data'."""
    glyph = MARK_GLYPH.get(name, "?")
    return f"{glyph} {name}" + (f" {pct(share)}" if share is not None else "")


def fit(text: str, width: int) -> str:
    """Pad or cut to exactly `width` cells, marking a cut with an ellipsis."""
    if len(text) <= width:
        return text.ljust(width)
    return text[: max(0, width - 1)] + "…"


# ---------------------------------------------------------------- rollout gates
VERDICT_GLYPH = {"pass": "✓", "fail": "✗", "inconclusive": "?"}
VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}
_BOUND = re.compile(r"(>=|<=)\s*([-+0-9.eE]+)")


def gate_unit(name: str) -> str:
    """What a gate measures, from its name: "ms" (latency), "%" (a share) or "" (a count)."""
    name = name.lower()
    if "latency" in name or re.search(r"\bp\d\d\b|-ms\b", name):
        return "ms"
    if "request" not in name and any(w in name for w in ("share", "success", "rate", "error")):
        return "%"
    return ""


def gate_value(name: str, value: float | None) -> str:
    """A gate's value in its unit: '99.6%', '88ms', '48'; None is 'no data', never 0."""
    if value is None:
        return NO_DATA
    unit = gate_unit(name)
    if unit == "ms":
        return f"{value:.0f}ms" if value >= 10 else f"{value:.1f}ms"
    if unit == "%":
        if value >= 1 or value <= 0:
            return f"{value * 100:.0f}%"
        text = f"{value * 100:.1f}%"
        # a share just under 1 must not read as the 100% it failed to reach
        return text if text != "100.0%" else f"{math.floor(value * 10000) / 100:.2f}%"
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.2g}"


def gate_bound(name: str, bound: str) -> str:
    """'success-rate >= 0.99' -> '≥ 99%', 'latency-p99 <= 500' -> '≤ 500ms'."""
    found = _BOUND.findall(bound)
    if not found:
        return bound.removeprefix(name).strip()
    parts = []
    for op, number in found:
        try:
            value = float(number)
        except ValueError:
            return bound.removeprefix(name).strip()
        unit = gate_unit(name)
        shown = f"{value * 100:g}%" if unit == "%" else f"{value:g}{unit}"
        parts.append(("≥ " if op == ">=" else "≤ ") + shown)
    return " and ".join(parts)
