"""Case 6, overload: past saturation the excess is shed fast, the admitted keep a bounded p99.

vote + storage 1.0 called directly, every request a vote, with the admission limit the
functions run with (MAX_IN_FLIGHT); the server processes on one core and the load on the
other, so the client can offer more than the server takes. Saturation is measured first
(wrk); then an open loop offers 1x, 2x and 3x of it. Each answer is sorted by what it was:
acknowledged (303: stored), shed (503 with Retry-After: never stored, safe to send again) or
anything else (a failure). Nothing here counts a shed vote as lost: the client would re-send
it with the same vote id, and storage counts that id once.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

from bench import load
from bench.report import Row

MULTIPLES = (1, 2, 3)
SERVER_CORE, CLIENT_CORE = 0, 1


@dataclass
class OverloadResult:
    """What one open-loop run saw, by kind of answer."""

    offered_rps: float
    seconds: float
    admitted_ms: list[float] = field(default_factory=list)
    shed_ms: list[float] = field(default_factory=list)
    shed_without_retry_after: int = 0
    failed: int = 0
    client_cpu_s: float = 0.0
    """CPU the load client itself used: near `seconds`, the client (not the server) was full."""

    @property
    def total(self) -> int:
        return len(self.admitted_ms) + len(self.shed_ms) + self.failed

    def p99(self, values: list[float]) -> float:
        return load.percentile(sorted(values), 0.99)


async def _offer(url: str, rate: float, duration: float, timeout_s: float) -> OverloadResult:
    total = max(1, round(rate * duration))
    result = OverloadResult(offered_rps=0.0, seconds=0.0)
    connector = aiohttp.TCPConnector(limit=2048)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def one(scheduled: float) -> None:
            form = {"vote": "Cats", "vote_id": uuid.uuid4().hex}
            try:
                async with session.post(url, data=form, allow_redirects=False) as response:
                    await response.read()
                    ms = (time.perf_counter() - scheduled) * 1000
                    if response.status == 303:
                        result.admitted_ms.append(ms)
                    elif response.status == 503:
                        result.shed_ms.append(ms)
                        if "Retry-After" not in response.headers:
                            result.shed_without_retry_after += 1
                    else:
                        result.failed += 1
            except (aiohttp.ClientError, TimeoutError, OSError):
                result.failed += 1

        result.seconds, sent_in = await load.schedule(rate, total, one)
        result.offered_rps = total / max(sent_in, 1e-9)
    return result


def offer(url: str, rate: float, duration: float, timeout_s: float = 10.0) -> OverloadResult:
    """Offer `rate` votes/s for `duration` s from the client core; sort every answer."""
    if not url.startswith("http://127.0.0.1:"):
        raise load.LoadError("the bench only loads 127.0.0.1")
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = asyncio.run(_offer(url, rate, duration, timeout_s))
    after = resource.getrusage(resource.RUSAGE_SELF)
    result.client_cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


def pin(pid: int, core: int) -> None:
    """Keep a process on one core (a 1-core machine: leave it where it is)."""
    if (os.cpu_count() or 1) > core:
        os.sched_setaffinity(pid, {core})


def rows(
    case: str, saturation: float, runs: dict[int, OverloadResult], limit: int, where: str
) -> list[Row]:
    """The table: per multiple, goodput, shed share and the admitted requests' p99."""
    out = [
        Row(
            case,
            "POST / vote saturation, server on one core",
            saturation,
            "req/s",
            note=f"wrk -t1 -c16 on the other core; MAX_IN_FLIGHT={limit} ({where})",
        )
    ]
    base_p99 = runs[1].p99(runs[1].admitted_ms) if runs[1].admitted_ms else None
    for multiple, run in runs.items():
        label = f"{multiple}x saturation"
        shed_share = len(run.shed_ms) / run.total if run.total else None
        out.append(
            Row(
                case,
                f"{label}: goodput (acknowledged votes)",
                len(run.admitted_ms) / run.seconds if run.seconds else None,
                "req/s",
                note=f"offered {run.offered_rps:,.0f} req/s for {run.seconds:.1f} s, "
                f"{run.total} votes, {run.failed} failed; load client at "
                f"{run.client_cpu_s / run.seconds:.0%} of its core"
                + (
                    " (client-bound: latencies include the client's own queue)"
                    if run.seconds and run.client_cpu_s / run.seconds > 0.9
                    else ""
                ),
            )
        )
        out.append(
            Row(
                case,
                f"{label}: shed share (503 + Retry-After)",
                shed_share * 100 if shed_share is not None else None,
                "%",
                note=f"shed p99 {run.p99(run.shed_ms):.1f} ms"
                + (
                    f"; {run.shed_without_retry_after} without Retry-After"
                    if run.shed_without_retry_after
                    else ""
                ),
            )
        )
        admitted_p99 = run.p99(run.admitted_ms) if run.admitted_ms else None
        goal, passed = "", None
        if multiple == 3 and admitted_p99 is not None and base_p99:
            goal, passed = "<= 5x the p99 at 1x", admitted_p99 <= 5 * base_p99
        out.append(
            Row(
                case,
                f"{label}: p99 of acknowledged votes",
                admitted_p99,
                "ms",
                goal=goal,
                passed=passed,
                note="latency from each vote's scheduled send time (queueing included)",
            )
        )
    return out
