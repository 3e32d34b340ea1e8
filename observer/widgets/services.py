"""Per service and version: configured routes next to what Prometheus observed."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from observer.format import MARK_STYLE, NO_DATA, bar, fit, mark, millis, pct, rate
from observer.model import ServiceRow, Snapshot, VersionRow
from observer.widgets.snapshot_view import SnapshotView

# (header, width) per column; the narrow set fits an 80-column terminal.
WIDE = (
    ("VERSION", 7),
    ("ROUTE", 27),
    ("SHARE", 16),
    ("REQ/S", 6),
    ("OK", 5),
    ("P50", 7),
    ("P99", 7),
    ("READY", 5),
)
NARROW = (
    ("VER", 4),
    ("ROUTE", 28),
    ("SHARE", 11),
    ("REQ/S", 5),
    ("OK", 4),
    ("P50", 5),
    ("P99", 5),
    ("RDY", 4),
)
WIDE_FROM = 92


def _success_style(value: float | None) -> str:
    if value is None:
        return "dim"
    return "green" if value >= 0.99 else "yellow" if value >= 0.9 else "bold red"


def columns_for(width: int) -> tuple[tuple[str, int], ...]:
    """The column set for a width; ROUTE takes what the fixed columns leave."""
    columns = WIDE if width >= WIDE_FROM else NARROW
    fixed = 2 + sum(w for h, w in columns if h != "ROUTE") + len(columns) - 1
    route = max(12, min(34, width - fixed))
    return tuple((h, route if h == "ROUTE" else w) for h, w in columns)


def services_text(snapshot: Snapshot | None, width: int = 80) -> Text:
    """Routes and observed numbers per service version, fitted to `width` columns."""
    columns = columns_for(width)
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append("  " + " ".join(fit(h, w) for h, w in columns).rstrip() + "\n", style="bold dim")
    if snapshot is None:
        out.append("  waiting for the first reading…", style="dim")
        return out
    for service in snapshot.services:
        _service(out, service, snapshot, columns)
    out.rstrip()
    return out


def _service(
    out: Text, service: ServiceRow, snapshot: Snapshot, columns: tuple[tuple[str, int], ...]
) -> None:
    out.append(f"{service.name:<18}", style="bold")
    out.append(mark(service.mtls, service.mtls_share), style=MARK_STYLE[service.mtls])
    out.append(f"  {service.peer_authentication} / {service.client_tls}\n", style="dim")
    if not service.versions:
        out.append("  (no workloads)\n", style="dim")
    for row in service.versions:
        _version(out, row, snapshot.metrics_state == "up", columns)


def _version(
    out: Text, row: VersionRow, metrics_up: bool, columns: tuple[tuple[str, int], ...]
) -> None:
    widths = [w for _, w in columns]
    m = row.metrics
    routes = row.routes or ("",)
    out.append("  ")
    out.append(fit(row.version, widths[0]) + " ", style="bold cyan")
    out.append(fit(routes[0], widths[1]) + " ", style="dim" if routes[0] == "no route" else "")
    share_width = widths[2]
    if not metrics_up:
        out.append(fit("-", share_width) + " ", style="dim")
    elif m.share is None:
        out.append(fit(NO_DATA, share_width) + " ", style="dim")
    else:
        out.append(bar(m.share, share_width - 5), style="cyan")
        out.append(f"{pct(m.share):>5} ")
    cells = (
        (rate(m.rps), widths[3], ""),
        (pct(m.success), widths[4], _success_style(m.success)),
        (millis(m.p50_ms), widths[5], ""),
        (millis(m.p99_ms), widths[6], ""),
    )
    for value, width, style in cells:
        out.append(f"{value:>{width}} ", style=style if metrics_up else "dim")
    if row.desired is None:
        ready, style = "-", "dim"
    else:
        ready = f"{row.ready}/{row.desired}"
        style = "green" if row.ready == row.desired else "bold red"
    out.append(f"{ready:>{widths[7]}}\n", style=style)
    for extra in routes[1:]:
        out.append("  " + " " * (widths[0] + 1) + fit(extra, widths[1]) + "\n")


class ServicesTable(SnapshotView):
    """Routes, share bar, rate, success and latency per version, grouped by service."""

    WIDTH = 80

    def text(self, width: int = 80) -> Text:
        """The table as text for a given width (also what tests read)."""
        return services_text(self.snapshot, width)


class MetricsBanner(Widget):
    """One line saying why numbers are missing (shown only while Prometheus is not up)."""

    DEFAULT_CSS = "MetricsBanner { height: auto; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.message = ""

    def show(self, message: str) -> None:
        self.message = message
        self.refresh(layout=True)

    def render(self) -> Text:
        return Text(self.message, style="bold")
