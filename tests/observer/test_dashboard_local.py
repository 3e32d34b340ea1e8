"""The dashboard (`App.run_test()` + Pilot) against the REAL local system and its Prometheus.

One `voting up` for the session (conftest `local_system`, private ports, always brought
down). Each test moves the system to the step it needs first; the tests are ordered so the
system only walks forward (1 -> 3 -> 4), since every step change starts or stops pods.
Rates are read over a 6 s window here (the local Prometheus scrapes every second), so a
test sees its own traffic without waiting a minute for older samples to leave a 1m window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from observer.app import ObserverApp
from observer.model import Snapshot
from observer.sources.local import LocalSource
from observer.traffic import TrafficPlan, TrafficRunner
from observer.widgets.chrome import StatusLine, StepChip
from observer.widgets.services import MetricsBanner, ServicesTable
from tests.support.observer_env import (
    VOTING,
    Exposition,
    LocalSystem,
    PrometheusServer,
    needs_prometheus,
)

pytestmark = pytest.mark.e2e
WINDOW = "6s"
FULL_WINDOW = 160  # requests at 20 req/s that fill the window (see metrics_of_the_traffic)


async def wait_for(
    pilot: Any, condition: Callable[[], bool], timeout: float, what: str = ""
) -> None:
    """Let the app run until `condition()` holds; fail with what was expected otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await pilot.pause(0.1)


@contextlib.asynccontextmanager
async def traffic_running(plan: TrafficPlan) -> AsyncIterator[TrafficRunner]:
    """`voting traffic` in the background for as long as the block runs (at most the plan)."""
    runner = TrafficRunner(plan)
    runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


async def metrics_of_the_traffic(pilot: Any, app: ObserverApp, runner: TrafficRunner) -> None:
    """Until the window holds only this traffic and the dashboard has read it since.

    FULL_WINDOW requests take 8 s at 20 req/s (open loop: never less, however slow the
    machine), more than the 6 s window and a scrape; the traffic keeps running meanwhile,
    so however long the reads take, the window stays full of it. Metrics reads never
    overlap, so the second read completed after `moment` was begun after it.
    """
    await wait_for(
        pilot, lambda: runner.result.sent >= FULL_WINDOW, 60, f"{FULL_WINDOW} requests sent"
    )
    moment = time.time()
    await wait_for(pilot, lambda: app.metrics.fetched_at > moment, 30, "a metrics read")
    first = app.metrics.fetched_at
    await wait_for(pilot, lambda: app.metrics.fetched_at > first, 30, "a metrics read after it")


def service_block(app: ObserverApp, service: str) -> str:
    """The lines of the services table that belong to one service."""
    lines = app.query_one(ServicesTable).text(120).plain.splitlines()
    out, inside = [], False
    for line in lines:
        if line.startswith("voting-"):
            inside = line.startswith(service + " ")
        if inside:
            out.append(line)
    return "\n".join(out)


def dashboard(system: LocalSystem, **kwargs: Any) -> ObserverApp:
    return ObserverApp(LocalSource(system.state_dir, window=WINDOW, **kwargs), refresh_s=0.5)


def _local_prometheus(system: LocalSystem) -> str | None:
    done = subprocess.run(
        [*VOTING, "status", "--json", "--state-dir", str(system.state_dir)],
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout).get("prometheus") if done.returncode == 0 else None


@pytest.fixture
def telemetry(local_system: LocalSystem) -> LocalSystem:
    if not _local_prometheus(local_system):
        pytest.skip("the local system runs no Prometheus")
    return local_system


def _share(snapshot: Snapshot | None, service: str, version: str) -> float | None:
    row = snapshot.service(service) if snapshot else None
    match = next((v for v in row.versions if v.version == version), None) if row else None
    return match.metrics.share if match else None


class TestMutualTLS:
    async def test_every_edge_is_unlocked_at_step_1_and_locked_at_step_3(
        self, telemetry: LocalSystem
    ) -> None:
        """The session's system runs without auto mTLS (Istio 1.0), so the lock-down shows."""
        app = dashboard(telemetry)
        plan = TrafficPlan(telemetry.ingress_url, rate=20, duration=120)
        async with app.run_test(size=(120, 40)) as pilot:
            await asyncio.to_thread(telemetry.step, 1)  # the app keeps running meanwhile
            async with traffic_running(plan) as runner:
                await metrics_of_the_traffic(pilot, app, runner)
                before = {
                    (e.source, e.destination): e.mtls
                    for e in app.snapshot.edges
                    if e.mtls_share is not None
                }
            assert before and set(before.values()) == {"unlocked"}, before
            await asyncio.to_thread(telemetry.step, 3)
            async with traffic_running(plan) as runner:
                await metrics_of_the_traffic(pilot, app, runner)
                after = {
                    (e.source, e.destination): e.mtls
                    for e in app.snapshot.edges
                    if e.mtls_share is not None
                }
                block = service_block(app, "voting-app")
            assert after and set(after.values()) == {"locked"}, after
            assert "■ locked 100%" in block, block


