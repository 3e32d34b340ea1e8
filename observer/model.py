"""What the observer knows, as plain frozen dataclasses shared by sources, dashboard and CLI.

Three parts arrive independently, so one failing never blanks the others:

- ``MeshState``: what is configured (step, routes, mTLS policies, replicas, events), from the
  local control API or the Kubernetes API;
- ``Metrics``: what Prometheus observed (share, rate, success, latency, mTLS share);
- ``Votes``: the counts users see, read through the ingress.

A canary rollout in progress (or ended) rides along with the state: ``RolloutProgress``
(observer/rollout_progress.py), as `voting rollout` reports it to the control plane.

``build_snapshot`` joins them into per-service / per-version rows. Every observed number is
``float | None``: None means "no data" and is never shown as 0.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from functions.names import SERVICES
from observer.rollout_progress import RolloutProgress

PartState = Literal["up", "unreachable", "error", "unconfigured"]


# ---------------------------------------------------------------- configured state
@dataclass(frozen=True)
class StepInfo:
    """A rollout step (1-5) and its name."""

    number: int
    name: str


@dataclass(frozen=True)
class Route:
    """One destination of a route rule: which requests (match) go to which version."""

    match: str
    subset: str | None
    version: str | None
    weight: int = 100
    fault: str | None = None


@dataclass(frozen=True)
class Workload:
    """A Deployment of one app version and how many of its replicas are ready."""

    app: str
    version: str
    ready: int
    desired: int


@dataclass(frozen=True)
class ServiceConfig:
    """A service's routes and the mutual-TLS policy in force for it."""

    name: str
    peer_authentication: str
    client_tls: str
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class Event:
    """Something that happened, with its unix time."""

    time: float
    message: str


@dataclass(frozen=True)
class MeshState:
    """What is configured and running, as the control plane sees it."""

    step: StepInfo | None
    services: tuple[ServiceConfig, ...]
    workloads: tuple[Workload, ...]
    events: tuple[Event, ...] = ()
    ingress_url: str | None = None
    prometheus_url: str | None = None
    rollout: RolloutProgress | None = None

    def service(self, name: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.name == name), None)


# ---------------------------------------------------------------- observed metrics
@dataclass(frozen=True)
class VersionMetrics:
    """Observed numbers for one service version over the rate window."""

    rps: float | None = None
    share: float | None = None
    success: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None


@dataclass(frozen=True)
class EdgeMetrics:
    """Observed traffic from one workload to another."""

    source: str
    destination: str
    service: str
    rps: float | None = None
    mtls_share: float | None = None


@dataclass(frozen=True)
class Metrics:
    """One round of Prometheus queries; ``state`` says whether the numbers mean anything."""

    state: PartState
    detail: str = ""
    url: str | None = None
    versions: Mapping[tuple[str, str], VersionMetrics] = field(default_factory=dict)
    service_mtls: Mapping[str, float | None] = field(default_factory=dict)
    edges: tuple[EdgeMetrics, ...] = ()
    mirrored: Mapping[tuple[str, str], float | None] = field(default_factory=dict)
    """Mirrored copies per (service, version) in req/s: sent, their answers dropped."""
    overflow: Mapping[tuple[str, str], float | None] = field(default_factory=dict)
    """Requests callers' circuit breakers shed per (service, version), req/s (local mesh)."""
    ejected: Mapping[tuple[str, str], float | None] = field(default_factory=dict)
    """Hosts of a version outlier detection ejects right now, over every caller."""
    history: Mapping[tuple[str, str], tuple[float | None, ...]] = field(default_factory=dict)
    fetched_at: float = 0.0
    window: str = "1m"

    @classmethod
    def unavailable(
        cls, state: PartState, detail: str, url: str | None = None, window: str = "1m"
    ) -> Metrics:
        return cls(state=state, detail=detail, url=url, fetched_at=time.time(), window=window)


# ---------------------------------------------------------------- votes
@dataclass(frozen=True)
class VoteReading:
    """The results line one group of users sees, and which app/storage served it."""

    audience: str
    app_version: str | None = None
    store: str | None = None
    store_version: str | None = None
    counts: tuple[tuple[str, int], ...] = ()
    text: str = ""
    error: str | None = None


@dataclass(frozen=True)
class Votes:
    """Vote counts as read through the ingress, with and without the feature-flag cookie."""

    state: PartState
    detail: str = ""
    readings: tuple[VoteReading, ...] = ()


# ---------------------------------------------------------------- joined rows
MtlsMark = Literal["locked", "unlocked", "mixed", "no data", "no metrics"]


def mtls_mark(share: float | None, metrics_state: PartState = "up") -> MtlsMark:
    """Observed mutual-TLS share as a mark: all, none, some, or nothing to judge by."""
    if metrics_state != "up":
        return "no metrics"
    if share is None:
        return "no data"
    if share >= 0.999:
        return "locked"
    if share <= 0.001:
        return "unlocked"
    return "mixed"


@dataclass(frozen=True)
class VersionRow:
    """One version of a service: configured routes, replicas and observed numbers."""

    version: str
    routes: tuple[str, ...]
    ready: int | None
    desired: int | None
    metrics: VersionMetrics
    history: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class ServiceRow:
    """One service: mTLS policy next to the observed mTLS share, and its versions."""

    name: str
    peer_authentication: str
    client_tls: str
    mtls_share: float | None
    mtls: MtlsMark
    versions: tuple[VersionRow, ...]


