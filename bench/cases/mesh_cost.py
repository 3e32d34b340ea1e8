"""Case 1, mesh cost: the same three functions called directly, then through the ingress
and STRICT-mTLS sidecars (step 3), at saturation (wrk) and at held open-loop rates. It
measures what the mesh costs in throughput, CPU per request and added latency per Envoy hop,
against the goals and the original's figures.
"""

from __future__ import annotations

import uuid

from bench.cases.common import (
    GET_HOPS,
    LOW_RATE,
    ORIGINAL_GET_RPS,
    ORIGINAL_VOTE_RPS,
    RATE,
    VOTE_ENV,
    VOTE_HOPS,
    Context,
    PathFigures,
    drop_databases,
    measure,
)
from bench.procs import LocalUp
from bench.report import Row, at_least, at_most


def mesh_cost(ctx: Context) -> None:
    report = ctx.report
    redis_port = ctx.ports.take()
    ctx.children.redis(redis_port)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"

    ctx.log("mesh cost: the functions called directly")
    storage, results, vote = ctx.ports.take(), ctx.ports.take(), ctx.ports.take()
    procs = [
        ctx.children.function("storage", "1.0", storage, {"REDIS_URL": redis_url}),
        ctx.children.function(
            "results", "1.1", results, {"STORAGE_URL": f"http://127.0.0.1:{storage}"}
        ),
        ctx.children.function(
            "vote",
            "1.0",
            vote,
            VOTE_ENV
            | {
                "ANALYTICS_URL": f"http://127.0.0.1:{results}",
                "STORAGE_URL": f"http://127.0.0.1:{storage}",
            },
        ),
    ]
    pids = [p.pid for p in procs]
    url = f"http://127.0.0.1:{vote}/"
    direct_get = measure(ctx, url, pids, vote=False)
    direct_vote = measure(ctx, url, pids, vote=True)
    for process in procs:
        ctx.children.stop(process)

    ctx.log("mesh cost: through the ingress and STRICT-mTLS sidecars (step 3)")
    up = LocalUp(ctx.children, ctx.workdir / "mesh-state", ctx.ports.take())
    database = f"voting_bench_{uuid.uuid4().hex[:8]}"
    try:
        up.start(
            step="lock-down",
            redis_url=redis_url,
            database=database,
            telemetry=False,
            ports=ctx.ports,
        )
        mesh_get = measure(ctx, up.url, up.pids(), vote=False)
        mesh_vote = measure(ctx, up.url, up.pids(), vote=True)
    finally:
        up.stop()
        drop_databases([database])

    case = "1 mesh cost"
    for kind, direct, mesh, hops in (
        ("GET /", direct_get, mesh_get, GET_HOPS),
        ("POST / vote", direct_vote, mesh_vote, VOTE_HOPS),
    ):
        note = _errors_note(direct, mesh)
        report.add(
            Row(case, f"{kind} direct, wrk -t2 -c50", direct.saturation.rps, "req/s", note=note)
        )
        report.add(Row(case, f"{kind} mesh, wrk -t2 -c50", mesh.saturation.rps, "req/s"))
        ratio = mesh.saturation.rps / direct.saturation.rps if direct.saturation.rps else None
        report.add(
            Row(case, f"{kind} mesh/direct throughput", ratio, "x", ">= 0.5", at_least(ratio, 0.5))
        )
        for name, fig in (("direct", direct), ("mesh", mesh)):
            s = fig.saturation
            report.add(
                Row(
                    case,
                    f"{kind} {name} p50/p99 at saturation",
                    s.p99_ms,
                    "ms",
                    note=f"p50 {s.p50_ms:.1f} ms, p99 {s.p99_ms:.1f} ms, {s.errors} errors of {s.requests}",
                )
            )
            report.add(
                Row(
                    case,
                    f"{kind} {name} CPU per request",
                    fig.cpu_ms,
                    "ms",
                    note="user+system CPU of every process on the path (not wrk)",
                )
            )
            report.add(
                Row(
                    case,
                    f"{kind} {name} projected on idle cores",
                    fig.idle_machine_rps,
                    "req/s",
                    note="cores / (CPU per request of the path + of wrk): the rate if nothing else ran",
                )
            )
        for name, fig in (("direct", direct), ("mesh", mesh)):
            r = fig.rate
            report.add(
                Row(
                    case,
                    f"{kind} {name} p99 at {RATE:.0f} req/s",
                    r.p99_ms,
                    "ms",
                    note=f"open loop: p50 {r.p50_ms:.1f} ms, held {r.rps:.0f} req/s, {r.errors} errors of {r.requests}",
                )
            )
        for name, fig in (("direct", direct), ("mesh", mesh)):
            r = fig.low
            report.add(
                Row(
                    case,
                    f"{kind} {name} p99 at {LOW_RATE:.0f} req/s",
                    r.p99_ms,
                    "ms",
                    note=f"open loop: p50 {r.p50_ms:.1f} ms, held {r.rps:.0f} req/s, {r.errors} errors of {r.requests}",
                )
            )
        low_added = (mesh.low.p99_ms - direct.low.p99_ms) / hops
        report.add(
            Row(
                case,
                f"{kind} added p99 per hop at {LOW_RATE:.0f} req/s",
                low_added,
                "ms",
                note=f"context for the goal below: (mesh p99 - direct p99) / {hops} Envoy hops",
            )
        )
        added = (mesh.rate.p99_ms - direct.rate.p99_ms) / hops
        report.add(
            Row(
                case,
                f"{kind} added p99 per hop at {RATE:.0f} req/s",
                added,
                "ms",
                "<= 1 ms",
                at_most(added, 1.0),
                note=f"(mesh p99 - direct p99) / {hops} Envoy hops",
            )
        )
    report.add(
        Row(
            case,
            "GET / mesh vs original (no mesh)",
            mesh_get.saturation.rps,
            "req/s",
            f">= {ORIGINAL_GET_RPS}",
            at_least(mesh_get.saturation.rps, ORIGINAL_GET_RPS),
        )
    )
    report.add(
        Row(
            case,
            "GET / direct vs 2x original",
            direct_get.saturation.rps,
            "req/s",
            f">= {2 * ORIGINAL_GET_RPS}",
            at_least(direct_get.saturation.rps, 2 * ORIGINAL_GET_RPS),
        )
    )
    report.add(
        Row(
            case,
            "POST / vote direct (durable, idempotent)",
            direct_vote.saturation.rps,
            "req/s",
            f">= {ORIGINAL_VOTE_RPS:,}",
            at_least(direct_vote.saturation.rps, ORIGINAL_VOTE_RPS),
        )
    )


def _errors_note(direct: PathFigures, mesh: PathFigures) -> str:
    errors = direct.saturation.errors + mesh.saturation.errors
    return f"{errors} failed requests at saturation" if errors else ""
