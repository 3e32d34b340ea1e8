"""Wiring one rollout to where it runs: its router, its Prometheus and where progress goes.

`voting rollout` and the dashboard's rollout key both start a canary through `run_rollout`,
so both judge the same gates against the same system and report the same progress. Against
the local system (no context) Prometheus is the one `voting up` runs and progress goes to
its control API (`PUT /rollout`, shown in `voting status` and the dashboard); against a
cluster the Prometheus URL must be given and progress is only printed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rollout.controller import Outcome, Rollout
from rollout.progress import ResumePlan, check_rollback, plan_resume, rolled_back
from rollout.spec import RolloutSpec

CLUSTER_PROGRESS = (
    "a rollout against a cluster keeps no progress to {verb} from (only the local system "
    "does); run `voting step lock-down --context ...` to put the routes back on 1.x"
)


async def run_rollout(
    spec: RolloutSpec,
    *,
    state_dir: Path,
    context: str | None = None,
    namespace: str = "voting",
    prometheus_url: str | None = None,
    on_event: Callable[[str], None] = print,
    resume: ResumePlan | None = None,
    cancel_reason: str = "rollout cancelled",
) -> Outcome:
    """Run one canary to its end (promoted, rolled back or aborted) and return how it ended.

    `resume` goes on with a lost rollout (see `resume_rollout`); `cancel_reason` is the
    reason reported when the run is cancelled (it rolls back first)."""
    from mesh.router.factory import router_for
    from telemetry.prometheus import PrometheusClient

    router = router_for(context, namespace=namespace, state_dir=state_dir)
    try:
        report = commands = None
        if context is None:
            from mesh.local.control import ControlClient

            control = ControlClient(state_dir)
            status = await control.status()
            prometheus_url = prometheus_url or status.get("prometheus")
            report = control.report_rollout
            commands = control.take_rollout_commands
        if not prometheus_url:
            raise RuntimeError(
                "no telemetry: a rollout needs Prometheus (install it, or pass --prometheus-url)"
            )
        async with PrometheusClient(prometheus_url, timeout=5) as client:
            rollout = Rollout(
                spec,
                router,
                client,
                report=report,
                commands=commands,
                on_event=on_event,
                resume=resume,
                cancel_reason=cancel_reason,
            )
            return await rollout.run()
    finally:
        await router.close()


async def resume_rollout(
    *,
    state_dir: Path,
    context: str | None = None,
    prometheus_url: str | None = None,
    on_event: Callable[[str], None] = print,
    cancel_reason: str = "rollout cancelled",
) -> Outcome:
    """Go on with the rollout whose controller was lost, from the progress in status."""
    if context is not None:
        raise RuntimeError(CLUSTER_PROGRESS.format(verb="resume"))
    from mesh.local.control import ControlClient

    status = await ControlClient(state_dir).status()
    plan = plan_resume(status.get("rollout"))
    return await run_rollout(
        plan.spec,
        state_dir=state_dir,
        prometheus_url=prometheus_url,
        on_event=on_event,
        resume=plan,
        cancel_reason=cancel_reason,
    )


async def rollback_rollout(
    *, state_dir: Path, context: str | None = None, on_event: Callable[[str], None] = print
) -> Outcome:
    """Put the routes back on stable (the spec's rollback step) and mark the rollout rolled back.

    Refused while a live controller holds the rollout's lease."""
    if context is not None:
        raise RuntimeError(CLUSTER_PROGRESS.format(verb="roll back"))
    from mesh.local.control import ControlClient
    from mesh.router.factory import router_for

    control = ControlClient(state_dir)
    progress = (await control.status()).get("rollout")
    spec = check_rollback(progress)
    was = (progress or {}).get("state", "none")
    weight = (progress or {}).get("weight", 0)
    on_event(f"[rollout] rolling back on request ({spec.rollback_step}); rollout was {was}")
    router = router_for(state_dir=state_dir)
    try:
        await router.apply_step(spec.rollback_step)
    finally:
        await router.close()
    reason = f"rolled back on request (rollout was {was} at {weight}%)"
    final = rolled_back((await control.status()).get("rollout"), reason)
    await control.report_rollout(final)
    return Outcome(
        state=final["state"],
        weight=int(final.get("weight") or 0),
        reason=reason,
        history=list(final.get("history") or []),
        started=final.get("started") or 0.0,
        finished=final["finished"],
    )


async def command_rollout(
    verb: str, *, state_dir: Path, by: str, context: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Queue `pause|resume|promote|abort|confirm` for the live controller; the progress once
    it acted (True), or as it is after `ACT_WITHIN_S` without a sign of it (False).

    Refused (`CommandRefused` via the control API, said as a MeshError) when it does not
    apply now; a controller acts on it within about a second."""
    if context is not None:
        raise RuntimeError(
            f"`voting rollout {verb}` acts on the local system's rollout; against a cluster the "
            "controller runs in the terminal that started it (Ctrl-C there rolls back)"
        )
    from mesh.local.control import ControlClient

    control = ControlClient(state_dir)
    before = (await control.status()).get("rollout") or {}
    await control.rollout_command(verb, by)
    deadline = time.monotonic() + ACT_WITHIN_S
    while True:
        now = (await control.status()).get("rollout") or {}
        if acted(verb, before, now):
            return now, True
        if time.monotonic() > deadline:
            return now, False
        await asyncio.sleep(0.2)


ACT_WITHIN_S = 5.0  # how long `voting rollout VERB` waits to show the controller acted


def acted(verb: str, before: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether the progress shows the controller acted on `verb` (for the CLI's answer)."""
    if now.get("state") != "running":
        return True
    if verb == "pause":
        return bool(now.get("paused"))
    if verb == "resume":
        return not now.get("paused")
    return len(now.get("events") or ()) > len(before.get("events") or ())