@dataclass(frozen=True)
class EdgeRow:
    """One observed edge with its mTLS mark."""

    source: str
    destination: str
    service: str
    rps: float | None
    mtls_share: float | None
    mtls: MtlsMark


@dataclass(frozen=True)
class Snapshot:
    """Everything the dashboard shows at one moment; also what `--once --json` prints."""

    source: str
    taken_at: float
    step: StepInfo | None
    services: tuple[ServiceRow, ...]
    edges: tuple[EdgeRow, ...]
    votes: Votes
    metrics_state: PartState
    metrics_detail: str
    prometheus_url: str | None
    events: tuple[Event, ...] = ()
    rollout: RolloutProgress | None = None

    def service(self, name: str) -> ServiceRow | None:
        return next((s for s in self.services if s.name == name), None)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: None stays null (no data), never 0."""
        data = asdict(self)
        for service in data["services"]:
            for version in service["versions"]:
                version.update(version.pop("metrics"))
        for interval in (data.get("rollout") or {}).get("history") or ():
            # each judged interval's phase in the shape status reports it
            interval["phase"] = {
                "kind": interval["phase"],
                "weight": interval["weight"],
                "iteration": interval.pop("iteration"),
            }
        return data


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return (9999,)


_FROM = re.compile(r"from app=([\w.-]+),version=([\w.-]+)")


def describe_match(match: str) -> str:
    """Shorten a match for a narrow column: 'from app=voting-app,version=1.0' -> 'from app 1.0'."""
    parts = [p.strip() for p in match.split("|")]
    short = [
        _FROM.sub(lambda m: f"{m.group(1).removeprefix('voting-')} {m.group(2)}", p) for p in parts
    ]
    if all(_FROM.fullmatch(p) for p in parts):
        return "from " + ", ".join(short)
    return " | ".join(s if s == p else "from " + s for s, p in zip(short, parts, strict=True))


def route_labels(routes: Iterable[Route], version: str) -> tuple[str, ...]:
    """How a version gets traffic: its weight, the match that selects it, or 'no route'."""
    routes = tuple(routes)
    specific = [r for r in routes if r.match != "all"]
    labels: list[str] = []
    for route in routes:
        if route.version not in (version, None) or (route.version is None and route.subset):
            continue
        if route.version is None:
            label = "any version"
        elif route.match == "all":
            label = "default" if specific else "all traffic"
        else:
            label = describe_match(route.match)
        if route.weight != 100:
            label = f"{route.weight}%" if route.match == "all" else f"{label} {route.weight}%"
        if route.fault:
            label += f" ({route.fault})"
        if label not in labels:
            labels.append(label)
    return tuple(labels) or ("no route",)


def build_snapshot(
    source: str,
    state: MeshState | None,
    metrics: Metrics,
    votes: Votes,
    *,
    services: tuple[str, ...] = SERVICES,
) -> Snapshot:
    """Join configuration and observations into rows; versions come from both sides."""
    rows: list[ServiceRow] = []
    for name in services:
        config = state.service(name) if state else None
        routes = config.routes if config else ()
        workloads = {w.version: w for w in (state.workloads if state else ()) if w.app == name}
        versions = set(workloads)
        versions |= {r.version for r in routes if r.version}
        versions |= {v for (s, v), m in metrics.versions.items() if s == name and m.share}
        version_rows = []
        for version in sorted(versions, key=_version_key):
            workload = workloads.get(version)
            labels = route_labels(routes, version) if config else ()
            copies = metrics.mirrored.get((name, version))
            if copies:  # a mirror's copies: beside the routes, never in the served share
                labels = (*labels, f"+ mirrored copies {copies:.1f}/s (answers dropped)")
            shed = metrics.overflow.get((name, version))
            if shed:  # a connectionPool's overflow: answered 503 by the callers themselves
                labels = (*labels, f"! overflow {shed:.1f}/s shed by callers (503)")
            ejected = metrics.ejected.get((name, version))
            if ejected:
                labels = (
                    *labels,
                    f"! {ejected:g} ejection(s) by callers' outlier detection",
                )
            version_rows.append(
                VersionRow(
                    version=version,
                    routes=labels,
                    ready=workload.ready if workload else None,
                    desired=workload.desired if workload else None,
                    metrics=metrics.versions.get((name, version), VersionMetrics()),
                    history=metrics.history.get((name, version), ()),
                )
            )
        share = metrics.service_mtls.get(name)
        rows.append(
            ServiceRow(
                name=name,
                peer_authentication=config.peer_authentication if config else "?",
                client_tls=config.client_tls if config else "?",
                mtls_share=share,
                mtls=mtls_mark(share, metrics.state),
                versions=tuple(version_rows),
            )
        )
    edges = tuple(
        EdgeRow(
            e.source,
            e.destination,
            e.service,
            e.rps,
            e.mtls_share,
            mtls_mark(e.mtls_share, metrics.state),
        )
        for e in sorted(
            metrics.edges,
            key=lambda e: (
                services.index(e.service) if e.service in services else 99,
                e.source,
                e.destination,
            ),
        )
    )
    return Snapshot(
        source=source,
        taken_at=time.time(),
        step=state.step if state else None,
        services=tuple(rows),
        edges=edges,
        votes=votes,
        metrics_state=metrics.state,
        metrics_detail=metrics.detail,
        prometheus_url=metrics.url,
        events=state.events if state else (),
        rollout=state.rollout if state else None,
    )