class TestRoutesFromTheControlAPI:
    async def test_applying_a_step_from_the_keyboard_changes_the_routes_shown(
        self, local_system: LocalSystem
    ) -> None:
        local_system.step(3)
        app = dashboard(local_system)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(
                pilot,
                lambda: "all traffic" in service_block(app, "voting-app"),
                30,
                "step 3 routes",
            )
            assert "cookie" not in service_block(app, "voting-app")
            await pilot.press("4")
            await pilot.press("y")
            await wait_for(
                pilot,
                lambda: "cookie featureflag=on" in service_block(app, "voting-app"),
                60,
                "step 4 routes",
            )
            chip = app.query_one("#step-4", StepChip)
            await wait_for(pilot, lambda: chip.has_class("-current"), 30, "step 4 highlighted")

    async def test_the_voting_app_row_shows_the_configured_routes(
        self, local_system: LocalSystem
    ) -> None:
        local_system.step(4)
        app = dashboard(local_system)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(
                pilot, lambda: "cookie" in service_block(app, "voting-app"), 30, "routes shown"
            )
            block = service_block(app, "voting-app")
            assert re.search(r"^\s+2\.0\s+cookie featureflag=on", block, re.M), block
            assert re.search(r"^\s+1\.0\s+default", block, re.M), block

    async def test_observe_once_json_prints_the_snapshot_for_scripts(
        self, local_system: LocalSystem
    ) -> None:
        local_system.step(4)
        done = subprocess.run(
            [*VOTING, "observe", "--once", "--json", "--state-dir", str(local_system.state_dir)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        snapshot = json.loads(done.stdout)
        assert snapshot["step"] == {"number": 4, "name": "canary"}
        app = next(s for s in snapshot["services"] if s["name"] == "voting-app")
        versions = {v["version"]: v for v in app["versions"]}
        assert versions["2.0"]["routes"] == ["cookie featureflag=on"]
        assert {"share", "success", "p50_ms", "p99_ms", "rps"} <= set(versions["2.0"])
        assert "mtls" in app and "edges" in snapshot


@needs_prometheus
class TestPrometheusOutage:
    async def test_prometheus_stopped_shows_unreachable_keeps_routes_live_and_recovers(
        self, local_system: LocalSystem, prometheus_factory: Callable[[list[str]], PrometheusServer]
    ) -> None:
        local_system.step(4)
        exposition = Exposition()
        prometheus = prometheus_factory([exposition.start()])
        app = dashboard(local_system, prometheus_url=prometheus.url)
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                status = app.query_one(StatusLine)
                banner = app.query_one(MetricsBanner)
                await wait_for(
                    pilot, lambda: "prometheus ● up" in status.plain, 30, "Prometheus up"
                )
                prometheus.stop()
                await wait_for(
                    pilot, lambda: "prometheus ● unreachable" in status.plain, 30, "unreachable"
                )
                assert "Prometheus unreachable" in banner.message
                assert "cookie featureflag=on" in service_block(app, "voting-app")
                assert "no data" not in service_block(app, "voting-app")  # unknown, not "no data"
                prometheus.start()
                await wait_for(pilot, lambda: "prometheus ● up" in status.plain, 60, "recovered")
                assert banner.message == ""
        finally:
            exposition.stop()


class TestObservedShare:
    async def test_canary_traffic_with_a_quarter_of_cookie_users_shows_app_2_0_at_25_percent(
        self, telemetry: LocalSystem
    ) -> None:
        telemetry.step(4)
        app = dashboard(telemetry)
        plan = TrafficPlan(telemetry.ingress_url, rate=20, duration=120, cookie_share=0.25)
        async with app.run_test(size=(120, 40)) as pilot:
            async with traffic_running(plan) as runner:
                await metrics_of_the_traffic(pilot, app, runner)
                share = _share(app.snapshot, "voting-app", "2.0")
                block = service_block(app, "voting-app")
            result = runner.result
            # Every request answered 200 but those cancelled in flight by the stop.
            assert result.statuses == {200: result.sent - result.cancelled}, result.summary()
            # Exact by construction (every fourth request is a cookie user's): the tolerance
            # only covers Prometheus extrapolating rates to the edges of the window.
            assert share == pytest.approx(0.25, abs=0.07)
            shown = re.search(r"2\.0\s+cookie featureflag=on\s+\S*\s+(\d+)%", block)
            assert shown and 18 <= int(shown.group(1)) <= 32, block
