"""Wiring one rollout to where it runs: its router, its Prometheus and where progress goes.

`voting rollout` and the dashboard's rollout key both start a canary through `run_rollout`,
so both judge the same gates against the same system and report the same progress. All of
it goes through the `Router` (mesh/router), whichever the backend: on the local system the
progress and the verbs go through `voting up`'s control API and Prometheus is the one it
runs; on a cluster (`context`) they live in two ConfigMaps of the namespace
(mesh/router/kubernetes_rollout.py) and the Prometheus URL must be given. So `--resume`,
`--rollback`, the verbs and `status` work the same against both.
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

ACT_WITHIN_S = 5.0  # how long `voting rollout VERB` waits to show the controller acted


def _router(
    state_dir: Path, context: str | None, namespace: str, kubeconfig: str | None = None
) -> Any:
    from mesh.router.factory import router_for

    return router_for(context, namespace=namespace, state_dir=state_dir, kubeconfig=kubeconfig)


async def run_rollout(
    spec: RolloutSpec,
    *,
    state_dir: Path,
    context: str | None = None,
    namespace: str = "voting",
    kubeconfig: str | None = None,
    prometheus_url: str | None = None,
    on_event: Callable[[str], None] = print,
    resume: ResumePlan | None = None,
    cancel_reason: str = "rollout cancelled",
) -> Outcome:
    """Run one canary to its end (promoted, rolled back or aborted) and return how it ended.

    `resume` goes on with a lost rollout (see `resume_rollout`); `cancel_reason` is the
    reason reported when the run is cancelled (it rolls back first)."""
    from telemetry.prometheus import PrometheusClient

    router = _router(state_dir, context, namespace, kubeconfig)
    try:
        if context is None and kubeconfig is None:
            prometheus_url = prometheus_url or (await router.status()).get("prometheus")
        if not prometheus_url:
            raise RuntimeError(
                "no telemetry: a rollout needs Prometheus (install it, or pass --prometheus-url)"
            )
        async with PrometheusClient(prometheus_url, timeout=5) as client:
            rollout = Rollout(
                spec,
                router,
                client,
                report=router.report_rollout,
                commands=router.take_rollout_commands,
                on_event=on_event,
                resume=resume,
                cancel_reason=cancel_reason,
            )
            return await rollout.run()
    finally:
        await router.close()


async def _progress(router: Any) -> dict[str, Any] | None:
    return (await router.status()).get("rollout")


async def resume_rollout(
    *,
    state_dir: Path,
    context: str | None = None,
    namespace: str = "voting",
    kubeconfig: str | None = None,
    prometheus_url: str | None = None,
    on_event: Callable[[str], None] = print,
    cancel_reason: str = "rollout cancelled",
) -> Outcome:
    """Go on with the rollout whose controller was lost, from the progress in status."""
    router = _router(state_dir, context, namespace, kubeconfig)
    try:
        plan = plan_resume(await _progress(router))
    finally:
        await router.close()
    return await run_rollout(
        plan.spec,
        state_dir=state_dir,
        context=context,
        namespace=namespace,
        kubeconfig=kubeconfig,
        prometheus_url=prometheus_url,
        on_event=on_event,
        resume=plan,
        cancel_reason=cancel_reason,
    )


async def rollback_rollout(
    *,
    state_dir: Path,
    context: str | None = None,
    namespace: str = "voting",
    kubeconfig: str | None = None,
    on_event: Callable[[str], None] = print,
) -> Outcome:
    """Put the routes back on stable (the spec's rollback step) and mark the rollout rolled back.

    Refused while a live controller holds the rollout's lease."""
    router = _router(state_dir, context, namespace, kubeconfig)
    try:
        progress = await _progress(router)
        spec = check_rollback(progress)
        was = (progress or {}).get("state", "none")
        weight = (progress or {}).get("weight", 0)
        on_event(f"[rollout] rolling back on request ({spec.rollback_step}); rollout was {was}")
        await router.apply_step(spec.rollback_step)
        reason = f"rolled back on request (rollout was {was} at {weight}%)"
        final = rolled_back(await _progress(router), reason)
        await router.report_rollout(final)
    finally:
        await router.close()
    return Outcome(
        state=final["state"],
        weight=int(final.get("weight") or 0),
        reason=reason,
        history=list(final.get("history") or []),
        started=final.get("started") or 0.0,
        finished=final["finished"],
    )


async def read_progress(
    *,
    state_dir: Path,
    context: str | None = None,
    namespace: str = "voting",
    kubeconfig: str | None = None,
) -> dict[str, Any] | None:
    """The rollout's progress as status shows it, from the local system or a cluster."""
    router = _router(state_dir, context, namespace, kubeconfig)
    try:
        return await _progress(router)
    finally:
        await router.close()


async def command_rollout(
    verb: str,
    *,
    state_dir: Path,
    by: str,
    context: str | None = None,
    namespace: str = "voting",
    kubeconfig: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """`steer` the rollout of the local system or a cluster (a router of its own)."""
    router = _router(state_dir, context, namespace, kubeconfig)
    try:
        return await steer(router, verb, by)
    finally:
        await router.close()


async def steer(router: Any, verb: str, by: str) -> tuple[dict[str, Any], bool]:
    """Ask the live controller for `pause|resume|promote|abort|confirm`; the progress once it
    acted (True), or as it is after `ACT_WITHIN_S` without a sign of it (False).

    Refused (said as an error) when the verb does not apply now; a controller acts on it
    within about a second."""
    before = await _progress(router) or {}
    await router.rollout_command(verb, by)
    deadline = time.monotonic() + ACT_WITHIN_S
    while True:
        now = await _progress(router) or {}
        if acted(verb, before, now):
            return now, True
        if time.monotonic() > deadline:
            return now, False
        await asyncio.sleep(0.2)


def acted(verb: str, before: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether the progress shows the controller acted on `verb` (for the CLI's answer)."""
    if now.get("state") != "running":
        return True
    if verb == "pause":
        return bool(now.get("paused"))
    if verb == "resume":
        return not now.get("paused")

    def last(progress: dict[str, Any]) -> float:
        events = progress.get("events") or ()
        return float(events[-1].get("time") or 0) if events else 0.0

    return last(now) > last(before)  # progress keeps the last 20 events: compare the newest
