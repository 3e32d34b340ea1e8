"""Case 6, overload: votes offered at 1x, 2x, 3x saturation, shed by the function (direct)
and by the sidecars (mesh). It measures goodput, the shed share and the admitted p99: that
overload is refused quickly instead of queueing. The load offering is bench/overload.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid

from bench import load
from bench.cases.common import VOTE_ENV, Context, drop_databases
from bench.procs import LocalUp

OVERLOAD_LIMIT = 32  # MAX_IN_FLIGHT for the direct run: small, so 3x saturation sheds visibly
MESH_OVERLOAD_LIMIT = 8  # per pod, enforced by its sidecar (3 voting-app pods)


def overload(ctx: Context) -> None:
    """Votes offered at 1x, 2x, 3x saturation, shed by the function (direct) and by the
    sidecars (mesh): goodput, shed share, admitted p99 (bench.overload)."""
    from bench import overload as ov

    redis_port = ctx.ports.take()
    redis_proc = ctx.children.redis(redis_port, appendfsync="everysec")
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    storage, vote = ctx.ports.take(), ctx.ports.take()
    limit = {"MAX_IN_FLIGHT": str(OVERLOAD_LIMIT), "LOG_LEVEL": "WARNING"}
    ctx.log(f"overload: direct votes at 1x, 2x, 3x saturation (MAX_IN_FLIGHT={OVERLOAD_LIMIT})")
    server = [
        redis_proc,
        ctx.children.function("storage", "1.0", storage, limit | {"REDIS_URL": redis_url}),
        ctx.children.function(
            "vote",
            "1.0",
            vote,
            VOTE_ENV
            | limit
            | {
                "ANALYTICS_URL": f"http://127.0.0.1:{storage}",  # readiness only
                "STORAGE_URL": f"http://127.0.0.1:{storage}",
            },
        ),
    ]
    try:
        saturation, runs = _overload_runs(ctx, f"http://127.0.0.1:{vote}/", [p.pid for p in server])
    finally:
        for process in reversed(server[1:]):
            ctx.children.stop(process)
    for row in ov.rows("6 overload direct", saturation, runs, OVERLOAD_LIMIT, "function"):
        ctx.report.add(row)

    ctx.log(f"overload: through the mesh, sidecars admitting {MESH_OVERLOAD_LIMIT} per pod")
    up = LocalUp(ctx.children, ctx.workdir / "overload-state", ctx.ports.take())
    database = f"voting_bench_{uuid.uuid4().hex[:8]}"
    try:
        up.start(
            step="deploy", redis_url=redis_url, database=database, telemetry=False, ports=ctx.ports
        )
        _limit_mesh(up, MESH_OVERLOAD_LIMIT)
        saturation, runs = _overload_runs(ctx, up.url, up.pids())
    finally:
        up.stop()
        ctx.children.stop(redis_proc)
        drop_databases([database])
    for row in ov.rows(
        "6 overload mesh", saturation, runs, MESH_OVERLOAD_LIMIT, "sidecar, per pod"
    ):
        ctx.report.add(row)


def _limit_mesh(up: LocalUp, limit: int) -> None:
    """Give the running step's function Deployments MAX_IN_FLIGHT=limit (their sidecars too)."""
    from mesh.local.control import ControlClient

    client = ControlClient(up.state_dir)
    current = asyncio.run(client.documents())
    documents = current["documents"]
    for doc in documents:
        if doc.get("kind") == "Deployment" and doc["metadata"]["name"].startswith("voting-"):
            container = doc["spec"]["template"]["spec"]["containers"][0]
            container["env"] = [
                *(e for e in container.get("env", []) if e.get("name") != "MAX_IN_FLIGHT"),
                {"name": "MAX_IN_FLIGHT", "value": str(limit)},
            ]
    asyncio.run(client.apply(current["step"]["name"], documents))


def _overload_runs(ctx: Context, url: str, server_pids: list[int]) -> tuple[float, dict]:
    """Saturation (wrk), then the open loop at each multiple; the server on one core."""
    from bench import overload as ov

    d = ctx.durations
    own = os.sched_getaffinity(0)
    try:
        for pid in server_pids:
            with contextlib.suppress(OSError):
                ov.pin(pid, ov.SERVER_CORE)
        ov.pin(0, ov.CLIENT_CORE)  # wrk and the open loop run beside, not on, the server
        load.wrk(url, duration=d.warmup, threads=1, connections=16, post_form="vote=Cats")
        measured = load.wrk(
            url, duration=d.saturate, threads=1, connections=16, post_form="vote=Cats"
        )
        # acknowledged votes only: a shed answer (503) is not throughput
        saturation = max(1.0, (measured.requests - measured.errors) / measured.seconds)
        return saturation, {m: ov.offer(url, saturation * m, d.saturate) for m in ov.MULTIPLES}
    finally:
        os.sched_setaffinity(0, own)
