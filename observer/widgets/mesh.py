"""Mesh-wide views: mutual TLS per service and per edge, and the share history."""

from __future__ import annotations

from rich.text import Text

from observer.format import MARK_STYLE, fit, mark, pct, rate, sparkline
from observer.model import Snapshot
from observer.widgets.snapshot_view import SnapshotView


def short(workload: str) -> str:
    """'voting-analytics-1-1' -> 'analytics-1-1': edges must fit a side column."""
    return workload.removeprefix("voting-")


def mtls_text(snapshot: Snapshot | None, width: int = 48) -> Text:
    """Policy in force next to the observed mTLS share, per service and per edge."""
    out = Text(no_wrap=True, overflow="ellipsis")
    if snapshot is None:
        return out
    name_width = max(12, min(18, width - 30))
    out.append(
        fit("SERVICE", name_width) + " POLICY (SERVER/CLIENT)   OBSERVED\n", style="bold dim"
    )
    for service in snapshot.services:
        policy = f"{service.peer_authentication}/{service.client_tls}"
        out.append(fit(short(service.name), name_width) + " " + fit(policy, 23) + " ")
        out.append(mark(service.mtls, service.mtls_share) + "\n", style=MARK_STYLE[service.mtls])
    edge_width = max(20, width - 22)
    out.append(
        fit("EDGE (SOURCE → DESTINATION)", edge_width) + " REQ/S OBSERVED\n", style="bold dim"
    )
    if not snapshot.edges:
        note = "no traffic in the last minute" if snapshot.metrics_state == "up" else "no metrics"
        out.append(f"{note}\n", style="dim")
    for edge in snapshot.edges:
        out.append(fit(f"{short(edge.source)} → {short(edge.destination)}", edge_width))
        out.append(f" {rate(edge.rps):>5} ")
        out.append(mark(edge.mtls, edge.mtls_share) + "\n", style=MARK_STYLE[edge.mtls])
    out.rstrip()
    return out


def history_text(snapshot: Snapshot | None, width: int = 48) -> Text:
    """One sparkline of the share per service version."""
    out = Text(no_wrap=True, overflow="ellipsis")
    if snapshot is None:
        return out
    label_width = 18
    spark_width = max(8, width - label_width - 6)
    for service in snapshot.services:
        for row in service.versions:
            out.append(fit(f"{short(service.name)} {row.version}", label_width))
            if snapshot.metrics_state != "up":
                out.append(fit("-", spark_width), style="dim")
            elif any(v is not None for v in row.history):
                out.append(sparkline(row.history, spark_width), style="cyan")
            else:
                out.append(fit("no data", spark_width), style="dim")
            out.append(f" {pct(row.metrics.share):>4}\n")
    out.rstrip()
    return out


class MtlsPanel(SnapshotView):
    """Policy in force (PeerAuthentication / DestinationRule TLS) next to the observed mTLS share."""

    def text(self, width: int = 48) -> Text:
        return mtls_text(self.snapshot, width)


class HistoryPanel(SnapshotView):
    """Share of each version over the last minutes, one sparkline per service version."""

    def text(self, width: int = 48) -> Text:
        return history_text(self.snapshot, width)
