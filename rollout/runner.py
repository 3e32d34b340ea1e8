"""Wiring one rollout to where it runs: its router, its Prometheus and where progress goes.

`voting rollout` and the dashboard's rollout key both start a canary through `run_rollout`,
so both judge the same gates against the same system and report the same progress. Against
the local system (no context) Prometheus is the one `voting up` runs and progress goes to
its control API (`PUT /rollout`, shown in `voting status` and the dashboard); against a
cluster the Prometheus URL must be given and progress is only printed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rollout.controller import Outcome, Rollout
from rollout.spec import RolloutSpec


async def run_rollout(
    spec: RolloutSpec,
    *,
    state_dir: Path,
    context: str | None = None,
    namespace: str = "voting",
    prometheus_url: str | None = None,
    on_event: Callable[[str], None] = print,
) -> Outcome:
    """Run one canary to its end (promoted, rolled back or aborted) and return how it ended."""
    from mesh.router import router_for
    from observer.queries import PrometheusClient

    router = router_for(context, namespace=namespace, state_dir=state_dir)
    try:
        report = None
        if context is None:
            from mesh.local.control import ControlClient

            control = ControlClient(state_dir)
            status = await control.status()
            prometheus_url = prometheus_url or status.get("prometheus")
            report = control.report_rollout
        if not prometheus_url:
            raise RuntimeError(
                "no telemetry: a rollout needs Prometheus (install it, or pass --prometheus-url)"
            )
        async with PrometheusClient(prometheus_url, timeout=5) as client:
            return await Rollout(spec, router, client, report=report, on_event=on_event).run()
    finally:
        await router.close()
