"""The `voting status` table, for a status of either backend (`Router.status()` shape)."""

from __future__ import annotations

from typing import Any

from mesh.apply.documents import format_overlay
from mesh.rollout_lease import describe


def format_status(status: dict[str, Any]) -> str:
    """Step, workloads, services with their routes, and a rollout's progress, as text."""
    step = status.get("step") or {}
    lines = [f"step {step.get('number')} ({step.get('name')})   ingress {status.get('ingress')}"]
    applied = format_overlay(status.get("step"), status.get("applied") or [])
    lines += [applied, ""] if applied else [""]
    lines.append(f"{'WORKLOAD':<24}{'VERSION':<9}{'READY':<8}RESTARTS")
    for w in status["workloads"]:
        lines.append(
            f"{w['name']:<24}{w['version']:<9}{w['ready']}/{w['desired']:<6}{w['restarts']}"
        )
    lines.append("")
    lines.append(f"{'SERVICE':<18}{'MTLS (SERVER)':<15}{'CLIENT TLS':<14}ROUTES")
    for s in status["services"]:
        routes = "; ".join(
            f"{r['match']} -> {r.get('answered') or r['subset'] or 'all pods'}"
            + (f" ({r['weight']}%)" if r["weight"] != 100 else "")
            + (f" [abort {r['fault']['abort_percent']:g}%]" if r.get("fault") else "")
            + "".join(f" [{label}]" for label in r.get("policies") or ())
            for r in s["routes"]
        )
        lines.append(f"{s['name']:<18}{s['peer_authentication']:<15}{s['client_tls']:<14}{routes}")
    rollout = describe(status.get("rollout"))
    if rollout:
        lines += ["", rollout]
    return "\n".join(lines)
