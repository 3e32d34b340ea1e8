"""Case 5, durability: vote throughput with Redis `appendfsync everysec` (what `voting up`
runs) vs `no` (and `always`), on one Redis switched with CONFIG SET. It measures what
surviving a kill -9 costs in acknowledged votes per second.
"""

from __future__ import annotations

import statistics

from bench import load
from bench.cases.common import VOTE_ENV, Context
from bench.report import Row

FSYNC_MODES = ("no", "everysec", "always")


def durability_cost(ctx: Context) -> None:
    """POST / vote at saturation (wrk, vote + storage 1.0 called directly) per fsync policy.

    One Redis with an append-only file, its policy switched with CONFIG SET between runs,
    the runs interleaved (no, everysec, always, and again in a full run): the machine's
    noise falls on every policy alike, so the ratio is what the policy costs.
    """
    import redis

    d = ctx.durations
    case = "5 durability"
    redis_port = ctx.ports.take()
    ctx.children.redis(redis_port, appendfsync="everysec")
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    storage, vote = ctx.ports.take(), ctx.ports.take()
    ctx.log("durability: votes with appendfsync no / everysec / always")
    procs = [
        ctx.children.function(
            "storage", "1.0", storage, {"REDIS_URL": redis_url, "LOG_LEVEL": "WARNING"}
        ),
        ctx.children.function(
            "vote",
            "1.0",
            vote,
            VOTE_ENV
            | {
                "ANALYTICS_URL": f"http://127.0.0.1:{storage}",  # readiness only: votes skip it
                "STORAGE_URL": f"http://127.0.0.1:{storage}",
                "LOG_LEVEL": "WARNING",
            },
        ),
    ]
    url = f"http://127.0.0.1:{vote}/"
    client = redis.Redis(host="127.0.0.1", port=redis_port)
    rps: dict[str, list[float]] = {mode: [] for mode in FSYNC_MODES}
    errors = 0
    try:
        load.wrk(url, duration=d.warmup, post_form="vote=Cats")
        for round_ in range(2):  # forwards, then backwards: a drift falls on all alike
            for mode in FSYNC_MODES if round_ == 0 else FSYNC_MODES[::-1]:
                client.config_set("appendfsync", mode)
                result = load.wrk(url, duration=d.saturate, post_form="vote=Cats")
                rps[mode].append(result.rps)
                errors += result.errors
    finally:
        client.close()
        for process in procs:
            ctx.children.stop(process)
    mean = {mode: statistics.fmean(values) for mode, values in rps.items()}
    runs = len(rps["no"])
    for mode in FSYNC_MODES:
        note = f"mean of {runs} runs of {d.saturate:g} s, interleaved"
        if mode == "everysec":
            note += "; what `voting up` runs (voting-redis.yaml too)"
        if mode == "no" and errors:
            note += f"; {errors} failed requests over all runs"
        ctx.report.add(
            Row(
                case,
                f"POST / vote direct, appendfsync {mode}, wrk -t2 -c50",
                mean[mode],
                "req/s",
                note=note,
            )
        )
    for mode in ("everysec", "always"):
        ratio = mean[mode] / mean["no"] if mean["no"] else None
        ctx.report.add(
            Row(
                case,
                f"vote throughput appendfsync {mode} / no",
                ratio,
                "x",
                note="the durability cost: 1 = free; acknowledged votes survive a kill -9 "
                "with everysec and always (the AOF is written before Redis answers)",
            )
        )
