"""Traffic that Prometheus has seen: run a plan, wait until every target was scraped after
it, and query over a window that covers exactly that traffic (from its real start, however
long a busy machine made it or the wait after it)."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from observer.traffic import TrafficPlan, TrafficResult, run_traffic
from telemetry.prometheus import PrometheusClient, Sample
from telemetry.queries import render
from tests.e2e.local_system import LocalSystem
from tests.support.waiting import wait_until

SCRAPED_S = 30.0  # deadline for Prometheus to scrape every target once more (interval 1 s)


def raw_query(system: LocalSystem, promql: str) -> list[Sample]:
    async def run() -> list[Sample]:
        async with PrometheusClient(system.prometheus_url, timeout=5) as client:
            return await client.query(promql)

    return asyncio.run(run())


def query(system: LocalSystem, name: str, services: tuple[str, ...], window: str) -> list[Sample]:
    return raw_query(system, render(name, services, window))


def oldest_scrape(system: LocalSystem) -> float:
    """Wall-clock time of the least recent last scrape over every target (0: none yet)."""
    samples = raw_query(system, "min(timestamp(up))")
    return (samples[0].value or 0.0) if samples else 0.0


def wait_until_scraped(system: LocalSystem, moment: float) -> None:
    """Until every target's last scrape began after `moment` (so its counters include it)."""
    wait_until(
        lambda: oldest_scrape(system) > moment,
        SCRAPED_S,
        f"every target scraped after {moment:.1f} (oldest last scrape {oldest_scrape(system):.1f})",
        interval=0.25,
    )


@dataclass
class Seen:
    """A finished traffic run that every Prometheus target has been scraped after."""

    result: TrafficResult
    started: float  # wall clock, as Prometheus's timestamps

    @property
    def answered(self) -> int:
        """Requests that got an HTTP answer: every one of them passed the ingress."""
        return sum(self.result.statuses.values())

    def window(self) -> str:
        """A PromQL range from a second before the traffic began until now."""
        return f"{math.ceil(time.time() - self.started) + 1}s"


def traffic(system: LocalSystem, plan: TrafficPlan) -> Seen:
    """Run `plan` to its end, then wait until Prometheus has scraped all it counted."""
    started = time.time()
    result = asyncio.run(run_traffic(plan))
    wait_until_scraped(system, time.time())
    return Seen(result, started)
